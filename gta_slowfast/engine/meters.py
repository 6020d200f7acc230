"""Training progress, validation error and multi-view test scores."""

import datetime
from collections import deque
from typing import NamedTuple

import numpy as np
import torch
from fvcore.common.timer import Timer

from gta_slowfast import compat
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


def _memory_fields():
    """``gpu_mem`` and, where PySlowFast measures it, ``RAM``, as in
    PySlowFast's epoch stats."""
    fields = {"gpu_mem": "{:.2f}G".format(compat.gpu_mem_usage())}
    ram = compat.cpu_mem_usage()
    if ram is not None:
        fields["RAM"] = "{:.2f}/{:.2f}G".format(*ram)
    return fields


class TrainMeter:
    """Training stats as PySlowFast's ``TrainMeter`` logs them.

    Per iteration (every LOG_PERIOD iterations, and the last of an epoch) a
    ``"_type": "train_iter_"`` record: the iteration's time ``dt``, its
    data-loading part ``dt_data`` and the rest ``dt_net``, ``eta``, the
    medians of loss and top-1/top-5 error over the last LOG_PERIOD
    iterations, ``lr``, ``grad_norm``, ``gpu_mem``. Per epoch a
    ``train_epoch`` record with the epoch's averages and ``RAM``. Both go
    to the log and to OUTPUT_DIR/json_stats.log. TRAIN.KILL_LOSS_EXPLOSION_FACTOR
    is checked as PySlowFast checks it.
    """

    def __init__(self, epoch_iters, cfg):
        """
        Args:
            epoch_iters (int): iterations per epoch.
            cfg (CfgNode): for SOLVER.MAX_EPOCH, LOG_PERIOD, OUTPUT_DIR and
                TRAIN.KILL_LOSS_EXPLOSION_FACTOR.
        """
        self.epoch_iters = epoch_iters
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.max_iters = cfg.SOLVER.MAX_EPOCH * epoch_iters
        self.log_period = cfg.LOG_PERIOD
        self.explosion_factor = cfg.TRAIN.KILL_LOSS_EXPLOSION_FACTOR
        self.output_dir = cfg.OUTPUT_DIR
        self.iter_timer = Timer()
        self.data_timer = Timer()
        self.net_timer = Timer()
        self.reset()

    def reset(self, first_iter=0):
        """Starts an epoch at iteration ``first_iter`` (0-based; later than 0
        when resuming mid-epoch)."""
        self.first_iter = first_iter
        self.losses = deque(maxlen=self.log_period)
        self.top1 = deque(maxlen=self.log_period)
        self.top5 = deque(maxlen=self.log_period)
        self.loss_total = 0.0
        self.top1_total = 0.0
        self.top5_total = 0.0
        self.samples = 0
        self.lr = None
        self.grad_norm = None
        self.iter_tic()

    def iter_tic(self):
        """An iteration starts: its data loading first."""
        self.iter_timer.reset()
        self.data_timer.reset()

    def data_toc(self):
        """The batch is on the device: the network's part starts."""
        self.data_timer.pause()
        self.net_timer.reset()

    def iter_toc(self):
        """The iteration's step is done."""
        self.iter_timer.pause()
        self.net_timer.pause()

    def update(self, top1_err, top5_err, loss, lr, grad_norm, batch_size):
        """Records one iteration (values already averaged over processes).

        Raises:
            RuntimeError: TRAIN.KILL_LOSS_EXPLOSION_FACTOR F > 0 and ``loss``
                exceeds F times the mean loss of the 5 iterations before it
                (checked, as by PySlowFast, once more than 6 of the last
                LOG_PERIOD iterations of the epoch are recorded).
        """
        self.losses.append(loss)
        self.top1.append(top1_err)
        self.top5.append(top5_err)
        self.loss_total += loss * batch_size
        self.top1_total += top1_err * batch_size
        self.top5_total += top5_err * batch_size
        self.samples += batch_size
        self.lr = lr
        self.grad_norm = grad_norm
        if self.explosion_factor > 0.0 and len(self.losses) > 6:
            previous = list(self.losses)[-6:-1]
            mean = sum(previous) / len(previous)
            if loss > self.explosion_factor * mean:
                raise RuntimeError(
                    "Loss explosion: the loss {:.6g} is more than "
                    "TRAIN.KILL_LOSS_EXPLOSION_FACTOR = {} times the mean {:.6g} of the 5 "
                    "iterations before; training stopped.".format(loss, self.explosion_factor, mean)
                )

    def log_iter(self, epoch, cur_iter):
        """Logs json stats every LOG_PERIOD iterations and at the epoch end."""
        if (cur_iter + 1) % self.log_period and cur_iter + 1 != self.epoch_iters:
            return
        done = epoch * self.epoch_iters + cur_iter + 1
        log_json_stats(
            {
                "_type": "train_iter_",
                "epoch": "{}/{}".format(epoch + 1, self.max_epoch),
                "iter": "{}/{}".format(cur_iter + 1, self.epoch_iters),
                "dt": self.iter_timer.seconds(),
                "dt_data": self.data_timer.seconds(),
                "dt_net": self.net_timer.seconds(),
                "eta": _eta(self.iter_timer.seconds() * (self.max_iters - done)),
                "loss": float(np.median(self.losses)),
                "lr": self.lr,
                "grad_norm": self.grad_norm,
                "gpu_mem": "{:.2f}G".format(compat.gpu_mem_usage()),
                "top1_err": float(np.median(self.top1)),
                "top5_err": float(np.median(self.top5)),
            },
            self.output_dir,
        )

    def log_epoch(self, epoch):
        """Logs the epoch's averages."""
        samples = max(self.samples, 1)
        log_json_stats(
            {
                "_type": "train_epoch",
                "epoch": "{}/{}".format(epoch + 1, self.max_epoch),
                "dt": self.iter_timer.seconds(),
                "dt_data": self.data_timer.seconds(),
                "dt_net": self.net_timer.seconds(),
                "eta": _eta(self.iter_timer.seconds()
                            * (self.max_iters - (epoch + 1) * self.epoch_iters)),
                "lr": self.lr,
                "grad_norm": self.grad_norm,
                **_memory_fields(),
                "top1_err": self.top1_total / samples,
                "top5_err": self.top5_total / samples,
                "loss": self.loss_total / samples,
            },
            self.output_dir,
        )


class ValMeter:
    """Top-1/top-5 validation error, summed over processes, and its minimum
    over the epochs validated so far, as PySlowFast's ``ValMeter`` logs it
    (a ``val_epoch`` record with ``min_top1_err``, ``min_top5_err``)."""

    def __init__(self, cfg):
        self.output_dir = cfg.OUTPUT_DIR
        self.max_epoch = cfg.SOLVER.MAX_EPOCH
        self.min_top1_err = 100.0
        self.min_top5_err = 100.0
        self.timer = Timer()
        self.reset()

    def reset(self):
        """Starts a validation pass."""
        self.errors = torch.zeros(3, dtype=torch.float64)
        self.timer.reset()

    def update(self, scores, labels):
        """Records one batch of this process.

        Args:
            scores (Tensor): (N, K).
            labels (Tensor): (N,).
        Returns:
            list[float]: the batch's top-1 and top-5 error.
        """
        top1, top5 = topk_errors(scores, labels)
        count = labels.numel()
        self.errors += torch.tensor([top1 * count, top5 * count, count], dtype=torch.float64)
        return [top1, top5]

    def log_epoch(self, epoch, device):
        """Logs and returns the pass's stats (``top1_err``, ``top5_err``,
        ``min_top1_err``, ``min_top5_err``, ...)."""
        totals = distributed.all_reduce([self.errors.to(device)])[0].cpu()
        top1 = (totals[0] / totals[2].clamp(min=1)).item()
        top5 = (totals[1] / totals[2].clamp(min=1)).item()
        self.min_top1_err = min(self.min_top1_err, top1)
        self.min_top5_err = min(self.min_top5_err, top5)
        stats = {
            "_type": "val_epoch",
            "epoch": "{}/{}".format(epoch + 1, self.max_epoch),
            "time_diff": self.timer.seconds(),
            **_memory_fields(),
            "top1_err": top1,
            "top5_err": top5,
            "min_top1_err": self.min_top1_err,
            "min_top5_err": self.min_top5_err,
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
