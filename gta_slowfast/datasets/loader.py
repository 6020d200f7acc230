"""The DataLoader PySlowFast-style training and testing read from; the item
contract is ``clip_dataset.VideoClipDataset``'s."""

import math

import torch

from gta_slowfast.compat import DATASET_REGISTRY
from gta_slowfast.datasets.clip_dataset import check_mode


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


def construct_loader(cfg, split):
    """A DataLoader over ``split``, as PySlowFast's ``construct_loader``.

    "train" reads TRAIN.DATASET, shuffles and drops the last partial batch;
    "val" reads TRAIN.DATASET, in order; "test" reads TEST.DATASET in
    ``VideoViewBatchSampler``'s batches, which keep each video's views in
    one worker. The batch size (TRAIN.BATCH_SIZE for train and val,
    TEST.BATCH_SIZE for test) is the total over processes: each of a
    distributed run's processes reads its share through a
    DistributedSampler (train, val) or ``VideoViewBatchSampler`` (test).
    NUM_GPUS plays no part, so NUM_GPUS 0 (CPU) works.

    Args:
        cfg (CfgNode): config.
        split (str): "train", "val" or "test".
    Returns:
        torch.utils.data.DataLoader: batches of (inputs, labels, index, time,
        meta), with ``inputs`` a list of (N, 3, T, H, W) per pathway.
    """
    check_mode(split)
    training = split == "train"
    name = cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET
    batch_size = cfg.TEST.BATCH_SIZE if split == "test" else cfg.TRAIN.BATCH_SIZE
    dataset = build_dataset(name, cfg, split)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    world_size = torch.distributed.get_world_size() if distributed else 1
    rank = torch.distributed.get_rank() if distributed else 0
    batch_size = max(1, batch_size // world_size)
    pin_memory = cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available()
    if split == "test":
        batches = VideoViewBatchSampler(
            len(dataset),
            cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS,
            batch_size,
            cfg.DATA_LOADER.NUM_WORKERS,
            rank,
            world_size,
        )
        return torch.utils.data.DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=cfg.DATA_LOADER.NUM_WORKERS,
            pin_memory=pin_memory,
        )
    sampler = (
        torch.utils.data.DistributedSampler(dataset, shuffle=training)
        if world_size > 1
        else None
    )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=training and sampler is None,
        sampler=sampler,
        num_workers=cfg.DATA_LOADER.NUM_WORKERS,
        pin_memory=pin_memory,
        drop_last=training,
    )


def shuffle_dataset(loader, epoch):
    """Reshuffles a distributed loader for ``epoch`` (``set_epoch`` of its
    DistributedSampler); a single-process loader reshuffles by itself."""
    if isinstance(loader.sampler, torch.utils.data.DistributedSampler):
        loader.sampler.set_epoch(epoch)


class VideoViewBatchSampler(torch.utils.data.Sampler):
    """Test batches in which each DataLoader worker reads whole videos.

    Items are views, ``views_per_video`` of each video in a row. Process
    ``rank`` of ``world_size`` takes the rank-th of equal contiguous shares
    of the items (the last share padded from the first items, as
    DistributedSampler pads). A DataLoader hands batch k to worker k % W
    (W = max(1, num_workers)): the share is cut at video boundaries into W
    runs of about equal length, and batch k takes its items from run k % W,
    so each worker reads its videos' views in a row and the dataset decodes
    each video once. Every batch is full but the last: a batch whose run is
    used up is filled from the run with the most items left.
    """

    def __init__(self, num_items, views_per_video, batch_size, num_workers, rank=0,
                 world_size=1):
        """
        Args:
            num_items (int): the dataset's items.
            views_per_video (int): consecutive items of one video.
            batch_size (int): items per batch in this process.
            num_workers (int): DATA_LOADER.NUM_WORKERS.
            rank, world_size (int): this process and the processes.
        """
        share = math.ceil(num_items / world_size)
        items = [i % num_items for i in range(rank * share, (rank + 1) * share)]
        runs = _split_at_videos(items, views_per_video, max(1, num_workers))
        self._batches = _batches_from_runs(runs, batch_size, len(items))

    def __iter__(self):
        return iter(self._batches)

    def __len__(self):
        return len(self._batches)


def _split_at_videos(items, views_per_video, num_runs):
    """``items`` (consecutive item indices, modulo the dataset's size) cut
    into ``num_runs`` consecutive runs of about equal length, each cut at
    the start of the video nearest to it."""
    cuts = [0]
    for run in range(1, num_runs):
        cut = round(run * len(items) / num_runs)
        if cut < len(items):
            video_start = cut - items[cut] % views_per_video
            next_start = min(video_start + views_per_video, len(items))
            nearer = video_start if cut - video_start <= next_start - cut else next_start
            cut = nearer if nearer >= cuts[-1] else next_start
        cuts.append(cut)
    cuts.append(len(items))
    return [items[begin:end] for begin, end in zip(cuts, cuts[1:])]


def _batches_from_runs(runs, batch_size, num_items):
    """ceil(num_items / batch_size) batches, batch k from run k % len(runs),
    topped up from the longest remaining run."""
    runs = [list(reversed(run)) for run in runs]
    batches = []
    for k in range(math.ceil(num_items / batch_size)):
        batch = []
        run = runs[k % len(runs)]
        while len(batch) < batch_size:
            if not run:
                run = max(runs, key=len)
                if not run:
                    break
            batch.append(run.pop())
        batches.append(batch)
    return batches
