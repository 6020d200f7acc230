"""tools/submit_slurm.py runs the real job through submitit (debug cluster)."""

import importlib.util
import os

import pytest

from conftest import REPO
from pipeline import CONFIG, make_tiny_dataset, tiny_opts

pytest.importorskip("submitit")


def load_tool():
    spec = importlib.util.spec_from_file_location("submit_slurm", REPO / "tools" / "submit_slurm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_submitted_job_trains_as_shard_0_of_1(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    out = tmp_path / "out"
    job = load_tool().main(
        ["--cfg", CONFIG, "--cluster", "debug", "--gpus-per-node", "0", "--opts"]
        + tiny_opts(data, out) + ["SOLVER.MAX_EPOCH", "1"]
    )
    job.result()
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    assert os.path.isfile(out / "test_scores_checkpoint_epoch_00001_1x1.npz")
    assert os.path.isdir(out / "slurm")
