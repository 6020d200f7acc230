"""Long jobs on shared clusters, end to end through tools/run_net.py: a
SIGTERM mid-epoch resumes at the next iteration and ends where an
uninterrupted run ends; a damaged newest checkpoint is skipped (and kept);
a full disk leaves every earlier checkpoint intact."""

import errno
import os
import shutil
import signal
import subprocess
import time

import pytest
import torch

from gta_slowfast.engine import checkpoint
from gta_slowfast.engine.preemption import EXIT_PREEMPTED

from conftest import REPO
from pipeline import json_stats, plugin_loop_env, run_net, run_net_command

# 16 training videos in batches of 2: 8 iterations an epoch.
OPTS = ("SOLVER.MAX_EPOCH", 2, "TRAIN.BATCH_SIZE", 2, "TRAIN.CHECKPOINT_PERIOD", 1,
        "TRAIN.EVAL_PERIOD", 100, "TEST.ENABLE", False)


@pytest.fixture(scope="module")
def uninterrupted(tiny_ssv2, tmp_path_factory):
    """OUTPUT_DIR of the run the interrupted ones must end like."""
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = run_net(tiny_ssv2, out, *OPTS)
    assert result.returncode == 0, result.output[-3000:]
    return out


def final_state(output_dir):
    path = os.path.join(output_dir, "checkpoints", "checkpoint_epoch_00002.pyth")
    return torch.load(path, map_location="cpu", weights_only=False)["model_state"]


def assert_same_parameters(output_dir, reference_dir):
    resumed, reference = final_state(output_dir), final_state(reference_dir)
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(resumed[name], tensor), name


def test_sigterm_mid_epoch_resumes_at_the_next_iteration_and_ends_like_an_uninterrupted_run(
        tiny_ssv2, uninterrupted, tmp_path):
    out = tmp_path / "run"
    log_path = tmp_path / "preempted.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(run_net_command(tiny_ssv2, out, *OPTS), stdout=log,
                                   stderr=subprocess.STDOUT, cwd=REPO, env=plugin_loop_env())
    try:
        deadline = time.monotonic() + 300
        while not any(row["epoch"] == "2/2" and row["iter"] in ("2/8", "3/8")
                      for row in json_stats(out, "train_iter_")):
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "no iteration of epoch 2 in time"
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == EXIT_PREEMPTED, log_path.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = log_path.read_text()
    done = int(json_stats(out, "train_iter_")[-1]["iter"].split("/")[0])
    mid_epoch = out / "checkpoints" / "checkpoint_epoch_00002_iter_{:05d}.pyth".format(done)
    assert "Stopped by SIGTERM after iteration {} of epoch 2".format(done) in log
    assert mid_epoch.is_file()
    saved = torch.load(mid_epoch, weights_only=False)
    assert (saved["epoch"], saved["iteration"]) == (0, done)  # PySlowFast's "epoch": the last completed

    result = run_net(tiny_ssv2, out, *OPTS)
    assert result.returncode == 0, result.output[-3000:]
    assert "Resuming from {} at epoch 2, iteration {}".format(mid_epoch, done + 1) in result.output
    resumed = [row["iter"] for row in json_stats(out, "train_iter_") if row["epoch"] == "2/2"]
    assert resumed[done:] == ["{}/8".format(i) for i in range(done + 1, 9)]
    assert sorted(os.listdir(out / "checkpoints")) == [
        "checkpoint_epoch_{:05d}.pyth".format(epoch) for epoch in (1, 2)]
    assert_same_parameters(out, uninterrupted)


def test_damaged_newest_checkpoint_is_skipped_kept_and_resumed_before(
        tiny_ssv2, uninterrupted, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(uninterrupted, out)
    folder = out / "checkpoints"
    newest = folder / "checkpoint_epoch_00002.pyth"
    damaged = newest.read_bytes()[: newest.stat().st_size // 2]  # a failing disk's copy
    newest.write_bytes(damaged)

    result = run_net(tiny_ssv2, out, *OPTS)
    assert result.returncode == 0, result.output[-3000:]
    kept = folder / checkpoint.DAMAGED_DIR / newest.name
    warnings = [line for line in result.output.splitlines() if "[WARNING]" in line]
    assert any("Skipping checkpoint {}".format(newest) in line and str(kept) in line
               for line in warnings), "\n".join(warnings)
    assert kept.read_bytes() == damaged
    assert "Resuming from {} at epoch 2, iteration 1".format(
        folder / "checkpoint_epoch_00001.pyth") in result.output
    assert_same_parameters(out, uninterrupted)


def test_empty_and_non_checkpoint_files_are_moved_beside_earlier_damaged_ones(tmp_path):
    from conftest import small_cfg
    import gta_slowfast

    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")
    model = gta_slowfast.build_model(cfg)
    good = checkpoint.save_checkpoint(str(tmp_path), model, torch.optim.SGD(model.parameters(), lr=1),
                                      0, cfg)
    empty = tmp_path / "checkpoints" / "checkpoint_epoch_00002.pyth"
    empty.write_bytes(b"")
    bad = tmp_path / "checkpoints" / "checkpoint_epoch_00003.pyth"
    bad.write_text("not a checkpoint\n")
    aside = tmp_path / "checkpoints" / checkpoint.DAMAGED_DIR
    aside.mkdir()
    (aside / bad.name).write_bytes(b"an earlier damaged file")
    path, state = checkpoint.read_last_checkpoint(str(tmp_path))
    assert path == good and state["epoch"] == 0
    assert (aside / bad.name).read_bytes() == b"an earlier damaged file"
    assert (aside / (bad.name + ".1")).read_text() == "not a checkpoint\n"
    assert (aside / empty.name).read_bytes() == b""
    assert not bad.exists() and not empty.exists()


def test_full_disk_keeps_every_earlier_checkpoint(tmp_path, monkeypatch):
    from conftest import small_cfg
    import gta_slowfast

    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")
    model = gta_slowfast.build_model(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    first = checkpoint.save_checkpoint(str(tmp_path), model, optimizer, 0, cfg)
    before = open(first, "rb").read()

    def full_disk(state, stream):
        stream.write(b"x" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as error:
        checkpoint.save_checkpoint(str(tmp_path), model, optimizer, 1, cfg, iteration=3)
    message = str(error.value)
    assert "No space left on device" in message and "No checkpoint was changed" in message
    assert first in message
    assert os.listdir(tmp_path / "checkpoints") == [os.path.basename(first)]
    assert open(first, "rb").read() == before
