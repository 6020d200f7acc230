"""The plugin's training loop (used where PySlowFast ships no tools).

Built from PySlowFast's own parts where they work on the CPU: its optimizer
construction and learning-rate schedules, its losses (MODEL.LOSS_FUNC),
MixUp (MIXUP.*), gradient norm, model statistics (LOG_MODEL_INFO) and
TensorboardWriter (TENSORBOARD.*); gradient clipping (SOLVER.CLIP_GRAD_*)
and TRAIN.KILL_LOSS_EXPLOSION_FACTOR as GitHub main's ``train_net`` applies
them.
"""

import logging
import math
import random

import numpy as np
import torch
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats
from slowfast.models.optimizer import construct_optimizer, get_epoch_lr, set_lr

from gta_slowfast import compat
from gta_slowfast.datasets import construct_loader, shuffle_dataset
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import (
    last_checkpoint,
    load_training_checkpoint,
    read_last_checkpoint,
    restore,
    save_checkpoint,
    unwrap,
)
from gta_slowfast.engine.logging_setup import setup_logging
from gta_slowfast.engine.meters import TrainMeter, ValMeter, topk_errors
from gta_slowfast.engine.mixed_precision import MixedPrecision
from gta_slowfast.engine.objective import Objective
from gta_slowfast.engine.preemption import CheckpointTimer, PreemptionSignals, TrainingPreempted
from gta_slowfast.engine.tensorboard import open_writer
from gta_slowfast.models import build_model

logger = logging.getLogger(__name__)


def seed_everything(cfg):
    """Seeds Python, numpy and torch from RNG_SEED (offset by the process
    rank). Training items draw their own numbers from (RNG_SEED, epoch,
    index), see ``VideoClipDataset.item_rng``."""
    seed = cfg.RNG_SEED + distributed.rank()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_states():
    """This process's random number generators' states."""
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
              "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states):
    """Restores what ``rng_states`` returned."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class TrainingState:
    """Where training stands, and how to write a checkpoint of it.

    Attributes:
        epoch (int): the 0-based epoch in progress, or next to start.
        iteration (int): iterations of ``epoch`` done.
    """

    def __init__(self, cfg, model, optimizer, scaler):
        self.cfg = cfg
        self.model = model
        self.optimizer = optimizer
        self.scaler = scaler
        self.epoch = 0
        self.iteration = 0

    def resume_or_initialize(self):
        """Continues from OUTPUT_DIR's newest checkpoint that reads
        (TRAIN.AUTO_RESUME), at the epoch and iteration it was written and
        with every process's random number generators as they were; or loads
        TRAIN.CHECKPOINT_FILE_PATH (``load_training_checkpoint``: its epoch
        and optimizer too, unless TRAIN.CHECKPOINT_EPOCH_RESET)."""
        cfg = self.cfg
        path = state = None
        if cfg.TRAIN.AUTO_RESUME:
            # The first process moves unreadable checkpoints aside, then all read.
            if distributed.is_master():
                path, state = read_last_checkpoint(cfg.OUTPUT_DIR)
            distributed.barrier()
            if not distributed.is_master():
                path, state = read_last_checkpoint(cfg.OUTPUT_DIR)
        if path is None:
            if cfg.TRAIN.CHECKPOINT_FILE_PATH:
                self.epoch = load_training_checkpoint(
                    cfg, self.model, self.optimizer, self.scaler) + 1
            return
        self.epoch = restore(state, path, self.model, self.optimizer, self.scaler) + 1
        self.iteration = state.get("iteration", 0)
        layout = (step_batch_size(cfg), distributed.world_size())
        if self.iteration and (state.get("batch_size"), state.get("world_size")) != layout:
            logger.warning(
                "%s was written mid-epoch with steps of %s videos over %s processes, not %s "
                "over %s: epoch %d restarts from its first iteration.",
                path, state.get("batch_size"), state.get("world_size"), *layout, self.epoch + 1)
            self.iteration = 0
        if len(state.get("rng_states", [])) == distributed.world_size():
            set_rng_states(state["rng_states"][distributed.rank()])
        logger.info("Resuming from %s at epoch %d, iteration %d", path, self.epoch + 1,
                    self.iteration + 1)

    def save(self):
        """Writes a checkpoint of this state (on the first process; every
        process's RNG states are in it) and returns its path."""
        states = distributed.gather_objects(rng_states())
        if not distributed.is_master():
            return None
        return save_checkpoint(
            self.cfg.OUTPUT_DIR, self.model, self.optimizer, self.epoch - 1,
            self.cfg, self.scaler, iteration=self.iteration,
            extra={"rng_states": states, "batch_size": step_batch_size(self.cfg),
                   "world_size": distributed.world_size()},
        )


def step_batch_size(cfg):
    """Videos one training step reads over all processes: TRAIN.BATCH_SIZE
    per machine (as PySlowFast) x NUM_SHARDS."""
    return cfg.TRAIN.BATCH_SIZE * cfg.NUM_SHARDS


def _to_device(inputs, labels, device):
    return [x.to(device, non_blocking=True) for x in inputs], labels.to(device)


def clip_gradients(parameters, cfg):
    """SOLVER.CLIP_GRAD_VAL (each gradient entry clamped to +-VAL) or else
    SOLVER.CLIP_GRAD_L2NORM (all gradients scaled to an L2 norm of at most
    L2NORM), as GitHub main's ``train_net`` applies them, on unscaled
    gradients.

    Returns:
        Tensor: the L2 norm of the gradients before clipping (0-dim). Where
            PySlowFast clips by value it records no norm (its
            ``clip_grad_value_`` returns None); here it is the norm before.
    """
    parameters = [p for p in parameters if p.grad is not None]
    if cfg.SOLVER.CLIP_GRAD_VAL:
        norm = compat.grad_norm(parameters)
        torch.nn.utils.clip_grad_value_(parameters, cfg.SOLVER.CLIP_GRAD_VAL)
        return norm
    if cfg.SOLVER.CLIP_GRAD_L2NORM:
        return torch.nn.utils.clip_grad_norm_(parameters, cfg.SOLVER.CLIP_GRAD_L2NORM)
    return compat.grad_norm(parameters)


def train_epoch(loader, iterations, state, precision, meter, checkpointer, objective, writer=None):
    """Runs the iterations of ``state.epoch`` from ``state.iteration`` on.

    Each step, as GitHub main's ``train_net``: the batch mixed by MIXUP.*,
    MODEL.LOSS_FUNC under autocast, backward, gradients unscaled, clipped
    (SOLVER.CLIP_GRAD_*) and measured, the optimizer step; then the stats
    (top-1/top-5 against the mixed targets' two main classes, see
    ``Objective.scored_against``), averaged over processes, to the meter
    and to TensorBoard (Train/loss, Train/lr, Train/Top1_err,
    Train/Top5_err). After each iteration, a mid-epoch checkpoint is
    written where a preemption signal came (then ``TrainingPreempted`` is
    raised) or the periodic one is due; every process agrees on both.

    Args:
        loader (DataLoader): the training loader, its sampler set to the
            epoch and to ``state.iteration``.
        iterations (int): iterations of a whole epoch.
        state (TrainingState): model, optimizer, epoch and iteration.
        precision (MixedPrecision): autocast and loss scaling of the steps.
        meter (TrainMeter): progress logging.
        checkpointer (MidEpochCheckpointer): preemption signals and the checkpoint timer.
        objective (Objective): MODEL.LOSS_FUNC and MIXUP.*.
        writer (TensorboardWriter or None): PySlowFast's, on the first process.
    """
    cfg, model, optimizer = state.cfg, state.model, state.optimizer
    model.train()
    if cfg.MODEL.FROZEN_BN:
        freeze_norm_statistics(model)
    meter.reset(first_iter=state.iteration)
    device = distributed.device_of(cfg)
    epoch = state.epoch
    for inputs, labels, _, _, _ in loader:
        cur_iter = state.iteration
        inputs, labels = _to_device(inputs, labels, device)
        lr = get_epoch_lr(epoch + float(cur_iter) / iterations, cfg)
        set_lr(optimizer, lr)
        meter.data_toc()
        targets = objective.targets(inputs, labels)
        with precision.autocast():
            preds = model(inputs)
            loss = objective.loss(preds, targets)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(
                "Loss is {} at epoch {}, iteration {}: training stopped. The "
                "last good checkpoint is {}.".format(
                    loss.item(), epoch + 1, cur_iter + 1, last_checkpoint(cfg.OUTPUT_DIR)
                )
            )
        optimizer.zero_grad()
        precision.backward(loss)
        precision.unscale(optimizer)
        grad_norm = clip_gradients(model.parameters(), cfg)
        precision.step(optimizer)
        state.iteration += 1
        top1, top5 = topk_errors(*objective.scored_against(preds.detach(), targets))
        stats = torch.tensor([loss.item(), float(grad_norm), top1, top5], device=device)
        stats = distributed.all_reduce([stats], average=True)[0]
        loss_value, grad_norm, top1, top5 = stats.tolist()
        meter.update(top1, top5, loss_value, lr, grad_norm,
                     labels.numel() * distributed.world_size())
        meter.iter_toc()
        if writer is not None:
            writer.add_scalars(
                {"Train/loss": loss_value, "Train/lr": lr, "Train/Top1_err": top1,
                 "Train/Top5_err": top5},
                global_step=iterations * epoch + cur_iter,
            )
        meter.log_iter(epoch, cur_iter)
        checkpointer.after_iteration(state)
        meter.iter_tic()
    meter.log_epoch(epoch)


class MidEpochCheckpointer:
    """Writes mid-epoch checkpoints after an iteration: on a preemption
    signal (then raises ``TrainingPreempted``), and every
    GTA.TRAIN.CHECKPOINT_MINUTES."""

    def __init__(self, cfg, signals):
        self.signals = signals
        self.timer = CheckpointTimer(cfg.GTA.TRAIN.CHECKPOINT_MINUTES)
        self.device = distributed.device_of(cfg)

    def after_iteration(self, state):
        flags = torch.tensor([self.signals.received is not None, self.timer.due()],
                             dtype=torch.float32, device=self.device)
        preempted, due = (bool(flag) for flag in distributed.all_reduce([flags])[0].tolist())
        if not (preempted or due):
            return
        path = state.save()
        self.timer.restart()
        if preempted:
            raise TrainingPreempted(
                "Stopped by {} after iteration {} of epoch {}; checkpoint {}. Run the same "
                "command again to resume.".format(self.signals.received or "a signal to another process",
                                                  state.iteration, state.epoch + 1, path),
                path,
            )


def freeze_norm_statistics(model):
    """Puts every BatchNorm in eval mode: its running statistics stay fixed
    and normalise every batch (MODEL.FROZEN_BN, as PySlowFast's
    ``frozen_bn_stats``); its scale and shift still train."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


@torch.no_grad()
def eval_epoch(loader, model, meter, epoch, cfg, writer=None):
    """Top-1/top-5 error on the validation set; returns the stats.

    With a TensorBoard writer, as GitHub main's ``train_net``: each batch's
    errors (averaged over processes) as Val/Top1_err and Val/Top5_err, and
    ``writer.plot_eval`` of the first process's scores and labels (its
    confusion matrix where TENSORBOARD.CONFUSION_MATRIX.ENABLE).

    Args:
        meter (ValMeter): the meter of the whole run (it keeps the minimum
            errors over epochs).
        writer (TensorboardWriter or None).
    """
    model.eval()
    meter.reset()
    device = distributed.device_of(cfg)
    all_preds, all_labels = [], []
    for cur_iter, (inputs, labels, _, _, _) in enumerate(loader):
        inputs, labels = _to_device(inputs, labels, device)
        preds, labels = model(inputs).cpu(), labels.cpu()
        errors = torch.tensor(meter.update(preds, labels), device=device)
        top1, top5 = distributed.all_reduce([errors], average=True)[0].tolist()
        if writer is not None:
            writer.add_scalars({"Val/Top1_err": top1, "Val/Top5_err": top5},
                               global_step=len(loader) * epoch + cur_iter)
            all_preds.append(preds)
            all_labels.append(labels)
    stats = meter.log_epoch(epoch, device)
    if writer is not None:
        writer.plot_eval(preds=all_preds, labels=all_labels, global_step=epoch)
    return stats


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
    Raises:
        ValueError: MODEL.LOSS_FUNC unknown or unusable, before any work.
        TrainingPreempted: a preemption signal stopped training after a
            mid-epoch checkpoint.
    """
    setup_logging(cfg.OUTPUT_DIR)
    objective = Objective(cfg)
    seed_everything(cfg)
    logger.info("Runs of this config agree exactly with the same torch (%s), intra-op threads "
                "(%d: torch.set_num_threads, OMP_NUM_THREADS) and CPU kernels (%s) on the CPU.",
                torch.__version__, torch.get_num_threads(), torch.backends.cpu.get_cpu_capability())
    logger.info("Training in %d process%s with config:\n%s", distributed.world_size(),
                "es" if distributed.world_size() > 1 else "", cfg)
    model = build_model(cfg)
    if cfg.LOG_MODEL_INFO and distributed.is_master():
        compat.log_model_info(unwrap(model), cfg)
    optimizer = construct_optimizer(model, cfg)
    precision = MixedPrecision(cfg)
    logger.info("Mixed precision (TRAIN.MIXED_PRECISION): %s", precision.describe())
    state = TrainingState(cfg, model, optimizer, precision.scaler)
    state.resume_or_initialize()
    train_loader = construct_loader(cfg, "train")
    val_loader = construct_loader(cfg, "val")
    iterations = len(train_loader)
    if iterations == 0:
        raise ValueError(
            "TRAIN.BATCH_SIZE {} per machine over {} machine(s) is larger than the {} "
            "training videos.".format(cfg.TRAIN.BATCH_SIZE, cfg.NUM_SHARDS, len(train_loader.dataset))
        )
    meter = TrainMeter(iterations, cfg)
    val_meter = ValMeter(cfg)
    device = distributed.device_of(cfg)
    logger.info("Start epoch: %d of %d", state.epoch + 1, cfg.SOLVER.MAX_EPOCH)
    writer = open_writer(cfg)
    try:
        with PreemptionSignals() as signals:
            checkpointer = MidEpochCheckpointer(cfg, signals)
            while state.epoch < cfg.SOLVER.MAX_EPOCH:
                epoch = state.epoch
                shuffle_dataset(train_loader, epoch)
                train_loader.sampler.start_at(state.iteration * train_loader.batch_size)
                train_epoch(train_loader, iterations, state, precision, meter, checkpointer,
                            objective, writer)
                saves = _is_period_epoch(epoch, cfg.TRAIN.CHECKPOINT_PERIOD, cfg)
                evaluates = _is_period_epoch(epoch, cfg.TRAIN.EVAL_PERIOD, cfg)
                # As PySlowFast: precise statistics for the epochs saved or validated.
                if (saves or evaluates) and cfg.BN.USE_PRECISE_STATS and get_bn_modules(model):
                    calculate_precise_bn(train_loader, model, cfg.BN.NUM_BATCHES_PRECISE, device)
                state.epoch, state.iteration = epoch + 1, 0
                if saves:
                    state.save()
                    checkpointer.timer.restart()
                if evaluates:
                    eval_epoch(val_loader, model, val_meter, epoch, cfg, writer)
    finally:
        if writer is not None:
            writer.close()
    return model
