"""Decoding only what a clip needs: ``VideoFile`` returns the frames of a full
decode with plain PyAV, pixel for pixel, whatever it skips; the datasets'
clips in every sampling mode are those of a full decode; each test video is
decoded once for all its views. (Damaged files: test_datasets.py.)"""

import logging

import av
import numpy as np
import pytest
import torch

from gta_slowfast.datasets import transforms
from gta_slowfast.datasets.clip_dataset import VideoClipDataset
from gta_slowfast.datasets.loader import VideoViewBatchSampler
from gta_slowfast.datasets.video_io import FrameSource, VideoFile, VideoReadError

from video_files import MP4_CODEC, full_decode, make_cfg, write_textured_video

NUM_FRAMES = 40
# (file name, keyframe interval): VP9 with hidden alt-ref frames and one
# keyframe, as SSv2's files; H.264 with B-frames, one keyframe or one every
# 12 frames, in MP4 and Matroska.
INDEXED_VIDEOS = [("vp9.webm", None), ("h264_gop12.mp4", 12), ("h264_one_keyframe.mp4", None),
                  ("h264_gop12.mkv", 12)]


class FullDecode(FrameSource):
    """The reference frame source: every frame decoded with plain PyAV."""

    def __init__(self, path):
        self.frames = full_decode(path)
        self.num_frames = len(self.frames)

    def read(self, indices):
        return np.stack([self.frames[i] for i in indices])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """{name: path} of the textured videos, 40 frames each."""
    folder = tmp_path_factory.mktemp("textured")
    return {name: write_textured_video(str(folder / name), NUM_FRAMES, interval, seed=k)
            for k, (name, interval) in enumerate(INDEXED_VIDEOS)}


def index_sets(num_frames, rng):
    """Frame index lists as the samplers make them, and harder ones."""
    sets = [[0], [num_frames - 1], list(range(num_frames)), [5, 5, 5, 2, 30, 2],
            list(range(num_frames - 1, -1, -3))]
    for _ in range(12):
        start = int(rng.integers(0, num_frames - 15))
        sets.append(list(range(start, start + 15, 2)))
        sets.append(sorted(rng.choice(num_frames, 8, replace=False).tolist()))
    return sets


def assert_frames_equal(frames, reference, indices):
    assert frames.shape == (len(indices),) + reference[0].shape and frames.dtype == np.uint8
    for frame, index in zip(frames, indices):
        np.testing.assert_array_equal(frame, reference[index], err_msg="frame {}".format(index))


# --- VideoFile against a full decode ---------------------------------------


@pytest.mark.parametrize("name", [name for name, _ in INDEXED_VIDEOS])
def test_read_gives_the_frames_of_a_full_decode(videos, name, caplog):
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    reference = full_decode(videos[name])
    assert len(reference) == NUM_FRAMES
    rng = np.random.default_rng(0)
    with VideoFile(videos[name]) as video:
        assert video.num_frames == NUM_FRAMES
        for indices in index_sets(NUM_FRAMES, rng):  # one file, many reads
            assert_frames_equal(video.read(indices), reference, indices)
    for indices in index_sets(NUM_FRAMES, rng)[:6]:  # a fresh file each read
        with VideoFile(videos[name]) as video:
            assert_frames_equal(video.read(indices), reference, indices)
    assert not caplog.records, "an indexable file must not be decoded in full"


def test_read_rejects_indices_out_of_range(videos):
    with VideoFile(videos["vp9.webm"]) as video:
        with pytest.raises(IndexError):
            video.read([0, NUM_FRAMES])
        with pytest.raises(IndexError):
            video.read([-1])


@pytest.mark.parametrize("name", ["decode_times.avi", "no_timestamps.h264"])
def test_files_without_usable_timestamps_are_decoded_in_full_and_logged_once(
        tmp_path, name, caplog):
    path = write_textured_video(str(tmp_path / name), NUM_FRAMES, keyframe_interval=12)
    reference = full_decode(path)
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    for indices in ([3, 4, 5], [20, 1, 39]):
        with VideoFile(path) as video:
            assert video.num_frames == len(reference)
            assert_frames_equal(video.read(indices), reference, indices)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and path in warnings[0] and "whole file" in warnings[0], warnings


def swap_two_timestamps(source, target):
    """Copies Matroska ``source`` to ``target`` with the timestamps of two
    nearby frames swapped, as a faulty muxer might: still distinct, still no
    earlier than each packet's decode time."""
    with av.open(source) as reader, av.open(target, "w", format="matroska") as writer:
        stream = writer.add_stream_from_template(reader.streams.video[0])
        packets = [p for p in reader.demux(reader.streams.video[0]) if p.size]
        first, second = next(
            (a, b) for i, a in enumerate(packets) for b in packets[i + 1:i + 5]
            if not a.is_keyframe and a.pts < b.pts and b.dts is not None and a.pts >= b.dts)
        first.pts, second.pts = second.pts, first.pts
        for packet in packets:
            packet.stream = stream
            writer.mux(packet)


def test_timestamps_that_contradict_the_decoder_fall_back_to_a_full_decode(
        videos, tmp_path, caplog):
    """Indexable on its face, caught when the decoder shows its frames out
    of order (reading every frame, so that none is skipped)."""
    path = str(tmp_path / "swapped.mkv")
    swap_two_timestamps(videos["h264_gop12.mkv"], path)
    reference = full_decode(path)
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    every_frame = list(range(NUM_FRAMES))
    with VideoFile(path) as video:
        assert_frames_equal(video.read(every_frame), reference, every_frame)
        assert_frames_equal(video.read([31, 0, 5]), reference, [31, 0, 5])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and path in warnings[0] and "do not match" in warnings[0]


# --- Damaged files -----------------------------------------------------------


def test_a_file_cut_short_behind_its_index_is_truncated(tmp_path):
    """An MP4 with its index first (faststart), cut in half: the index
    declares 40 frames, half of them are there."""
    path = str(tmp_path / "faststart.mp4")
    with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream(MP4_CODEC, rate=12)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(NUM_FRAMES):
            image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    with open(path, "rb") as stream:
        data = stream.read()
    with open(path, "wb") as stream:
        stream.write(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match="truncated: [0-9]+ frames of 40 declared"):
        VideoFile(path)


# --- Clips of every sampling mode against a full decode -----------------------


def clip_dataset(cfg, mode, paths, sampling, reference):
    """The plugin's dataset over ``paths``, reading with a plain full decode
    where ``reference``."""
    dataset = VideoClipDataset(cfg, mode, annotation_file="videos", video_paths=paths,
                               video_labels=[0] * len(paths), class_names=None,
                               sampling_method=sampling, resize_to=cfg.GTA.DATA.RESIZE)
    if reference:
        dataset.open_video = lambda index: FullDecode(paths[index])
    return dataset


def items(dataset, order, epoch=0):
    """Items of ``order``; training draws its crops and frames from the
    epoch (``item_rng``)."""
    dataset.set_epoch(epoch)
    return {index: dataset[index] for index in order}


@pytest.mark.parametrize("sampling, resize", [("tsn", [56, 72]), ("dense", [])])
@pytest.mark.parametrize("mode", ["train", "val", "test"])
def test_clips_of_every_sampling_mode_are_those_of_a_full_decode(
        videos, tmp_path, mode, sampling, resize):
    cfg = make_cfg(tmp_path, tmp_path, **{
        "DATA.NUM_FRAMES": 6, "DATA.SAMPLING_RATE": 3, "DATA.TRAIN_JITTER_SCALES": [48, 60],
        "GTA.DATA.RESIZE": resize, "TEST.NUM_ENSEMBLE_VIEWS": 3, "TEST.NUM_SPATIAL_CROPS": 2})
    paths = list(videos.values())
    decoded = clip_dataset(cfg, mode, paths, sampling, reference=False)
    full = clip_dataset(cfg, mode, paths, sampling, reference=True)
    order = list(range(len(decoded)))
    for epoch in range(3 if mode == "train" else 1):
        ours, theirs = items(decoded, order, epoch), items(full, order, epoch)
        for index in order:
            for x, y in zip(ours[index][0], theirs[index][0]):
                assert torch.equal(x, y), (mode, sampling, index)
            assert ours[index][4] == theirs[index][4]


# --- Each test video decoded once ---------------------------------------------


def counting_opens(dataset):
    """Makes ``dataset`` count the videos it opens; returns the counts."""
    opened = []
    open_video = dataset.open_video
    dataset.open_video = lambda index: opened.append(index) or open_video(index)
    return opened


def test_test_views_read_each_video_once_in_any_order_of_their_items(videos, tmp_path):
    cfg = make_cfg(tmp_path, tmp_path, **{
        "DATA.NUM_FRAMES": 4, "DATA.SAMPLING_RATE": 4, "GTA.DATA.RESIZE": [],
        "TEST.NUM_ENSEMBLE_VIEWS": 4, "TEST.NUM_SPATIAL_CROPS": 3})
    paths = list(videos.values())
    one_view_at_a_time = clip_dataset(cfg, "test", paths, "dense", reference=True)
    separately = {}
    for index in range(len(one_view_at_a_time)):
        one_view_at_a_time._last_views = None  # forget the last video: a read per view
        separately[index] = one_view_at_a_time[index]

    dataset = clip_dataset(cfg, "test", paths, "dense", reference=False)
    opened = counting_opens(dataset)
    in_order = items(dataset, range(len(dataset)))
    assert opened == list(range(len(paths))), "one read per video"
    shuffled = list(np.random.default_rng(0).permutation(len(dataset)))
    for result in (in_order, items(dataset, shuffled)):
        for index, item in result.items():
            assert torch.equal(item[0][0], separately[index][0][0]), index
            assert item[4] == separately[index][4]


def test_unreadable_test_video_gives_invalid_zero_views_logged_once(videos, tmp_path, caplog):
    cfg = make_cfg(tmp_path, tmp_path, **{
        "DATA.NUM_FRAMES": 4, "TEST.NUM_ENSEMBLE_VIEWS": 2, "TEST.NUM_SPATIAL_CROPS": 3})
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    paths = [videos["vp9.webm"], str(empty), videos["h264_gop12.mp4"]]
    dataset = clip_dataset(cfg, "test", paths, "tsn", reference=False)
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    for index in range(len(dataset)):
        inputs, _, _, _, meta = dataset[index]
        assert meta["valid"] == (meta["video_index"] != 1)
        assert (inputs[0] == 0).all() == (meta["video_index"] == 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(empty) in warnings[0]


def test_pyslowfast_test_loader_reads_each_video_once(videos, tmp_path):
    """PySlowFast's own test loader (the one its test_net builds; sequential
    on one GPU) over the plugin's Kinetics dataset: one item per view, as
    its meter wants, and one read per video."""
    from slowfast.datasets.loader import construct_loader

    (tmp_path / "test.csv").write_text("".join("{} 7\n".format(p) for p in videos.values()))
    cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics", **{
        "NUM_GPUS": 1, "DATA.NUM_FRAMES": 4, "TEST.NUM_ENSEMBLE_VIEWS": 3,
        "TEST.NUM_SPATIAL_CROPS": 3, "TEST.BATCH_SIZE": 4})
    loader = construct_loader(cfg, "test")
    views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    assert loader.dataset.num_videos // views == len(videos)
    opened = counting_opens(loader.dataset)
    indices = torch.cat([batch[2] for batch in loader]).tolist()
    assert indices == list(range(len(videos) * views))
    assert opened == list(range(len(videos)))


@pytest.mark.parametrize("num_videos, views, batch_size, workers, world_size",
                         [(10, 30, 8, 3, 1), (7, 6, 4, 0, 1), (7, 6, 4, 2, 3), (2, 30, 8, 8, 1),
                          (25, 1, 4, 2, 2), (40, 30, 64, 8, 2)])
def test_view_batches_give_each_worker_whole_videos(num_videos, views, batch_size, workers,
                                                    world_size):
    num_items = num_videos * views
    shares = [list(VideoViewBatchSampler(num_items, views, batch_size, workers, rank,
                                         world_size)) for rank in range(world_size)]
    everything = [item for share in shares for batch in share for item in batch]
    assert set(everything) == set(range(num_items))
    assert len(everything) == world_size * -(-num_items // world_size)  # padded as DDP pads
    for batches in shares:
        assert all(len(batch) == batch_size for batch in batches[:-1])
        assert 0 < len(batches[-1]) <= batch_size
        # The dataset reads a video again only when a worker's run of its
        # views is broken: at most once per run cut and per top-up.
        reads = 0
        for worker in range(max(1, workers)):
            sequence = [item // views for batch in batches[worker::max(1, workers)]
                        for item in batch]
            reads += sum(1 for k, video in enumerate(sequence) if k == 0 or video != sequence[k - 1])
        videos_in_share = len({item // views for batch in batches for item in batch})
        assert reads <= videos_in_share + 2 * max(1, workers), reads


def test_test_loader_with_workers_gives_every_view_once(videos, tmp_path):
    cfg = make_cfg(tmp_path, tmp_path, **{
        "DATA.NUM_FRAMES": 4, "TEST.NUM_ENSEMBLE_VIEWS": 2, "TEST.NUM_SPATIAL_CROPS": 3,
        "TEST.BATCH_SIZE": 4, "DATA_LOADER.NUM_WORKERS": 2})
    paths = list(videos.values())
    dataset = clip_dataset(cfg, "test", paths, "tsn", reference=False)
    batches = VideoViewBatchSampler(len(dataset), dataset.num_clips, 4, 2)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=2)
    seen = {}
    for inputs, _, index, _, _ in loader:
        for clip, item in zip(inputs[0], index.tolist()):
            seen[item] = clip
    assert sorted(seen) == list(range(len(dataset)))
    for item in (0, 5, 13, len(dataset) - 1):
        assert torch.equal(seen[item], dataset[item][0][0])


# --- Tensors -----------------------------------------------------------------


def test_normalised_tensor_of_any_strided_clip():
    frames = np.random.default_rng(0).integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
    mean, std = [0.45, 0.4, 0.35], [0.2, 0.25, 0.3]
    for clip in (frames, frames[:, 2:18, 5:25], transforms.horizontal_flip(frames)):
        expected = (torch.from_numpy(np.ascontiguousarray(clip)).double() / 255
                    - torch.tensor(mean, dtype=torch.float64)) / torch.tensor(std,
                                                                             dtype=torch.float64)
        tensor = transforms.to_normalized_tensor(clip, mean, std)
        assert tensor.dtype == torch.float32 and tensor.is_contiguous()
        torch.testing.assert_close(tensor, expected.permute(3, 0, 1, 2).float(),
                                   atol=1e-5, rtol=1e-6)
    assert transforms.horizontal_flip(frames).base is not None, "a flip is a view"
