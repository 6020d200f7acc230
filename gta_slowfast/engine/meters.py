"""Training progress, validation error and multi-view test scores."""

import datetime
import time
from collections import deque
from typing import NamedTuple

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


def log_test_iter(cur_iter, num_iters, seconds_per_iter, output_dir):
    """Logs PySlowFast's test-iteration json stats: ``{"split": "test_iter",
    "cur_iter", "eta", "time_diff"}``.

    Args:
        cur_iter (int): 0-based iteration just done.
        num_iters (int): iterations of the test.
        seconds_per_iter (float): mean time of an iteration so far.
        output_dir (str): OUTPUT_DIR.
    """
    log_json_stats(
        {
            "split": "test_iter",
            "cur_iter": "{}".format(cur_iter + 1),
            "eta": _eta(seconds_per_iter * (num_iters - cur_iter - 1)),
            "time_diff": seconds_per_iter,
        },
        output_dir,
    )


class VideoScores(NamedTuple):
    """What a multi-view test gives per video.

    Attributes:
        preds (Tensor): (V, K) PySlowFast's ``TestMeter.video_preds``: the
            views' scores summed ("sum") or their element-wise maximum
            ("max"); zeros for a video with no readable view.
        scores (Tensor): (V, K) the per-video scores: the views' mean
            ("sum") or maximum ("max"); zeros where not scored.
        labels (Tensor): (V,) int64, -1 where not scored.
        scored (Tensor): (V,) bool, False for a video with no readable view.
    """

    preds: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    scored: torch.Tensor


class TestMeter:
    """Ensembles the scores of every view of a video as PySlowFast's
    ``TestMeter`` does with DATA.ENSEMBLE_METHOD: "sum" adds them, "max"
    takes their element-wise maximum.

    Views whose video could not be read (``valid`` False) are left out; a
    video with no readable view is left out of the accuracy and reported.
    """

    ENSEMBLE_METHODS = ("sum", "max")

    def __init__(self, num_videos, num_classes, ensemble_method="sum"):
        """
        Raises:
            ValueError: ``ensemble_method`` is not "sum" or "max", naming
                DATA.ENSEMBLE_METHOD.
        """
        check_ensemble_method(ensemble_method)
        self.ensemble_method = ensemble_method
        start = 0.0 if ensemble_method == "sum" else float("-inf")
        self.video_preds = torch.full((num_videos, num_classes), start, dtype=torch.float64)
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
        kept = scores[keep].double().cpu()
        if self.ensemble_method == "sum":
            self.video_preds.index_add_(0, index, kept)
        else:
            self.video_preds.scatter_reduce_(0, index[:, None].expand_as(kept), kept, "amax")
        self.view_counts.index_add_(0, index, torch.ones(len(index), dtype=torch.float64))
        self.label_sums.index_add_(0, index, labels[keep].double().cpu())

    def finalize(self, device):
        """Combines the views of every process (sum or maximum over
        processes).

        Returns:
            VideoScores
        """
        preds, counts, label_sums = (
            t.to(device, copy=True) for t in (self.video_preds, self.view_counts, self.label_sums)
        )
        if self.ensemble_method == "sum":
            distributed.all_reduce([preds])
        else:
            distributed.all_reduce_max([preds])
        distributed.all_reduce([counts, label_sums])
        preds, counts, label_sums = preds.cpu(), counts.cpu(), label_sums.cpu()
        scored = counts > 0
        views = counts.clamp(min=1)
        preds[~scored] = 0.0
        labels = (label_sums / views).round().long()
        labels[~scored] = -1
        scores = preds / views[:, None] if self.ensemble_method == "sum" else preds
        return VideoScores(preds, scores, labels, scored)


def check_ensemble_method(method):
    """Raises ValueError, naming DATA.ENSEMBLE_METHOD, unless ``method`` is
    one PySlowFast's ``TestMeter`` knows."""
    if method not in TestMeter.ENSEMBLE_METHODS:
        raise ValueError(
            "DATA.ENSEMBLE_METHOD is '{}'; PySlowFast ensembles a video's views by 'sum' "
            "(their scores added) or 'max' (their element-wise maximum): set one of "
            "these.".format(method)
        )
