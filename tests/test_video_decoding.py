"""Decoding only what a clip needs: ``VideoFile`` returns the frames of a full
decode with plain PyAV, pixel for pixel, whatever it skips. (Damaged files:
test_datasets.py.)"""

import logging

import av
import numpy as np
import pytest
import torch

from gta_slowfast.datasets import transforms
from gta_slowfast.datasets.video_io import VideoFile, VideoReadError

from video_files import MP4_CODEC, full_decode, write_textured_video

NUM_FRAMES = 40
# (file name, keyframe interval): VP9 with hidden alt-ref frames and one
# keyframe, as SSv2's files; H.264 with B-frames, one keyframe or one every
# 12 frames, in MP4 and Matroska.
INDEXED_VIDEOS = [("vp9.webm", None), ("h264_gop12.mp4", 12), ("h264_one_keyframe.mp4", None),
                  ("h264_gop12.mkv", 12)]


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
