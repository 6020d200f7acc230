"""The order the loaders read a data set in: for training, a shuffle fixed
by RNG_SEED and the epoch, split over the job's processes and resumable
mid-epoch; for testing, batches in which each worker reads whole videos."""

import math

import numpy as np
import torch


class ShardedShuffleSampler(torch.utils.data.Sampler):
    """This process's item indices for one epoch.

    The epoch's order is a permutation of the N items drawn from
    ``(seed, epoch)`` alone, cut to a multiple of the W processes; process r
    reads positions r, r + W, r + 2W, ... With B items per process and
    batch, step s of a W-process job therefore reads exactly the W * B items
    that step s of a one-process job with batches of W * B reads, whatever
    W is. ``start_at(k)`` skips this process's first k indices, to resume
    after k / B steps.
    """

    def __init__(self, num_items, seed, rank=0, world_size=1):
        """
        Args:
            num_items (int): N, the data set's length.
            seed (int): RNG_SEED.
            rank (int), world_size (int): this process and the job's W.
        """
        self.num_items = num_items
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch):
        """Reads epoch ``epoch``'s order from its first index."""
        self.epoch = epoch
        self.start = 0

    def start_at(self, position):
        """Skips this process's first ``position`` indices of the epoch."""
        self.start = position

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_items)
        order = order[: len(order) - len(order) % self.world_size]
        return iter(order[self.rank :: self.world_size][self.start :].tolist())

    def __len__(self):
        return self.num_items // self.world_size - self.start


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
