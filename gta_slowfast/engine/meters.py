"""Training progress, validation error and multi-view test scores."""

import datetime
import time
from collections import deque

import numpy as np
import torch

from gta_slowfast.engine import distributed
from gta_slowfast.engine.logging_setup import log_json_stats


def topk_errors(scores, labels, ks=(1, 5)):
    """Top-k error in percent for each k (k above K classes counts as K).

    Args:
        scores (Tensor): (N, K).
        labels (Tensor): (N,).
    Returns:
        list[float]
    """
    top = scores.topk(min(max(ks), scores.shape[1]), dim=1).indices
    hits = top == labels[:, None]
    return [100.0 * (1.0 - hits[:, :k].any(dim=1).double().mean().item()) for k in ks]


def _eta(seconds):
    return str(datetime.timedelta(seconds=int(seconds)))


class TrainMeter:
    """Per-iteration loss, errors, LR, time and ETA; epoch summaries."""

    def __init__(self, epoch_iters, cfg, window=20):
        """
        Args:
            epoch_iters (int): iterations per epoch.
            cfg (CfgNode): for SOLVER.MAX_EPOCH, LOG_PERIOD and OUTPUT_DIR.
        """
        self.epoch_iters = epoch_iters
        self.max_iters = cfg.SOLVER.MAX_EPOCH * epoch_iters
        self.log_period = cfg.LOG_PERIOD
        self.output_dir = cfg.OUTPUT_DIR
        self.window = window
        self.reset()

    def reset(self, first_iter=0):
        """Starts an epoch at iteration ``first_iter`` (0-based; later than 0
        when resuming mid-epoch)."""
        self.first_iter = first_iter
        self.losses = deque(maxlen=self.window)
        self.top1 = deque(maxlen=self.window)
        self.top5 = deque(maxlen=self.window)
        self.iter_times = deque(maxlen=self.window)
        self.loss_total = 0.0
        self.top1_total = 0.0
        self.top5_total = 0.0
        self.samples = 0
        self.lr = None
        self.epoch_start = time.perf_counter()
        self._tic = time.perf_counter()

    def iter_tic(self):
        self._tic = time.perf_counter()

    def update(self, loss, top1_err, top5_err, lr, batch_size):
        """Records one iteration (values already averaged over processes)."""
        self.iter_times.append(time.perf_counter() - self._tic)
        self.losses.append(loss)
        self.top1.append(top1_err)
        self.top5.append(top5_err)
        self.loss_total += loss * batch_size
        self.top1_total += top1_err * batch_size
        self.top5_total += top5_err * batch_size
        self.samples += batch_size
        self.lr = lr

    def log_iter(self, epoch, cur_iter):
        """Logs json stats every LOG_PERIOD iterations and at the epoch end."""
        if (cur_iter + 1) % self.log_period and cur_iter + 1 != self.epoch_iters:
            return
        iter_time = float(np.mean(self.iter_times))
        done = epoch * self.epoch_iters + cur_iter + 1
        log_json_stats(
            {
                "_type": "train_iter",
                "epoch": "{}/{}".format(epoch + 1, self.max_iters // self.epoch_iters),
                "iter": "{}/{}".format(cur_iter + 1, self.epoch_iters),
                "time_diff": iter_time,
                "eta": _eta(iter_time * (self.max_iters - done)),
                "loss": float(np.median(self.losses)),
                "top1_err": float(np.median(self.top1)),
                "top5_err": float(np.median(self.top5)),
                "lr": self.lr,
            },
            self.output_dir,
        )

    def log_epoch(self, epoch):
        """Logs the epoch's averages."""
        seconds = time.perf_counter() - self.epoch_start
        remaining = self.max_iters - (epoch + 1) * self.epoch_iters
        log_json_stats(
            {
                "_type": "train_epoch",
                "epoch": "{}/{}".format(epoch + 1, self.max_iters // self.epoch_iters),
                "time_diff": seconds,
                "eta": _eta(seconds / max(self.epoch_iters - self.first_iter, 1) * remaining),
                "loss": self.loss_total / max(self.samples, 1),
                "top1_err": self.top1_total / max(self.samples, 1),
                "top5_err": self.top5_total / max(self.samples, 1),
                "lr": self.lr,
            },
            self.output_dir,
        )


class ValMeter:
    """Top-1/top-5 error over a validation pass, summed over processes."""

    def __init__(self, cfg):
        self.output_dir = cfg.OUTPUT_DIR
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.errors = torch.zeros(3, dtype=torch.float64)

    def update(self, scores, labels):
        top1, top5 = topk_errors(scores, labels)
        count = labels.numel()
        self.errors += torch.tensor([top1 * count, top5 * count, count], dtype=torch.float64)

    def log_epoch(self, epoch, device):
        """Logs and returns ``{"top1_err", "top5_err"}``."""
        totals = distributed.all_reduce([self.errors.to(device)])[0].cpu()
        stats = {
            "_type": "val_epoch",
            "epoch": "{}/{}".format(epoch + 1, self.max_epoch),
            "top1_err": (totals[0] / totals[2].clamp(min=1)).item(),
            "top5_err": (totals[1] / totals[2].clamp(min=1)).item(),
        }
        log_json_stats(stats, self.output_dir)
        return stats


class TestMeter:
    """Averages the softmax scores of every view of a video.

    Views whose video could not be read (``valid`` False) are left out; a
    video with no readable view is left out of the accuracy and reported.
    """

    def __init__(self, num_videos, num_classes):
        self.score_sums = torch.zeros(num_videos, num_classes, dtype=torch.float64)
        self.view_counts = torch.zeros(num_videos, dtype=torch.float64)
        self.label_sums = torch.zeros(num_videos, dtype=torch.float64)

    def update(self, scores, labels, video_index, valid):
        """
        Args:
            scores (Tensor): (B, K) class probabilities of B views.
            labels (Tensor): (B,).
            video_index (Tensor): (B,) video of each view.
            valid (Tensor): (B,) bool, False for unreadable videos.
        """
        keep = valid.bool()
        index = video_index[keep].long()
        self.score_sums.index_add_(0, index, scores[keep].double().cpu())
        self.view_counts.index_add_(0, index, torch.ones(len(index), dtype=torch.float64))
        self.label_sums.index_add_(0, index, labels[keep].double().cpu())

    def finalize(self, device):
        """Sums over processes; returns (video scores (V, K), labels (V,),
        mask of scored videos (V,))."""
        sums, counts, label_sums = (
            t.cpu()
            for t in distributed.all_reduce(
                [self.score_sums.to(device), self.view_counts.to(device), self.label_sums.to(device)]
            )
        )
        scored = counts > 0
        views = counts.clamp(min=1)
        labels = (label_sums / views).round().long()
        labels[~scored] = -1
        return sums / views[:, None], labels, scored
