"""Shared helpers: repo paths, the block rows of the paper's Table 3,
reduced-size configs that run fast on a CPU, and the session's tiny data set."""

import pathlib

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat

REPO = pathlib.Path(__file__).resolve().parents[1]
# A test whose outcome does not depend on the PySlowFast generation (a
# tool's timed quick run, a FLOP count of fvcore over the same layers) runs
# once, under GitHub main, the product's home, so that CI's suites stay
# within their time.
once_under_main = pytest.mark.skipif(
    compat.GENERATION != "main",
    reason="does not depend on the PySlowFast generation: runs once, under GitHub main")
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))
# The GTA.BLOCK values of the paper's Table 3 (ablation of the temporal terms).
TABLE3_ROWS = ["SA", "TA", "TAPE", "PIXEL_GTA", "REGION_GTA", "SA+TA", "SA+TAPE",
               "SA+PIXEL_GTA", "SA+REGION_GTA", "SA+PIXEL_GTA+REGION_GTA"]


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


def dataset_cfg(config, data_dir, prefix, num_classes, *opts):
    """``small_cfg`` on a data set the tests wrote: annotations in
    ``data_dir``, videos or frame folders under ``prefix``, ``num_classes``
    classes, frames resized to 64 x 80 and cropped to 48 pixels."""
    return small_cfg(config, "DATA.PATH_TO_DATA_DIR", str(data_dir), "DATA.PATH_PREFIX",
                     str(prefix), "MODEL.NUM_CLASSES", num_classes, "GTA.DATA.RESIZE", "[64, 80]",
                     *opts, crop=48)


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


@pytest.fixture(scope="session")
def tiny_ssv2(tmp_path_factory):
    """The session's tiny synthetic SSv2 (``pipeline.make_tiny_dataset``),
    generated once. Tests only read it; a test that writes into a data set
    copies it first (``shutil.copytree``)."""
    from pipeline import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("tiny_ssv2"))
