"""The training augmentations of the paper's pipelines: TSN's 13-position
multi-scale crop, inverse-uniform scale jitter, the flip with label swap,
and BGR input."""

import logging

import numpy as np
import pytest
import torch

from gta_slowfast.datasets import transforms
from gta_slowfast.datasets.ssv2 import Gta_ssv2
from conftest import dataset_cfg
from video_files import write_ssv2_annotations, write_video

# TSN's positions for a 180 x 210 crop of a 240 x 320 frame, by hand: steps
# of (240 - 180) // 4 = 15 rows and (320 - 210) // 4 = 27 columns.
CORNERS_AND_CENTRE = {(0, 0), (0, 108), (60, 0), (60, 108), (30, 54)}
EDGE_MIDDLES_AND_QUARTERS = {
    (30, 0), (30, 108), (60, 54), (0, 54), (15, 27), (15, 81), (45, 27), (45, 81)
}


def test_thirteen_crop_positions_are_tsns():
    offsets = transforms.fixed_crop_offsets(240, 320, 180, 210)
    assert len(offsets) == 13
    assert set(offsets) == CORNERS_AND_CENTRE | EDGE_MIDDLES_AND_QUARTERS
    assert set(transforms.fixed_crop_offsets(240, 320, 180, 210, False)) == CORNERS_AND_CENTRE


def coordinate_frames(height, width):
    """One frame whose red is the row and green the column of each pixel."""
    frame = np.zeros((1, height, width, 3), np.uint8)
    frame[0, :, :, 0] = np.arange(height)[:, None]
    frame[0, :, :, 1] = np.arange(width)[None, :]
    return frame


@pytest.mark.parametrize("more_fix_crop, positions", [(True, 13), (False, 5)])
def test_multi_scale_crop_draws_every_position_and_size_pair(monkeypatch, more_fix_crop,
                                                             positions):
    monkeypatch.setattr(transforms, "resize", lambda frames, height, width: frames)
    frames = coordinate_frames(96, 128)
    scales = [1.0, 0.875, 0.75, 0.66]
    # sides int(96 * scale) = 96, 84, 72, 63; 72 is within 3 pixels of the
    # output size 70 and is replaced by it, as TSN does.
    sides = [96, 84, 70, 63]
    rng = np.random.default_rng(0)
    seen_positions, seen_sizes = {}, set()
    for _ in range(2000):
        crop = transforms.multi_scale_crop(frames, scales, 70, rng, more_fix_crop)
        size = crop.shape[1:3]
        top, left = int(crop[0, 0, 0, 0]), int(crop[0, 0, 0, 1])
        allowed = transforms.fixed_crop_offsets(96, 128, *size, more_fix_crop)
        assert (top, left) in allowed
        seen_positions.setdefault(size, set()).add((top, left))
        seen_sizes.add(size)
    pairs = {(sides[i], sides[j]) for i in range(4) for j in range(4) if abs(i - j) <= 1}
    assert seen_sizes == pairs
    assert max(len(seen) for seen in seen_positions.values()) == positions


class MidpointRng:
    """Draws the middle of every range."""

    def uniform(self, low, high):
        return (low + high) / 2


@pytest.mark.parametrize("inverse_uniform, short_side", [(False, 288), (True, 284)])
def test_scale_jitter_draws_the_size_or_its_inverse(inverse_uniform, short_side):
    frames = np.zeros((2, 100, 150, 3), np.uint8)
    out = transforms.random_short_side_scale(frames, 256, 320, MidpointRng(), inverse_uniform)
    # 1 / mean(1/256, 1/320) = 284.4; mean(256, 320) = 288.
    assert out.shape[1] == short_side


SSV2_CLASSES = [
    "Pushing something from left to right",
    "Pushing something from right to left",
    "Turning the camera LEFT while filming something",
    "Turning the camera right while filming something",
    "Putting something upright on the table",
]


def test_mirror_classes_from_names():
    assert transforms.mirror_classes(SSV2_CLASSES, ["left", "right"]) == {
        0: 1, 1: 0, 2: 3, 3: 2
    }
    assert transforms.mirror_classes(SSV2_CLASSES, []) == {}


def test_class_without_mirror_is_left_out():
    classes = SSV2_CLASSES[:3]
    assert transforms.mirror_classes(classes, ["left", "right"]) == {0: 1, 1: 0}
    with pytest.raises(ValueError, match="pairs"):
        transforms.mirror_classes(SSV2_CLASSES, ["left", "right", "up"])


CLASSES = SSV2_CLASSES[:2] + SSV2_CLASSES[4:]
TEMPLATES = [
    "Pushing [something] from left to right",
    "Pushing [something] from right to left",
    "Putting [something] upright on the table",
]


@pytest.fixture(scope="module")
def ssv2_per_class(tmp_path_factory):
    """One 12-frame WebM video per class; returns (data_dir, video_dir)."""
    root = tmp_path_factory.mktemp("ssv2_flip")
    videos = root / "videos"
    videos.mkdir()
    entries = []
    for label, template in enumerate(TEMPLATES):
        write_video(str(videos / "{}.webm".format(label)), 12)
        entries.append((str(label), template))
    write_ssv2_annotations(str(root), CLASSES, {"train": entries, "validation": entries})
    return root, videos


def ssv2_cfg(data_dir, videos, *opts):
    """The 2D SSv2 config on the data set of ``ssv2_per_class``, without scale jitter."""
    return dataset_cfg("SSv2/C2D_8x1_R50.yaml", data_dir, videos, len(CLASSES),
                       "GTA.DATA.CROP_SCALES", "[]", *opts)


def is_flipped(clip):
    """The test videos are green on their left half: green on the right
    means mirrored."""
    green = clip[1, 0]
    return bool(green[:, :4].mean() < green[:, -4:].mean())


def test_validation_clips_are_never_flipped(ssv2_per_class):
    dataset = Gta_ssv2(ssv2_cfg(*ssv2_per_class, "GTA.DATA.FLIP_LABEL_SWAP", True), "val")
    outcomes = set()
    for epoch in range(16):
        dataset.set_epoch(epoch)
        outcomes.add((is_flipped(dataset[2][0][0]), dataset[2][1]))
    assert outcomes == {(False, 2)}


@pytest.mark.parametrize("swap", [False, True])
def test_flip_label_swap(ssv2_per_class, swap):
    dataset = Gta_ssv2(ssv2_cfg(*ssv2_per_class, "GTA.DATA.FLIP_LABEL_SWAP", swap), "train")
    outcomes = {video: set() for video in range(3)}
    for epoch in range(16):  # training draws from (RNG_SEED, epoch, item)
        dataset.set_epoch(epoch)
        for video in range(3):
            inputs, label, _, _, meta = dataset[video]
            outcomes[video].add((is_flipped(inputs[0]), label))
    if swap:
        assert outcomes[0] == {(False, 0), (True, 1)}
        assert outcomes[1] == {(False, 1), (True, 0)}
    else:
        assert outcomes[0] == {(False, 0)} and outcomes[1] == {(False, 1)}
    assert outcomes[2] == {(False, 2), (True, 2)}


def test_class_without_mirror_is_never_flipped_and_logged(ssv2_per_class, tmp_path, caplog):
    """Real SSv2 has a class that says "right" with no mirror class; with
    FLIP_LABEL_SWAP it keeps the paper's rule (never flipped), logged."""
    write_ssv2_annotations(str(tmp_path), CLASSES[:1] + CLASSES[2:],
                           {"train": [("0", TEMPLATES[0])]})
    cfg = ssv2_cfg(tmp_path, ssv2_per_class[1], "GTA.DATA.FLIP_LABEL_SWAP", True,
                   "MODEL.NUM_CLASSES", 2)
    with caplog.at_level(logging.INFO):
        dataset = Gta_ssv2(cfg, "train")
    assert "no mirror class, so they are never flipped: 0 'Pushing something from left to " \
        "right'" in caplog.text
    outcomes = set()
    for epoch in range(16):
        dataset.set_epoch(epoch)
        inputs, label, _, _, _ = dataset[0]
        outcomes.add((is_flipped(inputs[0]), label))
    assert outcomes == {(False, 0)}


def test_reverse_input_channel_feeds_bgr(ssv2_per_class):
    rgb = Gta_ssv2(ssv2_cfg(*ssv2_per_class), "test")[0][0][0]
    bgr = Gta_ssv2(ssv2_cfg(*ssv2_per_class, "DATA.REVERSE_INPUT_CHANNEL", True), "test")[0][0][0]
    assert torch.equal(bgr, rgb.flip(0))
    assert not torch.equal(bgr, rgb)
