"""End to end through tools/run_net.py on generated webm videos: train,
checkpoint, resume, test, ensemble."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from pipeline import json_stats, make_tiny_dataset, run_net as run


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("synthetic_ssv2"))


def run_net(data_dir, output_dir, *opts):
    result = run(data_dir, output_dir, *opts)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.output


def test_train_resume_test_ensemble(data_dir, tmp_path):
    out = tmp_path / "run"
    checkpoints = out / "checkpoints"
    log = run_net(data_dir, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False)
    assert os.listdir(checkpoints) == ["checkpoint_epoch_00001.pyth"]
    iters = json_stats(out, "train_iter_")
    assert iters and {"loss", "lr", "eta", "dt", "dt_data", "dt_net", "grad_norm", "gpu_mem",
                      "top1_err", "top5_err"} <= set(iters[0])
    assert iters[-1]["iter"] == "4/4"  # 16 training videos, batch 4
    assert len(json_stats(out, "train_epoch")) == 1
    assert len(json_stats(out, "val_epoch")) == 1
    assert "json_stats" in log

    first = (checkpoints / "checkpoint_epoch_00001.pyth").read_bytes()
    log = run_net(data_dir, out, "SOLVER.MAX_EPOCH", 2, "TEST.ENABLE", False)
    assert "Resuming from" in log and "checkpoint_epoch_00001.pyth" in log
    assert sorted(os.listdir(checkpoints)) == [
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]
    assert (checkpoints / "checkpoint_epoch_00001.pyth").read_bytes() == first
    assert [row["epoch"] for row in json_stats(out, "train_epoch")] == ["1/1", "2/2"]

    run_net(data_dir, out, "SOLVER.MAX_EPOCH", 2, "TRAIN.ENABLE", False)
    run_net(data_dir, out, "SOLVER.MAX_EPOCH", 2, "TRAIN.ENABLE", False,
            "TEST.NUM_SPATIAL_CROPS", 3)
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
