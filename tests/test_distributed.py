"""Data-parallel training is exact: two CPU processes (gloo over loopback)
and one process, reading the same samples with the same augmentation and
BatchNorm statistics that do not depend on the per-process batch, end with
the same parameters; and torchrun starts the same job."""

import os
import socket
import subprocess
import sys

import torch
import torch.multiprocessing as mp

import gta_slowfast
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import unwrap
from gta_slowfast.engine.launch import launch_job
from gta_slowfast.engine.train import train

from conftest import REPO
from pipeline import CONFIG, json_stats, make_tiny_dataset, plugin_loop_env, run_command, tiny_opts

# Relative agreement of every parameter between the two layouts.
TOLERANCE = 1e-5


def train_and_dump(cfg):
    """Trains, then saves this process's parameters as rank<r>.pt."""
    model = train(cfg)
    path = os.path.join(cfg.OUTPUT_DIR, "rank{}.pt".format(distributed.rank()))
    torch.save(unwrap(model).state_dict(), path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exact_opts(data_dir, output_dir):
    """Three SGD steps, each on all 16 training videos, with the demo's
    augmentation (TSN crops, flips); BatchNorm statistics frozen, so that
    normalisation does not depend on how the batch is split."""
    return tiny_opts(data_dir, output_dir) + [
        "TRAIN.BATCH_SIZE", 16, "TEST.ENABLE", False, "MODEL.FROZEN_BN", True,
        "SOLVER.OPTIMIZING_METHOD", "sgd", "SOLVER.MOMENTUM", 0.9, "SOLVER.NESTEROV", False,
        "SOLVER.BASE_LR", 0.05, "SOLVER.WARMUP_EPOCHS", 0.0, "SOLVER.LR_POLICY", "cosine",
        "SOLVER.MAX_EPOCH", 3, "TRAIN.EVAL_PERIOD", 3, "TRAIN.CHECKPOINT_PERIOD", 3,
    ]


def test_two_cpu_processes_train_exactly_as_one(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    initial = unwrap(gta_slowfast.build_model(
        gta_slowfast.load_config(CONFIG, exact_opts(data, tmp_path)))).state_dict()

    # Two shards of one CPU process each on this machine, joined over
    # loopback as two machines would be with --shard_id 0 and 1.
    init_method = "tcp://127.0.0.1:{}".format(free_port())
    processes = []
    for shard in (0, 1):
        cfg = gta_slowfast.load_config(CONFIG, exact_opts(data, tmp_path / "two"))
        cfg.NUM_SHARDS, cfg.SHARD_ID = 2, shard
        processes.append(mp.get_context("spawn").Process(
            target=launch_job, args=(cfg, init_method, train_and_dump)))
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    one = gta_slowfast.load_config(CONFIG, exact_opts(data, tmp_path / "one"))
    launch_job(one, init_method, train_and_dump)

    rank0 = torch.load(tmp_path / "two" / "rank0.pt")
    rank1 = torch.load(tmp_path / "two" / "rank1.pt")
    single = torch.load(tmp_path / "one" / "rank0.pt")
    moved = 0
    for name, value in single.items():
        assert torch.equal(rank0[name], rank1[name]), name  # DDP keeps the replicas equal
        if not value.is_floating_point():
            continue
        difference = (rank0[name] - value).norm()
        assert difference <= TOLERANCE * max(value.norm(), 1e-12), (name, float(difference))
        moved += not torch.equal(value, initial[name])
    assert moved > 100  # the steps did change the model


def test_torchrun_starts_the_job_from_its_environment(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
               str(REPO / "tools" / "run_net.py"), "--cfg", CONFIG, "--opts"] + [
        str(o) for o in tiny_opts(data, out) + ["SOLVER.MAX_EPOCH", 1]]
    result = run_command(command, plugin_loop_env())
    assert result.returncode == 0, result.output[-4000:]
    assert "Training in 2 processes" in result.output
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    # 16 videos, batch 4 over 2 processes: 4 iterations of 2 videos each.
    assert json_stats(out, "train_iter_")[-1]["iter"] == "4/4"
    (final,) = json_stats(out, "test_final")
    assert final["videos"] == 8
