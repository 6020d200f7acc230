"""Faults, end to end through tools/run_net.py on generated webm videos: a
job killed mid-epoch, a non-finite loss, damaged and missing videos, bad
annotation files, config errors and a checkpoint of another clip length."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import torch

from gta_slowfast.engine.checkpoint import last_checkpoint

from conftest import REPO
from pipeline import json_stats, load_tool, plugin_loop_env, run_net, run_net_command
TRAIN_JSON = "something-something-v2-train.json"
VAL_JSON = "something-something-v2-validation.json"
CHECKPOINT_NAME = re.compile(r"^checkpoint_epoch_(\d{5})(?:_iter_(\d{5}))?\.pyth$")
# The last line of a Python traceback: "ValueError: ...", "KeyError: '...'".
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*")


@pytest.fixture(scope="module")
def trained_run(tiny_ssv2, tmp_path_factory):
    """OUTPUT_DIR of one epoch of training on 8-frame clips (a good
    checkpoint_epoch_00001.pyth); tests copy it before writing to it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    result = run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "DATA.NUM_FRAMES", 8,
                     "TRAIN.CHECKPOINT_PERIOD", 1, "TEST.ENABLE", False)
    assert result.returncode == 0, tail(result)
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    return out


def copy_data(data_dir, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    return copy


def tail(result, chars=3000):
    return "exit {}\n{}\n{}".format(result.returncode, result.stdout[-chars:],
                                    result.stderr[-chars:])


def error_message(result):
    """The exception that ended a failed run: the last 'XxxError: ...' line
    of stderr and what follows it."""
    lines = result.stderr.rstrip().splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if EXCEPTION_LINE.match(lines[start]):
            return "\n".join(lines[start:])
    return result.stderr[-2000:]


def warning_lines(output):
    return [line for line in output.splitlines() if "[WARNING]" in line]


def assert_failed_before_training(result, output_dir):
    assert result.returncode != 0, tail(result)
    assert not (output_dir / "checkpoints").exists()
    assert json_stats(output_dir, "train_iter_") == []


def checkpoint_files(output_dir):
    folder = output_dir / "checkpoints"
    return sorted(name for name in os.listdir(folder) if CHECKPOINT_NAME.match(name))


def assert_complete_checkpoint(path):
    state = torch.load(path, map_location="cpu", weights_only=False)
    assert {"model_state", "optimizer_state", "epoch", "iteration"} <= set(state), path
    epoch, iteration = CHECKPOINT_NAME.match(path.name).groups()
    # "epoch": the last completed one, 0-based; "iteration": of the next one.
    assert state["epoch"] == int(epoch) - (2 if iteration else 1), path
    assert state["iteration"] == int(iteration or 0), path
    assert state["model_state"] and state["optimizer_state"]["state"], path


# 1. A job killed (SIGKILL) in the middle of an epoch, with periodic
# mid-epoch checkpoints (GTA.TRAIN.CHECKPOINT_MINUTES).

def test_sigkill_mid_epoch_keeps_checkpoints_and_resumes_at_the_last_iteration_saved(
        tiny_ssv2, tmp_path):
    out = tmp_path / "run"
    checkpoints = out / "checkpoints"
    # 16 videos in batches of 2: 8 iterations an epoch; a checkpoint after each.
    opts = ("SOLVER.MAX_EPOCH", 3, "TRAIN.BATCH_SIZE", 2, "TRAIN.CHECKPOINT_PERIOD", 1,
            "GTA.TRAIN.CHECKPOINT_MINUTES", 1e-6, "TRAIN.EVAL_PERIOD", 100, "TEST.ENABLE", False)
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(run_net_command(tiny_ssv2, out, *opts), stdout=log,
                                   stderr=subprocess.STDOUT, cwd=REPO, env=plugin_loop_env())
    try:
        deadline = time.monotonic() + 300
        while not (checkpoints / "checkpoint_epoch_00002_iter_00002.pyth").exists():
            assert process.poll() is None, (
                "training ended (exit {}) before it could be killed:\n{}".format(
                    process.returncode, (tmp_path / "killed.log").read_text()[-3000:]))
            assert time.monotonic() < deadline, "no mid-epoch checkpoint of epoch 2 in time"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    before = checkpoint_files(out)
    assert before[0] == "checkpoint_epoch_00001.pyth"
    for name in os.listdir(checkpoints):
        if name.endswith(".tmp"):
            continue  # a write the kill interrupted: allowed, never picked (below)
        assert CHECKPOINT_NAME.match(name), "unexpected file {} in checkpoints/".format(name)
        assert_complete_checkpoint(checkpoints / name)
    last_before = last_checkpoint(str(out))
    match = CHECKPOINT_NAME.match(os.path.basename(last_before))
    assert match.group(1) == "00002" and match.group(2), last_before
    iteration = int(match.group(2))
    saved = {name: (checkpoints / name).read_bytes() for name in before[:1]}

    result = run_net(tiny_ssv2, out, *opts)
    assert result.returncode == 0, tail(result)
    assert "Resuming from {} at epoch 2, iteration {}".format(last_before, iteration + 1) in result.output
    assert checkpoint_files(out) == [
        "checkpoint_epoch_{:05d}.pyth".format(epoch) for epoch in range(1, 4)]
    for name in checkpoint_files(out):
        assert_complete_checkpoint(checkpoints / name)
    for name, data in saved.items():
        assert (checkpoints / name).read_bytes() == data, name + " was rewritten"
    epoch2 = [row["iter"] for row in json_stats(out, "train_iter_") if row["epoch"] == "2/3"]
    assert epoch2[-(8 - iteration):] == ["{}/8".format(i) for i in range(iteration + 1, 9)]


# 2. A non-finite loss.

def test_non_finite_loss_stops_and_names_the_last_good_checkpoint(
        tiny_ssv2, trained_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    good = out / "checkpoints" / "checkpoint_epoch_00001.pyth"
    good_bytes = good.read_bytes()
    # From scratch, this learning rate gives a NaN loss at the 2nd iteration
    # of epoch 1; resuming, at the 2nd iteration of epoch 2.
    result = run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 3, "TRAIN.CHECKPOINT_PERIOD", 1,
                     "SOLVER.BASE_LR", 1e12, "SOLVER.WARMUP_START_LR", 1e12,
                     "TEST.ENABLE", False)
    assert result.returncode != 0, tail(result)
    assert "Resuming from {}".format(good) in result.output
    message = error_message(result)
    assert re.search(r"Loss is (nan|inf|-inf)", message), message
    assert "epoch 2" in message, message
    assert str(good) in message, message
    assert good.read_bytes() == good_bytes
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    assert not [row for row in json_stats(out, "train_epoch") if row["epoch"].startswith("2/")]


# 3. Damaged and missing videos.

def test_damaged_training_videos_are_logged_and_replaced(tiny_ssv2, tmp_path):
    data = copy_data(tiny_ssv2, tmp_path)
    videos = data / "videos"
    ids = [entry["id"] for entry in json.loads((data / TRAIN_JSON).read_text())]
    empty, garbage, truncated, missing = [videos / (i + ".webm") for i in ids[:4]]
    empty.write_bytes(b"")
    garbage.write_bytes(random.Random(0).randbytes(5000))
    whole = truncated.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    missing.unlink()

    out = tmp_path / "run"
    result = run_net(data, out, "SOLVER.MAX_EPOCH", 1, "TRAIN.CHECKPOINT_PERIOD", 1,
                     "TEST.ENABLE", False)
    assert result.returncode == 0, tail(result)
    warnings = warning_lines(result.output)
    for path in (empty, garbage, truncated, missing):
        assert any(path.name in line for line in warnings), (
            "no warning names {}:\n{}".format(path.name, "\n".join(warnings)))
    assert [row["iter"] for row in json_stats(out, "train_iter_")][-1] == "4/4"
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]


def test_unreadable_test_video_is_left_out_of_the_accuracy(tiny_ssv2, tmp_path):
    data = copy_data(tiny_ssv2, tmp_path)
    entries = json.loads((data / VAL_JSON).read_text())
    broken = data / "videos" / (entries[3]["id"] + ".webm")
    broken.write_bytes(b"")

    out = tmp_path / "run"
    result = run_net(data, out, "TRAIN.ENABLE", False, "TEST.ENABLE", True)
    assert result.returncode == 0, tail(result)
    assert any(broken.name in line for line in warning_lines(result.output)), result.output[-3000:]
    final = json_stats(out, "test_final")
    assert len(final) == 1
    assert final[0]["unreadable_videos"] == 1
    assert final[0]["videos"] == len(entries) - 1
    (scores_file,) = out.glob("test_scores_*.npz")
    with np.load(scores_file) as scores:
        assert scores["scored"].tolist() == [i != 3 for i in range(len(entries))]


# 4-5. Bad annotation files.

def test_template_missing_from_labels_names_the_video(tiny_ssv2, tmp_path):
    data = copy_data(tiny_ssv2, tmp_path)
    entries = json.loads((data / TRAIN_JSON).read_text())
    entries[2]["template"] = "Juggling [something]"
    (data / TRAIN_JSON).write_text(json.dumps(entries))

    out = tmp_path / "run"
    result = run_net(data, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False)
    assert_failed_before_training(result, out)
    message = error_message(result)
    assert entries[2]["id"] in message, message
    assert "Juggling [something]" in message, message


def test_empty_training_split_names_the_file(tiny_ssv2, tmp_path):
    data = copy_data(tiny_ssv2, tmp_path)
    (data / TRAIN_JSON).write_text("[]")

    out = tmp_path / "run"
    result = run_net(data, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False)
    assert_failed_before_training(result, out)
    message = error_message(result)
    assert TRAIN_JSON in message, message


# 6. Config errors: tools/run_net.py's main in this process, where the
# error comes before any work (load_config, the checkpoint check); through a
# process of its own where it comes from building the model.

@pytest.mark.parametrize("opts, expected", [
    (("GTA.BLOK", "GTA"), ["GTA.BLOK", "GTA.BLOCK"]),
    (("GTA.NUM_GROUPS", 3), ["GTA.NUM_GROUPS", "3"]),
    (("GTA.BLOCK", "FOO"), ["GTA.BLOCK", "FOO", "NL", "DNL", "GTA", "TAPE", "REGION_GTA"]),
    (("TRAIN.CHECKPOINT_FILE_PATH", "SLOWFAST_8x8_R50.pkl"),
     ["TRAIN.CHECKPOINT_FILE_PATH", "SLOWFAST_8x8_R50.pkl", "''"]),
], ids=["unknown-key", "num-groups", "block", "missing-checkpoint"])
def test_config_error_fails_before_any_work_and_names_the_key(tiny_ssv2, tmp_path, monkeypatch,
                                                              opts, expected):
    monkeypatch.setenv("PYSLOWFAST_ROOT", "")
    out = tmp_path / "run"
    command = run_net_command(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False, *opts)
    with pytest.raises((KeyError, ValueError, FileNotFoundError)) as error:
        load_tool("run_net").main(command[2:])
    message = str(error.value)
    for text in expected:
        assert text in message, "{!r} not in: {}".format(text, message)
    assert not out.exists()


def test_a_block_position_past_the_stage_fails_before_training_and_names_the_key(
        tiny_ssv2, tmp_path):
    out = tmp_path / "run"
    result = run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False,
                     "NONLOCAL.LOCATION", "[[[]], [[1, 9]], [[]], [[]]]")
    assert_failed_before_training(result, out)
    message = error_message(result)
    assert "NONLOCAL.LOCATION" in message and "9" in message, message


# 7. A checkpoint of another clip length.

def test_checkpoint_of_another_clip_length_is_refused_or_interpolated(
        tiny_ssv2, trained_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    checkpoint = out / "checkpoints" / "checkpoint_epoch_00001.pyth"
    refused = run_net(tiny_ssv2, out, "DATA.NUM_FRAMES", 16, "TRAIN.ENABLE", False)
    assert refused.returncode != 0, tail(refused)
    message = error_message(refused)
    assert re.search(r"\b8\b", message) and re.search(r"\b16\b", message), message
    assert json_stats(out, "test_final") == []

    adapted = run_net(tiny_ssv2, out, "DATA.NUM_FRAMES", 16, "TRAIN.ENABLE", False,
                      "GTA.TEMPORAL_ADAPT", "interpolate")
    assert adapted.returncode == 0, tail(adapted)
    assert str(checkpoint) in adapted.output
    final = json_stats(out, "test_final")
    assert len(final) == 1 and final[0]["videos"] == 8 and final[0]["unreadable_videos"] == 0
