"""TENSORBOARD.ENABLE in the plugin's loops: PySlowFast's own
``TensorboardWriter`` on the first process, as GitHub main's ``train_net``
and ``test_net`` open it."""

from gta_slowfast import compat
from gta_slowfast.engine import distributed


def open_writer(cfg):
    """PySlowFast's ``TensorboardWriter(cfg)`` on the first process where
    TENSORBOARD.ENABLE (event files in OUTPUT_DIR/TENSORBOARD.LOG_DIR, or
    ``OUTPUT_DIR/runs-<TRAIN.DATASET>`` where that is empty); None on the
    other processes, where it is off, and on pyslowfast 1.0 (no such keys).
    The caller closes it (``writer.close()``)."""
    if not distributed.is_master():
        return None
    return compat.tensorboard_writer(cfg)
