"""The plugin's training loop (used where PySlowFast ships no tools).

Built from PySlowFast's own parts where they work on the CPU: its optimizer
construction and learning-rate schedules.
"""

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats
from slowfast.models.optimizer import construct_optimizer, get_epoch_lr, set_lr

from gta_slowfast.datasets import construct_loader, shuffle_dataset
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import (
    last_checkpoint,
    load_checkpoint,
    load_pretrained,
    save_checkpoint,
)
from gta_slowfast.engine.logging_setup import setup_logging
from gta_slowfast.engine.meters import TrainMeter, ValMeter, topk_errors
from gta_slowfast.engine.mixed_precision import MixedPrecision
from gta_slowfast.models import build_model

logger = logging.getLogger(__name__)


def seed_everything(cfg):
    """Seeds numpy and torch from RNG_SEED (offset by the process rank)."""
    seed = cfg.RNG_SEED + distributed.rank()
    np.random.seed(seed)
    torch.manual_seed(seed)


def resume_or_initialize(cfg, model, optimizer, scaler=None):
    """Continues from OUTPUT_DIR's last checkpoint (TRAIN.AUTO_RESUME) or
    loads TRAIN.CHECKPOINT_FILE_PATH.

    Returns:
        int: the 0-based epoch to start at.
    """
    last = last_checkpoint(cfg.OUTPUT_DIR) if cfg.TRAIN.AUTO_RESUME else None
    if last:
        epoch = load_checkpoint(last, model, optimizer, scaler)
        logger.info("Resuming from %s: continuing at epoch %d", last, epoch + 2)
        return epoch + 1
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        load_pretrained(cfg.TRAIN.CHECKPOINT_FILE_PATH, cfg.TRAIN.CHECKPOINT_TYPE, model)
    return 0


def _to_device(inputs, labels, device):
    return [x.to(device, non_blocking=True) for x in inputs], labels.to(device)


def train_epoch(loader, model, optimizer, precision, meter, epoch, cfg):
    """One pass over the training set.

    Args:
        precision (MixedPrecision): autocast and loss scaling of the steps.
    """
    model.train()
    meter.reset()
    device = distributed.device_of(cfg)
    iters = len(loader)
    for cur_iter, (inputs, labels, _, _, _) in enumerate(loader):
        inputs, labels = _to_device(inputs, labels, device)
        lr = get_epoch_lr(epoch + float(cur_iter) / iters, cfg)
        set_lr(optimizer, lr)
        with precision.autocast():
            preds = model(inputs)
            loss = F.cross_entropy(preds, labels)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(
                "Loss is {} at epoch {}, iteration {}: training stopped. The "
                "last good checkpoint is {}.".format(
                    loss.item(), epoch + 1, cur_iter + 1, last_checkpoint(cfg.OUTPUT_DIR)
                )
            )
        optimizer.zero_grad()
        precision.backward_and_step(loss, optimizer)
        top1, top5 = topk_errors(preds.detach(), labels)
        stats = torch.tensor([loss.item(), top1, top5], device=device)
        loss_value, top1, top5 = distributed.all_reduce([stats], average=True)[0].tolist()
        meter.update(loss_value, top1, top5, lr, labels.numel() * distributed.world_size())
        meter.log_iter(epoch, cur_iter)
        meter.iter_tic()
    meter.log_epoch(epoch)


@torch.no_grad()
def eval_epoch(loader, model, epoch, cfg):
    """Top-1/top-5 error on the validation set; returns the stats."""
    model.eval()
    meter = ValMeter(cfg)
    device = distributed.device_of(cfg)
    for inputs, labels, _, _, _ in loader:
        inputs, labels = _to_device(inputs, labels, device)
        meter.update(model(inputs).cpu(), labels.cpu())
    return meter.log_epoch(epoch, device)


def calculate_precise_bn(loader, model, num_batches, device):
    """Recomputes BatchNorm statistics over ``num_batches`` training batches."""

    def batches():
        for inputs, _, _, _, _ in loader:
            yield [x.to(device, non_blocking=True) for x in inputs]

    update_bn_stats(model, batches(), min(num_batches, len(loader)))


def _is_period_epoch(epoch, period, cfg):
    return (epoch + 1) % period == 0 or epoch + 1 == cfg.SOLVER.MAX_EPOCH


def train(cfg):
    """Trains, validates and checkpoints the model of ``cfg``.

    Returns:
        nn.Module: the trained model (DDP-wrapped in a distributed job).
    """
    setup_logging(cfg.OUTPUT_DIR)
    seed_everything(cfg)
    logger.info("Training with config:\n%s", cfg)
    model = build_model(cfg)
    optimizer = construct_optimizer(model, cfg)
    precision = MixedPrecision(cfg)
    logger.info("Mixed precision (TRAIN.MIXED_PRECISION): %s", precision.describe())
    start_epoch = resume_or_initialize(cfg, model, optimizer, precision.scaler)
    train_loader = construct_loader(cfg, "train")
    val_loader = construct_loader(cfg, "val")
    if len(train_loader) == 0:
        raise ValueError(
            "TRAIN.BATCH_SIZE {} is larger than the {} training videos.".format(
                cfg.TRAIN.BATCH_SIZE, len(train_loader.dataset)
            )
        )
    meter = TrainMeter(len(train_loader), cfg)
    device = distributed.device_of(cfg)
    logger.info("Start epoch: %d of %d", start_epoch + 1, cfg.SOLVER.MAX_EPOCH)
    for epoch in range(start_epoch, cfg.SOLVER.MAX_EPOCH):
        shuffle_dataset(train_loader, epoch)
        train_epoch(train_loader, model, optimizer, precision, meter, epoch, cfg)
        if cfg.BN.USE_PRECISE_STATS and get_bn_modules(model):
            calculate_precise_bn(train_loader, model, cfg.BN.NUM_BATCHES_PRECISE, device)
        if _is_period_epoch(epoch, cfg.TRAIN.CHECKPOINT_PERIOD, cfg) and distributed.is_master():
            save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, epoch, cfg, precision.scaler)
        if _is_period_epoch(epoch, cfg.TRAIN.EVAL_PERIOD, cfg):
            eval_epoch(val_loader, model, epoch, cfg)
    return model
