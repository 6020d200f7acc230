"""Data loading: SSv2 and Kinetics datasets on small real videos (WebM/VP9,
MP4/H.264, PNG frames) written by ``tests/video_files.py``; the frames a
clip holds are read back from their pixels."""

import logging
import os

import numpy as np
import pytest
import torch

from gta_slowfast.datasets import build_dataset, construct_loader, shuffle_dataset
from gta_slowfast.datasets.kinetics import Gta_kinetics
from gta_slowfast.datasets.clip_dataset import register_dataset
from gta_slowfast.datasets.frame_indices import dense_indices, tsn_indices
from gta_slowfast.datasets.ssv2 import Gta_ssv2, read_class_names, read_split
from gta_slowfast.datasets.transforms import should_flip
from gta_slowfast.datasets.video_io import (
    VideoFile,
    ImageSequence,
    VideoReadError,
    open_video,
)
from slowfast.datasets.build import DATASET_REGISTRY
from video_files import (
    frame_image,
    frame_indices_of,
    make_cfg,
    pixels,
    write_frame_images,
    write_frame_list,
    write_ssv2_annotations,
    write_video,
)

# Class names as in the official labels json, and the templates (with
# brackets) that the split files give for them.
CLASSES = [
    "Pushing something from left to right",
    "Putting something upright on the table",
    "Moving something and something closer to each other",
]
TEMPLATES = [
    "Pushing [something] from left to right",
    "Putting [something] upright on the table",
    "Moving [something] and [something] closer to each other",
]
# Video id -> (number of frames, class).
SSV2_TRAIN = {"101": (30, 0), "102": (24, 1), "103": (30, 2), "104": (20, 0)}
SSV2_VAL = {"201": (30, 2), "202": (17, 1)}
# TSN centre frames of 8 segments of a 30-frame video: the segments start at
# floor(i * 30 / 8) = 0, 3, 7, 11, 15, 18, 22, 26 and hold 3 or 4 frames.
TSN_TEST_30_8 = [1, 5, 9, 13, 16, 20, 24, 28]
TSN_SEGMENTS_30_8 = [(0, 2), (3, 6), (7, 10), (11, 14), (15, 17), (18, 21), (22, 25), (26, 29)]


def green_columns(frames):
    """How many columns of the first frame are green (the left part of an
    unflipped frame)."""
    return int((frames[0, :, :, 1].mean(axis=0) > 127).sum())


def is_flipped(frames):
    """True when green is on the right: the frame was mirrored."""
    green = frames[0, :, :, 1]
    return green[:, :4].mean() < green[:, -4:].mean()


@pytest.fixture(scope="module")
def ssv2(tmp_path_factory):
    """An official-layout SSv2 directory; returns (data_dir, video_dir)."""
    root = tmp_path_factory.mktemp("ssv2")
    videos = root / "videos"
    videos.mkdir()
    for video_id, (num_frames, _) in {**SSV2_TRAIN, **SSV2_VAL}.items():
        write_video(str(videos / (video_id + ".webm")), num_frames)
    write_ssv2_annotations(
        str(root),
        CLASSES,
        {
            "train": [(i, TEMPLATES[label]) for i, (_, label) in SSV2_TRAIN.items()],
            "validation": [(i, TEMPLATES[label]) for i, (_, label) in SSV2_VAL.items()],
        },
    )
    return root, videos


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory):
    """A PySlowFast Kinetics csv directory of MP4 videos; returns (data_dir,
    prefix, {relative path: (frames, label)})."""
    root = tmp_path_factory.mktemp("kinetics")
    videos = {"a/clip_a.mp4": (30, 3), "b/clip_b.mp4": (24, 1)}
    for path, (num_frames, _) in videos.items():
        os.makedirs(root / os.path.dirname(path), exist_ok=True)
        write_video(str(root / path), num_frames)
    for split in ("train", "val", "test"):
        with open(root / "{}.csv".format(split), "w") as stream:
            for path, (_, label) in videos.items():
                stream.write("{} {}\n".format(path, label))
    return root, root, videos


def write_bad_videos(folder, good_video):
    """A random-bytes, a zero-byte and a truncated copy of ``good_video``,
    and the path of a missing one, all with its extension; returns {kind:
    path}."""
    rng = np.random.default_rng(0)
    extension = os.path.splitext(good_video)[1]
    paths = {
        kind: os.path.join(folder, "bad_{}{}".format(kind, extension))
        for kind in ("random", "empty", "truncated", "missing")
    }
    with open(paths["random"], "wb") as stream:
        stream.write(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    open(paths["empty"], "wb").close()
    with open(good_video, "rb") as stream:
        data = stream.read()
    with open(paths["truncated"], "wb") as stream:
        stream.write(data[: len(data) // 2])
    return paths


# --- Annotations -----------------------------------------------------------


def test_ssv2_json_class_is_template_without_brackets(ssv2):
    data_dir, _ = ssv2
    names = read_class_names(str(data_dir / "something-something-v2-labels.json"))
    assert names == CLASSES
    ids, labels = read_split(str(data_dir / "something-something-v2-train.json"), names)
    assert ids == ["101", "102", "103", "104"]
    assert labels == [0, 1, 2, 0]


def test_ssv2_template_missing_from_labels_names_the_video(tmp_path):
    write_ssv2_annotations(
        str(tmp_path),
        CLASSES,
        {
            "train": [
                ("101", TEMPLATES[0]),
                ("777", "Spinning [something] that quickly stops"),
            ],
            "validation": [],
        },
    )
    with pytest.raises(ValueError, match="777.*Spinning \\[something\\] that quickly stops"):
        read_split(str(tmp_path / "something-something-v2-train.json"), CLASSES)
    cfg = make_cfg(tmp_path, tmp_path)
    with pytest.raises(ValueError, match="777"):
        Gta_ssv2(cfg, "train")


def test_empty_split_is_an_error_naming_the_file(tmp_path):
    write_ssv2_annotations(str(tmp_path), CLASSES, {"train": [], "validation": []})
    with pytest.raises(ValueError, match="something-something-v2-train.json"):
        Gta_ssv2(make_cfg(tmp_path, tmp_path), "train")
    (tmp_path / "val.csv").write_text("\n")
    with pytest.raises(ValueError, match="val.csv"):
        Gta_kinetics(make_cfg(tmp_path, tmp_path, dataset="gta_kinetics"), "val")


# --- Frame indices ---------------------------------------------------------


def test_tsn_training_draws_one_frame_inside_each_segment():
    rng = np.random.default_rng(0)
    for num_video_frames in range(8, 70):
        for _ in range(20):
            indices = tsn_indices(num_video_frames, 8, True, rng)
            assert indices.dtype == np.int64 and indices.shape == (8,)
            for i, index in enumerate(indices):
                assert (
                    np.floor(i * num_video_frames / 8)
                    <= index
                    < np.floor((i + 1) * num_video_frames / 8)
                )
    seen = {tuple(tsn_indices(30, 8, True, rng)) for _ in range(300)}
    drawn = {index for draw in seen for index in draw}
    assert drawn == set(range(30)), "every frame of every segment can be drawn"


def test_tsn_test_takes_segment_centres_deterministically():
    assert tsn_indices(30, 8, False).tolist() == TSN_TEST_30_8
    assert tsn_indices(80, 8, False).tolist() == [5, 15, 25, 35, 45, 55, 65, 75]
    assert tsn_indices(80, 8, False).tolist() == tsn_indices(80, 8, False).tolist()
    views = [tsn_indices(80, 8, False, view_index=k, num_views=2).tolist() for k in range(2)]
    assert views == [[2, 12, 22, 32, 42, 52, 62, 72], [7, 17, 27, 37, 47, 57, 67, 77]]


def test_tsn_short_video_repeats_frames_in_order():
    rng = np.random.default_rng(0)
    for training in (False, True):
        indices = tsn_indices(3, 8, training, rng)
        assert indices.shape == (8,)
        assert (np.diff(indices) >= 0).all()
        assert set(indices.tolist()) == {0, 1, 2}
    assert tsn_indices(1, 4, False).tolist() == [0, 0, 0, 0]


def test_dense_indices():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        indices = dense_indices(100, 8, 4, 0, 1, True, rng)
        assert indices.dtype == np.int64
        assert (np.diff(indices) == 4).all()
        assert 0 <= indices[0] and indices[-1] <= 99
        starts.add(int(indices[0]))
    assert min(starts) == 0 and max(starts) == 71 and len(starts) > 30
    # 3 test clips of the 72 starts 0..71: with DATA.USE_OFFSET_SAMPLING
    # (PySlowFast: k * floor(71 / 2)) the first window, the middle one and
    # nearly the last one; without, k thirds of the way (floor(71 k / 3)).
    offset = [dense_indices(100, 8, 4, k, 3, False, use_offset=True)[0] for k in range(3)]
    assert offset == [0, 35, 70]
    assert [dense_indices(100, 8, 4, k, 3, False)[0] for k in range(3)] == [0, 23, 47]
    assert dense_indices(100, 8, 4, 0, 1, False, use_offset=True)[0] == 35
    assert dense_indices(100, 8, 4, 0, 1, False)[0] == 0
    # Shorter than the 29-frame window: from 0, the last frame repeated.
    assert dense_indices(10, 8, 4, 0, 1, True, rng).tolist() == [0, 4, 8, 9, 9, 9, 9, 9]
    assert dense_indices(10, 8, 4, 2, 3, False).tolist() == [0, 4, 8, 9, 9, 9, 9, 9]


# --- Reading videos --------------------------------------------------------


@pytest.mark.parametrize("extension", [".webm", ".mp4"])
def test_decoded_frames_come_out_in_order(tmp_path, extension):
    path = write_video(str(tmp_path / ("v" + extension)), 27)
    video = open_video(path)
    assert isinstance(video, VideoFile) and video.num_frames == 27
    frames = video.read([26, 0, 13, 13, 5])
    assert frames.dtype == np.uint8 and frames.shape == (5, 64, 80, 3)
    assert frame_indices_of(frames) == [26, 0, 13, 13, 5]
    assert frame_indices_of(video.read(range(27))) == list(range(27))


def test_frame_folder_in_natural_order(tmp_path):
    write_frame_images(str(tmp_path / "clip"), 12)  # 1.png .. 12.png
    video = open_video(str(tmp_path / "clip"))
    assert isinstance(video, ImageSequence) and video.num_frames == 12
    assert frame_indices_of(video.read(range(12))) == list(range(12))
    np.testing.assert_array_equal(video.read([3])[0], frame_image(3))
    os.remove(str(tmp_path / "clip" / "5.png"))
    stale = ImageSequence([str(tmp_path / "clip" / "{}.png".format(i)) for i in range(1, 6)])
    with pytest.raises(VideoReadError, match="5.png"):
        stale.read([4])


@pytest.mark.parametrize("extension", [".webm", ".mp4"])
def test_unreadable_files_raise_video_read_error(tmp_path, extension):
    good = write_video(str(tmp_path / ("good" + extension)), 30)
    bad = write_bad_videos(str(tmp_path), good)
    reasons = {"missing": "no such file", "empty": "empty", "truncated": "truncated|decoding",
               "random": "decoding failed"}
    for kind, path in bad.items():
        with pytest.raises(VideoReadError, match=reasons.get(kind)) as error:
            open_video(path)
        assert error.value.path == path
    text = tmp_path / "notes.webm"
    text.write_text("not a video at all\n" * 100)
    with pytest.raises(VideoReadError):
        open_video(str(text))


# --- Transforms ------------------------------------------------------------


def test_should_flip_rule():
    words = ["left", "right"]
    assert not should_flip("Pushing something from left to right", words)
    assert not should_flip("Turning the camera RIGHT while filming something", words)
    assert should_flip("Putting something upright on the table", words)
    assert should_flip("Moving something and something closer to each other", words)
    assert should_flip(None, words)
    assert should_flip("Pushing something from left to right", [])


def test_flip_never_applies_to_left_right_classes(ssv2):
    data_dir, videos = ssv2
    cfg = make_cfg(
        data_dir, videos, **{"GTA.DATA.RESIZE": [64, 80], "GTA.DATA.CROP_SCALES": []}
    )
    dataset = Gta_ssv2(cfg, "train")
    flips = {label: [] for label in range(3)}
    for epoch in range(12):  # training draws from (RNG_SEED, epoch, item)
        dataset.set_epoch(epoch)
        for index in range(dataset.num_videos):
            inputs, label, _, _, meta = dataset[index]
            assert meta["video_index"] == index
            flips[label].append(is_flipped(pixels(inputs[0], cfg)))
    assert not any(flips[0]), "'left to right' clips must never be flipped"
    for label in (1, 2):  # "upright" and "closer": both may be flipped
        assert 0 < sum(flips[label]) < len(flips[label])
    cfg.DATA.RANDOM_FLIP = False
    dataset = Gta_ssv2(cfg, "train")
    flipped = []
    for epoch in range(12):
        dataset.set_epoch(epoch)
        flipped.append(is_flipped(pixels(dataset[2][0][0], cfg)))
    assert not any(flipped)


# --- Items -----------------------------------------------------------------


def check_item(item, index, shapes):
    inputs, label, item_index, time, meta = item
    assert isinstance(inputs, list) and [tuple(x.shape) for x in inputs] == shapes
    assert all(x.dtype == torch.float32 for x in inputs)
    assert isinstance(label, int) and item_index == index and time == 0.0
    assert isinstance(meta["video_index"], int) and isinstance(meta["valid"], bool)


def test_c2d_items_train_and_test(ssv2):
    data_dir, videos = ssv2
    cfg = make_cfg(data_dir, videos)
    train = Gta_ssv2(cfg, "train")
    assert len(train) == train.num_videos == 4 and train.num_clips == 1
    assert train.video_labels == [0, 1, 2, 0] and train.class_names == CLASSES
    assert train.video_paths[0] == str(videos / "101.webm")
    for index in range(4):
        item = train[index]
        check_item(item, index, [(3, 8, 48, 48)])
        frames = frame_indices_of(pixels(item[0][0], cfg))
        # Video 104 has 20 frames: 8 segments of 2 or 3 frames.
        assert all(a < b for a, b in zip(frames, frames[1:])), frames
    frames = frame_indices_of(pixels(train[0][0][0], cfg))
    assert all(lo <= f <= hi for f, (lo, hi) in zip(frames, TSN_SEGMENTS_30_8)), frames
    test = Gta_ssv2(cfg, "test")
    assert test.video_labels == [2, 1]
    item = test[0]
    check_item(item, 0, [(3, 8, 48, 48)])
    assert item[1] == 2 and item[4]["valid"]
    assert frame_indices_of(pixels(item[0][0], cfg)) == TSN_TEST_30_8
    torch.testing.assert_close(test[0][0][0], item[0][0])  # deterministic


def test_slowfast_items_pack_two_pathways(ssv2):
    data_dir, videos = ssv2
    cfg = make_cfg(
        data_dir, videos, arch="slowfast", **{"SLOWFAST.ALPHA": 4, "DATA.NUM_FRAMES": 16}
    )
    for mode in ("train", "val", "test"):
        item = Gta_ssv2(cfg, mode)[1]
        check_item(item, 1, [(3, 4, 48, 48), (3, 16, 48, 48)])
        slow, fast = item[0]
        torch.testing.assert_close(slow, fast[:, [0, 5, 10, 15]])


def test_test_views_enumerate_videos_clips_and_crops(kinetics):
    data_dir, prefix, videos = kinetics
    cfg = make_cfg(
        data_dir,
        prefix,
        dataset="gta_kinetics",
        **{
            "TEST.NUM_ENSEMBLE_VIEWS": 2,
            "TEST.NUM_SPATIAL_CROPS": 3,
            "DATA.NUM_FRAMES": 4,
            "DATA.SAMPLING_RATE": 3,
        },
    )
    dataset = Gta_kinetics(cfg, "test")
    assert len(dataset.video_paths) == 2 and dataset.num_clips == 6 and len(dataset) == 12
    assert dataset.num_videos == 12  # PySlowFast's count: one per view
    assert dataset.video_labels == [3, 1] and dataset.class_names is None
    # 10-frame windows, clip k of 2 at floor(k D / 2) of the starts 0..D
    # (DATA.USE_OFFSET_SAMPLING False): video a (30 frames, D = 20) starts at
    # 0 or 10, video b (24, D = 14) at 0 or 7.
    clip_frames = {
        (0, 0): [0, 3, 6, 9],
        (0, 1): [10, 13, 16, 19],
        (1, 0): [0, 3, 6, 9],
        (1, 1): [7, 10, 13, 16],
    }
    # Short side 48: 48 x 60 frames, green on the left 30 columns; the three
    # 48-wide crops start at x = 0, 6, 12.
    crop_green = [30, 24, 18]
    for index in range(len(dataset)):
        inputs, label, item_index, _, meta = dataset[index]
        video, view, crop = index // 6, (index % 6) // 3, index % 3
        assert (meta["video_index"], meta["temporal_view"], meta["spatial_crop"]) == (
            video,
            view,
            crop,
        )
        assert label == dataset.video_labels[video] and meta["valid"]
        frames = pixels(inputs[0], cfg)
        assert frame_indices_of(frames) == clip_frames[video, view]
        assert abs(green_columns(frames) - crop_green[crop]) <= 1
    crops = [dataset[i][0][0] for i in range(3)]
    assert not torch.allclose(crops[0], crops[1]) and not torch.allclose(crops[1], crops[2])


def test_kinetics_training_clips_are_dense_and_jittered(kinetics):
    data_dir, prefix, _ = kinetics
    cfg = make_cfg(
        data_dir,
        prefix,
        dataset="gta_kinetics",
        **{"DATA.NUM_FRAMES": 4, "DATA.SAMPLING_RATE": 3},
    )
    dataset = Gta_kinetics(cfg, "train")
    assert len(dataset) == 2
    starts = set()
    for epoch in range(10):
        dataset.set_epoch(epoch)
        inputs, label, _, _, meta = dataset[0]
        assert inputs[0].shape == (3, 4, 48, 48) and label == 3
        frames = frame_indices_of(pixels(inputs[0], cfg))
        assert np.diff(frames).tolist() == [3, 3, 3] and frames[-1] <= 29
        starts.add(frames[0])
    assert len(starts) > 1


def test_kinetics_csv_paths_may_be_absolute_or_frame_folders(tmp_path):
    absolute = write_video(str(tmp_path / "abs.webm"), 20)
    write_frame_images(str(tmp_path / "prefix" / "frames_clip"), 15)
    (tmp_path / "val.csv").write_text("{} 0\nframes_clip 1\n".format(absolute))
    cfg = make_cfg(
        tmp_path, tmp_path / "prefix", dataset="gta_kinetics", **{"DATA.NUM_FRAMES": 4}
    )
    dataset = Gta_kinetics(cfg, "val")
    assert dataset.video_paths == [absolute, str(tmp_path / "prefix" / "frames_clip")]
    # One centred clip of 4 consecutive frames.
    assert frame_indices_of(pixels(dataset[0][0][0], cfg)) == [8, 9, 10, 11]
    assert frame_indices_of(pixels(dataset[1][0][0], cfg)) == [5, 6, 7, 8]
    (tmp_path / "train.csv").write_text("just_a_path.mp4\n")
    with pytest.raises(ValueError, match="train.csv:1"):
        Gta_kinetics(cfg, "train")


def test_ssv2_test_mode_three_spatial_crops(ssv2):
    data_dir, videos = ssv2
    cfg = make_cfg(data_dir, videos, **{"TEST.NUM_SPATIAL_CROPS": 3})
    dataset = Gta_ssv2(cfg, "test")
    assert len(dataset) == 6
    # 56 x 72 frames, green on the left 36 columns; crops start at x = 0, 12, 24.
    green = [green_columns(pixels(dataset[i][0][0], cfg)) for i in range(3)]
    assert [abs(g - e) <= 1 for g, e in zip(green, [36, 24, 12])] == [True] * 3, green


# --- Unreadable videos -----------------------------------------------------


@pytest.fixture()
def ssv2_with_bad_videos(tmp_path, ssv2):
    """SSv2 layout whose train and validation splits hold the 4 good train
    videos and 4 unreadable ones."""
    data_dir, videos = ssv2
    bad = write_bad_videos(str(videos), str(videos / "101.webm"))
    good = [(i, TEMPLATES[label]) for i, (_, label) in SSV2_TRAIN.items()]
    bad_entries = [(os.path.basename(p)[:-5], TEMPLATES[2]) for p in bad.values()]
    write_ssv2_annotations(
        str(tmp_path), CLASSES, {"train": good + bad_entries, "validation": good + bad_entries}
    )
    return tmp_path, videos, bad


def test_unreadable_videos_are_replaced_in_training(ssv2_with_bad_videos, caplog):
    data_dir, videos, bad = ssv2_with_bad_videos
    cfg = make_cfg(data_dir, videos, **{"GTA.DATA.MAX_RETRIES": 30})
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    for mode in ("train", "val"):
        dataset = Gta_ssv2(cfg, mode)
        assert dataset.num_videos == 8
        for index, path in zip(range(4, 8), bad.values()):
            caplog.clear()
            inputs, label, item_index, _, meta = dataset[index]
            assert item_index == index and meta["valid"]
            assert meta["video_index"] < 4, "replaced by a readable video"
            assert label == dataset.video_labels[meta["video_index"]]
            assert inputs[0].shape == (3, 8, 48, 48)
            assert any(
                path in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
            )


def test_unreadable_videos_are_invalid_zero_views_at_test(ssv2_with_bad_videos, caplog):
    data_dir, videos, bad = ssv2_with_bad_videos
    cfg = make_cfg(
        data_dir,
        videos,
        arch="slowfast",
        **{"SLOWFAST.ALPHA": 4, "DATA.NUM_FRAMES": 16, "TEST.NUM_SPATIAL_CROPS": 3},
    )
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    dataset = Gta_ssv2(cfg, "test")
    assert len(dataset) == 24
    for video_index, path in zip(range(4, 8), bad.values()):
        caplog.clear()
        inputs, label, index, _, meta = dataset[3 * video_index + 1]
        assert index == 3 * video_index + 1 and label == 2
        assert meta == {
            "video_index": video_index,
            "valid": False,
            "temporal_view": 0,
            "spatial_crop": 1,
        }
        assert [tuple(x.shape) for x in inputs] == [(3, 4, 48, 48), (3, 16, 48, 48)]
        assert all((x == 0).all() for x in inputs)
        assert any(path in r.getMessage() for r in caplog.records)
    assert dataset[0][4]["valid"]


def test_too_many_unreadable_videos_in_a_row_raise(tmp_path, caplog):
    bad = write_bad_videos(str(tmp_path), write_video(str(tmp_path / "good.webm"), 20))
    del bad["truncated"]
    (tmp_path / "train.csv").write_text("".join("{} 0\n".format(p) for p in bad.values()))
    cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics", **{"GTA.DATA.MAX_RETRIES": 3})
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    with pytest.raises(RuntimeError, match="bad_(random|empty|missing).webm"):
        Gta_kinetics(cfg, "train")[0]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 4


# --- Frames layout ---------------------------------------------------------


@pytest.mark.parametrize("list_dir", ["frame_lists", "."])
def test_ssv2_frames_layout(tmp_path, list_dir, caplog):
    frames_root = tmp_path / "frames"
    videos = {
        video_id: write_frame_images(
            str(frames_root / video_id), num_frames, name=video_id + "_{:06d}.jpg"
        )
        for video_id, (num_frames, _) in SSV2_VAL.items()
    }
    write_ssv2_annotations(
        str(tmp_path),
        CLASSES,
        {
            "train": [],
            "validation": [(i, TEMPLATES[label]) for i, (_, label) in SSV2_VAL.items()]
            + [("203", TEMPLATES[0])],
        },
    )
    write_frame_list(str(tmp_path / list_dir / "val.csv"), videos, str(frames_root))
    cfg = make_cfg(tmp_path, frames_root, **{"GTA.DATA.SSV2_FORMAT": "frames"})
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    dataset = Gta_ssv2(cfg, "val")
    assert any("1 of the 3 videos" in r.getMessage() for r in caplog.records)
    assert dataset.num_videos == 2 and dataset.video_labels == [2, 1]
    assert dataset.video_paths == [str(frames_root / "201"), str(frames_root / "202")]
    inputs, label, _, _, meta = dataset[0]
    assert label == 2 and meta["valid"]
    assert frame_indices_of(pixels(inputs[0], cfg)) == TSN_TEST_30_8
    assert Gta_ssv2(cfg, "test").video_paths == dataset.video_paths
    os.remove(videos["202"][1])  # the centre of the first segment
    with pytest.raises(RuntimeError, match="202_000002.jpg"):
        Gta_ssv2(
            make_cfg(
                tmp_path,
                frames_root,
                **{"GTA.DATA.SSV2_FORMAT": "frames", "GTA.DATA.MAX_RETRIES": 0},
            ),
            "val",
        )[1]


# --- Loader and registry ---------------------------------------------------


def test_loader_batches_the_item_contract(ssv2):
    data_dir, videos = ssv2
    cfg = make_cfg(data_dir, videos)
    loader = construct_loader(cfg, "train")
    batches = list(loader)
    assert len(batches) == 1, "4 videos, batch 3, last partial batch dropped"
    inputs, labels, index, time, meta = batches[0]
    assert isinstance(inputs, list) and inputs[0].shape == (3, 3, 8, 48, 48)
    assert labels.shape == (3,) and labels.dtype == torch.int64
    assert index.shape == (3,) and time.shape == (3,)
    assert meta["valid"].tolist() == [True] * 3 and meta["video_index"].shape == (3,)
    assert labels.tolist() == [
        SSV2_TRAIN[str(101 + i)][1] for i in meta["video_index"].tolist()
    ]
    shuffle_dataset(loader, 1)
    cfg.TEST.NUM_SPATIAL_CROPS = 3
    test_loader = construct_loader(cfg, "test")
    assert [len(b[1]) for b in test_loader] == [4, 2]
    assert torch.cat([b[2] for b in test_loader]).tolist() == list(range(6))
    assert isinstance(construct_loader(cfg, "val").dataset, Gta_ssv2)


def test_datasets_are_registered_once(ssv2):
    assert DATASET_REGISTRY.get("Gta_ssv2") is Gta_ssv2
    assert DATASET_REGISTRY.get("Gta_kinetics") is Gta_kinetics
    assert register_dataset(Gta_ssv2) is Gta_ssv2  # a second registration is a no-op
    data_dir, videos = ssv2
    assert isinstance(build_dataset("gta_ssv2", make_cfg(data_dir, videos), "val"), Gta_ssv2)
    with pytest.raises(ValueError, match="SAMPLING"):
        Gta_ssv2(make_cfg(data_dir, videos, **{"GTA.DATA.SAMPLING": "uniform"}), "val")
    with pytest.raises(ValueError, match="mode"):
        Gta_ssv2(make_cfg(data_dir, videos), "validation")
