"""Something-Something-v1 in its official layout: JPEG frame folders and
``;`` csv files written by the tests; reading, bad input, and run_net with
the SSv1 TSM+GTA config."""

import logging
import os

import numpy as np
import pytest

from gta_slowfast.datasets.ssv1 import Gta_ssv1, numbered_frames, read_class_names, read_split
from gta_slowfast.datasets.video_io import VideoReadError
from gta_slowfast.demo.annotations import write_ssv1_annotations

from conftest import dataset_cfg
from pipeline import json_stats, net_command, output_of, plugin_loop_env, run_command, run_opts
from video_files import frame_indices_of, pixels, write_frame_images

CLASSES = [
    "Pushing something from left to right",
    "Putting something upright on the table",
    "Holding something",
    "Pushing something from right to left",
]
# Video id -> (number of frames, class).
TRAIN = {"11": (30, 0), "12": (24, 1), "13": (20, 2), "14": (26, 3)}
VALIDATION = {"21": (30, 2), "22": (17, 1)}
# TSN centre frames of 8 segments of a 30-frame video (see test_datasets).
TSN_TEST_30_8 = [1, 5, 9, 13, 16, 20, 24, 28]


def write_ssv1(root, train=TRAIN, validation=VALIDATION, height=64, width=80):
    """The official layout under ``root``: csv files, and JPEG frames under
    ``root/frames/<id>/00001.jpg``; returns (data_dir, frames_dir)."""
    frames = root / "frames"
    for video_id, (num_frames, _) in {**train, **validation}.items():
        write_frame_images(str(frames / video_id), num_frames, height, width, name="{:05d}.jpg")
    write_ssv1_annotations(
        str(root),
        CLASSES,
        {
            "train": [(i, CLASSES[label]) for i, (_, label) in train.items()],
            "validation": [(i, CLASSES[label]) for i, (_, label) in validation.items()],
        },
    )
    return root, frames


@pytest.fixture(scope="module")
def ssv1(tmp_path_factory):
    return write_ssv1(tmp_path_factory.mktemp("ssv1"))


def ssv1_cfg(data_dir, frames, *opts):
    """The SSv1 2D config on the data set of ``ssv1``."""
    return dataset_cfg("SSv1/C2D_8x1_R50.yaml", data_dir, frames, len(CLASSES), *opts)


def test_labels_and_splits_as_the_official_csv_files(ssv1):
    data_dir, frames = ssv1
    assert read_class_names(str(data_dir / "something-something-v1-labels.csv")) == CLASSES
    ids, labels = read_split(str(data_dir / "something-something-v1-train.csv"), CLASSES)
    assert ids == list(TRAIN) and labels == [label for _, label in TRAIN.values()]
    dataset = Gta_ssv1(ssv1_cfg(data_dir, frames), "val")
    assert dataset.video_paths == [str(frames / i) for i in VALIDATION]
    assert Gta_ssv1(ssv1_cfg(data_dir, frames), "test").video_labels == [2, 1]


def test_test_clips_hold_the_tsn_centre_frames_in_order(ssv1):
    cfg = ssv1_cfg(*ssv1)
    inputs, label, _, _, meta = Gta_ssv1(cfg, "test")[0]
    assert label == 2 and meta["valid"]
    assert inputs[0].shape == (3, 8, 48, 48)
    assert frame_indices_of(pixels(inputs[0], cfg)) == TSN_TEST_30_8


def test_training_clips_follow_the_left_right_rule(ssv1):
    dataset = Gta_ssv1(ssv1_cfg(*ssv1, "GTA.DATA.CROP_SCALES", "[]"), "train")
    flips = {index: set() for index in range(4)}
    for epoch in range(12):  # training draws from (RNG_SEED, epoch, item)
        dataset.set_epoch(epoch)
        for index in range(4):
            clip = dataset[index][0][0]
            green = clip[1, 0]
            flips[index].add(bool(green[:, :4].mean() < green[:, -4:].mean()))
    assert flips[0] == flips[3] == {False}, "left/right classes are never flipped"
    assert flips[1] == flips[2] == {False, True}


def test_numbered_frames_in_numeric_order_and_gaps(tmp_path):
    folder = tmp_path / "7"
    paths = write_frame_images(str(folder), 12, name="{:05d}.jpg")
    (folder / "notes.txt").write_text("not a frame")
    video = numbered_frames(str(folder))
    assert video.num_frames == 12 and video.paths == paths
    assert frame_indices_of(video.read([11, 0, 9])) == [11, 0, 9]
    os.remove(paths[4])
    with pytest.raises(VideoReadError, match=r"00005.jpg.*missing frame 5 of 1..12"):
        numbered_frames(str(folder))
    with pytest.raises(VideoReadError, match="no such folder"):
        numbered_frames(str(tmp_path / "8"))
    os.makedirs(tmp_path / "9")
    with pytest.raises(VideoReadError, match="no frame images"):
        numbered_frames(str(tmp_path / "9"))


@pytest.fixture
def ssv1_with_bad_frames(tmp_path):
    """Four readable videos, then one with a frame missing, one with a frame
    that is not a JPEG, one without a folder."""
    bad = {"31": (30, 0), "32": (30, 1), "33": (30, 2)}
    data_dir, frames = write_ssv1(tmp_path, train={**TRAIN, **bad}, validation={**TRAIN, **bad})
    os.remove(frames / "31" / "00005.jpg")
    for number in range(1, 31):  # every frame, so that any clip reads one
        (frames / "32" / "{:05d}.jpg".format(number)).write_bytes(b"not a jpeg")
    for path in (frames / "33").iterdir():
        path.unlink()
    (frames / "33").rmdir()
    reasons = {
        4: str(frames / "31" / "00005.jpg"),
        5: str(frames / "32"),
        6: str(frames / "33"),
    }
    return data_dir, frames, reasons


def test_unreadable_frames_are_replaced_in_training(ssv1_with_bad_frames, caplog):
    data_dir, frames, reasons = ssv1_with_bad_frames
    dataset = Gta_ssv1(ssv1_cfg(data_dir, frames, "GTA.DATA.MAX_RETRIES", 30), "train")
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    for index, path in reasons.items():
        caplog.clear()
        inputs, label, item_index, _, meta = dataset[index]
        assert item_index == index and meta["valid"] and meta["video_index"] < 4
        assert label == dataset.video_labels[meta["video_index"]]
        assert any(path in record.getMessage() for record in caplog.records)


def test_unreadable_frames_are_left_out_at_test(ssv1_with_bad_frames, caplog):
    data_dir, frames, reasons = ssv1_with_bad_frames
    dataset = Gta_ssv1(ssv1_cfg(data_dir, frames), "test")
    caplog.set_level(logging.WARNING, logger="gta_slowfast.datasets")
    for index, path in reasons.items():
        caplog.clear()
        inputs, _, _, _, meta = dataset[index]
        assert not meta["valid"] and (inputs[0] == 0).all()
        assert any(path in record.getMessage() for record in caplog.records)
    assert all(dataset[index][4]["valid"] for index in range(4))


@pytest.mark.parametrize(
    "file, content, match",
    [("train", "11;Holding something\n12 Holding something\n",
      r"train.csv:2: expected 'id;class name'"),
     ("train", "11;Holding something\n\n13;Dropping something\n",
      r"train.csv:3: video 13 has class 'Dropping something'"),
     ("train", ";Holding something\n", r"train.csv:1: expected"),
     ("labels", "Holding something\n\nPushing something\n", r"labels.csv:2: blank line"),
     ("labels", "Holding something\nHolding something\n",
      r"labels.csv:2: .*already named on line 1")],
)
def test_bad_csv_lines_name_the_file_and_line(tmp_path, file, content, match):
    write_ssv1(tmp_path, train={}, validation={})
    (tmp_path / "something-something-v1-{}.csv".format(file)).write_text(content)
    with pytest.raises(ValueError, match=match):
        Gta_ssv1(ssv1_cfg(tmp_path, tmp_path / "frames"), "train")


def test_missing_csv_and_empty_split_are_errors(tmp_path):
    write_ssv1(tmp_path, train={}, validation={})
    with pytest.raises(ValueError, match="No videos in the train split.*train.csv"):
        Gta_ssv1(ssv1_cfg(tmp_path, tmp_path / "frames"), "train")
    os.remove(tmp_path / "something-something-v1-validation.csv")
    with pytest.raises(ValueError, match="No Something-Something-v1 file .*validation.csv"):
        Gta_ssv1(ssv1_cfg(tmp_path, tmp_path / "frames"), "val")


def test_run_net_trains_and_tests_ssv1_tsm_gta(tmp_path):
    rng = np.random.default_rng(0)
    train = {str(100 + i): (int(rng.integers(10, 16)), i % 4) for i in range(8)}
    validation = {str(200 + i): (12, i % 4) for i in range(4)}
    data_dir, frames = write_ssv1(tmp_path / "ssv1", train, validation, height=40, width=48)
    out = tmp_path / "run"
    output_of(run_command(net_command("SSv1/TSM_GTA_8x1_R50.yaml", run_opts(out, 4) + [
        "NUM_GPUS", 0, "DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", frames,
        "RESNET.WIDTH_PER_GROUP", 8, "GTA.DATA.RESIZE", "[40, 48]", "SOLVER.MAX_EPOCH", 1,
        "SOLVER.WARMUP_EPOCHS", 0.0, "DATA_LOADER.PIN_MEMORY", False,
    ]), plugin_loop_env()))
    assert [row["epoch"] for row in json_stats(out, "train_epoch")] == ["1/1"]
    assert json_stats(out, "train_iter_")[-1]["iter"] == "2/2"  # 8 videos, batch 4
    final = json_stats(out, "test_final")
    assert len(final) == 1 and final[0]["videos"] == 4
    with np.load(out / "test_scores_checkpoint_epoch_00001_1x1.npz") as scores:
        assert scores["scores"].shape == (4, 4)
        assert scores["labels"].tolist() == [0, 1, 2, 3]
