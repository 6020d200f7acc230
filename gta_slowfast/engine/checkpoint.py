"""Checkpoints in PySlowFast's layout, written atomically, and the weights
a model takes from any checkpoint.

``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth`` holds
``{"epoch", "model_state", "optimizer_state", "cfg"}`` (and
``"scaler_state"`` when training in mixed precision) like PySlowFast's own,
so either code base can read the other's files. A file is written to a
temporary name in the same folder, flushed to disk and renamed over the
final name, so an interrupted job never leaves a truncated checkpoint.

Initial weights may come from a PySlowFast checkpoint of any model, a plain
state dict or a torchvision-style ImageNet ResNet: ``matching_weights``
says which tensors a model takes. PySlowFast's own loader (GitHub main's
tools) reads only ``model_state`` tensors of matching shapes, so
``convert_for_pyslowfast_loader`` writes those same weights as a file it reads.
"""

import logging
import os
import re
import tempfile
from collections import OrderedDict

import torch

from gta_slowfast.engine.imagenet import (
    convert_torchvision_resnet,
    is_torchvision_resnet,
)
from gta_slowfast.blocks import GlobalTemporalMixing
from gta_slowfast.models.video_models import keep_same_block_types

logger = logging.getLogger(__name__)

# checkpoint_epoch_00003.pyth: after epoch 3 (PySlowFast's name);
# checkpoint_epoch_00004_iter_00050.pyth: after 50 iterations of epoch 4.
_CHECKPOINT_NAME = re.compile(r"^checkpoint_epoch_(\d{5})(?:_iter_(\d{5}))?\.pyth$")
DAMAGED_DIR = "damaged"


def checkpoint_dir(output_dir):
    """``OUTPUT_DIR/checkpoints``."""
    return os.path.join(output_dir, "checkpoints")


def checkpoint_path(output_dir, epoch, iteration=0):
    """Path of the checkpoint after 0-based ``epoch`` and ``iteration``
    iterations of the next one (0: at the end of ``epoch``)."""
    name = (
        "checkpoint_epoch_{:05d}.pyth".format(epoch + 1)
        if iteration == 0
        else "checkpoint_epoch_{:05d}_iter_{:05d}.pyth".format(epoch + 2, iteration)
    )
    return os.path.join(checkpoint_dir(output_dir), name)


def _progress(name):
    """(epochs completed, iterations of the next) a checkpoint name says."""
    match = _CHECKPOINT_NAME.match(name)
    epoch, iteration = int(match.group(1)), int(match.group(2) or 0)
    return (epoch - 1, iteration) if iteration else (epoch, 0)


def list_checkpoints(output_dir):
    """OUTPUT_DIR's checkpoints, oldest first (by training progress)."""
    folder = checkpoint_dir(output_dir)
    if not os.path.isdir(folder):
        return []
    names = sorted((n for n in os.listdir(folder) if _CHECKPOINT_NAME.match(n)), key=_progress)
    return [os.path.join(folder, name) for name in names]


def last_checkpoint(output_dir):
    """Path of the newest checkpoint (mid-epoch or not), or None."""
    paths = list_checkpoints(output_dir)
    return paths[-1] if paths else None


def save_checkpoint(output_dir, model, optimizer, epoch, cfg, scaler=None, iteration=0,
                    extra=None):
    """Saves the state after 0-based ``epoch`` and ``iteration`` iterations
    of the next epoch (0: at the end of ``epoch``), then removes the
    mid-epoch checkpoints it supersedes.

    The file holds PySlowFast's keys (its "epoch" is the last completed
    epoch, so PySlowFast's own loader would redo a partial epoch) and
    "iteration".

    Args:
        epoch (int): the last completed epoch, 0-based (-1: none yet).
        scaler (GradScaler): saved as ``scaler_state`` (as PySlowFast does
            with TRAIN.MIXED_PRECISION), or None.
        iteration (int): iterations done of epoch ``epoch + 1``.
        extra (dict): more entries, e.g. the processes' RNG states.
    Returns:
        str: the path written.
    Raises:
        OSError: the file could not be written (a full disk), saying that
            no earlier checkpoint was changed.
    """
    os.makedirs(checkpoint_dir(output_dir), exist_ok=True)
    path = checkpoint_path(output_dir, epoch, iteration)
    state = {
        "epoch": epoch,
        "iteration": iteration,
        "model_state": unwrap(model).state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "cfg": cfg.dump(),
        **(extra or {}),
    }
    if scaler is not None:
        state["scaler_state"] = scaler.state_dict()
    try:
        atomic_write(path, lambda stream: torch.save(state, stream))
    except OSError as error:
        raise OSError(
            error.errno,
            "Could not write checkpoint {} ({}). No checkpoint was changed; the newest "
            "complete one is {}.".format(path, error.strerror or error, last_checkpoint(output_dir)),
        ) from error
    logger.info("Saved checkpoint %s", path)
    for older in list_checkpoints(output_dir):
        if older != path and "_iter_" in older and _progress(os.path.basename(older)) < _progress(
            os.path.basename(path)
        ):
            os.remove(older)
    return path


def read_last_checkpoint(output_dir):
    """The newest checkpoint of OUTPUT_DIR that reads.

    Newer ones that do not read (truncated, empty, not a checkpoint) are
    moved to ``checkpoints/damaged/`` with a warning naming each, so that no
    later checkpoint takes their name: never deleted, never overwritten.

    Returns:
        tuple: (path, state dict), or (None, None) where none reads.
    """
    for path in reversed(list_checkpoints(output_dir)):
        try:
            state = read_checkpoint(path)
            model_state_of(state, path)
        except ValueError as error:
            moved = _move_aside(path)
            logger.warning("Skipping checkpoint %s: %s. Moved it to %s and resuming from the "
                           "newest earlier checkpoint that reads.", path, error, moved)
            continue
        return path, state
    return None, None


def _move_aside(path):
    """Moves a damaged checkpoint to ``checkpoints/damaged/``, under a name
    no other file there has; returns the new path."""
    folder = os.path.join(os.path.dirname(path), DAMAGED_DIR)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, os.path.basename(path))
    copy = 0
    while os.path.exists(target):
        copy += 1
        target = os.path.join(folder, "{}.{}".format(os.path.basename(path), copy))
    os.replace(path, target)
    return target


def atomic_write(path, write):
    """Calls ``write(stream)`` on a temporary file beside ``path``, flushes it
    to disk and renames it to ``path``: readers see the old file or the
    whole new one, never a part."""
    handle, tmp_path = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def unwrap(model):
    """The module inside DistributedDataParallel, or ``model``."""
    return model.module if hasattr(model, "module") else model


def read_checkpoint(path):
    """The dict a checkpoint file holds, read onto the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable checkpoint, naming it.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError("Checkpoint not found: {}".format(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types on a damaged file
        raise ValueError(
            "{} is not a readable checkpoint ({}: {})".format(path, type(error).__name__, error)
        ) from error
    if not isinstance(state, dict):
        raise ValueError("{} holds no state dict".format(path))
    return state


def model_state_of(state, path):
    """The model's tensors in a checkpoint: its ``model_state``, or the
    whole dict for a plain state dict.

    Raises:
        ValueError: no tensors there, naming ``path``.
    """
    model_state = state.get("model_state", state)
    if not isinstance(model_state, dict) or not any(
        isinstance(value, torch.Tensor) for value in model_state.values()
    ):
        raise ValueError("{} holds no model state".format(path))
    return model_state


def matching_weights(model, model_state, source, inflate=False):
    """The entries of ``model_state`` that ``model`` takes, converted for it.

    A torchvision-style ResNet is renamed and inflated (``imagenet.py``);
    blocks of another type at a block position are left out, so the model's
    blocks keep their identity start (``keep_same_block_types``); with
    ``inflate``, 2D conv kernels become the model's 3D ones; GTA's
    T x T matrices saved for another clip length are resized or refused
    (GTA.TEMPORAL_ADAPT); then every tensor whose name and shape match is
    taken. Logs what starts from scratch and what in ``source`` is not used.

    Args:
        model (nn.Module): the model (not DDP-wrapped).
        model_state (dict): name -> tensor.
        source (str): where ``model_state`` comes from, for the log.
        inflate (bool): TRAIN.CHECKPOINT_INFLATE (see ``inflate_2d_kernels``).
    Returns:
        OrderedDict: name -> tensor, for ``model.load_state_dict(...,
            strict=False)``.
    Raises:
        ValueError: GTA matrices of another clip length with
            GTA.TEMPORAL_ADAPT: error, naming both lengths.
    """
    own = model.state_dict()
    if is_torchvision_resnet(model_state):
        logger.info("%s is a torchvision-style ResNet: converting", source)
        model_state = convert_torchvision_resnet(model_state, own)
    model_state = keep_same_block_types(model, model_state)
    if inflate:
        model_state = inflate_2d_kernels(model_state, own)
    matched, mismatched = OrderedDict(), []
    for name, value in model_state.items():
        if name not in own:
            continue
        owner = model.get_submodule(name.rpartition(".")[0])
        if isinstance(owner, GlobalTemporalMixing):
            value = owner.adapt_saved_weight(value, name)
        if value.shape == own[name].shape:
            matched[name] = value
        else:
            mismatched.append(name)
    unused = sorted(name for name in model_state if name not in own)
    from_scratch = [name for name in own if name not in matched]
    logger.info("Loaded %d of %d tensors from %s", len(matched), len(own), source)
    if from_scratch:
        logger.info(
            "Not in %s, so starting from their initialisation (%d): %s",
            source,
            len(from_scratch),
            ", ".join(from_scratch),
        )
    if mismatched:
        logger.warning("Shape differs, not loaded: %s", ", ".join(mismatched))
    if unused:
        logger.info("In %s but not in the model, ignored: %s", source, ", ".join(unused))
    return matched


def inflate_2d_kernels(model_state, own):
    """TRAIN.CHECKPOINT_INFLATE: each 2D conv kernel (O, I, H, W) whose name
    holds a 3D kernel (O, I, T, H, W) in the model becomes T copies divided
    by T, through PySlowFast's own ``inflate_weight``; the other entries are
    unchanged.

    Args:
        model_state (dict): name -> tensor, from a checkpoint.
        own (dict): the model's ``state_dict()``.
    Returns:
        OrderedDict: name -> tensor.
    """
    from slowfast.utils.checkpoint import inflate_weight

    flat = OrderedDict(
        (name, value) for name, value in model_state.items()
        if name in own and value.dim() == 4 and own[name].dim() == 5
        and value.shape[:2] == own[name].shape[:2] and value.shape[-2:] == own[name].shape[-2:]
    )
    inflated = OrderedDict(model_state)
    inflated.update(inflate_weight(flat, {name: own[name] for name in flat}))
    return inflated


def clear_name_patterns(model_state, patterns):
    """TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN as PySlowFast's ``load_checkpoint``
    applies it: for each pattern in turn, its first occurrence is removed
    from every name that holds it (e.g. "backbone." maps
    ``backbone.s1.pathway0_stem.conv.weight`` to ``s1.pathway0_stem.conv.weight``).

    Returns:
        OrderedDict: name -> tensor.
    """
    for pattern in patterns:
        renamed = OrderedDict()
        for name, value in model_state.items():
            new_name = name.replace(pattern, "", 1) if pattern in name else name
            if new_name != name:
                logger.info("TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN: %s -> %s", name, new_name)
            renamed[new_name] = value
        model_state = renamed
    return model_state


def is_checkpoint_of(model, model_state):
    """True where ``model_state`` holds exactly ``model``'s tensor names and
    shapes: then its optimizer state fits the model's optimizer."""
    own = model.state_dict()
    return set(model_state) == set(own) and all(
        model_state[name].shape == own[name].shape for name in own
    )


def load_training_checkpoint(cfg, model, optimizer, scaler=None):
    """TRAIN.CHECKPOINT_FILE_PATH, as PySlowFast's ``load_checkpoint`` reads
    it for training, combined with the plugin's ``matching_weights``.

    * TRAIN.CHECKPOINT_TYPE caffe2: weights through PySlowFast's converter;
      training starts at the first epoch.
    * TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN: names renamed first
      (``clear_name_patterns``).
    * TRAIN.CHECKPOINT_INFLATE: 2D kernels inflated (``inflate_2d_kernels``).
    * TRAIN.CHECKPOINT_IN_INIT: PySlowFast's image-to-video surgery of
      MViT's ``patch_embed``/``pos_embed``/``attn.pool_*``/``rel_pos``
      tensors; the ResNet and SlowFast models the plugin builds have none, so
      it changes nothing, as in PySlowFast's loader (the log says so).
    * TRAIN.CHECKPOINT_EPOCH_RESET False (PySlowFast's default): a file with
      an ``epoch`` continues after that epoch with its optimizer state (and
      its ``scaler_state`` where TRAIN.MIXED_PRECISION uses a GradScaler).
      A file of another model (other blocks or classes, a torchvision
      ResNet, renamed tensors) carries no optimizer state that fits: its
      weights only, from the first epoch, and the log says so. True: the
      weights only, from the first epoch, with a fresh optimizer.

    Returns:
        int: the 0-based epoch the file continues after (-1: start at the
            first epoch).
    Raises:
        ValueError: the optimizer state of a checkpoint of this model does
            not fit the optimizer (e.g. another SOLVER.OPTIMIZING_METHOD),
            naming TRAIN.CHECKPOINT_EPOCH_RESET.
    """
    path = cfg.TRAIN.CHECKPOINT_FILE_PATH
    target = unwrap(model)
    if cfg.TRAIN.CHECKPOINT_TYPE == "caffe2":
        load_pretrained(path, "caffe2", target)
        return -1
    state = read_checkpoint(path)
    model_state = clear_name_patterns(model_state_of(state, path),
                                      cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN)
    if cfg.TRAIN.CHECKPOINT_IN_INIT:
        logger.info("TRAIN.CHECKPOINT_IN_INIT: %s has no MViT patch or position embeddings to "
                    "convert from images to video; nothing changes.", type(target).__name__)
    target.load_state_dict(
        matching_weights(target, model_state, path, inflate=cfg.TRAIN.CHECKPOINT_INFLATE),
        strict=False,
    )
    if cfg.TRAIN.CHECKPOINT_EPOCH_RESET or "epoch" not in state:
        why = (" (TRAIN.CHECKPOINT_EPOCH_RESET)" if cfg.TRAIN.CHECKPOINT_EPOCH_RESET
               else ": the file holds no epoch")
        logger.info("Loaded the weights of %s; training starts at epoch 1 with a fresh "
                    "optimizer%s.", path, why)
        return -1
    if "model_state" not in state or not is_checkpoint_of(target, model_state):
        logger.info(
            "%s is a checkpoint of another model (its tensors' names or shapes differ): its "
            "optimizer state does not fit this model's, so only its weights are loaded and "
            "training starts at epoch 1 with a fresh optimizer, as with "
            "TRAIN.CHECKPOINT_EPOCH_RESET: True.", path)
        return -1
    try:
        if "optimizer_state" in state:
            optimizer.load_state_dict(state["optimizer_state"])
    except ValueError as error:
        raise ValueError(
            "The optimizer state in {} does not fit this optimizer ({}). Set "
            "TRAIN.CHECKPOINT_EPOCH_RESET: True to load its weights only and start at epoch "
            "1.".format(path, error)
        ) from error
    if scaler is not None and "scaler_state" in state:
        scaler.load_state_dict(state["scaler_state"])
    logger.info("Continuing %s after its epoch %d, with its optimizer state "
                "(TRAIN.CHECKPOINT_EPOCH_RESET: False).", path, state["epoch"] + 1)
    return state["epoch"]


def load_checkpoint(path, model, optimizer=None, scaler=None):
    """Loads a checkpoint file into ``model`` (and ``optimizer``, ``scaler``).

    Returns:
        int: the 0-based epoch stored in the file, or -1 if none.
    """
    return restore(read_checkpoint(path), path, model, optimizer, scaler)


def restore(state, path, model, optimizer=None, scaler=None):
    """Loads a checkpoint's ``state`` (read from ``path``) into ``model``
    (and ``optimizer``, ``scaler``).

    The model takes ``matching_weights`` of it; the optimizer and the
    scaler take its states where it has them.

    Returns:
        int: the 0-based epoch stored in it, or -1 if none.
    """
    target = unwrap(model)
    target.load_state_dict(
        matching_weights(target, model_state_of(state, path), path), strict=False
    )
    if optimizer is not None and "optimizer_state" in state:
        optimizer.load_state_dict(state["optimizer_state"])
    if scaler is not None and "scaler_state" in state:
        scaler.load_state_dict(state["scaler_state"])
    return state.get("epoch", -1)


def load_pretrained(path, checkpoint_type, model):
    """Initial weights from ``path``: "pytorch" (see ``matching_weights``)
    or "caffe2" (PySlowFast's model-zoo pickles, through PySlowFast's own
    converter)."""
    if checkpoint_type == "caffe2":
        from slowfast.utils.checkpoint import load_checkpoint as load_caffe2

        load_caffe2(path, unwrap(model), data_parallel=False, convert_from_caffe2=True)
        logger.info("Loaded Caffe2 weights from %s", path)
    else:
        load_checkpoint(path, model)


def convert_for_pyslowfast_loader(path, model, output_dir, clear_name_pattern=(), inflate=False):
    """A file that PySlowFast's own ``load_checkpoint`` reads as meant for
    ``model``.

    PySlowFast's loader reads only ``model_state``, takes the tensors whose
    name and shape match, and, unless TRAIN.CHECKPOINT_EPOCH_RESET, the
    file's epoch and optimizer state. A checkpoint of exactly this model
    (the same names and shapes) is returned as it is, so PySlowFast
    continues from it as it would. Any other (a torchvision ImageNet ResNet,
    a model with other blocks or classes, GTA matrices of another clip
    length) is written as ``{"model_state": matching_weights(...)}`` to
    ``output_dir/converted_weights/``: weights only, so training starts at
    the first epoch with a fresh optimizer.

    Args:
        clear_name_pattern (tuple): TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN, applied
            before matching (``clear_name_patterns``); PySlowFast's loader
            finds no pattern left in the converted names.
        inflate (bool): TRAIN.CHECKPOINT_INFLATE (``inflate_2d_kernels``);
            the converted kernels already have the model's shapes.
    Returns:
        str: the file for PySlowFast's loader.
    """
    state = read_checkpoint(path)
    raw_state = model_state_of(state, path)
    if "model_state" in state and is_checkpoint_of(model, raw_state):
        return path
    model_state = clear_name_patterns(raw_state, clear_name_pattern)
    weights = matching_weights(model, model_state, path, inflate=inflate)
    stem = os.path.splitext(os.path.basename(path))[0]
    converted = os.path.join(output_dir, "converted_weights", stem + ".pyth")
    os.makedirs(os.path.dirname(converted), exist_ok=True)
    atomic_write(converted, lambda stream: torch.save({"model_state": weights}, stream))
    logger.info("Wrote %s: the weights this model takes from %s, for PySlowFast's loader",
                converted, path)
    return converted
