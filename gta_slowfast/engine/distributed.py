"""Process groups: one process per GPU (NCCL) or per CPU worker (gloo).

``world_size``, ``rank`` and ``several_processes`` are
``gta_slowfast.process_group``'s, under the engine's name for them.
"""

import torch
import torch.distributed as dist

from gta_slowfast.process_group import rank, several_processes, world_size

__all__ = ["all_reduce", "all_reduce_max", "barrier", "device_of", "gather_objects",
           "is_master", "rank", "several_processes", "world_size"]


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
    if not several_processes():
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
    if several_processes():
        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensors


def device_of(cfg):
    """The device this process computes on."""
    return torch.device("cuda", torch.cuda.current_device()) if cfg.NUM_GPUS else torch.device("cpu")


def barrier():
    """Waits for every process (nothing to wait for in a single process)."""
    if several_processes():
        dist.barrier()


def gather_objects(obj):
    """Every process's ``obj`` (picklable), in rank order, on every process."""
    if not several_processes():
        return [obj]
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered
