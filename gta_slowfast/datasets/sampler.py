"""The order training reads a data set in: a shuffle fixed by RNG_SEED and
the epoch, split over the job's processes, resumable mid-epoch."""

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
