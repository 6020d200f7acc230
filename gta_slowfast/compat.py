"""The one place that knows which PySlowFast generation is installed.

Two generations are in use (see the README):

* ``pyslowfast==1.0`` from PyPI (Dec 2019): models ``ResNetModel`` and
  ``SlowFastModel`` looked up in ``model_builder._MODEL_TYPES[MODEL.ARCH]``,
  the 2D arch without temporal pooling is called ``c2d_nopool``; no
  ``MODEL.MODEL_NAME``, ``TRAIN.MIXED_PRECISION`` or ``BN.NORM_TYPE`` keys;
  no tools; its ``build_model`` always calls CUDA.
* GitHub main (a clone on ``PYTHONPATH``): models ``ResNet`` and
  ``SlowFast`` in ``MODEL_REGISTRY``, looked up by ``MODEL.MODEL_NAME``; the
  same 2D arch is called ``slow_c2d`` and is missing from its own
  ``MODEL.SINGLE_PATHWAY_ARCH``; norms follow ``BN.NORM_TYPE``;
  ``tools/train_net.py`` and ``tools/test_net.py``, which since Aug 2024
  import Meta-internal ``vision.fair`` modules and fail elsewhere.

Both import ``detectron2.layers.ROIAlign`` in ``head_helper`` at import time,
for the AVA detection head only, and GitHub main's datasets import its
models. Where detectron2 is missing, this module imports PySlowFast with a
stand-in ``ROIAlign`` that raises a clear error when a detection head is
built, and leaves no ``detectron2`` module behind in ``sys.modules``.
"""

import contextlib
import importlib.util
import logging
import os
import sys
import types

import torch
from torch import nn

INSTALL_HINT = (
    "gta_slowfast is a plugin for PySlowFast, and no PySlowFast is installed "
    "(no module named 'slowfast'). Use one of:\n"
    "  * GitHub main: git clone https://github.com/facebookresearch/SlowFast "
    "and put the clone on PYTHONPATH (export PYTHONPATH=/path/to/SlowFast:"
    "$PYTHONPATH), with torchvision and pytorchvideo from git installed;\n"
    "  * PyPI: pip install pyslowfast==1.0 (or pip install -e .[pyslowfast])."
)

try:
    import slowfast  # noqa: F401
except ImportError as error:
    raise ImportError(INSTALL_HINT) from error

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


@contextlib.contextmanager
def _detectron2_stand_in():
    """While PySlowFast is imported without detectron2: a ``detectron2.layers``
    module whose ``ROIAlign`` is ``MissingROIAlign``; removed afterwards."""
    if DETECTRON2_AVAILABLE:
        yield
        return
    layers = types.ModuleType("detectron2.layers")
    layers.ROIAlign = MissingROIAlign
    package = types.ModuleType("detectron2")
    package.layers = layers
    sys.modules["detectron2"] = package
    sys.modules["detectron2.layers"] = layers
    try:
        yield
    finally:
        del sys.modules["detectron2.layers"]
        del sys.modules["detectron2"]


with _detectron2_stand_in():
    import slowfast.models.video_model_builder as _builder
    from slowfast.datasets.build import DATASET_REGISTRY
    from slowfast.models.nonlocal_helper import Nonlocal

if hasattr(_builder, "ResNet"):
    GENERATION = "main"
    ResNet = _builder.ResNet
    SlowFast = _builder.SlowFast
    from slowfast.models.batchnorm_helper import get_norm as _get_norm
    from slowfast.models.build import MODEL_REGISTRY
else:
    GENERATION = "1.0"
    ResNet = _builder.ResNetModel
    SlowFast = _builder.SlowFastModel
    MODEL_REGISTRY = None

# Temporal max-pool kernel after res2, per arch and pathway: [[t, h, w], ...].
POOL1 = _builder._POOL1

# The same architecture under the names the two generations give it.
_ARCH_ALIASES = {"slow_c2d": "c2d_nopool", "c2d_nopool": "slow_c2d"}

logger = logging.getLogger(__name__)

__all__ = [
    "DATASET_REGISTRY",
    "GENERATION",
    "MODEL_REGISTRY",
    "Nonlocal",
    "ResNet",
    "SlowFast",
    "POOL1",
    "complete_config",
    "cpu_mem_usage",
    "default_cfg",
    "find_pyslowfast_tools",
    "for_installed_pyslowfast",
    "gpu_mem_usage",
    "grad_norm",
    "installed_arch",
    "log_model_info",
    "mixup",
    "norm_module",
    "sync_batchnorm_unavailable",
    "tensorboard_writer",
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


def sync_batchnorm_unavailable(cfg):
    """Why ``BN.NORM_TYPE: sync_batchnorm`` cannot be built in this job, or
    None where it can: GitHub main's ``NaiveSyncBatchNorm3d`` needs GPUs and
    asserts at construction that the processes per machine come in groups of
    ``BN.NUM_SYNC_DEVICES`` (unless ``BN.GLOBAL_SYNC``); pyslowfast 1.0 has
    no sync BN.

    Returns:
        str or None
    """
    if GENERATION != "main":
        return "pyslowfast {} has no synchronised BatchNorm".format(GENERATION)
    if not cfg.NUM_GPUS:
        return "NUM_GPUS is 0"
    if cfg.BN.GLOBAL_SYNC:
        return None
    from pytorchvideo.layers.distributed import get_local_size

    if get_local_size() % cfg.BN.NUM_SYNC_DEVICES:
        return "{} process(es) per machine do not form groups of BN.NUM_SYNC_DEVICES = {}".format(
            get_local_size(), cfg.BN.NUM_SYNC_DEVICES
        )
    return None


def for_installed_pyslowfast(cfg):
    """Returns ``cfg``, or a copy that the installed PySlowFast's model
    classes read as meant: ``MODEL.ARCH`` under the installed name
    (``slow_c2d`` <-> ``c2d_nopool``); on 1.0 ``DATA.CROP_SIZE`` (which
    sizes 1.0's head) set to ``DATA.TRAIN_CROP_SIZE`` (what GitHub main
    reads); and ``BN.NORM_TYPE: sync_batchnorm`` as ``batchnorm``, with a
    warning, where ``sync_batchnorm_unavailable`` says why it cannot be.
    """
    arch = installed_arch(cfg.MODEL.ARCH)
    legacy_crop = "CROP_SIZE" in cfg.DATA
    no_sync = cfg.BN.NORM_TYPE == "sync_batchnorm" and sync_batchnorm_unavailable(cfg)
    if (
        arch == cfg.MODEL.ARCH
        and (not legacy_crop or cfg.DATA.CROP_SIZE == cfg.DATA.TRAIN_CROP_SIZE)
        and not no_sync
    ):
        return cfg
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.ARCH = arch
    if legacy_crop:
        cfg.DATA.CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
    if no_sync:
        logger.warning(
            "BN.NORM_TYPE sync_batchnorm: building plain BatchNorm instead, as %s.", no_sync
        )
        cfg.BN.NORM_TYPE = "batchnorm"
    return cfg


def complete_config(cfg):
    """Gives a PySlowFast config, in place, what one YAML file needs to mean
    the same on both generations.

    * On 1.0, the GitHub-main keys the plugin reads: ``MODEL.MODEL_NAME``
      (informational there: 1.0 picks the class from ``MODEL.ARCH``),
      ``MODEL.FROZEN_BN``, ``TRAIN.MIXED_PRECISION``, and ``BN.NORM_TYPE``,
      ``BN.NUM_SYNC_DEVICES``, ``BN.GLOBAL_SYNC`` (1.0 builds plain BN
      whatever they say, see ``for_installed_pyslowfast``); and the training
      switches of GitHub main's ``train_net`` that need nothing of main's
      code: ``SOLVER.CLIP_GRAD_VAL``, ``SOLVER.CLIP_GRAD_L2NORM``,
      ``TRAIN.KILL_LOSS_EXPLOSION_FACTOR``, ``TRAIN.CHECKPOINT_EPOCH_RESET``,
      ``TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN``, ``TRAIN.CHECKPOINT_IN_INIT``
      and ``LOG_MODEL_INFO``, with main's defaults (1.0's loader already
      continues from a checkpoint's epoch and optimizer, as
      ``CHECKPOINT_EPOCH_RESET: False``).
    * ``SOLVER.WARMUP_EPOCHS`` typed as float, as on main (1.0: int).
    * Every single-pathway arch of the model builder, under both
      generations' names, listed in ``MODEL.SINGLE_PATHWAY_ARCH``: GitHub
      main's list lacks its own ``slow_c2d``, which its datasets and model
      statistics then reject, and a YAML may name it ``c2d_nopool``.

    Returns:
        CfgNode: ``cfg``.
    """
    if "MODEL_NAME" not in cfg.MODEL:
        # Name of the model class in MODEL_REGISTRY (GitHub main); on 1.0 the
        # class follows from MODEL.ARCH and this key is informational.
        cfg.MODEL.MODEL_NAME = "ResNet"
    if "FROZEN_BN" not in cfg.MODEL:
        # Keep every BatchNorm's running statistics fixed while training, as
        # GitHub main's MODEL.FROZEN_BN.
        cfg.MODEL.FROZEN_BN = False
    if "MIXED_PRECISION" not in cfg.TRAIN:
        # Train under autocast (fp16 with a GradScaler on CUDA, bf16 on the
        # CPU), as GitHub main's TRAIN.MIXED_PRECISION.
        cfg.TRAIN.MIXED_PRECISION = False
    if "NORM_TYPE" not in cfg.BN:
        # GitHub main's norm keys; 1.0 builds plain BatchNorm3d.
        cfg.BN.NORM_TYPE = "batchnorm"
        cfg.BN.NUM_SYNC_DEVICES = 1
        cfg.BN.GLOBAL_SYNC = False
    if "CLIP_GRAD_VAL" not in cfg.SOLVER:
        # GitHub main's training switches, with its defaults.
        cfg.SOLVER.CLIP_GRAD_VAL = None
        cfg.SOLVER.CLIP_GRAD_L2NORM = None
        cfg.TRAIN.KILL_LOSS_EXPLOSION_FACTOR = 0.0
        cfg.TRAIN.CHECKPOINT_EPOCH_RESET = False
        cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN = ()
        cfg.TRAIN.CHECKPOINT_IN_INIT = False
        cfg.LOG_MODEL_INFO = True
    cfg.SOLVER.WARMUP_EPOCHS = float(cfg.SOLVER.WARMUP_EPOCHS)
    single_pathway = [arch for arch, pathways in POOL1.items() if len(pathways) == 1]
    single_pathway += [_ARCH_ALIASES[arch] for arch in single_pathway if arch in _ARCH_ALIASES]
    cfg.MODEL.SINGLE_PATHWAY_ARCH = list(cfg.MODEL.SINGLE_PATHWAY_ARCH) + [
        arch for arch in single_pathway if arch not in cfg.MODEL.SINGLE_PATHWAY_ARCH
    ]
    return cfg


def default_cfg():
    """PySlowFast's default config, completed by ``complete_config``."""
    from slowfast.config.defaults import get_cfg

    return complete_config(get_cfg())


def norm_module(cfg):
    """The norm class PySlowFast's own blocks use for ``cfg``: GitHub main's
    ``get_norm`` (``BN.NORM_TYPE``: batchnorm, sub_batchnorm, sync_batchnorm);
    ``nn.BatchNorm3d`` on 1.0, which has no other."""
    if GENERATION == "main":
        return _get_norm(cfg)
    return nn.BatchNorm3d


def mixup(cfg):
    """PySlowFast's ``MixUp`` built from ``MIXUP.*`` as GitHub main's
    ``train_net`` builds it, or None where MIXUP.ENABLE is off (or on 1.0,
    which has neither the keys nor the class)."""
    if "MIXUP" not in cfg or not cfg.MIXUP.ENABLE:
        return None
    from slowfast.datasets.mixup import MixUp

    return MixUp(
        mixup_alpha=cfg.MIXUP.ALPHA,
        cutmix_alpha=cfg.MIXUP.CUTMIX_ALPHA,
        mix_prob=cfg.MIXUP.PROB,
        switch_prob=cfg.MIXUP.SWITCH_PROB,
        label_smoothing=cfg.MIXUP.LABEL_SMOOTH_VALUE,
        num_classes=cfg.MODEL.NUM_CLASSES,
    )


def grad_norm(parameters):
    """The L2 norm of the gradients of ``parameters`` (0-dim tensor):
    GitHub main's ``optimizer.get_grad_norm_``; on 1.0, which has none,
    torch's ``get_total_norm`` of the same gradients."""
    if GENERATION == "main":
        from slowfast.models.optimizer import get_grad_norm_

        return get_grad_norm_(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.tensor(0.0)


def gpu_mem_usage():
    """PySlowFast's ``misc.gpu_mem_usage`` in GB (1.0's returns MB)."""
    from slowfast.utils.misc import gpu_mem_usage as usage

    return usage() if GENERATION == "main" else usage() / 1024


def cpu_mem_usage():
    """GitHub main's ``misc.cpu_mem_usage``: (used, total) RAM in GB; None
    on 1.0, which has no such function."""
    if GENERATION != "main":
        return None
    from slowfast.utils.misc import cpu_mem_usage as usage

    return usage()


def log_model_info(model, cfg):
    """PySlowFast's ``misc.log_model_info`` for ``model`` (not DDP-wrapped):
    on GitHub main with the training input (parameters, GFLOPs and
    activations of one clip, as its ``train_net``), on 1.0 the parameters
    and memory it logs."""
    from slowfast.utils import misc

    if GENERATION == "main":
        misc.log_model_info(model, cfg, use_train_input=True)
    else:
        misc.log_model_info(model)


def tensorboard_writer(cfg):
    """GitHub main's ``TensorboardWriter(cfg)`` (event files under
    OUTPUT_DIR/TENSORBOARD.LOG_DIR, or ``runs-<TRAIN.DATASET>``) where
    TENSORBOARD.ENABLE; None where off, or on 1.0, which has neither."""
    if "TENSORBOARD" not in cfg or not cfg.TENSORBOARD.ENABLE:
        return None
    with _detectron2_stand_in():
        from slowfast.visualization.tensorboard_vis import TensorboardWriter

    return TensorboardWriter(cfg)


class PySlowFastTools:
    """GitHub main's ``train`` and ``test`` (from ``tools/train_net.py`` and
    ``tools/test_net.py``), or why they are not used.

    Attributes:
        train (callable or None), test (callable or None): None where not
            used.
        reason (str): why these tools are used or not, for the log.
    """

    def __init__(self, train=None, test=None, reason=""):
        self.train = train
        self.test = test
        self.reason = reason

    @staticmethod
    def prepare_config(cfg):
        """What PySlowFast's ``tools/run_net.py`` does to a config before
        its tools see it (``assert_and_infer_cfg``: checks, and the learning
        rate scaled by NUM_SHARDS where SOLVER.BASE_LR_SCALE_NUM_SHARDS)."""
        from slowfast.config.defaults import assert_and_infer_cfg

        return assert_and_infer_cfg(cfg)

    @property
    def available(self):
        return self.train is not None


def _clone_root():
    """The folder holding the imported ``slowfast`` package."""
    return os.path.dirname(os.path.dirname(os.path.abspath(slowfast.__file__)))


def _load_tool(tools_dir, name):
    spec = importlib.util.spec_from_file_location(
        "pyslowfast_tools_" + name, os.path.join(tools_dir, name + ".py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_pyslowfast_tools():
    """GitHub main's training and testing functions, where they can be used.

    ``$PYSLOWFAST_ROOT`` names the SlowFast clone (empty: use the plugin's
    loop on purpose); unset, the clone the imported ``slowfast`` package
    comes from. Since Aug 2024 the tools import Meta-internal modules; then
    this says why they cannot be used. Their ``train_net`` calls
    ``torch.cuda.synchronize()`` unguarded; on a machine without CUDA that
    call becomes a no-op.

    Returns:
        PySlowFastTools
    Raises:
        ValueError: ``$PYSLOWFAST_ROOT`` is not the clone ``slowfast`` is
            imported from.
    """
    if GENERATION != "main":
        return PySlowFastTools(
            reason="pyslowfast {} is installed, which ships no tools".format(GENERATION)
        )
    root = os.environ.get("PYSLOWFAST_ROOT")
    if root == "":
        return PySlowFastTools(reason="PYSLOWFAST_ROOT is set empty")
    clone = _clone_root()
    if root is not None and os.path.realpath(root) != os.path.realpath(clone):
        raise ValueError(
            "PYSLOWFAST_ROOT is {} but slowfast is imported from {}: put the "
            "clone on PYTHONPATH, or set PYSLOWFAST_ROOT to the clone you "
            "import.".format(root, clone)
        )
    tools_dir = os.path.join(clone, "tools")
    if not os.path.isfile(os.path.join(tools_dir, "train_net.py")):
        return PySlowFastTools(reason="{} has no tools/train_net.py".format(clone))
    try:
        train_net = _load_tool(tools_dir, "train_net")
        test_net = _load_tool(tools_dir, "test_net")
    except ImportError as error:
        return PySlowFastTools(
            reason="PySlowFast's tools in {} cannot be imported ({}: {}); set "
            "PYSLOWFAST_ROOT= (empty) to choose the plugin's loop without this "
            "message".format(tools_dir, type(error).__name__, error)
        )
    if not torch.cuda.is_available():
        torch.cuda.synchronize = lambda *args, **kwargs: None
    return PySlowFastTools(
        train_net.train,
        test_net.test,
        reason="GitHub-main PySlowFast's tools are in {}".format(tools_dir),
    )
