"""Starting a job: one process, or one process per GPU joined by DDP."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def launch_job(cfg, init_method, func):
    """Runs ``func(cfg)`` in every process of the job.

    With ``NUM_GPUS > 1`` this machine starts one process per GPU; with
    ``NUM_SHARDS > 1`` machines join through ``init_method``
    (``tcp://HOST:PORT``); global rank = SHARD_ID * processes + local rank.
    NCCL is used on GPUs, gloo on the CPU.

    Args:
        cfg (CfgNode): the job's config.
        init_method (str): rendezvous address for torch.distributed.
        func (callable): ``train`` or ``test``.
    """
    local_processes = max(cfg.NUM_GPUS, 1)
    if local_processes * cfg.NUM_SHARDS == 1:
        func(cfg)
        return
    mp.spawn(_run, nprocs=local_processes, args=(local_processes, init_method, func, cfg))


def _run(local_rank, local_processes, init_method, func, cfg):
    world = local_processes * cfg.NUM_SHARDS
    backend = "nccl" if cfg.NUM_GPUS else "gloo"
    dist.init_process_group(
        backend=backend,
        init_method=init_method,
        world_size=world,
        rank=cfg.SHARD_ID * local_processes + local_rank,
    )
    if cfg.NUM_GPUS:
        torch.cuda.set_device(local_rank)
    try:
        func(cfg)
    finally:
        dist.destroy_process_group()
