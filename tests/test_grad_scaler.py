"""The CUDA-only paths of the plugin's loop, run on the CPU where torch
allows: TRAIN.MIXED_PRECISION's fp16 autocast with a GradScaler (through
MixedPrecision, with torch's CPU GradScaler and fp16 autocast on the CPU),
its skipped steps and its state in checkpoints; DATA_LOADER.PIN_MEMORY and
the non-blocking transfers of the inputs."""

import copy

import pytest
import torch

import gta_slowfast

from gta_slowfast.datasets import loader as loader_module
from gta_slowfast.engine.checkpoint import read_checkpoint, restore, save_checkpoint
from gta_slowfast.engine.mixed_precision import MixedPrecision
from gta_slowfast.engine.train import _to_device

from conftest import small_cfg

pytestmark = pytest.mark.skipif(
    not hasattr(torch.amp, "GradScaler"),
    reason="torch {} has no CPU GradScaler (torch.amp.GradScaler, torch 2.3+)".format(
        torch.__version__))

CONFIG = "SSv2/C2D_GTA_8x1_R50.yaml"
LR = 0.5


@pytest.fixture
def cfg():
    return small_cfg(CONFIG, "TRAIN.MIXED_PRECISION", True)


def fp16(cfg):
    """The loop's MixedPrecision of ``cfg`` with GTA.TRAIN.MIXED_PRECISION_DTYPE
    float16: fp16 autocast and a GradScaler on the CPU."""
    cfg = cfg.clone()
    cfg.GTA.TRAIN.MIXED_PRECISION_DTYPE = "float16"
    return MixedPrecision(cfg)


def model_and_batch():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    return model, torch.randn(8, 16), torch.randint(0, 4, (8,))


def loop_step(model, optimizer, precision, x, labels):
    """One step in the order of the loop's train_epoch: autocast forward
    and loss, zero_grad, backward, unscale, step."""
    with precision.autocast():
        loss = torch.nn.functional.cross_entropy(model(x), labels)
    optimizer.zero_grad()
    precision.backward(loss)
    precision.unscale(optimizer)
    precision.step(optimizer)
    return loss


def test_the_dtype_is_fp16_with_a_scaler_on_cuda_and_bf16_on_the_cpu_unless_chosen(cfg):
    cpu = MixedPrecision(cfg)
    assert (cpu.device_type, cpu.dtype, cpu.scaler) == ("cpu", torch.bfloat16, None)
    assert cpu.describe() == "bf16 autocast on the CPU"
    gpu_cfg = cfg.clone()
    gpu_cfg.NUM_GPUS = 1
    gpu = MixedPrecision(gpu_cfg)
    assert (gpu.device_type, gpu.dtype) == ("cuda", torch.float16)
    assert gpu.describe() == "fp16 autocast with a GradScaler on CUDA"
    gpu_cfg.GTA.TRAIN.MIXED_PRECISION_DTYPE = "bfloat16"
    gpu = MixedPrecision(gpu_cfg)
    assert (gpu.device_type, gpu.dtype, gpu.scaler) == ("cuda", torch.bfloat16, None)
    assert gpu.describe() == "bf16 autocast on CUDA"
    cpu = fp16(cfg)
    assert (cpu.device_type, cpu.dtype) == ("cpu", torch.float16) and cpu.scaler is not None
    assert cpu.describe() == "fp16 autocast with a GradScaler on the CPU"
    off = cfg.clone()
    off.TRAIN.MIXED_PRECISION = False
    assert MixedPrecision(off).scaler is None and not MixedPrecision(off).enabled


def test_a_dtype_without_mixed_precision_or_of_another_name_is_refused(cfg):
    off = cfg.clone()
    off.TRAIN.MIXED_PRECISION = False
    off.GTA.TRAIN.MIXED_PRECISION_DTYPE = "bfloat16"
    with pytest.raises(ValueError, match="GTA.TRAIN.MIXED_PRECISION_DTYPE 'bfloat16' chooses "
                       "the dtype of TRAIN.MIXED_PRECISION, which is False"):
        gta_slowfast.config.check_gta_config(off)
    cfg.GTA.TRAIN.MIXED_PRECISION_DTYPE = "fp16"
    with pytest.raises(ValueError, match="GTA.TRAIN.MIXED_PRECISION_DTYPE"):
        gta_slowfast.config.check_gta_config(cfg)


def test_an_fp16_scaled_step_updates_as_an_fp32_step(cfg):
    model, x, labels = model_and_batch()
    reference = copy.deepcopy(model)
    precision = fp16(cfg)
    assert precision.describe() == "fp16 autocast with a GradScaler on the CPU"
    scale = precision.scaler.get_scale()
    assert scale == 2.0 ** 16  # torch's initial scale

    # The backward pass gets the loss times the scale.
    with precision.autocast():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, labels)
    assert logits.dtype == torch.float16
    precision.backward(loss)
    scaled = [p.grad.clone() for p in model.parameters()]
    torch.nn.functional.cross_entropy(reference(x), labels).backward()
    for grad, ref in zip(scaled, reference.parameters()):
        torch.testing.assert_close(grad / scale, ref.grad, rtol=2e-2, atol=2e-3)

    model, _, _ = model_and_batch()
    reference = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loop_step(model, optimizer, precision, x, labels)
    fp32 = torch.optim.SGD(reference.parameters(), lr=LR)
    fp32.zero_grad()
    torch.nn.functional.cross_entropy(reference(x), labels).backward()
    fp32.step()
    moved = 0.0
    for param, ref, before in zip(model.parameters(), reference.parameters(),
                                  model_and_batch()[0].parameters()):
        torch.testing.assert_close(param, ref, rtol=1e-2, atol=2e-3)
        moved = max(moved, (param - before).abs().max().item())
    assert moved > 1e-2  # the step did move the parameters
    assert precision.scaler.get_scale() == scale  # no overflow: the scale stays


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_a_step_with_non_finite_gradients_is_skipped_and_the_scale_lowered(cfg, bad):
    model, x, labels = model_and_batch()
    before = copy.deepcopy(model)
    precision = fp16(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    model[0].weight.register_hook(lambda grad: grad * bad)
    loss = loop_step(model, optimizer, precision, x, labels)
    assert torch.isfinite(loss)  # a finite loss: the loop goes on, the scaler skips
    for param, old in zip(model.parameters(), before.parameters()):
        assert torch.equal(param, old)
    assert optimizer.state_dict()["state"] == {}  # no momentum buffer: no step taken
    assert precision.scaler.get_scale() == 2.0 ** 16 * 0.5  # torch's backoff factor


def test_the_scaler_state_goes_into_checkpoints_and_back(cfg, tmp_path):
    model, x, labels = model_and_batch()
    precision = fp16(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    hook = model[0].weight.register_hook(lambda grad: grad * float("inf"))
    loop_step(model, optimizer, precision, x, labels)
    loop_step(model, optimizer, precision, x, labels)
    hook.remove()
    lowered = precision.scaler.get_scale()
    assert lowered == 2.0 ** 14
    # The checkpoint of a model of the plugin (the scaler's state is its own).
    model = gta_slowfast.build_model(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    path = save_checkpoint(str(tmp_path), model, optimizer, 0, cfg, precision.scaler)
    state = read_checkpoint(path)
    assert state["scaler_state"]["scale"] == lowered

    resumed = fp16(cfg)
    assert resumed.scaler.get_scale() == 2.0 ** 16
    fresh = gta_slowfast.build_model(cfg)
    restore(state, path, fresh, torch.optim.SGD(fresh.parameters(), lr=LR), resumed.scaler)
    assert resumed.scaler.state_dict() == precision.scaler.state_dict()
    # bf16 on the CPU has no scaler, and its checkpoints no scaler_state.
    path = save_checkpoint(str(tmp_path), model, optimizer, 1, cfg, MixedPrecision(cfg).scaler)
    assert "scaler_state" not in read_checkpoint(path)


@pytest.mark.parametrize("cuda", [False, True])
def test_training_loader_pins_memory_only_where_cuda_is(cfg, monkeypatch, cuda):
    cfg.DATA_LOADER.PIN_MEMORY = True
    cfg.DATA_LOADER.NUM_WORKERS = 0
    monkeypatch.setattr(loader_module, "build_dataset",
                        lambda name, cfg, split: torch.utils.data.TensorDataset(torch.zeros(4, 1)))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert loader_module.construct_loader(cfg, "train").pin_memory is cuda
    cfg.DATA_LOADER.PIN_MEMORY = False
    assert loader_module.construct_loader(cfg, "train").pin_memory is False


def test_inputs_move_to_the_device_without_blocking():
    calls = []

    class Moved:
        def __init__(self, name):
            self.name = name

        def to(self, device, **kwargs):
            calls.append((self.name, device, kwargs))
            return self

    inputs, labels = _to_device([Moved("slow"), Moved("fast")], Moved("labels"), "cuda:0")
    assert [x.name for x in inputs] == ["slow", "fast"] and labels.name == "labels"
    assert calls[:2] == [("slow", "cuda:0", {"non_blocking": True}),
                         ("fast", "cuda:0", {"non_blocking": True})]
    assert calls[2][:2] == ("labels", "cuda:0")
