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
  ``tools/train_net.py`` and ``tools/test_net.py`` (found and run by
  ``gta_slowfast.engine.pyslowfast_tools``); ``prepare_config`` runs main's
  ``assert_and_infer_cfg``.

Both import ``detectron2.layers.ROIAlign`` in ``head_helper`` at import time,
for the AVA detection head only, and GitHub main's datasets import its
models. Where detectron2 is missing, this module imports PySlowFast with a
stand-in ``ROIAlign`` that raises a clear error when a detection head is
built, and leaves no ``detectron2`` module behind in ``sys.modules``.
"""

import contextlib
import copy
import functools
import importlib.util
import logging
import sys
import traceback
import types

import torch
from torch import nn

from gta_slowfast.process_group import several_processes

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
    "config_value",
    "create_local_process_groups",
    "ddp_communication_hook",
    "cpu_mem_usage",
    "default_cfg",
    "for_installed_pyslowfast",
    "gpu_mem_usage",
    "grad_norm",
    "installed_arch",
    "installed_default",
    "multiple_samples_collate",
    "log_model_info",
    "mixup",
    "norm_module",
    "random_augment",
    "random_erasing",
    "relative_resized_crop",
    "prepare_config",
    "sync_batchnorm_unavailable",
    "tensorboard_writer",
    "training_clips_per_video",
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
    None where it can: pyslowfast 1.0 has no sync BN; GitHub main's
    ``NaiveSyncBatchNorm3d`` (pytorchvideo's) asserts at construction that
    this machine's processes come in groups of ``BN.NUM_SYNC_DEVICES``
    (unless ``BN.GLOBAL_SYNC``). It synchronises over whatever backend the
    process group has, gloo on the CPU included; in one process it
    normalises as plain BatchNorm.

    Returns:
        str or None
    Raises:
        RuntimeError: a process group of several processes is running
            without the per-machine groups ``create_local_process_groups``
            makes, which pytorchvideo's BatchNorm would assert on.
    """
    if GENERATION != "main":
        return "pyslowfast {} has no synchronised BatchNorm".format(GENERATION)
    if cfg.BN.GLOBAL_SYNC:
        return None
    from pytorchvideo.layers import distributed as pytorchvideo_distributed

    if several_processes() and pytorchvideo_distributed._LOCAL_PROCESS_GROUP is None:
        raise RuntimeError(
            "BN.NORM_TYPE sync_batchnorm with BN.GLOBAL_SYNC False synchronises within each "
            "machine's process group, and none was created: start the job with "
            "gta_slowfast.engine.launch.launch_job (tools/run_net.py, torchrun), or call "
            "gta_slowfast.compat.create_local_process_groups after joining the process group."
        )
    local_size = pytorchvideo_distributed.get_local_size()
    if (cfg.BN.NUM_SYNC_DEVICES or 0) > 0 and local_size % cfg.BN.NUM_SYNC_DEVICES:
        return "{} process(es) per machine do not form groups of BN.NUM_SYNC_DEVICES = {}".format(
            local_size, cfg.BN.NUM_SYNC_DEVICES
        )
    return None


def create_local_process_groups(processes_per_machine, shard_id):
    """Creates the per-machine process groups that GitHub main's sync BN
    (``BN.NUM_SYNC_DEVICES``) and ``get_local_size``/``get_local_rank``
    read, in every process of a job that has joined its process group;
    nothing on pyslowfast 1.0.

    pytorchvideo's ``init_distributed_training`` (what PySlowFast's own
    ``slowfast.utils.distributed.init_distributed_training`` calls with
    NUM_GPUS) makes them for several processes per machine, counting CPU
    processes too here; for one process per machine it makes none, and
    then each process is its machine's group. A collective call: every
    process of the job makes it, in the same order.

    Args:
        processes_per_machine (int): processes on each machine (GPUs, or
            CPU processes).
        shard_id (int): this machine's index (SHARD_ID); with one process
            per machine, also its rank.
    """
    if GENERATION != "main":
        return
    from pytorchvideo.layers import distributed as pytorchvideo_distributed

    if processes_per_machine > 1:
        pytorchvideo_distributed.init_distributed_training(processes_per_machine, shard_id)
        return
    world = torch.distributed.get_world_size()
    groups = [torch.distributed.new_group([rank]) for rank in range(world)]
    pytorchvideo_distributed._LOCAL_PROCESS_GROUP = groups[torch.distributed.get_rank()]


def ddp_communication_hook(cfg):
    """The DDP communication hook ``cfg`` asks for, or None: with GitHub
    main's ``MODEL.FP16_ALLREDUCE``, torch's ``fp16_compress_hook``
    (gradients averaged in fp16), which main's ``build_model`` registers;
    pyslowfast 1.0 has no such key."""
    if not cfg.MODEL.get("FP16_ALLREDUCE", False):
        return None
    from torch.distributed.algorithms.ddp_comm_hooks import default as default_hooks

    return default_hooks.fp16_compress_hook


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


# GitHub main's keys that pyslowfast 1.0 lacks and the plugin reads on both
# generations, with main's defaults.
MAIN_KEYS_FOR_1_0 = (
    # The model class in MODEL_REGISTRY; on 1.0 the class follows from MODEL.ARCH.
    ("MODEL.MODEL_NAME", "ResNet"),
    # Every BatchNorm's running statistics fixed while training.
    ("MODEL.FROZEN_BN", False),
    # Autocast: fp16 with a GradScaler on CUDA, bf16 on the CPU.
    ("TRAIN.MIXED_PRECISION", False),
    # 1.0 builds plain BatchNorm3d (for_installed_pyslowfast).
    ("BN.NORM_TYPE", "batchnorm"),
    # Processes a sync BN group spans.
    ("BN.NUM_SYNC_DEVICES", 1),
    # Sync BN over every process.
    ("BN.GLOBAL_SYNC", False),
    # How a video's view scores combine at test: sum or max.
    ("DATA.ENSEMBLE_METHOD", "sum"),
    # Test once per value, with TEST.NUM_ENSEMBLE_VIEWS set to it (empty: once).
    ("TEST.NUM_TEMPORAL_CLIPS", []),
    # Where non-empty, [video scores, labels] pickled to this path under OUTPUT_DIR.
    ("TEST.SAVE_RESULTS_PATH", ""),
    # Flip training clips horizontally at random.
    ("DATA.RANDOM_FLIP", True),
    # Draw the short side's inverse uniformly in training.
    ("DATA.INV_UNIFORM_SAMPLE", False),
    # Feed the model BGR.
    ("DATA.REVERSE_INPUT_CHANNEL", False),
    # The frame rate DATA.SAMPLING_RATE counts frames at (1.0's decoder: always 30).
    ("DATA.TARGET_FPS", 30),
    # Clip each gradient to this value.
    ("SOLVER.CLIP_GRAD_VAL", None),
    # Clip the gradients' L2 norm to this.
    ("SOLVER.CLIP_GRAD_L2NORM", None),
    # Stop where the loss exceeds this factor of the recent losses.
    ("TRAIN.KILL_LOSS_EXPLOSION_FACTOR", 0.0),
    # Start TRAIN.CHECKPOINT_FILE_PATH at epoch 1 with a fresh optimizer.
    ("TRAIN.CHECKPOINT_EPOCH_RESET", False),
    # Prefixes removed from the checkpoint's tensor names.
    ("TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN", ()),
    # MViT's ImageNet initialisation.
    ("TRAIN.CHECKPOINT_IN_INIT", False),
    # Log the model's parameters, GFLOPs and activations.
    ("LOG_MODEL_INFO", True),
)


def complete_config(cfg):
    """Gives a PySlowFast config, in place, what one YAML file needs to mean
    the same on both generations.

    * On 1.0, the GitHub-main keys of ``MAIN_KEYS_FOR_1_0`` with main's
      defaults: the model name and norm keys (1.0 builds plain BN whatever
      they say, see ``for_installed_pyslowfast``), the data keys the
      plugin's datasets read, the multi-view test keys of main's
      ``tools/test_net.py``, and the training switches of its ``train_net``
      that need nothing of main's code (1.0's loader already continues from
      a checkpoint's epoch and optimizer, as ``CHECKPOINT_EPOCH_RESET:
      False``).
    * ``SOLVER.WARMUP_EPOCHS`` typed as float, as on main (1.0: int).
    * Every single-pathway arch of the model builder, under both
      generations' names, listed in ``MODEL.SINGLE_PATHWAY_ARCH``: GitHub
      main's list lacks its own ``slow_c2d``, which its datasets and model
      statistics then reject, and a YAML may name it ``c2d_nopool``.

    Returns:
        CfgNode: ``cfg``.
    """
    for key, default in MAIN_KEYS_FOR_1_0:
        path, _, leaf = key.rpartition(".")
        node = cfg
        for part in filter(None, path.split(".")):
            node = node[part]
        if leaf not in node:
            setattr(node, leaf, copy.deepcopy(default))
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


def installed_default(key):
    """The installed PySlowFast's default value of dotted ``key``
    (``complete_config`` included), or None where it has no such key."""
    node = _installed_defaults()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@functools.lru_cache(maxsize=None)
def _installed_defaults():
    return default_cfg()


def config_value(cfg, key, default=None):
    """``cfg``'s value of dotted ``key``, or ``default`` where the installed
    generation has no such key (a GitHub-main key on 1.0)."""
    node = cfg
    for part in key.split("."):
        if part not in node:
            return default
        node = node[part]
    return node


def training_clips_per_video(cfg):
    """How many training clips PySlowFast's datasets cut from one read of a
    video: ``AUG.NUM_SAMPLE`` x ``DATA.TRAIN_CROP_NUM_SPATIAL`` on GitHub
    main (its Kinetics: each clip with its own spatial augmentation, the
    loader then collating with ``multiple_samples_collate``); 1 on 1.0."""
    return config_value(cfg, "AUG.NUM_SAMPLE", 1) * config_value(
        cfg, "DATA.TRAIN_CROP_NUM_SPATIAL", 1
    )


def multiple_samples_collate():
    """GitHub main's ``slowfast.datasets.loader.multiple_samples_collate``
    (items of several clips each, flattened into one batch), or None on 1.0,
    whose items are one clip."""
    if GENERATION != "main":
        return None
    from slowfast.datasets.loader import multiple_samples_collate as collate

    return collate


def random_augment(cfg, height, width):
    """PySlowFast's RandAugment of training frames, as its Kinetics and Ssv2
    build it (``transform.create_random_augment`` with ``AUG.AA_TYPE`` and
    ``AUG.INTERPOLATION``, for frames of ``height`` x ``width``), or None:
    on 1.0, or without ``AUG.ENABLE`` or an ``AUG.AA_TYPE``.

    Returns:
        callable or None: list of PIL images (one per frame) -> the list
        transformed, every frame with the same operations; randomness from
        Python's ``random`` and numpy's global generator.
    """
    if not (config_value(cfg, "AUG.ENABLE", False) and cfg.AUG.AA_TYPE):
        return None
    from slowfast.datasets.transform import create_random_augment

    return create_random_augment(
        input_size=(height, width),
        auto_augment=cfg.AUG.AA_TYPE,
        interpolation=cfg.AUG.INTERPOLATION,
    )


def random_erasing(cfg):
    """PySlowFast's random erasing of training clips, built as its Kinetics
    and Ssv2 build it (``RandomErasing(AUG.RE_PROB, mode=AUG.RE_MODE,
    max_count=AUG.RE_COUNT, num_splits=AUG.RE_COUNT, device="cpu")``), or
    None: on 1.0, or without ``AUG.ENABLE`` or with ``AUG.RE_PROB`` 0.

    Returns:
        callable or None: float (T, C, H, W) -> the same, erased in place;
        randomness from Python's ``random`` and torch's global generator.
    """
    if not (config_value(cfg, "AUG.ENABLE", False) and cfg.AUG.RE_PROB > 0):
        return None
    from slowfast.datasets.random_erasing import RandomErasing

    return RandomErasing(
        cfg.AUG.RE_PROB,
        mode=cfg.AUG.RE_MODE,
        max_count=cfg.AUG.RE_COUNT,
        num_splits=cfg.AUG.RE_COUNT,
        device="cpu",
    )


def relative_resized_crop(cfg):
    """PySlowFast's training crop of a random relative area and aspect
    ratio, which its ``spatial_sampling`` uses instead of the short-side
    jitter when ``DATA.TRAIN_JITTER_SCALES_RELATIVE`` and
    ``DATA.TRAIN_JITTER_ASPECT_RELATIVE`` are set:
    ``transform.random_resized_crop`` (``random_resized_crop_with_shift``
    with ``DATA.TRAIN_JITTER_MOTION_SHIFT``), or None: on 1.0, or where they
    are empty.

    Returns:
        callable or None: (float (C, T, H, W), size) -> float (C, T, size,
        size); randomness from Python's ``random`` and numpy's global
        generator.
    """
    scale = config_value(cfg, "DATA.TRAIN_JITTER_SCALES_RELATIVE", [])
    aspect = config_value(cfg, "DATA.TRAIN_JITTER_ASPECT_RELATIVE", [])
    if not scale and not aspect:
        return None
    from slowfast.datasets import transform

    crop = (
        transform.random_resized_crop_with_shift
        if cfg.DATA.TRAIN_JITTER_MOTION_SHIFT
        else transform.random_resized_crop
    )
    return lambda images, size: crop(
        images=images, target_height=size, target_width=size, scale=scale, ratio=aspect
    )


def norm_module(cfg):
    """The norm class PySlowFast's own blocks use for ``cfg``: GitHub main's
    ``get_norm`` (``BN.NORM_TYPE``: batchnorm, sub_batchnorm, sync_batchnorm);
    ``nn.BatchNorm3d`` on 1.0, which has no other."""
    if GENERATION == "main":
        return _get_norm(cfg)
    return nn.BatchNorm3d


def prepare_config(cfg):
    """What PySlowFast's ``tools/run_net.py`` does to a config before any
    work, done for either loop: GitHub main's ``assert_and_infer_cfg`` on a
    copy (its checks: batch sizes divisible by NUM_GPUS, SHARD_ID below
    NUM_SHARDS, RESNET.WIDTH_PER_GROUP divisible by RESNET.NUM_GROUPS, ...;
    and SOLVER.BASE_LR, SOLVER.WARMUP_START_LR and SOLVER.COSINE_END_LR
    multiplied by NUM_SHARDS where SOLVER.BASE_LR_SCALE_NUM_SHARDS).
    pyslowfast 1.0 has no such function: ``cfg`` is returned as it is.

    Returns:
        CfgNode
    Raises:
        ValueError: a check failed; the message quotes it, keys included.
    """
    if GENERATION != "main":
        return cfg
    from slowfast.config.defaults import assert_and_infer_cfg

    try:
        return assert_and_infer_cfg(cfg.clone())
    except AssertionError as error:
        failed = traceback.extract_tb(error.__traceback__)[-1].line
        raise ValueError(
            "PySlowFast's assert_and_infer_cfg refuses this config: `{}` does not hold. Change "
            "the keys it names (in the YAML or with --opts).".format(failed)
        ) from None


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
