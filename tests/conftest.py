"""Shared helpers: repo paths and reduced-size configs that run fast on a CPU."""

import pathlib

import pytest
import torch

import gta_slowfast

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))


def small_cfg(config, *opts, width=8, crop=64):
    """A repo config (path relative to configs/) shrunk for CPU tests.

    Widths drop to ``width`` channels per group and crops to ``crop`` pixels;
    everything else, including the block positions and GTA keys, is kept.
    """
    cfg = gta_slowfast.load_config(
        str(REPO / "configs" / config),
        [
            "NUM_GPUS", 0,
            "RESNET.WIDTH_PER_GROUP", width,
            "DATA.TRAIN_CROP_SIZE", crop,
            "DATA.TEST_CROP_SIZE", crop,
            "MODEL.NUM_CLASSES", 5,
        ] + list(opts),
    )
    return cfg


def randomize_norms(model, generator=None):
    """Gives every BatchNorm random affine parameters and running statistics,
    so zero-initialised blocks stop being the identity."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            shape = module.weight.shape
            with torch.no_grad():
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(shape, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
    return model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
