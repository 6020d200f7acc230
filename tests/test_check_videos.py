"""tools/check_videos.py on a data set with broken videos, and
GTA.DATA.EXCLUDE_LIST, the list it writes, keeping them out of a data set."""

import json
import logging
import random
import shutil

import pytest

from gta_slowfast.datasets import build_dataset
from gta_slowfast.datasets.exclude_list import excluded_indices, read_exclude_list
from gta_slowfast.datasets.video_check import video_problem

from pipeline import CONFIG, load_tool, tiny_opts
from video_files import make_cfg, write_ssv2_annotations, write_video

TRAIN_JSON = "something-something-v2-train.json"


@pytest.fixture(scope="module")
def broken_data(tiny_ssv2, tmp_path_factory):
    """The tiny SSv2 with three broken training videos: an empty file, a
    truncated video (its first half) and a file that is not a video.
    Returns (data dir, {path: kind})."""
    data = tmp_path_factory.mktemp("check_videos") / "data"
    shutil.copytree(tiny_ssv2, data)
    videos = data / "videos"
    ids = [entry["id"] for entry in json.loads((data / TRAIN_JSON).read_text())]
    empty, truncated, garbage = (videos / (i + ".webm") for i in ids[1:4])
    empty.write_bytes(b"")
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    garbage.write_bytes(random.Random(0).randbytes(5000))
    return data, {str(empty): "empty", str(truncated): "truncated", str(garbage): "decoding"}


def test_lists_exactly_the_broken_videos_with_reasons_and_exits_nonzero(broken_data, tmp_path,
                                                                       capsys):
    data, broken = broken_data
    out = tmp_path / "bad.txt"
    status = load_tool("check_videos").main(
        ["--cfg", CONFIG, "--workers", "2", "--out", str(out), "--opts"]
        + tiny_opts(data, tmp_path / "run"))
    stdout, stderr = capsys.readouterr()
    assert status == 1, stdout + stderr
    assert "checked 16/16 videos, 3 problem(s)" in stderr
    listed = read_exclude_list(str(out))
    assert sorted(listed) == sorted(broken)
    lines = out.read_text().splitlines()
    for path, kind in broken.items():
        reason = lines[lines.index(path) - 1]
        assert reason.startswith("# ") and kind in reason, (path, reason)
        assert any(line.startswith(path + ": ") and kind in line
                   for line in stdout.splitlines()), stdout


def test_exclusion_list_keeps_the_videos_out_without_retries(broken_data, tmp_path, caplog):
    data, broken = broken_data
    exclude = tmp_path / "bad.txt"
    exclude.write_text("# reasons\n" + "".join(path + "\n" for path in broken))

    def read_every_item(cfg):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="gta_slowfast"):
            dataset = build_dataset("gta_ssv2", cfg, "train")
            for index in range(len(dataset)):
                dataset[index]
        return dataset, [r.getMessage() for r in caplog.records if "Cannot read" in r.getMessage()]

    _, retries = read_every_item(make_cfg(data, data / "videos"))
    assert len(retries) >= 3
    cfg = make_cfg(data, data / "videos", **{"GTA.DATA.EXCLUDE_LIST": str(exclude)})
    dataset, retries = read_every_item(cfg)
    assert len(dataset.video_paths) == 13 and not set(broken) & set(dataset.video_paths)
    assert len(dataset.video_labels) == 13
    assert "3 of the 16 videos of the train split" in caplog.text
    assert retries == []


def test_exclusion_list_entries_may_be_relative_to_the_path_prefix(tmp_path):
    videos = ["/data/v/1.webm", "/data/v/2.webm", "/data/v/3.webm"]
    assert excluded_indices(videos, ["2.webm", "/data/v/3.webm", "# not a path"],
                            "/data/v") == {1, 2}


def test_missing_exclusion_list_is_refused_naming_the_key(tmp_path):
    cfg_opts = ["GTA.DATA.EXCLUDE_LIST", str(tmp_path / "none.txt")]
    import gta_slowfast

    with pytest.raises(ValueError, match="GTA.DATA.EXCLUDE_LIST names no file"):
        gta_slowfast.load_config(CONFIG, cfg_opts)


@pytest.mark.parametrize("sampling, frames, needed", [("tsn", 6, 8), ("dense", 20, 22)])
def test_video_shorter_than_a_clip_is_reported(tmp_path, sampling, frames, needed):
    # TSN: 8 segments need 8 frames. Dense: 8 frames 3 apart at 12 fps from
    # a 12 fps video span 7 * 3 + 1 = 22 frames.
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(str(videos / "1.webm"), frames, 24, 32)
    write_video(str(videos / "2.webm"), needed, 24, 32)
    write_ssv2_annotations(tmp_path, ["Doing something"],
                           {"train": [("1", "Doing [something]"), ("2", "Doing [something]")],
                            "validation": [("1", "Doing [something]")]})
    cfg = make_cfg(tmp_path, videos, **{"GTA.DATA.SAMPLING": sampling,
                                        "DATA.SAMPLING_RATE": 3})
    dataset = build_dataset("gta_ssv2", cfg, "train")
    problem = video_problem(dataset, 0)
    assert problem.startswith("too short: {} frames".format(frames)), problem
    assert "needs {}".format(needed) in problem
    assert video_problem(dataset, 1) is None


def test_progress_line_gives_done_rate_and_eta():
    check_videos = load_tool("check_videos")

    class Stream(list):
        def isatty(self):
            return False

        def write(self, text):
            self.append(text)

        def flush(self):
            pass

    stream = Stream()
    progress = check_videos.Progress(4, stream, period=0.0)
    progress.update(2, 1)
    progress.update(4, 1)
    assert stream[0].startswith("checked 2/4 videos, 1 problem(s), ")
    assert "videos/s, ETA 0:00:0" in stream[0]
    assert stream[1].startswith("checked 4/4 videos") and "ETA 0:00:00" in stream[1]


def test_reads_frame_folders_with_the_data_sets_reader(tmp_path):
    """SSv1 frame folders: a missing folder and a gap in the numbering
    are found, as the SSv1 reader sees them."""
    from gta_slowfast.demo.annotations import write_ssv1_annotations
    from video_files import write_frame_images

    frames = tmp_path / "frames"
    for video_id in ("1", "2", "3"):
        write_frame_images(str(frames / video_id), 9, 24, 32, name="{:05d}.jpg")
    (frames / "2" / "00004.jpg").unlink()
    shutil.rmtree(frames / "3")
    write_ssv1_annotations(str(tmp_path), ["Doing something"],
                           {"train": [("1", "Doing something"), ("2", "Doing something"),
                                      ("3", "Doing something")],
                            "validation": [("1", "Doing something")]})
    cfg = make_cfg(tmp_path, frames, dataset="gta_ssv1")
    dataset = build_dataset("gta_ssv1", cfg, "train")
    problems = [video_problem(dataset, i) for i in range(3)]
    assert problems[0] is None
    assert "missing frame 4" in problems[1]
    assert "no such folder" in problems[2]
