"""tools/submit_slurm.py runs the real job through submitit (debug cluster)."""

import os
import signal

import pytest

from pipeline import CONFIG, load_tool, tiny_opts

pytest.importorskip("submitit")


def test_submitted_job_trains_as_shard_0_of_1(tiny_ssv2, tmp_path, monkeypatch):
    monkeypatch.setenv("PYSLOWFAST_ROOT", "")  # the plugin's loop on both generations
    out = tmp_path / "out"
    job = load_tool("submit_slurm").main(
        ["--cfg", CONFIG, "--cluster", "debug", "--gpus-per-node", "0", "--opts"]
        + tiny_opts(tiny_ssv2, out) + ["SOLVER.MAX_EPOCH", "1"]
    )
    job.result()
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    assert os.path.isfile(out / "test_scores_checkpoint_epoch_00001_1x1.npz")
    assert os.path.isdir(out / "slurm")


def test_a_preempted_slurm_job_hands_itself_to_submitits_requeue(monkeypatch):
    tool = load_tool("submit_slurm")
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        monkeypatch.delenv("SLURM_JOB_ID", raising=False)
        tool.requeue_through_submitit()
        assert received == []  # not under SLURM: nothing to requeue
        monkeypatch.setenv("SLURM_JOB_ID", "1234")
        monkeypatch.setenv(tool.PREEMPT_SIGNAL_VARIABLE, "USR1")
        tool.requeue_through_submitit()
        assert received == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)
