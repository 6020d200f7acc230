"""Starting a job: one process, one process per GPU joined by DDP, or the
processes ``torchrun`` started."""

import logging
import os
import signal

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gta_slowfast import compat
from gta_slowfast.engine.preemption import EXIT_PREEMPTED, PreemptionSignals, TrainingPreempted

# What torchrun (torch.distributed.run) sets in every process it starts.
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                      "MASTER_ADDR", "MASTER_PORT")

logger = logging.getLogger(__name__)


def started_by_torchrun():
    """True in a process that torchrun started."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def torchrun_layout(cfg):
    """``cfg`` with NUM_SHARDS and SHARD_ID as torchrun laid the job out:
    one shard per node of LOCAL_WORLD_SIZE processes (one per GPU, or CPU
    processes with NUM_GPUS: 0)."""
    local = int(os.environ["LOCAL_WORLD_SIZE"])
    cfg = cfg.clone()
    cfg.NUM_SHARDS = int(os.environ["WORLD_SIZE"]) // local
    cfg.SHARD_ID = int(os.environ["RANK"]) // local
    if cfg.NUM_GPUS:
        cfg.NUM_GPUS = local
    return cfg


def launch_job(cfg, init_method, func):
    """Runs ``func(cfg)`` in every process of the job.

    Under torchrun, this process is one of the job's: ranks and the
    rendezvous come from the environment torchrun set (``env://``).
    Otherwise, with ``NUM_GPUS > 1`` this machine starts one process per
    GPU, and with ``NUM_SHARDS > 1`` machines join through ``init_method``
    (``tcp://HOST:PORT``); global rank = SHARD_ID * processes + local rank.
    The processes join over ``process_group_backend(cfg)`` (DIST_BACKEND)
    and make the per-machine groups of GitHub main's sync BN before
    ``func`` runs. While started processes run,
    this one records SIGTERM and SIGUSR1 instead of dying and passes them on,
    so that the processes write their checkpoint.

    Args:
        cfg (CfgNode): the job's config.
        init_method (str): rendezvous address for torch.distributed.
        func (callable): ``train`` or ``test``.
    Raises:
        TrainingPreempted: the processes stopped on a preemption signal.
    """
    if started_by_torchrun():
        _join_torchrun_job(cfg)
        func(torchrun_layout(cfg))
        return
    local_processes = max(cfg.NUM_GPUS, 1)
    if local_processes * cfg.NUM_SHARDS == 1:
        func(cfg)
        return
    backend = process_group_backend(cfg)
    with PreemptionSignals() as signals:
        context = mp.start_processes(_run, args=(local_processes, init_method, backend, func, cfg),
                                     nprocs=local_processes, join=False, start_method="spawn")
        try:
            _join_forwarding_signals(context, signals)
        except mp.ProcessExitedException as error:
            if error.exit_code == EXIT_PREEMPTED:
                raise TrainingPreempted("The job's processes stopped on a preemption signal "
                                        "after writing a checkpoint.") from None
            raise


def _join_forwarding_signals(context, signals):
    """Waits for the started processes; a preemption signal this process
    receives meanwhile is passed on to each of them once."""
    forwarded = False
    while not context.join(timeout=1):
        if signals.received and not forwarded:
            for process in context.processes:
                if process.is_alive():
                    os.kill(process.pid, signal.Signals[signals.received])
            forwarded = True


def process_group_backend(cfg):
    """The torch.distributed backend of ``cfg``'s processes: DIST_BACKEND,
    except that NCCL, PySlowFast's default, carries only GPU tensors, so
    CPU processes (NUM_GPUS 0) join over gloo, and one log line says so.
    (PySlowFast's own launcher starts no process group without GPUs.)

    Raises:
        ValueError: DIST_BACKEND names a backend this PyTorch lacks.
    """
    backend = cfg.DIST_BACKEND
    if backend == "nccl" and not cfg.NUM_GPUS:
        logger.info("DIST_BACKEND is nccl, which carries only GPU tensors, and NUM_GPUS is 0: "
                    "the CPU processes join over gloo.")
        return "gloo"
    if not dist.is_backend_available(backend):
        raise ValueError(
            "DIST_BACKEND {!r} is not available in this PyTorch build: use gloo (CPU or GPU "
            "processes) or, on GPUs, nccl.".format(backend)
        )
    return backend


def _join_group(cfg, backend, local_rank, processes_per_machine, shard_id, **rendezvous):
    """Takes this process's GPU, ``local_rank`` on its machine, joins the
    job's process group over ``backend`` and makes the per-machine groups
    (``compat.create_local_process_groups``)."""
    if cfg.NUM_GPUS:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, **rendezvous)
    compat.create_local_process_groups(processes_per_machine, shard_id)


def _join_torchrun_job(cfg):
    """Joins the process group torchrun's environment describes, once: the
    group then serves every stage (train, test) of this process, as
    re-joining through torchrun's rendezvous store can hang. Each node's
    LOCAL_WORLD_SIZE processes form its machine's group."""
    if not dist.is_initialized():
        local = int(os.environ["LOCAL_WORLD_SIZE"])
        _join_group(cfg, process_group_backend(cfg), int(os.environ["LOCAL_RANK"]), local,
                    int(os.environ["RANK"]) // local, init_method="env://")


def _run(local_rank, local_processes, init_method, backend, func, cfg):
    """One process of a distributed job this machine started."""
    _join_group(
        cfg,
        backend,
        local_rank,
        local_processes,
        cfg.SHARD_ID,
        init_method=init_method,
        world_size=local_processes * cfg.NUM_SHARDS,
        rank=cfg.SHARD_ID * local_processes + local_rank,
    )
    try:
        func(cfg)
    except TrainingPreempted:
        raise SystemExit(EXIT_PREEMPTED)
    finally:
        dist.destroy_process_group()
