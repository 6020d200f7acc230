"""End to end through tools/run_net.py on generated webm videos: train,
checkpoint, resume, test, ensemble; and what run_job checks before any
work (GTA.LOOP, PySlowFast's assert_and_infer_cfg); how PySlowFast's
tools' functions are called."""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.engine import pyslowfast_tools
from gta_slowfast.engine import run as run_module
from gta_slowfast.engine.test import test as plugin_test
from gta_slowfast.engine.train import train as plugin_train

from conftest import REPO
from pipeline import CONFIG, json_stats, output_of, run_net

main_only = pytest.mark.skipif(
    compat.GENERATION != "main",
    reason="pyslowfast {} has no assert_and_infer_cfg".format(compat.GENERATION))


def test_train_resume_test_ensemble(tiny_ssv2, tmp_path):
    out = tmp_path / "run"
    checkpoints = out / "checkpoints"
    log = output_of(run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False))
    assert os.listdir(checkpoints) == ["checkpoint_epoch_00001.pyth"]
    iters = json_stats(out, "train_iter_")
    assert iters and {"loss", "lr", "eta", "dt", "dt_data", "dt_net", "grad_norm", "gpu_mem",
                      "top1_err", "top5_err"} <= set(iters[0])
    assert iters[-1]["iter"] == "4/4"  # 16 training videos, batch 4
    assert len(json_stats(out, "train_epoch")) == 1
    assert len(json_stats(out, "val_epoch")) == 1
    assert "json_stats" in log
    with open(out / "stdout.log") as stream:
        assert "Running the plugin's training and test loop (GTA.LOOP auto): " in stream.readline()

    first = (checkpoints / "checkpoint_epoch_00001.pyth").read_bytes()
    # Resumes at epoch 2, then tests the last checkpoint with one view.
    log = output_of(run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 2))
    assert "Resuming from" in log and "checkpoint_epoch_00001.pyth" in log
    assert sorted(os.listdir(checkpoints)) == [
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]
    assert (checkpoints / "checkpoint_epoch_00001.pyth").read_bytes() == first
    assert [row["epoch"] for row in json_stats(out, "train_epoch")] == ["1/1", "2/2"]

    output_of(run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 2, "TRAIN.ENABLE", False,
                      "TEST.NUM_SPATIAL_CROPS", 3))
    final = json_stats(out, "test_final")
    assert [row["views"] for row in final] == [1, 3]
    assert all(row["videos"] == 8 and 0 <= row["top1_acc"] <= 100 for row in final)
    single = out / "test_scores_checkpoint_epoch_00002_1x1.npz"
    three = out / "test_scores_checkpoint_epoch_00002_1x3.npz"
    with np.load(single) as scores:
        assert scores["scores"].shape == (8, 4)
        assert np.allclose(scores["scores"].sum(axis=1), 1.0, atol=1e-5)
        assert sorted(scores["labels"].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]

    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "ensemble.py"), "--json", str(single), str(three)],
        capture_output=True, text=True, check=True,
    )
    rows = json.loads(result.stdout)
    assert [row["run"] for row in rows][-1] == "ensemble"
    assert rows[-1]["videos"] == 8
    for row, stats in zip(rows[:2], final):
        assert row["top1_acc"] == pytest.approx(stats["top1_acc"])


def job_config(output_dir, *opts):
    """The demo config with OUTPUT_DIR and KEY VALUE overrides, as run_net
    gives it to run_job."""
    cfg = gta_slowfast.load_config(CONFIG, ["OUTPUT_DIR", str(output_dir)] + list(opts))
    cfg.NUM_SHARDS, cfg.SHARD_ID = 1, 0
    return cfg


def test_loop_pyslowfast_where_the_tools_cannot_be_used_stops_before_any_work(
        tmp_path, monkeypatch):
    monkeypatch.setenv("PYSLOWFAST_ROOT", "")  # refuses GitHub main's tools; 1.0 ships none
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match=(
            r"^GTA.LOOP pyslowfast: PySlowFast's tools/train_net.py and test_net.py cannot be "
            r"used, as (PYSLOWFAST_ROOT is set empty|pyslowfast 1.0 is installed, which ships "
            r"no tools)\. .*GTA.LOOP plugin")):
        run_module.run_job(job_config(out, "GTA.LOOP", "pyslowfast"), "tcp://localhost:9999")
    assert not out.exists()


def test_loop_value_is_checked(tmp_path):
    with pytest.raises(ValueError, match=r"GTA.LOOP 'slowfast' is not valid; allowed values: "
                                         r"\['auto', 'pyslowfast', 'plugin'\]"):
        run_module.run_job(job_config(tmp_path / "run", "GTA.LOOP", "slowfast"), "tcp://x:1")
    assert not (tmp_path / "run").exists()


@main_only
def test_plugin_loop_gets_the_config_assert_and_infer_cfg_makes(tmp_path, monkeypatch):
    """SOLVER.BASE_LR_SCALE_NUM_SHARDS: the learning rates times NUM_SHARDS,
    in the plugin's loop as in PySlowFast's run_net."""
    launched = []
    monkeypatch.setattr(run_module, "launch_job",
                        lambda cfg, init_method, func: launched.append((cfg, func)))
    cfg = job_config(tmp_path / "run", "GTA.LOOP", "plugin", "SOLVER.BASE_LR_SCALE_NUM_SHARDS", True,
                     "SOLVER.BASE_LR", 0.1, "SOLVER.WARMUP_START_LR", 0.01,
                     "SOLVER.COSINE_END_LR", 0.001)
    cfg.NUM_SHARDS = 3
    run_module.run_job(cfg, "tcp://localhost:9999")
    (train_cfg, train), (test_cfg, test) = launched
    assert (train, test) == (plugin_train, plugin_test)
    for job in (train_cfg, test_cfg):
        assert job.SOLVER.BASE_LR == pytest.approx(0.3)
        assert job.SOLVER.WARMUP_START_LR == pytest.approx(0.03)
        assert job.SOLVER.COSINE_END_LR == pytest.approx(0.003)
    assert cfg.SOLVER.BASE_LR == 0.1  # the caller's config is left as it was


@main_only
def test_assert_and_infer_cfg_refuses_before_any_work(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"assert_and_infer_cfg refuses this config: `assert "
                                         r"cfg.NUM_GPUS == 0 or cfg.TRAIN.BATCH_SIZE % "
                                         r"cfg.NUM_GPUS == 0` does not hold"):
        run_module.run_job(job_config(out, "GTA.LOOP", "plugin", "NUM_GPUS", 3), "tcp://x:1")
    assert not out.exists()


FAKE_TOOL = """import torch


def train(cfg):
    torch.cuda.synchronize()
    return cfg, torch.cuda.synchronize


def test(cfg):
    raise RuntimeError("test failed")
"""


def test_cuda_synchronize_is_a_no_op_only_while_a_tool_runs(tmp_path, caplog):
    """A tools file standing in for train_net.py: its function calls
    torch.cuda.synchronize(), which raises without CUDA unless replaced;
    torch's own function is back after a call, also one that raised."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "fake_net.py").write_text(FAKE_TOOL)
    original = torch.cuda.synchronize
    train = pyslowfast_tools.PySlowFastTool(str(tmp_path / "tools"), "fake_net", "train")
    pyslowfast_tools.tool_module(train.tools_dir, train.module)
    assert torch.cuda.synchronize is original  # importing the tools replaces nothing
    with caplog.at_level(logging.INFO, logger=pyslowfast_tools.__name__):
        cfg, during = train("the config")
    assert cfg == "the config" and torch.cuda.synchronize is original
    lines = [record.getMessage() for record in caplog.records]
    if torch.cuda.is_available():
        assert during is original and lines == []
    else:
        assert during is not original
        assert len(lines) == 1 and lines[0].startswith("No CUDA: torch.cuda.synchronize")
    with pytest.raises(RuntimeError, match="test failed"):
        pyslowfast_tools.PySlowFastTool(str(tmp_path / "tools"), "fake_net", "test")(None)
    assert torch.cuda.synchronize is original
