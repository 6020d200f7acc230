"""Data-parallel training is exact: two CPU processes (gloo over loopback)
and one process, reading the same samples with the same augmentation and
BatchNorm statistics that do not depend on the per-process batch (frozen,
or synchronised by GitHub main's sync BN), end with the same parameters;
TRAIN.BATCH_SIZE is per machine, as in PySlowFast; DIST_BACKEND and
MODEL.FP16_ALLREDUCE are honoured; and torchrun starts the same job."""

import logging
import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import gta_slowfast
from gta_slowfast import compat, process_group
from gta_slowfast.datasets.loader import per_process_batch_size
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import unwrap
from gta_slowfast.engine.launch import launch_job, process_group_backend
from gta_slowfast.engine.train import train
from gta_slowfast.flop_count import clip_inputs

from conftest import REPO, small_cfg
from pipeline import CONFIG, json_stats, plugin_loop_env, run_command, tiny_opts

# Relative agreement of every parameter between the two layouts; tensors
# of norm below NORM_FLOOR (biases whose gradients cancel, left at 1e-9 and
# less by rounding) are held to TOLERANCE * NORM_FLOOR instead.
TOLERANCE = 1e-5
NORM_FLOOR = 1e-3

needs_main = pytest.mark.skipif(compat.GENERATION != "main",
                                reason="pyslowfast 1.0 has no sync BN and no MODEL.FP16_ALLREDUCE")


def train_and_dump(cfg):
    """Trains, then saves this process's parameters and process group
    backend (None without a group) as rank<r>.pt."""
    model = train(cfg)
    path = os.path.join(cfg.OUTPUT_DIR, "rank{}.pt".format(distributed.rank()))
    backend = dist.get_backend() if dist.is_initialized() else None
    torch.save({"state": unwrap(model).state_dict(), "backend": backend}, path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exact_opts(data_dir, output_dir, batch_size):
    """Three SGD steps, each on all 16 training videos (``batch_size`` per
    machine), with the demo's augmentation (TSN crops, flips)."""
    return tiny_opts(data_dir, output_dir) + [
        "TRAIN.BATCH_SIZE", batch_size, "TEST.ENABLE", False,
        "SOLVER.OPTIMIZING_METHOD", "sgd", "SOLVER.MOMENTUM", 0.9, "SOLVER.NESTEROV", False,
        "SOLVER.BASE_LR", 0.05, "SOLVER.WARMUP_EPOCHS", 0.0, "SOLVER.LR_POLICY", "cosine",
        "SOLVER.MAX_EPOCH", 3, "TRAIN.EVAL_PERIOD", 3, "TRAIN.CHECKPOINT_PERIOD", 3,
    ]


def train_in_one_process(out, opts):
    """The reference: one process training on the whole batch of 16."""
    one = gta_slowfast.load_config(CONFIG, opts)
    launch_job(one, None, train_and_dump)
    return torch.load(out / "rank0.pt")


def join_all(processes):
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0


def assert_same_training(rank0, rank1, single, initial, buffer_tolerance=None):
    """Both processes hold the same model, every parameter and buffer of
    which is within TOLERANCE (relative) of the single process's, except
    buffers named in ``buffer_tolerance`` (suffix -> tolerance); the steps
    moved the model."""
    buffer_tolerance = buffer_tolerance or {}
    moved = 0
    for name, value in single.items():
        assert torch.equal(rank0[name], rank1[name]), name  # DDP keeps the replicas equal
        if not value.is_floating_point():
            continue
        tolerance = next((t for suffix, t in buffer_tolerance.items() if name.endswith(suffix)),
                         TOLERANCE)
        difference = (rank0[name] - value).norm()
        assert difference <= tolerance * max(value.norm(), NORM_FLOOR), (name, float(difference))
        moved += not torch.equal(value, initial[name])
    assert moved > 100  # the steps did change the model


def test_two_cpu_processes_train_exactly_as_one(tiny_ssv2, tmp_path):
    """Two machines of one CPU process each, TRAIN.BATCH_SIZE 8 each (per
    machine, as in PySlowFast), take the steps one process takes with
    TRAIN.BATCH_SIZE 16; BatchNorm statistics frozen. DIST_BACKEND is
    PySlowFast's default, nccl: CPU processes join over gloo."""
    frozen = ["MODEL.FROZEN_BN", True]
    initial = unwrap(gta_slowfast.build_model(
        gta_slowfast.load_config(CONFIG, exact_opts(tiny_ssv2, tmp_path, 16)))).state_dict()

    # Two shards of one CPU process each on this machine, joined over
    # loopback as two machines would be with --shard_id 0 and 1.
    init_method = "tcp://127.0.0.1:{}".format(free_port())
    processes = []
    for shard in (0, 1):
        cfg = gta_slowfast.load_config(CONFIG, exact_opts(tiny_ssv2, tmp_path / "two", 8) + frozen)
        assert cfg.DIST_BACKEND == "nccl"
        cfg.NUM_SHARDS, cfg.SHARD_ID = 2, shard
        processes.append(mp.get_context("spawn").Process(
            target=launch_job, args=(cfg, init_method, train_and_dump)))
    join_all(processes)
    single = train_in_one_process(tmp_path / "one",
                                  exact_opts(tiny_ssv2, tmp_path / "one", 16) + frozen)

    rank0 = torch.load(tmp_path / "two" / "rank0.pt")
    rank1 = torch.load(tmp_path / "two" / "rank1.pt")
    assert rank0["backend"] == rank1["backend"] == "gloo"
    assert_same_training(rank0["state"], rank1["state"], single["state"], initial)


def as_torchrun_process(rank, port, cfg):
    """Process ``rank`` of one machine's 2, with the environment torchrun
    would give it (``launch_job`` takes torchrun's path)."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    launch_job(cfg, None, train_and_dump)


@needs_main
def test_sync_batchnorm_in_two_cpu_processes_trains_as_one_process(tiny_ssv2, tmp_path):
    """Two CPU processes of one machine (torchrun's layout) with
    BN.NORM_TYPE sync_batchnorm over BN.NUM_SYNC_DEVICES 2 (the machine's
    group that pytorchvideo's BatchNorm gathers statistics over) share
    the machine's TRAIN.BATCH_SIZE 16, 8 each, and take the steps one
    process takes with plain BatchNorm on all 16 (statistics not frozen).
    Running variances differ by Bessel's correction only: pytorchvideo's
    sync BN updates them with the biased batch variance, PyTorch's
    BatchNorm with the unbiased one, 1/(n - 1) apart for n values per
    channel: 0.8% at res5 (16 videos x 8 frames x 1 x 1 pixels), 0.43%
    measured after the three steps' momentum."""
    initial = unwrap(gta_slowfast.build_model(
        gta_slowfast.load_config(CONFIG, exact_opts(tiny_ssv2, tmp_path, 16)))).state_dict()

    port = free_port()
    sync = ["BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", 2, "DIST_BACKEND", "gloo"]
    cfg = gta_slowfast.load_config(CONFIG, exact_opts(tiny_ssv2, tmp_path / "two", 16) + sync)
    join_all([mp.get_context("spawn").Process(target=as_torchrun_process, args=(rank, port, cfg))
              for rank in (0, 1)])
    single = train_in_one_process(tmp_path / "one", exact_opts(tiny_ssv2, tmp_path / "one", 16))

    rank0 = torch.load(tmp_path / "two" / "rank0.pt")
    rank1 = torch.load(tmp_path / "two" / "rank1.pt")
    assert rank0["backend"] == rank1["backend"] == "gloo"
    assert_same_training(rank0["state"], rank1["state"], single["state"], initial,
                         buffer_tolerance={"running_var": 1e-2})


def one_step_gradients(cfg):
    """Builds the model (seed 0; DDP in a process group), takes the
    gradients of one batch drawn with seed 1 + rank, and saves them as
    grads<r>.pt."""
    torch.manual_seed(0)
    model = gta_slowfast.build_model(cfg)
    torch.manual_seed(1 + distributed.rank())
    (model(clip_inputs(cfg, batch_size=2)) ** 2).mean().backward()
    grads = {name: p.grad for name, p in unwrap(model).named_parameters()}
    torch.save(grads, os.path.join(cfg.OUTPUT_DIR, "grads{}.pt".format(distributed.rank())))


@needs_main
def test_fp16_allreduce_averages_gradients_in_fp16(tmp_path):
    """MODEL.FP16_ALLREDUCE: the two processes' gradients are averaged in
    fp16 (torch's fp16_compress_hook, as GitHub main registers it): every
    averaged gradient is an fp16 number, within fp16 rounding of the fp32
    average of the gradients each process computes alone."""
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "MODEL.FP16_ALLREDUCE", True,
                    "OUTPUT_DIR", str(tmp_path), crop=32)
    init_method = "tcp://127.0.0.1:{}".format(free_port())
    processes = []
    for shard in (0, 1):
        shard_cfg = cfg.clone()
        shard_cfg.NUM_SHARDS, shard_cfg.SHARD_ID = 2, shard
        processes.append(mp.get_context("spawn").Process(
            target=launch_job, args=(shard_cfg, init_method, one_step_gradients)))
    join_all(processes)
    averaged = torch.load(tmp_path / "grads0.pt")
    assert all(torch.equal(averaged[n], g) for n, g in torch.load(tmp_path / "grads1.pt").items())

    alone = []
    for rank in (0, 1):
        torch.manual_seed(0)
        model = gta_slowfast.build_model(cfg)
        torch.manual_seed(1 + rank)
        (model(clip_inputs(cfg, batch_size=2)) ** 2).mean().backward()
        alone.append({name: p.grad for name, p in model.named_parameters()})
    not_fp16 = 0
    for name, grad in averaged.items():
        reference = (alone[0][name] + alone[1][name]) / 2
        assert torch.equal(grad, grad.half().float()), name
        not_fp16 += not torch.equal(reference, reference.half().float())
        assert (grad - reference).norm() <= 2e-3 * max(reference.norm(), 1e-3), name
    assert not_fp16 > 10  # an fp32 average would not pass the check above


def test_dist_backend_is_honoured_and_nccl_on_the_cpu_is_gloo(caplog):
    cfg = gta_slowfast.load_config(CONFIG, ["NUM_GPUS", 0])
    assert cfg.DIST_BACKEND == "nccl"  # PySlowFast's default
    with caplog.at_level(logging.INFO, logger="gta_slowfast.engine.launch"):
        assert process_group_backend(cfg) == "gloo"
    assert "DIST_BACKEND is nccl" in caplog.text and "NUM_GPUS is 0" in caplog.text
    cfg.DIST_BACKEND = "gloo"
    assert process_group_backend(cfg) == "gloo"


def test_unavailable_dist_backend_fails_before_any_process_starts():
    cfg = gta_slowfast.load_config(CONFIG, ["NUM_GPUS", 0, "NUM_SHARDS", 2,
                                            "DIST_BACKEND", "no_such_backend"])
    with pytest.raises(ValueError, match="DIST_BACKEND 'no_such_backend' is not available"):
        launch_job(cfg, "tcp://127.0.0.1:1", train)


@pytest.mark.parametrize("processes, shards, train_batch, test_batch",
                         [(1, 1, 16, 8), (2, 2, 16, 8), (4, 2, 8, 4), (8, 1, 2, 1)])
def test_batch_size_is_per_machine(monkeypatch, processes, shards, train_batch, test_batch):
    """TRAIN.BATCH_SIZE 16 and TEST.BATCH_SIZE 8 belong to each machine,
    shared by its processes (PySlowFast: BATCH_SIZE / NUM_GPUS per GPU)."""
    monkeypatch.setattr(process_group, "world_size", lambda: processes)
    cfg = gta_slowfast.load_config(CONFIG, ["NUM_SHARDS", shards, "TRAIN.BATCH_SIZE", 16,
                                            "TEST.BATCH_SIZE", 8])
    assert per_process_batch_size(cfg, "train") == train_batch
    assert per_process_batch_size(cfg, "val") == train_batch
    assert per_process_batch_size(cfg, "test") == test_batch


def test_batch_size_not_shared_evenly_is_refused(monkeypatch):
    monkeypatch.setattr(process_group, "world_size", lambda: 4)
    cfg = gta_slowfast.load_config(CONFIG, ["NUM_SHARDS", 1, "TRAIN.BATCH_SIZE", 6])
    with pytest.raises(ValueError, match="TRAIN.BATCH_SIZE 6 is the batch of each machine, "
                                         "read by its 4 processes"):
        per_process_batch_size(cfg, "train")
    cfg.NUM_SHARDS = 3
    with pytest.raises(ValueError, match="4 processes do not divide among NUM_SHARDS = 3"):
        per_process_batch_size(cfg, "train")


def test_torchrun_starts_the_job_from_its_environment(tiny_ssv2, tmp_path):
    """torchrun's two CPU processes on one machine share its batch of 4;
    on GitHub main with sync BN over both (the machine's group)."""
    out = tmp_path / "run"
    sync = ["BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", 2]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
               str(REPO / "tools" / "run_net.py"), "--cfg", CONFIG, "--opts"] + [
        str(o) for o in tiny_opts(tiny_ssv2, out) + ["SOLVER.MAX_EPOCH", 1]
        + (sync if compat.GENERATION == "main" else [])]
    result = run_command(command, plugin_loop_env())
    assert result.returncode == 0, result.output[-4000:]
    assert "Training in 2 processes" in result.output
    assert "plain BatchNorm instead" not in result.output
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    # 16 videos, batch 4 per machine over its 2 processes: 4 iterations of 2 videos each.
    assert json_stats(out, "train_iter_")[-1]["iter"] == "4/4"
    (final,) = json_stats(out, "test_final")
    assert final["videos"] == 8
