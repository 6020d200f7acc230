"""Process groups: one process per GPU (NCCL) or per CPU worker (gloo)."""

import torch
import torch.distributed as dist


def world_size():
    """Number of processes in the job (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank():
    """Global rank of this process (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def processes_per_machine(cfg):
    """Number of the job's processes on each machine (1 without a process
    group): the job's processes shared by its NUM_SHARDS machines, as the
    launcher and torchrun lay them out (one per GPU, or CPU processes).

    Raises:
        ValueError: the processes do not divide among NUM_SHARDS machines.
    """
    processes = world_size()
    if processes == 1:
        return 1
    if processes % cfg.NUM_SHARDS:
        raise ValueError(
            "{} processes do not divide among NUM_SHARDS = {} machines: start the same number "
            "of processes on each machine.".format(processes, cfg.NUM_SHARDS)
        )
    return processes // cfg.NUM_SHARDS


def is_master():
    """True on the process that logs and writes files."""
    return rank() == 0


def all_reduce(tensors, average=False):
    """Sums (or averages) ``tensors`` over all processes, in place.

    Args:
        tensors (list[Tensor]): on the device the backend uses.
    Returns:
        list[Tensor]: ``tensors``.
    """
    if world_size() == 1:
        return tensors
    for tensor in tensors:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        if average:
            tensor.div_(world_size())
    return tensors


def all_reduce_max(tensors):
    """Element-wise maximum of ``tensors`` over all processes, in place.

    Args:
        tensors (list[Tensor]): on the device the backend uses.
    Returns:
        list[Tensor]: ``tensors``.
    """
    if world_size() > 1:
        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensors


def device_of(cfg):
    """The device this process computes on."""
    return torch.device("cuda", torch.cuda.current_device()) if cfg.NUM_GPUS else torch.device("cpu")


def barrier():
    """Waits for every process (nothing to wait for in a single process)."""
    if world_size() > 1:
        dist.barrier()


def gather_objects(obj):
    """Every process's ``obj`` (picklable), in rank order, on every process."""
    if world_size() == 1:
        return [obj]
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered
