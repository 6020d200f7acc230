"""PySlowFast's data keys in the plugin's datasets: each one proved on frames
that encode their orientation, channel order and scale.

The frames (PNG, lossless) hold a red ramp that rises from left to right
(red = RED_LEFT + RED_SLOPE * column), no green and a flat blue: a mirrored
clip's red falls from left to right, a clip in BGR order has the flat
channel first, and the ramp's slope in a crop tells how far the frame was
scaled before cropping.
"""

import random

import cv2
import numpy as np
import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.datasets import construct_loader, transforms
from gta_slowfast.datasets.kinetics import Gta_kinetics
from gta_slowfast.datasets.ssv2 import Gta_ssv2
from conftest import REPO
from video_files import (
    frame_indices_of,
    make_cfg,
    pixels,
    write_frame_images,
    write_ssv2_annotations,
    write_video,
)

HEIGHT, WIDTH = 64, 80
RED_LEFT, RED_SLOPE, BLUE = 40, 2, 200

main_only = pytest.mark.skipif(
    compat.GENERATION != "main", reason="the key exists on GitHub-main PySlowFast only"
)


def ramp_frame():
    """uint8 (HEIGHT, WIDTH, 3) RGB: the red ramp, no green, flat blue."""
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    frame[:, :, 0] = RED_LEFT + RED_SLOPE * np.arange(WIDTH)
    frame[:, :, 2] = BLUE
    return frame


@pytest.fixture(scope="module")
def ramps(tmp_path_factory):
    """A Kinetics csv of 3 videos of 4 ramp frames (folders of PNGs); returns
    the data directory."""
    root = tmp_path_factory.mktemp("ramps")
    lines = []
    for video in range(3):
        folder = root / "video{}".format(video)
        folder.mkdir()
        for index in range(4):
            cv2.imwrite(str(folder / "{:02d}.png".format(index)),
                        cv2.cvtColor(ramp_frame(), cv2.COLOR_RGB2BGR))
        lines.append("{} {}\n".format(folder, video))
    for split in ("train", "val", "test"):
        (root / "{}.csv".format(split)).write_text("".join(lines))
    return root


def ramp_cfg(root, **overrides):
    """gta_kinetics on ``ramps``: 2 frames, 32-pixel crops of frames whose
    short side is jittered in [32, 64], per-channel mean and std."""
    settings = {"DATA.NUM_FRAMES": 2, "DATA.TRAIN_CROP_SIZE": 32, "DATA.TEST_CROP_SIZE": 32,
                "DATA.TRAIN_JITTER_SCALES": [32, 64], "DATA.MEAN": [0.485, 0.456, 0.406],
                "DATA.STD": [0.229, 0.224, 0.225]}
    settings.update(overrides)
    return make_cfg(root, root, dataset="gta_kinetics", **settings)


def training_clips(dataset, epochs, video=0):
    """The first pathway of item ``video`` in epochs 0..epochs-1."""
    clips = []
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        clips.append(dataset[video][0][0])
    return clips


def red_slope(clip, cfg):
    """The red ramp's rise per column of a normalised RGB (3, T, S, S) clip
    (negative where mirrored)."""
    red = pixels(clip, cfg)[0, :, :, 0].mean(axis=0)
    return float(red[-1] - red[0]) / (len(red) - 1)


def test_random_flip_false_never_flips_and_true_flips_some_epochs(ramps):
    kept = Gta_kinetics(ramp_cfg(ramps, **{"DATA.RANDOM_FLIP": False}), "train")
    flipping = Gta_kinetics(ramp_cfg(ramps), "train")
    assert all(red_slope(clip, kept.cfg) > 0 for clip in training_clips(kept, 12))
    slopes = [red_slope(clip, flipping.cfg) for clip in training_clips(flipping, 12)]
    assert any(slope < 0 for slope in slopes) and any(slope > 0 for slope in slopes)


def test_reverse_input_channel_feeds_bgr_normalised_with_the_reversed_mean_and_std(ramps):
    cfg = ramp_cfg(ramps, **{"DATA.REVERSE_INPUT_CHANNEL": True})
    mean, std = cfg.DATA.MEAN, cfg.DATA.STD
    for mode in ("train", "test"):
        clip = Gta_kinetics(cfg, mode)[0][0][0]
        # Channel 0 is the flat blue, normalised as blue; channel 2 the ramp.
        torch.testing.assert_close(
            clip[0], torch.full_like(clip[0], (BLUE / 255 - mean[2]) / std[2]))
        assert torch.all(clip[1] == clip[1].flatten()[0])
        ramp = clip[2, 0] * std[0] + mean[0]
        assert abs(ramp[:, -1].mean() - ramp[:, 0].mean()) > 0.1


def test_inverse_uniform_sample_draws_the_short_sides_inverse_uniformly(ramps):
    """The ramp's slope in a crop is RED_SLOPE * scale, scale = the drawn short
    side / HEIGHT; over 150 epochs, the mean inverse short side is that of
    the inverse-uniform law, (1/32 + 1/64) / 2, or of the uniform law,
    ln(2) / 32, 7% apart."""
    expected = {True: (1 / 32 + 1 / 64) / 2, False: np.log(2) / 32}
    for inverse, mean_inverse in expected.items():
        cfg = ramp_cfg(ramps, **{"DATA.INV_UNIFORM_SAMPLE": inverse, "DATA.RANDOM_FLIP": False,
                                 "DATA.NUM_FRAMES": 1})
        dataset = Gta_kinetics(cfg, "train")
        sides = [HEIGHT * RED_SLOPE / red_slope(clip, cfg) for clip in training_clips(dataset, 150)]
        assert np.mean(1 / np.array(sides)) == pytest.approx(mean_inverse, rel=0.025)


def test_the_former_gta_data_copies_name_the_pyslowfast_key(tmp_path):
    config = str(REPO / "configs" / "SSv2" / "C2D_8x1_R50.yaml")
    for old, new in [("GTA.DATA.RANDOM_FLIP", "DATA.RANDOM_FLIP"),
                     ("GTA.DATA.INV_UNIFORM_SAMPLE", "DATA.INV_UNIFORM_SAMPLE"),
                     ("GTA.DATA.REVERSE_INPUT_CHANNEL", "DATA.REVERSE_INPUT_CHANNEL")]:
        with pytest.raises(KeyError, match="{}.*set PySlowFast's own {}".format(old, new)):
            gta_slowfast.load_config(config, [old, "True"])
    path = tmp_path / "old.yaml"
    path.write_text("_BASE_: {}\nGTA:\n  DATA:\n    RANDOM_FLIP: False\n".format(config))
    with pytest.raises(KeyError, match="GTA.DATA.RANDOM_FLIP .*old.yaml.*DATA.RANDOM_FLIP"):
        gta_slowfast.load_config(str(path))


def test_both_generations_have_the_keys_with_github_mains_defaults():
    data = gta_slowfast.get_cfg().DATA
    assert (data.RANDOM_FLIP, data.INV_UNIFORM_SAMPLE, data.REVERSE_INPUT_CHANNEL,
            data.TARGET_FPS) == (True, False, False, 30)
    assert "RANDOM_FLIP" not in gta_slowfast.get_cfg().GTA.DATA


@pytest.fixture(scope="module")
def one_class_ssv2(tmp_path_factory):
    """An SSv2 directory of one class without "left"/"right", two videos."""
    root = tmp_path_factory.mktemp("ssv2_recipe")
    videos = root / "videos"
    videos.mkdir()
    for video_id in ("1", "2"):
        write_video(str(videos / (video_id + ".webm")), 12)
    write_ssv2_annotations(str(root), ["Holding something"], {
        "train": [("1", "Holding [something]"), ("2", "Holding [something]")],
        "validation": [("1", "Holding [something]")]})
    return root, videos


def test_pyslowfasts_ssv2_recipe_keys_reach_gta_ssv2(one_class_ssv2):
    """PySlowFast's SSv2 SlowFast recipe (no flip, BGR, inverse-uniform
    jitter), as configs/SSv2/SLOWFAST_16x8_R50.yaml sets it, in gta_ssv2's
    training clips: the green left half of write_video's frames stays on the
    left, and green is channel 1 in both orders while red (flat, the frame
    index) moves to channel 2."""
    data_dir, videos = one_class_ssv2
    cfg = gta_slowfast.load_config(
        str(REPO / "configs" / "SSv2" / "SLOWFAST_16x8_R50.yaml"),
        ["NUM_GPUS", 0, "DATA.PATH_TO_DATA_DIR", str(data_dir), "DATA.PATH_PREFIX", str(videos),
         "MODEL.NUM_CLASSES", 1, "DATA.NUM_FRAMES", 4, "DATA.TRAIN_CROP_SIZE", 32,
         "DATA.TEST_CROP_SIZE", 32, "DATA.TRAIN_JITTER_SCALES", "[40, 64]",
         "BN.NORM_TYPE", "batchnorm"])
    assert (cfg.DATA.RANDOM_FLIP, cfg.DATA.REVERSE_INPUT_CHANNEL, cfg.DATA.INV_UNIFORM_SAMPLE) == (
        False, True, True)
    dataset = Gta_ssv2(cfg, "train")
    mean, std = torch.tensor(cfg.DATA.MEAN[::-1]), torch.tensor(cfg.DATA.STD[::-1])
    for epoch in range(8):
        dataset.set_epoch(epoch)
        fast = dataset[0][0][1]
        values = (fast.permute(1, 2, 3, 0) * std + mean) * 255
        # Green is a left part of the frame: in an unflipped crop, green
        # columns never follow other columns.
        green = (values[..., 1].mean(dim=(0, 1)) > 127).int()
        assert torch.all(green[1:] <= green[:-1])
        indices = frame_indices_of(values.flip(-1).numpy())  # BGR -> RGB
        assert indices == sorted(set(indices)) and len(indices) == 4


def test_target_fps_counts_the_sampling_rate_at_that_rate(tmp_path):
    """write_video's videos are at 12 frames a second: DATA.SAMPLING_RATE 1
    at DATA.TARGET_FPS 6 takes every other frame, rate 3 at 36 every
    frame."""
    write_video(str(tmp_path / "clip.mp4"), 24)
    (tmp_path / "test.csv").write_text("clip.mp4 0\n")
    for rate, target_fps, step in [(1, 6, 2), (3, 36, 1), (2, 12, 2)]:
        cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics", **{
            "DATA.SAMPLING_RATE": rate, "DATA.TARGET_FPS": target_fps, "DATA.NUM_FRAMES": 4,
            "GTA.DATA.RESIZE": []})
        clip = Gta_kinetics(cfg, "test")[0][0][0]
        indices = frame_indices_of(pixels(clip, cfg))
        assert np.diff(indices).tolist() == [step] * 3


def test_refused_data_keys_and_meaningless_combinations_stop_construction(ramps, one_class_ssv2):
    cfg = ramp_cfg(ramps, **{"DATA.INV_UNIFORM_SAMPLE": True})
    Gta_kinetics(cfg, "train")  # Kinetics has no fixed resize: jitter is drawn.
    data_dir, videos = one_class_ssv2
    cfg = make_cfg(data_dir, videos, **{"DATA.INV_UNIFORM_SAMPLE": True})
    with pytest.raises(ValueError, match="DATA.INV_UNIFORM_SAMPLE with GTA.DATA.RESIZE"):
        Gta_ssv2(cfg, "train")
    cfg = make_cfg(data_dir, videos, **{"GTA.DATA.FLIP_LABEL_SWAP": True,
                                        "DATA.RANDOM_FLIP": False})
    with pytest.raises(ValueError, match="GTA.DATA.FLIP_LABEL_SWAP with DATA.RANDOM_FLIP"):
        Gta_ssv2(cfg, "val")


@main_only
@pytest.mark.parametrize("key, value", [("DATA.MULTI_LABEL", True),
                                        ("DATA.SSL_COLOR_JITTER", True),
                                        ("DATA.TRAIN_CROP_NUM_TEMPORAL", 2),
                                        ("AUG.GEN_MASK_LOADER", True),
                                        ("AUG.RE_SPLIT", True),
                                        ("MULTIGRID.SHORT_CYCLE", True)])
def test_refused_main_keys_are_named(ramps, key, value):
    with pytest.raises(ValueError, match=key.replace(".", r"\.") + " = " + str(value)):
        Gta_kinetics(ramp_cfg(ramps, **{key: value}), "val")


@main_only
def test_relative_jitter_with_tsns_multi_scale_crop_names_both(one_class_ssv2):
    data_dir, videos = one_class_ssv2
    relative = {"DATA.TRAIN_JITTER_SCALES_RELATIVE": [0.08, 1.0],
                "DATA.TRAIN_JITTER_ASPECT_RELATIVE": [0.75, 1.333]}
    with pytest.raises(ValueError, match="DATA.TRAIN_JITTER_SCALES_RELATIVE with "
                                         "GTA.DATA.CROP_SCALES"):
        Gta_ssv2(make_cfg(data_dir, videos, **{"GTA.DATA.CROP_SCALES": [1.0, 0.875]},
                          **relative), "train")
    with pytest.raises(ValueError, match="needs both"):
        Gta_ssv2(make_cfg(data_dir, videos, **{"GTA.DATA.CROP_SCALES": [],
                                               "DATA.TRAIN_JITTER_ASPECT_RELATIVE": []},
                          **{"DATA.TRAIN_JITTER_SCALES_RELATIVE": [0.5, 1.0]}), "train")
    Gta_ssv2(make_cfg(data_dir, videos, **{"GTA.DATA.CROP_SCALES": []}, **relative), "train")


@main_only
def test_relative_jitter_crops_pyslowfasts_random_resized_crop(ramps):
    """Areas in [0.08, 1] of the 64 x 80 frame at aspect ratios in [3/4,
    4/3], resized to 32: the ramp's slope in the crop, RED_SLOPE * crop
    width / 32, reaches below RED_SLOPE (crops wider than 32 / 64 of the
    frame's width... any crop over 32 columns), which the short-side jitter
    in [32, 64] never gives (its slope is RED_SLOPE * 64 / side >=
    RED_SLOPE)."""
    cfg = ramp_cfg(ramps, **{"DATA.TRAIN_JITTER_SCALES_RELATIVE": [0.08, 1.0],
                             "DATA.TRAIN_JITTER_ASPECT_RELATIVE": [0.75, 1.3333],
                             "DATA.RANDOM_FLIP": False, "DATA.NUM_FRAMES": 1})
    dataset = Gta_kinetics(cfg, "train")
    clips = training_clips(dataset, 40)
    slopes = [red_slope(clip, cfg) for clip in clips]
    assert min(slopes) < 0.9 * RED_SLOPE and max(slopes) > 1.5 * min(slopes)
    assert all(clip.shape == (3, 1, 32, 32) for clip in clips)
    assert all(torch.equal(a, b) for a, b in zip(clips, training_clips(dataset, 40)))


@main_only
def test_random_augment_is_gated_by_aug_enable_reproducible_and_alike_in_every_frame(ramps):
    plain = Gta_kinetics(ramp_cfg(ramps), "train")
    no_ops = Gta_kinetics(ramp_cfg(ramps, **{"AUG.ENABLE": True, "AUG.AA_TYPE": "",
                                             "AUG.RE_PROB": 0.0}), "train")
    augmented = Gta_kinetics(ramp_cfg(ramps, **{"AUG.ENABLE": True, "AUG.RE_PROB": 0.0,
                                                "AUG.AA_TYPE": "rand-m9-n4-mstd0.5-inc1"}),
                             "train")
    python_state, numpy_state, torch_state = (random.getstate(), np.random.get_state(),
                                              torch.get_rng_state())
    reference = training_clips(plain, 6)
    assert all(torch.equal(a, b) for a, b in zip(reference, training_clips(no_ops, 6)))
    clips = training_clips(augmented, 6)
    assert any(not torch.equal(a, b) for a, b in zip(reference, clips))
    assert all(torch.equal(a, b) for a, b in zip(clips, training_clips(augmented, 6)))
    # The video's frames are alike, and RandAugment treats every frame alike.
    assert all(torch.equal(clip[:, 0], clip[:, 1]) for clip in clips)
    # The global generators PySlowFast's transforms draw from are restored.
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state)


@main_only
def test_random_erasing_erases_a_box_alike_in_every_frame(ramps):
    cfg = ramp_cfg(ramps, **{"AUG.ENABLE": True, "AUG.AA_TYPE": "", "AUG.RE_PROB": 1.0,
                             "AUG.RE_MODE": "const"})
    for clip in training_clips(Gta_kinetics(cfg, "train"), 4):
        erased = (clip == 0).all(dim=0)  # const mode: zeros after normalisation
        assert erased.any() and torch.equal(erased[0], erased[1])
    cfg = ramp_cfg(ramps, **{"AUG.ENABLE": True, "AUG.AA_TYPE": "", "AUG.RE_PROB": 0.0})
    for clip in training_clips(Gta_kinetics(cfg, "train"), 4):
        assert not (clip == 0).all(dim=0).any()


@main_only
def test_num_sample_gives_several_clips_per_video_collated_as_pyslowfast(ramps):
    """AUG.NUM_SAMPLE 2: each item holds 2 clips of its video, augmented
    apart; the training loader's batch of TRAIN.BATCH_SIZE 2 videos holds 4
    clips, a video's clips one after the other (PySlowFast's
    ``multiple_samples_collate``; its loader counts the batch in videos)."""
    cfg = ramp_cfg(ramps, **{"AUG.NUM_SAMPLE": 2, "TRAIN.BATCH_SIZE": 2})
    dataset = Gta_kinetics(cfg, "train")
    slopes = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        inputs, labels, index, _, _ = dataset[1]
        assert len(inputs) == 2 and labels == [1, 1] and index == [1, 1]
        slopes.add(tuple(round(red_slope(clip[0], cfg), 3) for clip in inputs))
    assert any(first != second for first, second in slopes)
    inputs, labels, index, _, _ = next(iter(construct_loader(cfg, "train")))
    assert inputs[0].shape == (4, 3, 2, 32, 32)
    assert labels[0] == labels[1] and labels[2] == labels[3] and index.tolist() == labels.tolist()
    val_inputs, val_labels, _, _, _ = next(iter(construct_loader(cfg, "val")))
    assert val_inputs[0].shape[0] == 2 and val_labels.shape == (2,)


def test_global_random_from_restores_the_generators():
    state = random.getstate()
    with transforms.global_random_from(np.random.default_rng(3)):
        first = random.random(), float(np.random.rand()), float(torch.rand(1))
    assert random.getstate() == state
    with transforms.global_random_from(np.random.default_rng(3)):
        assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == first


def test_frame_folders_have_no_rate_and_count_at_the_target_rate(tmp_path):
    """Frame images carry no rate: DATA.SAMPLING_RATE 2 takes every other
    image whatever DATA.TARGET_FPS says."""
    write_frame_images(str(tmp_path / "frames"), 12)
    (tmp_path / "test.csv").write_text("frames 0\n")
    for target_fps in (7, 30):
        cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics", **{
            "DATA.SAMPLING_RATE": 2, "DATA.TARGET_FPS": target_fps, "DATA.NUM_FRAMES": 4})
        dataset = Gta_kinetics(cfg, "test")
        with dataset.open_video(0) as video:
            assert video.fps is None
        indices = frame_indices_of(pixels(dataset[0][0][0], cfg))
        assert np.diff(indices).tolist() == [2, 2, 2]


@pytest.mark.parametrize("use_offset, starts", [(False, [0, 8]), (True, [0, 16])])
def test_use_offset_sampling_places_the_test_clips(tmp_path, use_offset, starts):
    """A 24-frame video, 8-frame windows (D = 16), 2 test clips: PySlowFast
    places clip k at k D / 2, or with DATA.USE_OFFSET_SAMPLING at k D (the
    first and the last window)."""
    if use_offset and compat.GENERATION != "main":
        pytest.skip("DATA.USE_OFFSET_SAMPLING exists on GitHub-main PySlowFast only")
    write_video(str(tmp_path / "clip.mp4"), 24)
    (tmp_path / "test.csv").write_text("clip.mp4 0\n")
    overrides = {"DATA.NUM_FRAMES": 8, "TEST.NUM_ENSEMBLE_VIEWS": 2, "GTA.DATA.RESIZE": []}
    if use_offset:
        overrides["DATA.USE_OFFSET_SAMPLING"] = True
    cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics", **overrides)
    dataset = Gta_kinetics(cfg, "test")
    assert [frame_indices_of(pixels(dataset[view][0][0], cfg))[0] for view in range(2)] == starts


@main_only
def test_path_label_separator_splits_the_kinetics_csv(tmp_path):
    write_video(str(tmp_path / "a clip.mp4"), 12)
    (tmp_path / "val.csv").write_text("a clip.mp4,4\n")
    cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics",
                   **{"DATA.PATH_LABEL_SEPARATOR": ","})
    dataset = Gta_kinetics(cfg, "val")
    assert dataset.video_paths == [str(tmp_path / "a clip.mp4")] and dataset.video_labels == [4]


@main_only
def test_train_jitter_fps_adds_a_random_rate_in_training(tmp_path):
    """12 fps frames at DATA.TARGET_FPS 6 are 2 apart; with
    DATA.TRAIN_JITTER_FPS 18 the target rate is drawn in [6, 24], so the
    step drawn per item runs from 2 down to 1 (rounded)."""
    write_video(str(tmp_path / "clip.mp4"), 24)
    (tmp_path / "train.csv").write_text("clip.mp4 0\n")
    steps = {}
    for jitter in (0.0, 18.0):
        cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics", **{
            "DATA.TARGET_FPS": 6, "DATA.TRAIN_JITTER_FPS": jitter, "DATA.NUM_FRAMES": 3,
            "GTA.DATA.RESIZE": []})
        dataset = Gta_kinetics(cfg, "train")
        steps[jitter] = set()
        for epoch in range(12):
            dataset.set_epoch(epoch)
            indices = frame_indices_of(pixels(dataset[0][0][0], cfg))
            steps[jitter].add(indices[-1] - indices[0])
    assert steps[0.0] == {4} and min(steps[18.0]) < 3 and max(steps[18.0]) >= 3
