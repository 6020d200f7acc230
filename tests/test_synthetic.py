"""The synthetic time-reversal SSv2 data set (``gta_slowfast.demo``): layout,
videos, reversal, determinism, overwrite policy, the video and annotation
writers, CLI."""

import hashlib
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import av
import numpy as np
import pytest

from gta_slowfast.datasets import ssv1, ssv2
from gta_slowfast.datasets.kinetics import read_video_list
from gta_slowfast.demo import annotations, scenes, synthetic_ssv2
from gta_slowfast.demo.video_writer import codec_available, encode_video

from video_files import full_decode

REPO = pathlib.Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "make_synthetic_ssv2.py"

# a small data set: every default pair, few videos, small frames
SMALL = dict(num_pairs=4, train_per_class=3, val_per_class=2, num_frames=12,
             height=48, width=64, fps=12, seed=7)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "ssv2"
    summary = synthetic_ssv2.generate_dataset(str(out), verbose=False, **SMALL)
    return out, summary


def _load(out):
    with open(out / ssv2.LABELS_FILE) as f:
        labels = json.load(f)
    splits = {}
    for split, mode in (("train", "train"), ("validation", "val")):
        name = ssv2.SPLIT_FILES[mode]
        with open(out / name) as f:
            splits[split] = json.load(f)
    return labels, splits


def _tool():
    spec = importlib.util.spec_from_file_location("make_synthetic_ssv2", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digest(folder):
    """{relative path: md5} of every file under a folder."""
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _object_centroids(frames, colour=None, threshold=40.0):
    """Per-frame (x, y) centroid of the object: the pixels within
    ``threshold`` of its RGB ``colour``, or without a colour, the pixels
    that differ from the clip's temporal median (static background and
    distractor; fine while the object rests nowhere for half the clip)."""
    f = frames.astype(np.float32)
    if colour is None:
        mask = np.linalg.norm(f - np.median(f, axis=0, keepdims=True), axis=-1) > threshold
    else:
        mask = np.linalg.norm(f - np.asarray(colour, np.float32), axis=-1) < threshold
    ys, xs = np.mgrid[:frames.shape[1], :frames.shape[2]]
    out = []
    for m in mask:
        w = m.astype(np.float64)
        assert w.sum() > 10, "object not found"
        out.append(((w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()))
    return np.array(out)


# ---------------------------------------------------------------- classes


def test_class_pairs_are_ssv2_templates_and_flip_safe():
    assert len(scenes.CLASS_PAIRS) >= 4
    names = scenes.class_names(scenes.MAX_PAIRS)
    assert len(set(names)) == len(names)
    for fwd, rev in scenes.CLASS_PAIRS:
        for t in (fwd, rev):
            assert t.count("[") == 1 and re.search(r"\[[sS]omething\]", t), t
        # a pair that a horizontal flip would change names left/right in
        # both classes (those are not flipped); others name neither
        lr = [bool(re.search(r"\b(left|right)\b", t, re.I)) for t in (fwd, rev)]
        assert lr[0] == lr[1], (fwd, rev)
    assert scenes.class_names(2) == [
        "Moving something from left to right", "Moving something from right to left",
        "Moving something up", "Moving something down"]
    for bad in (0, scenes.MAX_PAIRS + 1):
        with pytest.raises(ValueError):
            scenes.class_names(bad)


# ----------------------------------------------------------------- layout


def test_layout(small_set):
    out, summary = small_set
    labels, splits = _load(out)
    templates = scenes.class_templates(SMALL["num_pairs"])
    assert set(labels) == {t.replace("[", "").replace("]", "") for t in templates}
    assert sorted(int(v) for v in labels.values()) == list(range(len(labels)))
    assert all(isinstance(v, str) for v in labels.values())
    assert summary["classes"] == sorted(labels, key=lambda k: int(labels[k]))
    # pairs are classes 2p, 2p + 1
    for p, (fwd, rev) in enumerate(scenes.CLASS_PAIRS[:SMALL["num_pairs"]]):
        assert labels[ssv2.class_name_of(fwd)] == str(2 * p)
        assert labels[ssv2.class_name_of(rev)] == str(2 * p + 1)

    ids = []
    for split, per_class in (("train", SMALL["train_per_class"]),
                             ("validation", SMALL["val_per_class"])):
        entries = splits[split]
        counts = {}
        for e in entries:
            assert set(e) == {"id", "label", "template", "placeholders"}
            cls = e["template"].replace("[", "").replace("]", "")
            assert cls in labels
            assert len(e["placeholders"]) == 1
            name = e["placeholders"][0]
            assert e["label"] == re.sub(r"\[[sS]omething\]", name, e["template"]).lower()
            assert re.fullmatch(r"\d+", e["id"])
            counts[cls] = counts.get(cls, 0) + 1
            ids.append(e["id"])
        assert counts == {c: per_class for c in labels}, split
        assert summary["counts"][split] == counts
    assert len(ids) == len(set(ids)) == summary["num_videos"]
    videos = sorted(os.listdir(out / synthetic_ssv2.VIDEO_DIR))
    assert videos == sorted(i + ".webm" for i in ids)


def test_videos_decode_to_requested_size(small_set):
    out, _ = small_set
    paths = sorted((out / synthetic_ssv2.VIDEO_DIR).glob("*.webm"))
    assert paths
    for path in paths:
        with av.open(str(path)) as container:
            assert container.format.name.split(",")[0] in ("matroska", "webm")
            stream = container.streams.video[0]
            assert stream.codec_context.name == "vp9"
            assert stream.codec_context.pix_fmt == "yuv420p"
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert len(frames) == SMALL["num_frames"], path
        assert frames[0].shape == (SMALL["height"], SMALL["width"], 3)


def test_decoded_videos_follow_their_class(small_set):
    """The left/right pair: in decoded training videos the object moves right
    in class 0 and left in class 1."""
    out, _ = small_set
    labels, splits = _load(out)
    seen = {0: 0, 1: 0}
    for e in splits["train"]:
        c = int(labels[e["template"].replace("[", "").replace("]", "")])
        if c > 1:
            continue
        frames = np.stack(full_decode(str(out / synthetic_ssv2.VIDEO_DIR / (e["id"] + ".webm"))))
        cx = _object_centroids(frames)[:, 0]
        dx = cx[-1] - cx[0]
        assert (dx > 0.15 * SMALL["width"]) if c == 0 else (dx < -0.15 * SMALL["width"]), (e, cx)
        seen[c] += 1
    assert seen == {0: SMALL["train_per_class"], 1: SMALL["train_per_class"]}


def test_reversed_class_videos_are_new_clips_in_training_twins_in_validation(small_set):
    """In training a reversed-class video is a new clip played backwards; in
    validation each is the twin of one forward-class video, played
    backwards (equal up to codec noise)."""
    out, _ = small_set
    labels, splits = _load(out)
    for split in ("train", "validation"):
        by_class = {}
        for e in splits[split]:
            c = int(labels[e["template"].replace("[", "").replace("]", "")])
            by_class.setdefault(c, []).append(
                np.stack(full_decode(str(out / synthetic_ssv2.VIDEO_DIR / (e["id"] + ".webm"))))
                .astype(np.float32))
        for p in range(SMALL["num_pairs"]):
            for a in by_class[2 * p]:
                gaps = [np.abs(a[::-1] - b).mean() for b in by_class[2 * p + 1]]
                twins = sum(gap < 6.0 for gap in gaps)
                assert twins == (1 if split == "validation" else 0), (split, gaps)
                assert sum(gap > 10.0 for gap in gaps) == len(gaps) - twins, (split, gaps)


# ---------------------------------------------------------------- reversal


@pytest.mark.parametrize("pair", range(scenes.MAX_PAIRS))
def test_reversed_class_is_the_forward_clip_backwards(pair):
    kw = dict(num_frames=10, height=40, width=56)
    fwd = scenes.render_clip(pair, False, seed=11, **kw)
    rev = scenes.render_clip(pair, True, seed=11, **kw)
    assert fwd.shape == (10, 40, 56, 3) and fwd.dtype == np.uint8
    np.testing.assert_array_equal(rev, fwd[::-1])
    assert not np.array_equal(fwd, fwd[::-1])  # the clip changes over time
    # a new seed is a new clip
    assert not np.array_equal(fwd, scenes.render_clip(pair, False, seed=12, **kw))


def test_forward_trajectories_match_class_names():
    """Each forward class does what its name says, for many random clips;
    the reversed class does the opposite."""
    kw = dict(num_frames=12, height=48, width=64, return_info=True)
    for seed in range(20):
        for reverse in (False, True):
            sign = -1.0 if reverse else 1.0
            info = {p: scenes.render_clip(p, reverse, seed=seed, **kw)[1]
                    for p in range(scenes.MAX_PAIRS)}
            first, last = 0, -1
            i = info[0]  # left to right
            assert sign * (i["cx"][last] - i["cx"][first]) > 0.3 * 64
            i = info[1]  # up (image y decreases)
            assert sign * (i["cy"][first] - i["cy"][last]) > 0.3 * 48
            i = info[2]  # towards the camera: grows about 2x or more
            area = i["w"] * i["h"]
            assert (area[last] / area[first]) ** sign > 3.5
            i = info[3]  # appearing
            assert sign * (i["alpha"][last] - i["alpha"][first]) > 0.99
            i = info[4]  # unfolding: wider, same height
            assert (i["w"][last] / i["w"][first]) ** sign > 1.9
            np.testing.assert_allclose(i["h"], i["h"][0])
            i = info[5]  # camera turns left: the scene moves right
            assert sign * (i["pan"][last] - i["pan"][first]) > 0.25 * 64
            assert sign * (i["cx"][last] - i["cx"][first]) > 0.25 * 64


def test_object_centroid_moves_left_to_right_and_back(tmp_path):
    """Measured on decoded frames: class 0 moves right, class 1 moves left,
    and the measured centroid follows the rendered trajectory."""
    kw = dict(num_frames=12, height=48, width=64, return_info=True)
    for seed in range(10):
        for reverse in (False, True):
            clip, info = scenes.render_clip(0, reverse, seed=100 + seed, **kw)
            path = str(tmp_path / "clip.webm")
            encode_video(path, clip, 12, synthetic_ssv2.CODEC, synthetic_ssv2.vp9_options(18))
            frames = np.stack(full_decode(path))
            centroid = _object_centroids(frames, info["colour"])
            dx = centroid[-1, 0] - centroid[0, 0]
            assert (dx < -10) if reverse else (dx > 10), (reverse, centroid[:, 0])
            np.testing.assert_allclose(centroid, np.stack([info["cx"], info["cy"]], 1),
                                       atol=1.5)


def test_order_blind_statistics_match_within_a_pair():
    """Pooled over frames the two classes of the left/right pair have the
    same distribution of object position (reversal keeps the multiset of
    frames); at the first frame they differ."""
    kw = dict(num_frames=8, height=40, width=56, return_info=True)
    cx = {r: np.array([scenes.render_clip(0, r, seed=s, **kw)[1]["cx"]
                       for s in range(1000, 1300)]) for r in (False, True)}
    pooled = {r: cx[r].mean() for r in cx}
    assert abs(pooled[False] - pooled[True]) < 1.5
    assert cx[True][:, 0].mean() - cx[False][:, 0].mean() > 15


# ------------------------------------------------- determinism, overwriting


def test_same_seed_same_files_other_seed_other_videos(tmp_path):
    kw = dict(num_pairs=1, train_per_class=2, val_per_class=1, num_frames=8,
              height=32, width=48, verbose=False)
    synthetic_ssv2.generate_dataset(str(tmp_path / "a"), seed=3, **kw)
    synthetic_ssv2.generate_dataset(str(tmp_path / "b"), seed=3, **kw)
    synthetic_ssv2.generate_dataset(str(tmp_path / "c"), seed=4, **kw)
    a, b, c = (_digest(tmp_path / n) for n in "abc")
    assert a == b
    assert len(a) == 3 + 6
    videos = lambda d: sorted(v for k, v in d.items() if k.endswith(".webm"))  # noqa: E731
    assert not set(videos(a)) & set(videos(c))


def test_refuses_to_overwrite_and_overwrite_keeps_other_files(tmp_path):
    kw = dict(num_pairs=1, train_per_class=1, val_per_class=1, num_frames=6,
              height=32, width=32, verbose=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        synthetic_ssv2.generate_dataset(str(out), **kw)
    assert sorted(os.listdir(out)) == ["mine.txt"]

    synthetic_ssv2.generate_dataset(str(out), overwrite=True, seed=1, **kw)
    first = _digest(out)
    with pytest.raises(FileExistsError):
        synthetic_ssv2.generate_dataset(str(out), seed=2, **kw)
    assert _digest(out) == first
    synthetic_ssv2.generate_dataset(str(out), overwrite=True, seed=2, **kw)
    second = _digest(out)
    assert (out / "mine.txt").read_text() == "keep me"
    assert set(second) == set(first)  # same ids, same file names
    assert second != first            # contents replaced
    assert not [p for p in out.rglob("*.tmp")]


def test_bad_arguments(tmp_path):
    for bad in (dict(height=33), dict(width=30), dict(num_frames=1), dict(num_pairs=0),
                dict(num_pairs=scenes.MAX_PAIRS + 1), dict(train_per_class=-1)):
        with pytest.raises(ValueError):
            synthetic_ssv2.generate_dataset(str(tmp_path / "x"), verbose=False, **bad)
    with pytest.raises(ValueError):
        scenes.render_clip(scenes.MAX_PAIRS)


def test_codec_available():
    assert codec_available(synthetic_ssv2.CODEC), "PyAV lacks libvpx-vp9"


# ------------------------------------------------ video and annotation writers


def test_encode_video_writes_what_it_is_given_and_nothing_on_failure(tmp_path):
    """A generator of frames becomes a file that decodes to those frames
    (a flat colour per frame, so codec loss is small); with no frames, or an
    extension with no container, no file and no temporary file is left."""
    levels = [20, 120, 220]
    frames = (np.full((32, 48, 3), level, np.uint8) for level in levels)
    path = str(tmp_path / "flat.mp4")
    assert encode_video(path, frames, 12, "mpeg4", {"qscale": "2"}) == path
    decoded = np.stack(full_decode(path))
    assert decoded.shape == (3, 32, 48, 3)
    np.testing.assert_allclose(decoded.mean(axis=(1, 2, 3)), levels, atol=3)
    with pytest.raises(ValueError, match="No frames"):
        encode_video(str(tmp_path / "empty.webm"), [], 12, synthetic_ssv2.CODEC)
    with pytest.raises(ValueError, match="clip.gif"):
        encode_video(str(tmp_path / "clip.gif"), levels, 12, "mpeg4")
    assert sorted(os.listdir(tmp_path)) == ["flat.mp4"]


def test_annotation_files_read_back_through_the_data_sets(tmp_path):
    """What the writers write, the data sets' own readers read back: the
    same classes, ids and labels, in order."""
    classes = ["Moving something up", "Moving something down"]
    templates = ["Moving [something] up", "Moving [something] down"]
    annotations.write_ssv2_annotations(str(tmp_path / "ssv2"), classes, {
        "train": [annotations.ssv2_entry("7", templates[1], "Cup"),
                  annotations.ssv2_entry("3", templates[0])],
        "validation": []})
    names = ssv2.read_class_names(str(tmp_path / "ssv2" / ssv2.LABELS_FILE))
    assert names == classes
    assert ssv2.read_split(str(tmp_path / "ssv2" / ssv2.SPLIT_FILES["train"]), names) == (
        ["7", "3"], [1, 0])
    assert ssv2.read_split(str(tmp_path / "ssv2" / ssv2.SPLIT_FILES["val"]), names) == ([], [])
    with open(tmp_path / "ssv2" / ssv2.SPLIT_FILES["train"]) as f:
        assert json.load(f)[0]["label"] == "moving cup down"

    annotations.write_ssv1_annotations(str(tmp_path / "ssv1"), classes, {
        "train": [("5", classes[1])], "validation": [("6", classes[0]), ("8", classes[1])]})
    names = ssv1.read_class_names(str(tmp_path / "ssv1" / ssv1.LABELS_FILE))
    assert names == classes
    assert ssv1.read_split(str(tmp_path / "ssv1" / ssv1.SPLIT_FILES["val"]), names) == (
        ["6", "8"], [0, 1])

    annotations.write_kinetics_lists(str(tmp_path / "kinetics"), {
        "train": [("a b.mp4", 3), ("c.mp4", 0)]}, separator=",")
    assert read_video_list(str(tmp_path / "kinetics" / "train.csv"), "/videos", ",") == (
        ["/videos/a b.mp4", "/videos/c.mp4"], [3, 0])


# --------------------------------------------------------------------- CLI


def test_cli(tmp_path, capsys):
    tool = _tool()
    out = tmp_path / "cli"
    argv = ["--out", str(out), "--num-pairs", "2", "--train-per-class", "1",
            "--val-per-class", "1", "--frames", "6", "--height", "32", "--width", "48",
            "--fps", "8", "--seed", "5"]
    assert tool.main(argv) == 0
    text = capsys.readouterr().out
    assert "8/8 videos" in text and "Moving something down (1 train, 1 validation)" in text
    labels, splits = _load(out)
    assert len(labels) == 4 and len(splits["train"]) == 4 and len(splits["validation"]) == 4
    with av.open(str(out / "videos" / (splits["train"][0]["id"] + ".webm"))) as c:
        assert c.streams.video[0].average_rate == 8
    # a second run is refused, with a message and exit status 2
    assert tool.main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert tool.main(argv + ["--overwrite", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_help_documents_every_option():
    res = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for opt in ("--out", "--num-pairs", "--train-per-class", "--val-per-class",
                "--frames", "--height", "--width", "--fps", "--seed", "--overwrite"):
        assert opt in res.stdout
    for fwd, rev in scenes.CLASS_PAIRS:
        assert fwd in res.stdout and rev in res.stdout
