"""The DataLoader PySlowFast-style training and testing read from; the item
contract is ``clip_dataset.VideoClipDataset``'s."""

import torch

from gta_slowfast import compat, process_group
from gta_slowfast.compat import DATASET_REGISTRY
from gta_slowfast.config import PLUGIN_DATASETS
from gta_slowfast.datasets.clip_dataset import VideoClipDataset, check_mode
from gta_slowfast.datasets.sampler import ShardedShuffleSampler, VideoViewBatchSampler


def build_dataset(name, cfg, split):
    """The dataset PySlowFast's DATASET_REGISTRY holds under
    ``name.capitalize()`` (TRAIN.DATASET "gta_ssv2" -> "Gta_ssv2").

    Args:
        name (str): TRAIN.DATASET or TEST.DATASET.
        cfg (CfgNode): config.
        split (str): "train", "val" or "test".
    Returns:
        torch.utils.data.Dataset
    """
    return DATASET_REGISTRY.get(name.capitalize())(cfg, split)


def test_dataset_class(cfg):
    """The plugin's dataset class TEST.DATASET names, whose ``of_files``
    reads given videos as its test videos are read.

    Raises:
        ValueError: TEST.DATASET is not one of the plugin's datasets.
    """
    name = cfg.TEST.DATASET
    try:
        cls = DATASET_REGISTRY.get(name.capitalize())
    except KeyError:
        cls = None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, VideoClipDataset)):
        raise ValueError("TEST.DATASET is {}: given videos are read as the plugin's datasets "
                         "read them ({}); set TEST.DATASET to one.".format(
                             name, ", ".join(PLUGIN_DATASETS)))
    return cls


def construct_loader(cfg, split):
    """A DataLoader over ``split``, as PySlowFast's ``construct_loader``.

    "train" reads TRAIN.DATASET through a ``ShardedShuffleSampler`` (an
    order fixed by RNG_SEED and the epoch, resumable mid-epoch) and drops
    the last partial batch; "val" reads TRAIN.DATASET in order; "test"
    reads TEST.DATASET in ``VideoViewBatchSampler``'s batches, which keep
    each video's views in one worker. The batch size (TRAIN.BATCH_SIZE for
    train and val, TEST.BATCH_SIZE for test) is, as in PySlowFast, each
    machine's: each of a machine's processes (one per GPU, or its CPU
    processes) reads ``per_process_batch_size``, and a step's batch is
    BATCH_SIZE x NUM_SHARDS. NUM_GPUS 0 (CPU) works.

    Args:
        cfg (CfgNode): config.
        split (str): "train", "val" or "test".
    Returns:
        torch.utils.data.DataLoader: batches of (inputs, labels, index, time,
        meta), with ``inputs`` a list of (N, 3, T, H, W) per pathway. With
        several training clips per video (AUG.NUM_SAMPLE, see
        ``compat.training_clips_per_video``), PySlowFast's
        ``multiple_samples_collate`` makes N = batch size x clips per video,
        a video's clips one after the other; ``meta`` stays one entry per
        video.
    """
    check_mode(split)
    training = split == "train"
    name = cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET
    batch_size = per_process_batch_size(cfg, split)
    dataset = build_dataset(name, cfg, split)
    world_size, rank = process_group.world_size(), process_group.rank()
    options = dict(
        num_workers=cfg.DATA_LOADER.NUM_WORKERS,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available(),
        # Workers' seeds come from here, not from torch's global generator,
        # which training's own random numbers (dropout) keep to themselves.
        generator=torch.Generator().manual_seed(cfg.RNG_SEED),
    )
    if split == "test":
        views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
        batches = VideoViewBatchSampler(len(dataset), views, batch_size,
                                        cfg.DATA_LOADER.NUM_WORKERS, rank, world_size)
        return torch.utils.data.DataLoader(dataset, batch_sampler=batches, **options)
    if training:
        sampler = ShardedShuffleSampler(len(dataset), cfg.RNG_SEED, rank, world_size)
    elif process_group.several_processes():
        sampler = torch.utils.data.DistributedSampler(dataset, shuffle=False)
    else:
        sampler = None
    collate = None
    if getattr(dataset, "clips_per_item", 1) > 1:
        # Items of several clips (AUG.NUM_SAMPLE), flattened by PySlowFast's
        # own collate: as in PySlowFast, a batch holds batch_size videos,
        # so batch_size x clips_per_item clips.
        collate = compat.multiple_samples_collate()
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=training,
        collate_fn=collate,
        **options,
    )


def per_process_batch_size(cfg, split):
    """The videos each process reads a step: TEST.BATCH_SIZE ("test") or
    TRAIN.BATCH_SIZE (other splits), which is per machine as in PySlowFast,
    over this machine's processes.

    Raises:
        ValueError: the batch does not divide among the machine's processes
            (PySlowFast asserts the same of NUM_GPUS).
    """
    key = "TEST.BATCH_SIZE" if split == "test" else "TRAIN.BATCH_SIZE"
    batch_size = cfg.TEST.BATCH_SIZE if split == "test" else cfg.TRAIN.BATCH_SIZE
    processes = process_group.processes_per_machine(cfg)
    if batch_size % processes:
        raise ValueError(
            "{} {} is the batch of each machine, read by its {} processes: make it a multiple "
            "of {}.".format(key, batch_size, processes, processes)
        )
    return batch_size // processes


def shuffle_dataset(loader, epoch):
    """Sets up ``epoch``: the sampler's order for it (``set_epoch``) and, in
    datasets that draw their augmentation from it (the plugin's), the
    epoch of every item's random numbers."""
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch)
