"""Data-parallel training in two CPU processes (gloo over loopback)."""

import os
import socket

import torch
import torch.multiprocessing as mp

import gta_slowfast
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import unwrap
from gta_slowfast.engine.launch import launch_job
from gta_slowfast.engine.train import train

from pipeline import CONFIG, make_tiny_dataset, tiny_opts


def train_and_dump(cfg):
    """Trains, then saves this process's parameters as rank<r>.pt."""
    model = train(cfg)
    path = os.path.join(cfg.OUTPUT_DIR, "rank{}.pt".format(distributed.rank()))
    torch.save(unwrap(model).state_dict(), path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tiny_cfg(data_dir, output_dir, shards):
    cfg = gta_slowfast.load_config(CONFIG, tiny_opts(data_dir, output_dir) + [
        "GTA.DATA.CROP_SCALES", "[1.0]", "GTA.DATA.RANDOM_FLIP", False,
        "TRAIN.BATCH_SIZE", 16, "TEST.ENABLE", False,
        "SOLVER.OPTIMIZING_METHOD", "sgd", "SOLVER.MOMENTUM", 0.0, "SOLVER.NESTEROV", False,
        "SOLVER.BASE_LR", 0.05, "SOLVER.WARMUP_EPOCHS", 0.0, "SOLVER.LR_POLICY", "cosine",
        "SOLVER.MAX_EPOCH", 3, "TRAIN.EVAL_PERIOD", 3, "TRAIN.CHECKPOINT_PERIOD", 3,
        "SOLVER.WEIGHT_DECAY", 0.0,
    ])
    cfg.NUM_SHARDS = shards
    return cfg


def test_two_cpu_processes_train_one_model_like_a_single_process(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    torch.manual_seed(0)
    initial = unwrap(gta_slowfast.build_model(tiny_cfg(data, tmp_path, 1))).state_dict()

    # Two shards of one CPU process each on this machine, joined over
    # loopback as two machines would be with --shard_id 0 and 1.
    init_method = "tcp://127.0.0.1:{}".format(free_port())
    processes = []
    for shard in (0, 1):
        cfg = tiny_cfg(data, tmp_path / "two", shards=2)
        cfg.SHARD_ID = shard
        processes.append(mp.get_context("spawn").Process(
            target=launch_job, args=(cfg, init_method, train_and_dump)))
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    rank0 = torch.load(tmp_path / "two" / "rank0.pt")
    rank1 = torch.load(tmp_path / "two" / "rank1.pt")
    for name, value in rank0.items():
        if "running" in name or "num_batches" in name:
            continue  # BatchNorm statistics are per process, as in PySlowFast
        assert torch.equal(value, rank1[name]), name

    one = tiny_cfg(data, tmp_path / "one", shards=1)
    launch_job(one, init_method, train_and_dump)
    single = torch.load(tmp_path / "one" / "rank0.pt")
    updates_two, updates_one = [], []
    for name, value in initial.items():
        if value.is_floating_point() and "running" not in name:
            updates_two.append((rank0[name] - value).flatten())
            updates_one.append((single[name] - value).flatten())
    updates_two, updates_one = torch.cat(updates_two), torch.cat(updates_one)
    # Three SGD steps, each on all 16 videos: the runs differ only in their
    # random frames and crops and in BatchNorm batches of 8 instead of 16, so
    # the updates point the same way with the same size (a sum of the two
    # processes' gradients instead of their mean would double it).
    cosine = torch.nn.functional.cosine_similarity(updates_two, updates_one, dim=0)
    ratio = updates_two.norm() / updates_one.norm()
    assert updates_one.norm() > 0
    assert cosine > 0.5, float(cosine)  # 0.73 measured
    assert 0.7 < ratio < 1.4, float(ratio)  # 0.97 measured
