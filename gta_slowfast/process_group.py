"""This process's place in the job's ``torch.distributed`` process group
(one process per GPU, or CPU processes), for every layer: torch only."""

import torch.distributed as dist


def world_size():
    """Number of processes in the job (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank():
    """Global rank of this process (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def several_processes():
    """True where a process group of more than one process is running."""
    return world_size() > 1


def processes_per_machine(cfg):
    """Number of the job's processes on each machine (1 without a process
    group): the job's processes shared by its NUM_SHARDS machines, as the
    launcher and torchrun lay them out (one per GPU, or CPU processes).

    Raises:
        ValueError: the processes do not divide among NUM_SHARDS machines.
    """
    if not several_processes():
        return 1
    processes = world_size()
    if processes % cfg.NUM_SHARDS:
        raise ValueError(
            "{} processes do not divide among NUM_SHARDS = {} machines: start the same number "
            "of processes on each machine.".format(processes, cfg.NUM_SHARDS)
        )
    return processes // cfg.NUM_SHARDS
