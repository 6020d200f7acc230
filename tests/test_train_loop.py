"""PySlowFast's training switches in the plugin's loop (engine/train.py):
MODEL.LOSS_FUNC, MIXUP.*, SOLVER.CLIP_GRAD_*, TRAIN.KILL_LOSS_EXPLOSION_FACTOR,
TRAIN.CHECKPOINT_* initial weights, LOG_MODEL_INFO, TENSORBOARD.*, and the
json stats in PySlowFast's format."""

import glob
import logging
import math
import os

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.engine import checkpoint, train
from gta_slowfast.engine.logging_setup import log_json_stats
from gta_slowfast.engine.meters import TrainMeter
from gta_slowfast.engine.mixed_precision import MixedPrecision
from gta_slowfast.engine.objective import Objective, loss_function
from gta_slowfast.flop_count import clip_inputs

from conftest import small_cfg
from pipeline import json_stats, run_net

MAIN = compat.GENERATION == "main"
needs_main = pytest.mark.skipif(not MAIN, reason="pyslowfast 1.0 has no MIXUP, TENSORBOARD or "
                                                 "soft_cross_entropy")
CONFIG = "SSv2/C2D_8x1_R50.yaml"
# One plain SGD step at a constant rate: the update is -lr x gradient.
SGD = ["SOLVER.BASE_LR", 0.5, "SOLVER.WARMUP_EPOCHS", 0.0, "SOLVER.LR_POLICY", "cosine",
       "SOLVER.MOMENTUM", 0.0, "SOLVER.NESTEROV", False, "SOLVER.WEIGHT_DECAY", 0.0,
       "MODEL.DROPOUT_RATE", 0.0, "SOLVER.MAX_EPOCH", 1]


class NoSignals:
    received = None


def one_step(cfg, batch, tmp_path, spy=None):
    """Runs train_epoch over the one ``batch`` (inputs, labels) and returns
    (model before, model after, meter)."""
    cfg.OUTPUT_DIR = str(tmp_path)
    model = gta_slowfast.build_model(cfg)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = train.construct_optimizer(model, cfg)
    precision = MixedPrecision(cfg)
    state = train.TrainingState(cfg, model, optimizer, precision.scaler)
    meter = TrainMeter(1, cfg)
    objective = Objective(cfg)
    if spy is not None:
        spy(model, objective)
    inputs, labels = batch
    loader = [([x.clone() for x in inputs], labels.clone(), None, None, None)]
    checkpointer = train.MidEpochCheckpointer(cfg, NoSignals())
    train.train_epoch(loader, 1, state, precision, meter, checkpointer, objective)
    return model, before, meter


def one_batch(cfg, size=4):
    torch.manual_seed(1)
    return clip_inputs(cfg, crop_size=cfg.DATA.TRAIN_CROP_SIZE, batch_size=size), \
        torch.tensor([0, 1, 2, 3][:size])


def four_frame_cfg(*opts):
    """The plain C2D model, 4 frames of 32 x 32 pixels."""
    return small_cfg(CONFIG, "DATA.NUM_FRAMES", 4, *opts, crop=32)


def reference_gradients(cfg, batch):
    """The gradients of the mean cross entropy of a model built like
    ``one_step``'s (same seed), computed by hand."""
    torch.manual_seed(0)
    model = gta_slowfast.build_model(cfg)
    model.train()
    inputs, labels = batch
    torch.nn.functional.cross_entropy(model([x.clone() for x in inputs]), labels).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("name", ["no_such_loss", "mse"])
def test_a_loss_that_cannot_train_the_classifier_is_refused_naming_the_key(name):
    cfg = small_cfg(CONFIG, "MODEL.LOSS_FUNC", name)
    with pytest.raises(ValueError, match=r"MODEL\.LOSS_FUNC '{}'".format(name)):
        loss_function(cfg)


def test_an_unknown_loss_stops_training_before_any_work(tmp_path):
    cfg = four_frame_cfg("MODEL.LOSS_FUNC", "no_such_loss", "DATA.PATH_TO_DATA_DIR",
                         str(tmp_path / "no_data"))
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    with pytest.raises(ValueError, match=r"MODEL\.LOSS_FUNC 'no_such_loss'"):
        train.train(cfg)  # not the missing data set: the loss is checked first
    assert not os.path.exists(tmp_path / "out" / "checkpoints")


def test_mixup_targets_score_the_two_main_classes_as_pyslowfast():
    preds = torch.tensor([[0.1, 0.5, 0.3, 0.1], [0.4, 0.1, 0.2, 0.3]])
    targets = torch.tensor([[0.0, 0.3, 0.7, 0.0], [0.6, 0.0, 0.0, 0.4]])
    scores, labels = Objective.scored_against(preds, targets)
    # Row 0: classes 2 (0.7) and 1 (0.3): 0.3 + 0.5 under class 2, class 1 zeroed.
    assert torch.allclose(scores, torch.tensor([[0.1, 0.0, 0.8, 0.1], [0.7, 0.1, 0.2, 0.0]]))
    assert labels.tolist() == [2, 0]
    assert preds[0, 1] == 0.5  # the model's scores are left as they were


@needs_main
def test_mixup_mixes_the_clips_and_the_targets_with_label_smoothing(tmp_path):
    cfg = four_frame_cfg(*SGD, "MIXUP.ENABLE", True, "MIXUP.ALPHA", 1.0,
                         "MIXUP.CUTMIX_ALPHA", 0.0, "MIXUP.PROB", 1.0,
                         "MIXUP.LABEL_SMOOTH_VALUE", 0.1, "MODEL.LOSS_FUNC", "soft_cross_entropy")
    batch = one_batch(cfg)
    seen = {}

    def spy(model, objective):
        def spying_hook(_, args):
            seen["x"] = args[0][0].clone()

        model.register_forward_pre_hook(spying_hook)
        loss = objective.loss

        def spying_loss(preds, targets):
            seen["t"] = targets.clone()
            return loss(preds, targets)

        objective.loss = spying_loss

    one_step(cfg, batch, tmp_path, spy)
    x, labels = batch[0][0], batch[1]
    targets, mixed = seen["t"], seen["x"]
    # Independent reference: mixup pairs each clip with the batch reversed;
    # smoothing 0.1 over 5 classes puts 0.02 off and 0.92 on the label.
    off, on = 0.1 / 5, 1 - 0.1 + 0.1 / 5
    one_hot = torch.full((4, 5), off).scatter_(1, labels[:, None], on)
    lam = float((targets[0, 0] - off) / (on - off))  # clip 0 (label 0) is mixed with clip 3
    assert 0.0 < lam < 1.0
    assert torch.allclose(targets, lam * one_hot + (1 - lam) * one_hot.flip(0), atol=1e-6)
    assert torch.allclose(mixed, lam * x + (1 - lam) * x.flip(0), atol=1e-5)
    assert not torch.allclose(mixed, x)


@pytest.fixture(scope="module")
def unclipped_gradients():
    """The gradients of one batch of the tiny model, clipping aside."""
    cfg = four_frame_cfg(*SGD)
    return reference_gradients(cfg, one_batch(cfg))


@pytest.mark.parametrize("clip", [("SOLVER.CLIP_GRAD_L2NORM", 0.01),
                                  ("SOLVER.CLIP_GRAD_VAL", 1e-4)])
def test_clipping_bounds_the_sgd_step_and_grad_norm_is_recorded(tmp_path, clip,
                                                                  unclipped_gradients):
    cfg = four_frame_cfg(*SGD, *clip)
    batch = one_batch(cfg)
    grads = unclipped_gradients
    norm = torch.cat([g.flatten() for g in grads.values()]).norm()
    torch.manual_seed(0)
    model, before, meter = one_step(cfg, batch, tmp_path)
    assert meter.grad_norm == pytest.approx(norm.item(), rel=1e-4)
    key, bound = clip
    for name, parameter in model.named_parameters():
        if key == "SOLVER.CLIP_GRAD_L2NORM":
            expected = grads[name] * min(1.0, bound / norm.item())
        else:
            expected = grads[name].clamp(-bound, bound)
        step = before[name] - parameter.detach()
        assert torch.allclose(step, 0.5 * expected, atol=1e-7, rtol=1e-4), name
    assert norm > 0.01 and any((g.abs() > 1e-4).any() for g in grads.values())  # clipping bit


def test_kill_loss_explosion_factor_stops_as_pyslowfast(tmp_path):
    cfg = small_cfg(CONFIG, "LOG_PERIOD", 10, "TRAIN.KILL_LOSS_EXPLOSION_FACTOR", 2.0)
    meter = TrainMeter(20, cfg)
    for loss in [9.0, 1.0, 1.0, 2.0, 1.0, 1.0]:
        meter.update(0.0, 0.0, loss, 0.1, 1.0, 4)
    meter.update(0.0, 0.0, 2.4, 0.1, 1.0, 4)  # 2.4 <= 2 x mean(1, 1, 2, 1, 1) = 2.4
    with pytest.raises(RuntimeError, match="TRAIN.KILL_LOSS_EXPLOSION_FACTOR"):
        meter.update(0.0, 0.0, 3.0, 0.1, 1.0, 4)  # > 2 x mean(1, 2, 1, 1, 2.4) = 2.96
    quiet = TrainMeter(20, small_cfg(CONFIG, "LOG_PERIOD", 10))
    for loss in [1.0] * 6 + [100.0]:
        quiet.update(0.0, 0.0, loss, 0.1, 1.0, 4)


def checkpoint_after_one_step(cfg, tmp_path, epoch):
    """A checkpoint (epoch ``epoch``) whose optimizer holds momentum buffers."""
    model = gta_slowfast.build_model(cfg)
    optimizer = train.construct_optimizer(model, cfg)
    inputs, labels = one_batch(cfg)
    torch.nn.functional.cross_entropy(model(inputs), labels).backward()
    optimizer.step()
    path = checkpoint.save_checkpoint(str(tmp_path / "source"), model, optimizer, epoch, cfg)
    return path, model, optimizer


def resumed(cfg, path, *opts):
    cfg = cfg.clone()
    cfg.merge_from_list(["TRAIN.CHECKPOINT_FILE_PATH", path, *opts])
    model = gta_slowfast.build_model(cfg)
    optimizer = train.construct_optimizer(model, cfg)
    state = train.TrainingState(cfg, model, optimizer, None)
    state.resume_or_initialize()
    return state


def test_checkpoint_epoch_reset_false_continues_true_restarts(tmp_path, caplog):
    cfg = four_frame_cfg("SOLVER.MOMENTUM", 0.9)
    cfg.OUTPUT_DIR = str(tmp_path / "run")
    path, model, optimizer = checkpoint_after_one_step(cfg, tmp_path, epoch=2)
    saved = optimizer.state_dict()["state"]

    state = resumed(cfg, path)
    assert state.epoch == 3  # continues after the file's (0-based) epoch 2
    loaded = state.optimizer.state_dict()["state"]
    assert loaded.keys() == saved.keys() and saved
    assert all(torch.equal(loaded[k]["momentum_buffer"], saved[k]["momentum_buffer"])
               for k in saved)
    assert all(torch.equal(a, b) for a, b in zip(state.model.state_dict().values(),
                                                   model.state_dict().values()))

    state = resumed(cfg, path, "TRAIN.CHECKPOINT_EPOCH_RESET", True)
    assert state.epoch == 0 and not state.optimizer.state_dict()["state"]
    assert all(torch.equal(a, b) for a, b in zip(state.model.state_dict().values(),
                                                   model.state_dict().values()))

    other = four_frame_cfg("MODEL.NUM_CLASSES", 7)
    other.OUTPUT_DIR = cfg.OUTPUT_DIR
    with caplog.at_level(logging.INFO):
        state = resumed(other, path)
    assert state.epoch == 0 and not state.optimizer.state_dict()["state"]
    assert "checkpoint of another model" in caplog.text and "only its weights" in caplog.text


def test_clear_name_pattern_and_inflate_as_pyslowfast_loader(tmp_path):
    cfg = small_cfg("SSv2/SLOWFAST_16x8_R50.yaml", "DATA.NUM_FRAMES", 16,
                    "TRAIN.CHECKPOINT_TYPE", "pytorch", crop=32)
    cfg.OUTPUT_DIR = str(tmp_path / "run")
    source = gta_slowfast.build_model(cfg).state_dict()
    # A 2D checkpoint under a "backbone." prefix: every 3D kernel summed over time.
    flat = {"backbone." + name: (value.sum(2) if value.dim() == 5 else value)
            for name, value in source.items()}
    path = str(tmp_path / "2d.pyth")
    torch.save({"model_state": flat}, path)
    state = resumed(cfg, path, "TRAIN.CHECKPOINT_INFLATE", True,
                    "TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN", "('backbone.',)")
    loaded = state.model.state_dict()
    inflated = [name for name, value in source.items() if value.dim() == 5 and value.shape[2] > 1]
    assert inflated
    for name, value in source.items():
        if value.dim() == 5:
            time = value.shape[2]
            expected = value.sum(2, keepdim=True).repeat(1, 1, time, 1, 1) / time
            assert torch.allclose(loaded[name], expected, atol=1e-6), name
        else:
            assert torch.equal(loaded[name], value), name
    assert state.epoch == 0


def test_json_stats_lines_as_pyslowfast_writes_them(tmp_path):
    stats = {"_type": "train_iter_", "loss": 1.234567891, "lr": 0.1, "iter": "1/4", "dt": 2.0}
    log_json_stats(stats, str(tmp_path))
    (line,) = open(tmp_path / "json_stats.log").read().splitlines()
    assert line == ('json_stats: {"_type": "train_iter_", "dt": 2.00000, "iter": "1/4", '
                    '"loss": 1.23457, "lr": 0.10000}')
    if MAIN:  # PySlowFast's own writer, as reference
        from slowfast.utils.logging import log_json_stats as pyslowfast_log_json_stats

        (tmp_path / "ref").mkdir()
        pyslowfast_log_json_stats(stats, str(tmp_path / "ref"))
        assert open(tmp_path / "ref" / "json_stats.log").read().splitlines() == [line]
    assert json_stats(tmp_path, "train_iter_") == [
        {"_type": "train_iter_", "dt": 2.0, "iter": "1/4", "loss": 1.23457, "lr": 0.1}]


def test_log_model_info_works_on_the_cpu(caplog):
    cfg = four_frame_cfg()
    model = gta_slowfast.build_model(cfg)
    with caplog.at_level(logging.INFO):
        compat.log_model_info(model, cfg)
    assert "Params: {:,}".format(sum(p.numel() for p in model.parameters())) in caplog.text
    if MAIN:
        assert "Flops:" in caplog.text and "Activations:" in caplog.text


@needs_main
def test_done_when_mixup_soft_ce_clipping_tensorboard_train_and_test(tiny_ssv2, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "out"
    result = run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "MIXUP.ENABLE", True,
                     "MIXUP.LABEL_SMOOTH_VALUE", 0.1, "MODEL.LOSS_FUNC", "soft_cross_entropy",
                     "SOLVER.CLIP_GRAD_L2NORM", 1.0, "TENSORBOARD.ENABLE", True,
                     "TENSORBOARD.CONFUSION_MATRIX.ENABLE", True, "LOG_MODEL_INFO", True)
    assert result.returncode == 0, result.output[-4000:]
    assert "Flops:" in result.output
    iters = json_stats(out, "train_iter_")
    assert len(iters) == 4 and all(math.isfinite(row["grad_norm"]) for row in iters)
    (epoch,) = json_stats(out, "train_epoch")
    assert {"grad_norm", "dt", "dt_data", "dt_net", "RAM", "gpu_mem"} <= set(epoch)
    (val,) = json_stats(out, "val_epoch")
    assert val["min_top1_err"] == val["top1_err"]
    assert len(json_stats(out, "test_final")) == 1
    # One event file per writer, as PySlowFast's train_net and test_net each
    # open one: training's holds the scalars and validation's confusion matrix.
    files = sorted(glob.glob(str(out / "runs-gta_ssv2" / "events.out.tfevents.*")))
    assert len(files) == 2
    accumulators = [EventAccumulator(path, size_guidance={"scalars": 0, "images": 0}).Reload()
                    for path in files]
    (training,) = [acc for acc in accumulators if "Train/loss" in acc.Tags()["scalars"]]
    tags = training.Tags()
    assert {"Train/loss", "Train/lr", "Train/Top1_err", "Train/Top5_err",
            "Val/Top1_err", "Val/Top5_err"} <= set(tags["scalars"])
    assert [event.step for event in training.Scalars("Train/loss")] == [0, 1, 2, 3]
    assert all(any("Confusion" in tag for tag in acc.Tags()["images"]) for acc in accumulators)
