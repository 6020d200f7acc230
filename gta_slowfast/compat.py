"""The one place that knows which PySlowFast generation is installed.

Two generations are in use (see the README):

* ``pyslowfast==1.0`` from PyPI (Dec 2019): models ``ResNetModel`` and
  ``SlowFastModel`` looked up in ``model_builder._MODEL_TYPES[MODEL.ARCH]``,
  the 2D arch without temporal pooling is called ``c2d_nopool``, there is no
  ``MODEL.MODEL_NAME`` key and its ``build_model`` always calls CUDA.
* GitHub main: models ``ResNet`` and ``SlowFast`` in ``MODEL_REGISTRY``,
  looked up by ``MODEL.MODEL_NAME``; the same 2D arch is called ``slow_c2d``.

Both import ``detectron2.layers.ROIAlign`` in ``head_helper`` at import time,
for the AVA detection head only. Where detectron2 is missing, this module
imports PySlowFast's models with a stand-in ``ROIAlign`` that raises a clear
error when a detection head is built, and leaves no ``detectron2`` module
behind in ``sys.modules``.
"""

import importlib.util
import logging
import os
import sys
import types

import torch

DETECTRON2_AVAILABLE = importlib.util.find_spec("detectron2") is not None


class MissingROIAlign:
    """Stand-in for ``detectron2.layers.ROIAlign`` when detectron2 is absent."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            "PySlowFast's detection head (DETECTION.ENABLE: True, used for "
            "AVA) needs detectron2's ROIAlign, and detectron2 is not "
            "installed. Install detectron2, or set DETECTION.ENABLE: False "
            "for classification."
        )


def _import_video_model_builder():
    if DETECTRON2_AVAILABLE:
        import slowfast.models.video_model_builder as builder

        return builder
    layers = types.ModuleType("detectron2.layers")
    layers.ROIAlign = MissingROIAlign
    package = types.ModuleType("detectron2")
    package.layers = layers
    sys.modules["detectron2"] = package
    sys.modules["detectron2.layers"] = layers
    try:
        import slowfast.models.video_model_builder as builder
    finally:
        del sys.modules["detectron2.layers"]
        del sys.modules["detectron2"]
    return builder


_builder = _import_video_model_builder()

from slowfast.models.nonlocal_helper import Nonlocal  # noqa: E402

if hasattr(_builder, "ResNet"):
    GENERATION = "main"
    ResNet = _builder.ResNet
    SlowFast = _builder.SlowFast
    from slowfast.models.build import MODEL_REGISTRY  # noqa: E402
else:
    GENERATION = "1.0"
    ResNet = _builder.ResNetModel
    SlowFast = _builder.SlowFastModel
    MODEL_REGISTRY = None

# Temporal max-pool kernel after res2, per arch and pathway: [[t, h, w], ...].
POOL1 = _builder._POOL1

# The same architecture under the names the two generations give it.
_ARCH_ALIASES = {"slow_c2d": "c2d_nopool", "c2d_nopool": "slow_c2d"}

__all__ = [
    "GENERATION",
    "MODEL_REGISTRY",
    "Nonlocal",
    "ResNet",
    "SlowFast",
    "POOL1",
    "installed_arch",
    "for_installed_pyslowfast",
    "default_cfg",
]


def installed_arch(arch):
    """Returns the installed generation's name for ``MODEL.ARCH`` ``arch``."""
    if arch in POOL1:
        return arch
    alias = _ARCH_ALIASES.get(arch)
    if alias in POOL1:
        return alias
    raise ValueError(
        "MODEL.ARCH '{}' is not known to PySlowFast {}; allowed values: "
        "{}".format(arch, GENERATION, sorted(set(POOL1) | set(_ARCH_ALIASES)))
    )


def for_installed_pyslowfast(cfg):
    """Returns ``cfg``, or a copy that the installed PySlowFast's model
    classes read as meant: ``MODEL.ARCH`` under the installed name
    (``slow_c2d`` <-> ``c2d_nopool``), and on 1.0 ``DATA.CROP_SIZE`` (which
    sizes 1.0's head) set to ``DATA.TRAIN_CROP_SIZE`` (what GitHub main reads).
    """
    arch = installed_arch(cfg.MODEL.ARCH)
    legacy_crop = "CROP_SIZE" in cfg.DATA
    if arch == cfg.MODEL.ARCH and (
        not legacy_crop or cfg.DATA.CROP_SIZE == cfg.DATA.TRAIN_CROP_SIZE
    ):
        return cfg
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.ARCH = arch
    if legacy_crop:
        cfg.DATA.CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
    return cfg


def default_cfg():
    """PySlowFast's default config, as GitHub main types it, so that one YAML
    file merges on both generations: 1.0 lacks ``MODEL.MODEL_NAME`` and
    types ``SOLVER.WARMUP_EPOCHS`` as int (main: float, e.g. 34.0)."""
    from slowfast.config.defaults import get_cfg

    cfg = get_cfg()
    if "MODEL_NAME" not in cfg.MODEL:
        # Name of the model class in MODEL_REGISTRY (GitHub main); on 1.0 the
        # class follows from MODEL.ARCH and this key is informational.
        cfg.MODEL.MODEL_NAME = "ResNet"
    cfg.SOLVER.WARMUP_EPOCHS = float(cfg.SOLVER.WARMUP_EPOCHS)
    return cfg


def find_pyslowfast_tools(search_dir):
    """GitHub main's ``tools/train_net.py`` and ``tools/test_net.py``.

    Looked for under ``$PYSLOWFAST_ROOT``, then ``search_dir/SlowFast``;
    only with GitHub-main PySlowFast installed (1.0 ships no tools).
    Their ``train_net`` calls ``torch.cuda.synchronize()`` unguarded; on a
    machine without CUDA that call becomes a no-op here.

    Returns:
        tuple: ``(train, test)`` functions, or None.
    """
    if GENERATION != "main":
        return None
    for root in (os.environ.get("PYSLOWFAST_ROOT"), os.path.join(search_dir, "SlowFast")):
        tools = os.path.join(root, "tools") if root else None
        if tools and os.path.isfile(os.path.join(tools, "train_net.py")):
            break
    else:
        return None
    sys.path.insert(0, tools)
    import test_net
    import train_net

    if not torch.cuda.is_available():
        torch.cuda.synchronize = lambda *args, **kwargs: None
    logging.getLogger(__name__).info("Using PySlowFast's tools from %s", tools)
    return train_net.train, test_net.test

