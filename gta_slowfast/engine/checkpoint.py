"""Checkpoints in PySlowFast's layout, written atomically.

``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth`` holds
``{"epoch", "model_state", "optimizer_state", "cfg"}`` like PySlowFast's own,
so either code base can read the other's files. A file is written to a
temporary name in the same folder, flushed to disk and renamed over the
final name, so an interrupted job never leaves a truncated checkpoint.
"""

import logging
import os
import re
import tempfile

import torch

from gta_slowfast.engine.imagenet import (
    convert_torchvision_resnet,
    is_torchvision_resnet,
)
from gta_slowfast.models.global_temporal_attention import GlobalTemporalMixing

logger = logging.getLogger(__name__)

_CHECKPOINT_NAME = re.compile(r"^checkpoint_epoch_(\d{5})\.pyth$")


def checkpoint_dir(output_dir):
    """``OUTPUT_DIR/checkpoints``."""
    return os.path.join(output_dir, "checkpoints")


def checkpoint_path(output_dir, epoch):
    """Path of the checkpoint of 1-based ``epoch``."""
    return os.path.join(checkpoint_dir(output_dir), "checkpoint_epoch_{:05d}.pyth".format(epoch))


def last_checkpoint(output_dir):
    """Path of the checkpoint with the highest epoch, or None."""
    folder = checkpoint_dir(output_dir)
    if not os.path.isdir(folder):
        return None
    names = sorted(name for name in os.listdir(folder) if _CHECKPOINT_NAME.match(name))
    return os.path.join(folder, names[-1]) if names else None


def save_checkpoint(output_dir, model, optimizer, epoch, cfg):
    """Saves the state after 0-based ``epoch`` (file name: ``epoch + 1``).

    Returns:
        str: the path written.
    """
    os.makedirs(checkpoint_dir(output_dir), exist_ok=True)
    path = checkpoint_path(output_dir, epoch + 1)
    state = {
        "epoch": epoch,
        "model_state": unwrap(model).state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "cfg": cfg.dump(),
    }
    atomic_write(path, lambda stream: torch.save(state, stream))
    logger.info("Saved checkpoint %s", path)
    return path


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


def load_checkpoint(path, model, optimizer=None):
    """Loads a checkpoint into ``model`` (and ``optimizer``).

    Accepts PySlowFast checkpoints, plain state dicts and torchvision-style
    ImageNet ResNet state dicts (converted, see ``imagenet.py``). Weights the
    file lacks, such as GTA or DNL blocks added to a pretrained backbone,
    keep their initialisation; they are listed in the log.

    Returns:
        int: the 0-based epoch stored in the file, or -1 if none.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError("Checkpoint not found: {}".format(path))
    state = torch.load(path, map_location="cpu", weights_only=False)
    model_state = state.get("model_state", state) if isinstance(state, dict) else None
    if not isinstance(model_state, dict):
        raise ValueError("{} holds no state dict".format(path))
    target = unwrap(model)
    if is_torchvision_resnet(model_state):
        logger.info("%s is a torchvision-style ResNet: converting", path)
        model_state = convert_torchvision_resnet(model_state, target.state_dict())
    load_matching(target, model_state, path)
    if optimizer is not None and "optimizer_state" in state:
        optimizer.load_state_dict(state["optimizer_state"])
    return state.get("epoch", -1)


def load_pretrained(path, checkpoint_type, model):
    """Initial weights from ``path``: "pytorch" (PySlowFast checkpoints,
    plain or torchvision ImageNet state dicts) or "caffe2" (PySlowFast's
    model-zoo pickles, through PySlowFast's own converter)."""
    if checkpoint_type == "caffe2":
        from slowfast.utils.checkpoint import load_checkpoint as load_caffe2

        load_caffe2(path, unwrap(model), data_parallel=False, convert_from_caffe2=True)
        logger.info("Loaded Caffe2 weights from %s", path)
    else:
        load_checkpoint(path, model)


def load_matching(model, state_dict, source):
    """Loads the entries of ``state_dict`` whose name and shape match.

    GTA's T x T matrices saved for another clip length go to their module,
    which resizes them (GTA.TEMPORAL_ADAPT: interpolate) or raises an error
    naming both lengths. Logs what starts from scratch and what in the file
    was not used.
    """
    own = model.state_dict()

    def loadable(name, value):
        if own[name].shape == value.shape:
            return True
        owner = model.get_submodule(name.rpartition(".")[0])
        return isinstance(owner, GlobalTemporalMixing)

    matched = {
        name: value for name, value in state_dict.items() if name in own and loadable(name, value)
    }
    mismatched = sorted(name for name in state_dict if name in own and name not in matched)
    unused = sorted(name for name in state_dict if name not in own)
    from_scratch = sorted(name for name in own if name not in matched)
    model.load_state_dict(matched, strict=False)
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
