"""Multi-view testing: every clip x crop of every video, scores averaged
per video, saved for ensembling (``tools/ensemble.py``)."""

import logging
import os
import time

import numpy as np
import torch

from gta_slowfast.datasets import construct_loader
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import atomic_write, last_checkpoint, load_pretrained
from gta_slowfast.engine.logging_setup import log_json_stats, setup_logging
from gta_slowfast.engine.meters import TestMeter, topk_errors
from gta_slowfast.models import build_model

logger = logging.getLogger(__name__)


def checkpoint_to_test(cfg):
    """TEST.CHECKPOINT_FILE_PATH, else OUTPUT_DIR's last checkpoint, else
    TRAIN.CHECKPOINT_FILE_PATH, else None."""
    return (
        cfg.TEST.CHECKPOINT_FILE_PATH
        or last_checkpoint(cfg.OUTPUT_DIR)
        or cfg.TRAIN.CHECKPOINT_FILE_PATH
        or None
    )


def scores_path(cfg, checkpoint):
    """``OUTPUT_DIR/test_scores_<checkpoint>_<views>x<crops>.npz``."""
    name = os.path.splitext(os.path.basename(checkpoint))[0] if checkpoint else "random_init"
    return os.path.join(
        cfg.OUTPUT_DIR,
        "test_scores_{}_{}x{}.npz".format(
            name, cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS
        ),
    )


def save_scores(path, scores, labels, scored, video_paths):
    """Per-video scores (V, K), labels (V,), which videos were scored (V,)
    and their files, as an .npz written atomically."""
    arrays = {
        "scores": scores.numpy(),
        "labels": labels.numpy(),
        "scored": scored.numpy(),
        "video_paths": np.array(video_paths, dtype=str),
    }
    atomic_write(path, lambda stream: np.savez(stream, **arrays))
    logger.info("Saved per-video scores to %s", path)


def videos_in(dataset, views):
    """Videos of a test set of ``views`` items per video (the plugin's and
    PySlowFast's datasets: item i is a view of video i // views).

    Raises:
        ValueError: ``dataset.num_videos`` items are not whole videos.
    """
    if dataset.num_videos % views:
        raise ValueError(
            "The test set has {} items, not a multiple of TEST.NUM_ENSEMBLE_VIEWS x "
            "TEST.NUM_SPATIAL_CROPS = {} views per video.".format(dataset.num_videos, views)
        )
    return dataset.num_videos // views


@torch.no_grad()
def test(cfg):
    """Tests the model of ``cfg``; returns the final stats."""
    setup_logging(cfg.OUTPUT_DIR)
    model = build_model(cfg)
    checkpoint = checkpoint_to_test(cfg)
    if checkpoint:
        load_pretrained(checkpoint, cfg.TEST.CHECKPOINT_TYPE, model)
    else:
        logger.warning("No checkpoint to test: testing the initial weights.")
    model.eval()
    loader = construct_loader(cfg, "test")
    dataset = loader.dataset
    views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    num_videos = videos_in(dataset, views)
    meter = TestMeter(num_videos, cfg.MODEL.NUM_CLASSES)
    device = distributed.device_of(cfg)
    start = time.perf_counter()
    for cur_iter, (inputs, labels, index, _, meta) in enumerate(loader):
        inputs = [x.to(device, non_blocking=True) for x in inputs]
        scores = model(inputs).cpu()
        valid = meta.get("valid", torch.ones(len(index), dtype=torch.bool))
        meter.update(scores, labels, index // views, valid)
        if (cur_iter + 1) % cfg.LOG_PERIOD == 0 or cur_iter + 1 == len(loader):
            seconds = (time.perf_counter() - start) / (cur_iter + 1)
            log_json_stats(
                {
                    "_type": "test_iter",
                    "iter": "{}/{}".format(cur_iter + 1, len(loader)),
                    "time_diff": seconds,
                    "eta": str(int(seconds * (len(loader) - cur_iter - 1))) + "s",
                },
                cfg.OUTPUT_DIR,
            )
    scores, labels, scored = meter.finalize(device)
    unreadable = int((~scored).sum())
    if unreadable:
        logger.warning("%d of %d videos could not be read and are not scored.",
                       unreadable, num_videos)
    if not scored.any():
        raise RuntimeError("No test video could be read.")
    top1_err, top5_err = topk_errors(scores[scored], labels[scored])
    stats = {
        "_type": "test_final",
        "top1_acc": 100.0 - top1_err,
        "top5_acc": 100.0 - top5_err,
        "top1_err": top1_err,
        "top5_err": top5_err,
        "videos": int(scored.sum()),
        "unreadable_videos": unreadable,
        "views": cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS,
    }
    log_json_stats(stats, cfg.OUTPUT_DIR)
    logger.info(
        "Test top-1 %.2f%%, top-5 %.2f%% on %d videos, %d view(s) each",
        stats["top1_acc"], stats["top5_acc"], stats["videos"], stats["views"],
    )
    if distributed.is_master():
        video_paths = getattr(dataset, "video_paths", [str(i) for i in range(num_videos)])
        save_scores(scores_path(cfg, checkpoint), scores, labels, scored, video_paths)
    return stats
