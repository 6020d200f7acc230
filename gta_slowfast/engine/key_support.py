"""Which PySlowFast config keys the plugin's own loop honours, and refusal
of the others before any work.

Where the plugin's training and test loop (``gta_slowfast.engine.train``
and ``.test``) runs instead of SlowFast's ``tools/train_net.py`` and
``test_net.py``, every key of PySlowFast's defaults is one of:

* ``HONOURED``: the plugin's loop, datasets and models do what PySlowFast
  does with it (often by calling PySlowFast's own code: its model classes,
  ``construct_optimizer``, ``get_epoch_lr``, ``get_loss_func``, ``MixUp``,
  ``TensorboardWriter``);
* ``REFUSED``: the plugin's loop does not do it; a config that sets it to
  another value than PySlowFast's default stops the job before any work,
  with an error naming the key and where it is supported;
* ``NO_EFFECT``: of no effect on what the plugin's loop can run, in
  PySlowFast either: AVA's and the demo's keys, visualisation tools', keys
  no PySlowFast code reads, keys read only where a refused setting is on
  (``DETECTION.*`` without ``DETECTION.ENABLE``), and the keys of model
  families the plugin does not build (``X3D.*``, ``MVIT.*``: asking for
  those models, ``MODEL.MODEL_NAME``, is refused).

Some keys are honoured for some values and refused for others (e.g.
``BN.NORM_TYPE: sub_batchnorm``): their rule carries the refused values.
Rules name keys of both generations (pyslowfast 1.0's 106 keys and GitHub
main's); a rule whose key the installed generation lacks is unused there.
A rule ending in ``*`` covers every key under that prefix; an exact key
overrides a prefix, and each key matches exactly one rule
(``tests/test_key_support.py`` checks every key of the installed defaults).

The plugin's own ``GTA.*`` keys are not PySlowFast's and are not listed;
the models read theirs in either loop, but two groups have one reader
each, and a value set where that reader does not run is refused too
(``unread_gta_settings``): ``GTA.TRAIN.*`` (the plugin's training loop) and
``GTA.DATA.*`` (the plugin's datasets, not PySlowFast's ``kinetics`` or
``ssv2``).
"""

import collections
import functools
import math

from fvcore.common.config import CfgNode

from gta_slowfast import compat
from gta_slowfast.config import PLUGIN_DATASETS, add_gta_config, is_multi_pathway
from gta_slowfast.engine.objective import loss_function
from gta_slowfast.models.block_spec import STOCK_NONLOCAL

HONOURED = "honoured"
REFUSED = "refused"
NO_EFFECT = "no effect"
CATEGORIES = (HONOURED, REFUSED, NO_EFFECT)
LOOPS = ("plugin", "pyslowfast")

# Where a refused key is supported instead.
SLOWFAST_TOOLS = (
    "SlowFast's own tools/train_net.py and test_net.py support it: --opts GTA.LOOP "
    "pyslowfast, with a GitHub-main SlowFast clone whose tools import (README, "
    "'Installing into your environment'; pyslowfast 1.0 has no such tools)"
)
SLOWFAST_DATASETS = (
    "SlowFast's own loop supports it with PySlowFast's own datasets (GTA.LOOP pyslowfast, "
    "TRAIN.DATASET kinetics, ssv2 or charades, with a GitHub-main clone whose tools import); "
    "the plugin's gta_ssv2, gta_ssv1 and gta_kinetics refuse it in either loop"
)
SLOWFAST_RUN_NET = (
    "PySlowFast's own tools/run_net.py acts on it after testing, gta_slowfast's "
    "tools/run_net.py does not (in either loop): run SlowFast's tools/run_net.py with the "
    "plugin's keys (README, 'With PySlowFast's own tools/run_net.py')"
)
UNREAD = "leave it at its default"
TRAIN_CROP_SIZE = (
    "set DATA.TRAIN_CROP_SIZE (GitHub main's key, which the plugin reads on both "
    "generations) instead"
)
PLUGIN_MODELS = (
    "name the class MODEL.ARCH asks for (ResNet or SlowFast only with GTA.BLOCK NL and "
    "GTA.TEMPORAL_SHIFT.ENABLE False); other models are built by SlowFast's own loop only "
    "(GTA.LOOP pyslowfast)"
)

# MODEL.MODEL_NAME values the plugin builds: its registered classes, for a
# single-pathway and a multi-pathway MODEL.ARCH, and the PySlowFast classes
# they extend (the same models with GTA.BLOCK NL and no temporal shift).
PLUGIN_MODEL_NAMES = ("GTAResNet", "GTASlowFast", "ResNet", "SlowFast")
SINGLE_PATHWAY_MODEL_NAMES = ("GTAResNet", "ResNet")
MULTI_PATHWAY_MODEL_NAMES = ("GTASlowFast", "SlowFast")


def same_value(value, default):
    """Config values equal, lists and tuples alike (YAML gives lists), NaN
    equal to NaN."""
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return len(value) == len(default) and all(map(same_value, value, default))
    if isinstance(value, float) and isinstance(default, float):
        return value == default or (math.isnan(value) and math.isnan(default))
    return value == default


def _sub_batchnorm(cfg, value, default, loop):
    return value == "sub_batchnorm"


def _model_not_built(cfg, value, default, loop):
    """MODEL.MODEL_NAME names another model than the one ``loop`` builds.

    The plugin's loop builds GTAResNet or GTASlowFast as MODEL.ARCH says;
    SlowFast's own loop builds the class MODEL.MODEL_NAME names, where
    PySlowFast's ResNet and SlowFast have no GTA.BLOCK nor temporal shift.
    Where PySlowFast picks the class from MODEL.ARCH (pyslowfast 1.0: no
    ``compat.MODEL_REGISTRY``), the name only has to be one the plugin
    builds.
    """
    if value not in PLUGIN_MODEL_NAMES:
        return loop == "plugin"
    if compat.MODEL_REGISTRY is None:
        return False
    stock = "GTA" not in cfg or (cfg.GTA.BLOCK.strip().upper() == STOCK_NONLOCAL
                                 and not cfg.GTA.TEMPORAL_SHIFT.ENABLE)
    if value in ("ResNet", "SlowFast") and not stock:
        return True
    if loop == "pyslowfast":
        return False
    built = MULTI_PATHWAY_MODEL_NAMES if is_multi_pathway(cfg) else SINGLE_PATHWAY_MODEL_NAMES
    return value not in built


def _not_a_classification_loss(cfg, value, default, loop):
    try:
        loss_function(cfg)
    except ValueError:
        return True
    return False


def _ensemble_view_sweep(cfg, value, default, loop):
    return value == -1


def _crop_size_not_train_crop_size(cfg, value, default, loop):
    return value != default and value != cfg.DATA.TRAIN_CROP_SIZE


def _visualisation_after_testing(cfg, value, default, loop):
    return bool(value) and bool(cfg.TENSORBOARD.ENABLE)


class KeyRule(
    collections.namedtuple("KeyRule", "pattern category note refused_if loops remedy")
):
    """One row of the table.

    Attributes:
        pattern (str): a dotted key ("MULTIGRID.LONG_CYCLE"), or a prefix
            ending in "*" ("AVA.*", "DATA.SSL_*").
        category (str): HONOURED, REFUSED or NO_EFFECT.
        note (str): where the plugin honours it, what it is, or why it has
            no effect.
        refused_if (callable or None): ``(cfg, value, default, loop) ->
            bool``,
            True where this value is refused; REFUSED keys default to
            "another value than PySlowFast's default", HONOURED keys with
            one are honoured for the other values only.
        loops (tuple): the loops that refuse it: ("plugin",) for what the
            plugin's loop lacks, both for what gta_slowfast's run_net.py
            lacks.
        remedy (str): where the refused setting is supported.
    """

    def matches(self, key):
        if self.pattern.endswith("*"):
            return key.startswith(self.pattern[:-1])
        return key == self.pattern

    @property
    def is_prefix(self):
        return self.pattern.endswith("*")

    def refuses(self, cfg, value, default, loop):
        """True where ``loop`` refuses ``value`` of this rule's key in ``cfg``."""
        if loop not in self.loops:
            return False
        if self.refused_if is not None:
            return bool(self.refused_if(cfg, value, default, loop))
        return self.category == REFUSED and not same_value(value, default)


def _rule(pattern, category, note, refused_if=None, loops=("plugin",), remedy=SLOWFAST_TOOLS):
    return KeyRule(pattern, category, note, refused_if, loops, remedy)


def honoured(pattern, note, **refusal):
    """A rule for an honoured key; ``refused_if``, ``loops`` and ``remedy``
    where some of its values are refused."""
    return _rule(pattern, HONOURED, note, **refusal)


def refused(pattern, note, **options):
    """A REFUSED rule: another value than PySlowFast's default is refused
    (or where ``refused_if`` says)."""
    return _rule(pattern, REFUSED, note, **options)


def no_effect(pattern, note):
    """A NO_EFFECT rule: never refused."""
    return _rule(pattern, NO_EFFECT, note)


_MODEL = "PySlowFast's own ResNet/SlowFast class builds the model from it (models/video_models.py)"
_OPTIMIZER = "PySlowFast's construct_optimizer (engine/train.py)"
_SCHEDULE = "PySlowFast's get_epoch_lr, every iteration (engine/train.py)"
_TENSORBOARD = "PySlowFast's TensorboardWriter, in training and testing"
_AUG = "the plugin's datasets, in training, with PySlowFast's transforms (datasets/)"
_SSL_DATA = "self-supervised training's data augmentation in PySlowFast's Kinetics"

TABLE = (
    # Top-level keys.
    honoured("DIST_BACKEND", "the process group's backend (engine/launch.py)"),
    honoured("LOG_MODEL_INFO", "PySlowFast's misc.log_model_info on the first process"),
    honoured("LOG_PERIOD", "iterations between json_stats lines"),
    honoured("NUM_GPUS", "processes per machine, one GPU each; 0: the CPU"),
    honoured("NUM_SHARDS", "machines (tools/run_net.py --num_shards)"),
    honoured("SHARD_ID", "this machine (tools/run_net.py --shard_id)"),
    honoured("RNG_SEED", "seeds, the sampler's order and every item's augmentation"),
    honoured("OUTPUT_DIR", "checkpoints, logs, json stats, scores"),
    refused("TASK", "train_net/test_net's self-supervised modes (ssl, ssl_eval)"),
    # AVA, benchmark, demo, visualisation.
    no_effect("AVA.*", "PySlowFast's Ava dataset and AVA evaluation (detection; DETECTION.ENABLE "
              "is refused)"),
    no_effect("BENCHMARK.*", "PySlowFast's tools/benchmark.py (data-loader speed) only"),
    refused("DEMO.ENABLE", "PySlowFast's demo (tools/demo_net.py)", loops=LOOPS,
            remedy=SLOWFAST_RUN_NET),
    no_effect("DEMO.*", "PySlowFast's demo (tools/demo_net.py), which DEMO.ENABLE starts "
              "(refused)"),
    refused("VIS_MASK.ENABLE", "test_net's MaskFeat mask visualisation"),
    # BatchNorm.
    no_effect("BN.EPSILON", "defined by pyslowfast 1.0, read by none of its code"),
    no_effect("BN.MOMENTUM", "defined by pyslowfast 1.0, read by none of its code"),
    honoured("BN.GLOBAL_SYNC", "sync BatchNorm over all processes (PySlowFast's get_norm)"),
    honoured("BN.NORM_TYPE", "batchnorm, sync_batchnorm (PySlowFast's get_norm); sub_batchnorm "
             "refused: the plugin's loop never aggregates its split statistics",
             refused_if=_sub_batchnorm),
    no_effect("BN.NUM_SPLITS", "read by sub_batchnorm only (BN.NORM_TYPE sub_batchnorm is "
              "refused)"),
    honoured("BN.NUM_SYNC_DEVICES", "sync BatchNorm's group (PySlowFast's get_norm)"),
    honoured("BN.USE_PRECISE_STATS", "precise BatchNorm statistics after each epoch (fvcore)"),
    honoured("BN.NUM_BATCHES_PRECISE", "batches for precise BatchNorm statistics"),
    honoured("BN.WEIGHT_DECAY", _OPTIMIZER),
    # Contrastive (self-supervised) training; its head keys shape the
    # ResNet/SlowFast head PySlowFast's class builds.
    refused("CONTRASTIVE.*", "contrastive self-supervised training (ContrastiveModel, TASK ssl)"),
    honoured("CONTRASTIVE.NUM_MLP_LAYERS", "the head's projection: " + _MODEL),
    honoured("CONTRASTIVE.MLP_DIM", "the head's projection: " + _MODEL),
    honoured("CONTRASTIVE.BN_MLP", "the head's projection: " + _MODEL),
    honoured("CONTRASTIVE.BN_SYNC_MLP", "the head's projection: " + _MODEL),
    # Data.
    honoured("DATA.CROP_SIZE", "pyslowfast 1.0's crop size, which sizes its head's pooling; the "
             "plugin crops DATA.TRAIN_CROP_SIZE and sets it to that "
             "(compat.for_installed_pyslowfast); another value refused",
             refused_if=_crop_size_not_train_crop_size, remedy=TRAIN_CROP_SIZE),
    refused("DATA.COLOR_RND_GRAYSCALE", "random grayscale in training", remedy=SLOWFAST_DATASETS),
    no_effect("DATA.DECODING_BACKEND", "which library decodes: the plugin's datasets decode the "
              "same frames with PyAV whatever it says"),
    no_effect("DATA.DECODING_SHORT_SIZE", "read by no PySlowFast code"),
    refused("DATA.DUMMY_LOAD", "the same clip for every item (speed tests)",
            remedy=SLOWFAST_DATASETS),
    honoured("DATA.ENSEMBLE_METHOD", "sum or max over a video's views (engine/test.py)"),
    no_effect("DATA.IN22K_TRAINVAL", "read by no PySlowFast code"),
    refused("DATA.IN22k_VAL_IN1K", "train_net's validation of an ImageNet-22k model on 1k classes"),
    no_effect("DATA.IN_VAL_CROP_RATIO", "PySlowFast's Imagenet dataset only"),
    honoured("DATA.INPUT_CHANNEL_NUM", "the stem's input channels: " + _MODEL),
    honoured("DATA.INV_UNIFORM_SAMPLE", "short-side jitter drawn by its inverse (datasets/)"),
    refused("DATA.LOADER_CHUNK_SIZE", "train_net's chunked reading of a huge csv",
            remedy=SLOWFAST_DATASETS),
    refused("DATA.LOADER_CHUNK_OVERALL_SIZE", "train_net's chunked reading of a huge csv",
            remedy=SLOWFAST_DATASETS),
    honoured("DATA.MEAN", "normalisation (datasets/)"),
    refused("DATA.MULTI_LABEL", "multi-label training and mAP (Charades)",
            remedy=SLOWFAST_DATASETS),
    honoured("DATA.NUM_FRAMES", "frames per clip (datasets/, the model)"),
    honoured("DATA.PATH_LABEL_SEPARATOR", "between path and label in gta_kinetics' csv "
             "(datasets/)"),
    honoured("DATA.PATH_PREFIX", "video files' folder (datasets/)"),
    honoured("DATA.PATH_TO_DATA_DIR", "annotation files' folder (datasets/)"),
    no_effect("DATA.PATH_TO_PRELOAD_IMDB", "PySlowFast's Imagenet dataset only"),
    honoured("DATA.RANDOM_FLIP", "horizontal flip in training (datasets/)"),
    honoured("DATA.REVERSE_INPUT_CHANNEL", "BGR input (datasets/)"),
    honoured("DATA.SAMPLING_RATE", "frame step of dense clips (datasets/)"),
    refused("DATA.SKIP_ROWS", "rows of PySlowFast's Kinetics csv skipped",
            remedy=SLOWFAST_DATASETS),
    refused("DATA.SSL_*", _SSL_DATA, remedy=SLOWFAST_DATASETS),
    honoured("DATA.STD", "normalisation (datasets/)"),
    honoured("DATA.TARGET_FPS", "dense clips' frame rate (datasets/; TSN sampling has no rate)"),
    honoured("DATA.TEST_CROP_SIZE", "test crops (datasets/)"),
    refused("DATA.TIME_DIFF_PROB", "frame differences as input, in training",
            remedy=SLOWFAST_DATASETS),
    honoured("DATA.TRAIN_CROP_NUM_SPATIAL", "clips per video and item, times AUG.NUM_SAMPLE "
             "(datasets/)"),
    refused("DATA.TRAIN_CROP_NUM_TEMPORAL", "several clips of one video per item "
            "(self-supervised)", remedy=SLOWFAST_DATASETS),
    honoured("DATA.TRAIN_CROP_SIZE", "training crops (datasets/), the head's pooling (the model)"),
    honoured("DATA.TRAIN_JITTER_ASPECT_RELATIVE", "random resized crop (datasets/)"),
    honoured("DATA.TRAIN_JITTER_FPS", "frame-rate jitter of dense clips in training (datasets/)"),
    honoured("DATA.TRAIN_JITTER_MOTION_SHIFT", "PySlowFast's moving random resized crop "
             "(datasets/)"),
    honoured("DATA.TRAIN_JITTER_SCALES", "short-side scale jitter (datasets/)"),
    honoured("DATA.TRAIN_JITTER_SCALES_RELATIVE", "random resized crop (datasets/)"),
    no_effect("DATA.TRAIN_PCA_EIGVAL", "PySlowFast's Imagenet and Ava datasets only"),
    no_effect("DATA.TRAIN_PCA_EIGVEC", "PySlowFast's Imagenet and Ava datasets only"),
    honoured("DATA.USE_OFFSET_SAMPLING", "where dense test clips start (datasets/)"),
    no_effect("DATA_LOADER.ENABLE_MULTI_THREAD_DECODE", "decoding speed only"),
    honoured("DATA_LOADER.NUM_WORKERS", "DataLoader workers"),
    honoured("DATA_LOADER.PIN_MEMORY", "DataLoader pinned memory (with CUDA)"),
    # Detection (AVA).
    refused("DETECTION.ENABLE", "the detection head and AVA's training and evaluation"),
    no_effect("DETECTION.*", "the detection head only (DETECTION.ENABLE is refused)"),
    # MaskFeat / MAE.
    refused("AUG.GEN_MASK_LOADER", "MaskFeat's masks, made by the loader",
            remedy=SLOWFAST_DATASETS),
    no_effect("AUG.MASK_*", "MaskFeat's masks, made only with AUG.GEN_MASK_LOADER (refused)"),
    no_effect("AUG.MAX_MASK_PATCHES_PER_BLOCK", "PySlowFast's Imagenet dataset's masks only"),
    no_effect("AUG.COLOR_JITTER", "PySlowFast's Imagenet dataset only"),
    refused("AUG.RE_SPLIT", "read by no PySlowFast code (its random erasing takes AUG.RE_COUNT "
            "as its splits); the plugin's datasets refuse it rather than "
            "ignore it", loops=LOOPS, remedy=UNREAD),
    honoured("AUG.ENABLE", "RandAugment and random erasing: " + _AUG),
    honoured("AUG.AA_TYPE", "RandAugment: " + _AUG),
    honoured("AUG.INTERPOLATION", "RandAugment: " + _AUG),
    honoured("AUG.NUM_SAMPLE", "augmented clips per video and item: " + _AUG),
    honoured("AUG.RE_COUNT", "random erasing: " + _AUG),
    honoured("AUG.RE_MODE", "random erasing: " + _AUG),
    honoured("AUG.RE_PROB", "random erasing: " + _AUG),
    refused("MASK.ENABLE", "MaskFeat/MAE pre-training (train_net's masked loss)"),
    no_effect("MASK.*", "MaskMViT's keys (MODEL.MODEL_NAME MaskMViT is refused) and MASK.ENABLE's"),
    # Mixup, CutMix, label smoothing.
    honoured("MIXUP.*", "PySlowFast's MixUp on the training batches (engine/train.py)"),
    # Model.
    honoured("MODEL.ACT_CHECKPOINT", "activation checkpointing of s1, s2: " + _MODEL),
    honoured("MODEL.ARCH", _MODEL),
    honoured("MODEL.DETACH_FINAL_FC", "the head: " + _MODEL),
    no_effect("MODEL.DROPCONNECT_RATE", "X3D's (MODEL.MODEL_NAME X3D is refused)"),
    honoured("MODEL.DROPOUT_RATE", "the head: " + _MODEL),
    honoured("MODEL.FC_INIT_STD", "the head's init: " + _MODEL),
    honoured("MODEL.FP16_ALLREDUCE", "DDP's fp16 gradient all-reduce hook"),
    honoured("MODEL.FROZEN_BN", "BatchNorm statistics fixed in training (engine/train.py)"),
    honoured("MODEL.HEAD_ACT", "the head's activation at test: " + _MODEL),
    honoured("MODEL.LOSS_FUNC", "PySlowFast's get_loss_func (engine/objective.py); losses "
             "that cannot train a classifier on its targets are refused",
             refused_if=_not_a_classification_loss),
    honoured("MODEL.MODEL_NAME", "the model class: the plugin builds GTAResNet for a "
             "single-pathway MODEL.ARCH, GTASlowFast for a multi-pathway "
             "one; PySlowFast's ResNet and SlowFast are the same models "
             "without GTA.BLOCK and GTA.TEMPORAL_SHIFT; another name refused",
             refused_if=_model_not_built, loops=LOOPS, remedy=PLUGIN_MODELS),
    honoured("MODEL.MULTI_PATHWAY_ARCH", "which archs are SlowFast (models/, datasets/)"),
    honoured("MODEL.NUM_CLASSES", "the head: " + _MODEL),
    honoured("MODEL.SINGLE_PATHWAY_ARCH", "which archs are single-pathway (models/, datasets/)"),
    # Multigrid.
    refused("MULTIGRID.*", "multigrid training (long and short cycles of batch, frames and crop)",
            remedy=SLOWFAST_DATASETS),
    # Other model families: built only for a MODEL.MODEL_NAME that is refused.
    no_effect("MVIT.*", "MViT's (MODEL.MODEL_NAME MViT is refused)"),
    no_effect("X3D.*", "X3D's (MODEL.MODEL_NAME X3D is refused)"),
    honoured("NONLOCAL.*", _MODEL + "; GTA.BLOCK replaces the blocks it places"),
    honoured("RESNET.*", _MODEL),
    honoured("SLOWFAST.*", _MODEL + "; the datasets split the pathways by SLOWFAST.ALPHA"),
    # Solver.
    honoured("SOLVER.BASE_LR", _SCHEDULE),
    honoured("SOLVER.BASE_LR_SCALE_NUM_SHARDS", "PySlowFast's assert_and_infer_cfg"),
    honoured("SOLVER.BETAS", _OPTIMIZER),
    honoured("SOLVER.CLIP_GRAD_L2NORM", "gradient norm clipping (engine/train.py)"),
    honoured("SOLVER.CLIP_GRAD_VAL", "gradient value clipping (engine/train.py)"),
    honoured("SOLVER.COSINE_AFTER_WARMUP", _SCHEDULE),
    honoured("SOLVER.COSINE_END_LR", _SCHEDULE),
    honoured("SOLVER.DAMPENING", _OPTIMIZER),
    no_effect("SOLVER.GAMMA", "read by multigrid's schedule only (MULTIGRID.* is refused)"),
    honoured("SOLVER.LARS_ON", _OPTIMIZER),
    honoured("SOLVER.LAYER_DECAY", _OPTIMIZER),
    honoured("SOLVER.LRS", _SCHEDULE),
    honoured("SOLVER.LR_POLICY", _SCHEDULE),
    honoured("SOLVER.MAX_EPOCH", _SCHEDULE + "; epochs"),
    honoured("SOLVER.MOMENTUM", _OPTIMIZER),
    honoured("SOLVER.NESTEROV", _OPTIMIZER),
    honoured("SOLVER.OPTIMIZING_METHOD", _OPTIMIZER),
    honoured("SOLVER.STEPS", _SCHEDULE),
    no_effect("SOLVER.STEP_SIZE", "read by no PySlowFast code"),
    honoured("SOLVER.WARMUP_EPOCHS", _SCHEDULE),
    no_effect("SOLVER.WARMUP_FACTOR", "read by no PySlowFast code"),
    honoured("SOLVER.WARMUP_START_LR", _SCHEDULE),
    honoured("SOLVER.WEIGHT_DECAY", _OPTIMIZER),
    honoured("SOLVER.ZERO_WD_1D_PARAM", _OPTIMIZER),
    # TensorBoard.
    honoured("TENSORBOARD.ENABLE", _TENSORBOARD),
    honoured("TENSORBOARD.LOG_DIR", _TENSORBOARD),
    honoured("TENSORBOARD.CLASS_NAMES_PATH", _TENSORBOARD + " (plot_eval)"),
    honoured("TENSORBOARD.CATEGORIES_PATH", _TENSORBOARD + " (plot_eval)"),
    honoured("TENSORBOARD.CONFUSION_MATRIX.*", _TENSORBOARD + " (plot_eval)"),
    honoured("TENSORBOARD.HISTOGRAM.*", _TENSORBOARD + " (plot_eval)"),
    no_effect("TENSORBOARD.PREDICTIONS_PATH", "PySlowFast's tools/visualization.py only"),
    refused("TENSORBOARD.MODEL_VIS.ENABLE", "model visualisation after testing (with "
            "TENSORBOARD.ENABLE)",
            refused_if=_visualisation_after_testing, loops=LOOPS, remedy=SLOWFAST_RUN_NET),
    no_effect("TENSORBOARD.MODEL_VIS.*", "PySlowFast's tools/visualization.py only"),
    refused("TENSORBOARD.WRONG_PRED_VIS.ENABLE", "wrong-prediction visualisation after testing "
            "(with TENSORBOARD.ENABLE)",
            refused_if=_visualisation_after_testing, loops=LOOPS, remedy=SLOWFAST_RUN_NET),
    no_effect("TENSORBOARD.WRONG_PRED_VIS.*", "PySlowFast's tools/visualization.py only"),
    # Testing.
    honoured("TEST.BATCH_SIZE", "test batch per machine (datasets/loader.py)"),
    honoured("TEST.CHECKPOINT_FILE_PATH", "the checkpoint tested (engine/test.py)"),
    honoured("TEST.CHECKPOINT_TYPE", "pytorch or caffe2 (engine/checkpoint.py)"),
    honoured("TEST.DATASET", "the test dataset"),
    honoured("TEST.ENABLE", "tools/run_net.py tests"),
    honoured("TEST.NUM_ENSEMBLE_VIEWS", "clips per video (datasets/, engine/test.py); -1, "
             "PySlowFast's run_net.py sweep over 1, 3, 5, 7, 10, refused",
             refused_if=_ensemble_view_sweep, loops=LOOPS, remedy=SLOWFAST_RUN_NET),
    honoured("TEST.NUM_SPATIAL_CROPS", "crops per clip (datasets/, engine/test.py)"),
    honoured("TEST.NUM_TEMPORAL_CLIPS", "one test per value (engine/test.py)"),
    honoured("TEST.SAVE_RESULTS_PATH", "predictions and labels pickled (engine/test.py)"),
    # Training.
    honoured("TRAIN.AUTO_RESUME", "resume from OUTPUT_DIR's checkpoints (engine/train.py)"),
    honoured("TRAIN.BATCH_SIZE", "training batch per machine (datasets/loader.py)"),
    honoured("TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN", "as PySlowFast's load_checkpoint"),
    honoured("TRAIN.CHECKPOINT_EPOCH_RESET", "as PySlowFast's load_checkpoint"),
    honoured("TRAIN.CHECKPOINT_FILE_PATH", "initial weights (engine/checkpoint.py)"),
    honoured("TRAIN.CHECKPOINT_INFLATE", "as PySlowFast's load_checkpoint"),
    honoured("TRAIN.CHECKPOINT_IN_INIT", "as PySlowFast's load_checkpoint"),
    honoured("TRAIN.CHECKPOINT_PERIOD", "epochs between checkpoints (engine/train.py)"),
    honoured("TRAIN.CHECKPOINT_TYPE", "pytorch or caffe2 (engine/checkpoint.py)"),
    honoured("TRAIN.DATASET", "the training and validation dataset"),
    honoured("TRAIN.ENABLE", "tools/run_net.py trains"),
    honoured("TRAIN.EVAL_PERIOD", "epochs between validations (engine/train.py)"),
    honoured("TRAIN.KILL_LOSS_EXPLOSION_FACTOR", "stops on an exploding loss (engine/train.py)"),
    honoured("TRAIN.MIXED_PRECISION", "autocast and a GradScaler (engine/mixed_precision.py)"),
)


@functools.lru_cache(maxsize=None)
def rules_for(key):
    """The rules of ``TABLE`` that decide ``key``: the exact ones, else the
    prefixes that match. Exactly one for every key of PySlowFast's defaults.

    Returns:
        tuple of KeyRule
    """
    exact = tuple(rule for rule in TABLE if not rule.is_prefix and rule.matches(key))
    if exact:
        return exact
    return tuple(rule for rule in TABLE if rule.is_prefix and rule.matches(key))


def rule_for(key):
    """The rule of ``key``.

    Raises:
        KeyError: ``key`` is the plugin's own (GTA.*), or matches no rule
            or several.
    """
    if key.startswith("GTA."):
        raise KeyError("{} is the plugin's own key, not PySlowFast's".format(key))
    rules = rules_for(key)
    if len(rules) != 1:
        raise KeyError(
            "PySlowFast key {} matches {} rules of gta_slowfast.engine.key_support.TABLE: "
            "{}".format(key, len(rules), [rule.pattern for rule in rules])
        )
    return rules[0]


def classify(key):
    """``(category, note)`` of PySlowFast config key ``key`` in the plugin's
    loop: category HONOURED, REFUSED or NO_EFFECT."""
    rule = rule_for(key)
    return rule.category, rule.note


def flatten(node, prefix=""):
    """``{"A.B.C": value}`` for every leaf of a CfgNode."""
    leaves = {}
    for name, value in node.items():
        if isinstance(value, CfgNode):
            leaves.update(flatten(value, prefix + name + "."))
        else:
            leaves[prefix + name] = value
    return leaves


def pyslowfast_keys(cfg=None):
    """The dotted keys of PySlowFast's defaults in ``cfg`` (default: the
    installed generation's, completed by ``compat``), GTA.* left out."""
    leaves = flatten(compat.default_cfg() if cfg is None else cfg)
    return sorted(key for key in leaves if not key.startswith("GTA."))


def summary():
    """Keys per category among the installed generation's defaults.

    Returns:
        dict: {HONOURED: n, REFUSED: n, NO_EFFECT: n}
    """
    counts = dict.fromkeys(CATEGORIES, 0)
    for key in pyslowfast_keys():
        counts[classify(key)[0]] += 1
    return counts


def refused_settings(cfg, loop):
    """The settings of ``cfg`` that ``loop`` refuses.

    Args:
        cfg (CfgNode): a job's config (after ``load_config``, before or
            after PySlowFast's ``assert_and_infer_cfg``, which changes no
            refused key).
        loop (str): "plugin" (the plugin's training and test loop) or
            "pyslowfast" (SlowFast's tools/train_net.py and test_net.py,
            started by gta_slowfast's tools/run_net.py: refused there are
            only what that run_net.py lacks, AUG.RE_SPLIT, and a
            MODEL.MODEL_NAME whose PySlowFast class would leave GTA.BLOCK or
            GTA.TEMPORAL_SHIFT unbuilt; the plugin's datasets check their
            own keys).
    Returns:
        list of (key, value, default, KeyRule); default None for a key
        the installed PySlowFast's defaults lack.
    """
    if loop not in LOOPS:
        raise ValueError("loop '{}' is not valid; allowed values: {}".format(loop, list(LOOPS)))
    defaults = flatten(compat.default_cfg())
    found = []
    for key, value in sorted(flatten(cfg).items()):
        if key.startswith("GTA."):
            continue
        default = defaults.get(key)
        rules = rules_for(key)
        if len(rules) != 1:
            if key not in defaults or not same_value(value, default):
                found.append((key, value, default, None))
        elif rules[0].refuses(cfg, value, default, loop):
            found.append((key, value, default, rules[0]))
    return found


# GTA.DATA values that ask for what PySlowFast's own datasets do anyway:
# its scale jitter and random crop, and flipping every class.
PYSLOWFAST_DATA_VALUES = {"GTA.DATA.RESIZE": [], "GTA.DATA.CROP_SCALES": [],
                          "GTA.DATA.NO_FLIP_WORDS": []}


def unread_gta_settings(cfg, loop):
    """The GTA keys of ``cfg`` set away from their defaults where nothing in
    this job reads them: ``GTA.TRAIN.*`` where SlowFast's own loop runs, and
    ``GTA.DATA.*`` where an enabled phase (training and its validation:
    TRAIN.DATASET; testing: TEST.DATASET) uses a dataset not of the
    plugin's, except ``PYSLOWFAST_DATA_VALUES``.

    Args:
        cfg (CfgNode): a job's config.
        loop (str): "plugin" or "pyslowfast".
    Returns:
        list of (key, value, default, why): why names the reader that does
        not run and the way out; [] for a config without GTA keys.
    """
    if "GTA" not in cfg:
        return []
    defaults = flatten(add_gta_config(CfgNode()).GTA, "GTA.")
    other_datasets = ["{}.DATASET {}".format(phase, cfg[phase].DATASET)
                      for phase in ("TRAIN", "TEST")
                      if cfg[phase].ENABLE and cfg[phase].DATASET.lower() not in PLUGIN_DATASETS]
    found = []
    for key, value in sorted(flatten(cfg.GTA, "GTA.").items()):
        if same_value(value, defaults.get(key)):
            continue
        if key.startswith("GTA.TRAIN.") and loop == "pyslowfast":
            found.append((key, value, defaults[key], (
                "read by the plugin's training loop only, and SlowFast's own tools/train_net.py "
                "runs this job; use GTA.LOOP plugin, or leave it at its default")))
        elif (key.startswith("GTA.DATA.") and other_datasets
              and not same_value(value, PYSLOWFAST_DATA_VALUES.get(key, object()))):
            found.append((key, value, defaults[key], (
                "read by the plugin's datasets ({}) only, and {} is PySlowFast's own; use the "
                "plugin's dataset, or leave it at its default".format(
                    ", ".join(PLUGIN_DATASETS), " and ".join(other_datasets)))))
    return found


def check_config_for_loop(cfg, loop):
    """Stops a job before any work where ``loop`` would not do what a key
    of ``cfg`` says in PySlowFast.

    Args:
        cfg (CfgNode): the job's config.
        loop (str): "plugin" or "pyslowfast", the loop that will run.
    Raises:
        ValueError: naming every refused key with its value, PySlowFast's
            default, what it does and where it is supported, and every GTA
            key this job would not read (``unread_gta_settings``).
    """
    found = refused_settings(cfg, loop)
    unread = unread_gta_settings(cfg, loop)
    if not found and not unread:
        return
    lines = []
    for key, value, default, rule in found:
        if rule is None:
            lines.append(
                "  {} = {!r}: gta_slowfast does not know this PySlowFast key, so the plugin's "
                "loop cannot honour it (matched rules: {}).".format(
                    key, value, [r.pattern for r in rules_for(key)] or "none")
            )
            continue
        lines.append(
            "  {} = {!r} (PySlowFast's default {!r}): {}. {}.".format(
                key, value, default, rule.note, rule.remedy)
        )
    for key, value, default, why in unread:
        lines.append("  {} = {!r} (gta_slowfast's default {!r}): {}.".format(
            key, value, default, why))
    where = ("the plugin's training and test loop" if loop == "plugin"
             else "gta_slowfast's tools/run_net.py")
    raise ValueError(
        "{} setting(s) of this config would be ignored by {}, so the job stops before any "
        "work:\n{}\nSet each back to its default (--opts KEY DEFAULT) or use what its line "
        "names.".format(len(found) + len(unread), where, "\n".join(lines))
    )
