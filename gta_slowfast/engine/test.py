"""Multi-view testing, as PySlowFast's ``tools/test_net.py``: every clip x
crop of every video, the views' scores ensembled per video
(DATA.ENSEMBLE_METHOD), once per TEST.NUM_TEMPORAL_CLIPS value. Each run
saves its per-video scores for ensembling (``tools/ensemble.py``) and, with
TEST.SAVE_RESULTS_PATH, PySlowFast's pickle of them; with
TENSORBOARD.ENABLE, PySlowFast's TensorboardWriter plots them. Beside the
scores go the per-class results (``gta_slowfast.analysis``), whose mean
class accuracy and accuracy within temporal pairs join the json stats."""

import logging
import os
import pickle
import time

import numpy as np
import torch

from gta_slowfast.analysis.class_report import ClassReport
from gta_slowfast.analysis.report_files import write_report
from gta_slowfast.analysis.temporal_pairs import temporal_pairs
from gta_slowfast.datasets import construct_loader
from gta_slowfast.engine import distributed
from gta_slowfast.engine.checkpoint import atomic_write, last_checkpoint, load_pretrained
from gta_slowfast.engine.logging_setup import log_json_stats, setup_logging
from gta_slowfast.engine.meters import (
    TestMeter,
    check_ensemble_method,
    log_test_iter,
    topk_errors,
)
from gta_slowfast.engine.tensorboard import open_writer
from gta_slowfast.models import build_model

logger = logging.getLogger(__name__)


def checkpoint_and_type_to_test(cfg):
    """The checkpoint PySlowFast's ``load_test_checkpoint`` tests and how it
    reads it: (TEST.CHECKPOINT_FILE_PATH, TEST.CHECKPOINT_TYPE), else
    (OUTPUT_DIR's last checkpoint, "pytorch"), else
    (TRAIN.CHECKPOINT_FILE_PATH, TRAIN.CHECKPOINT_TYPE), else (None, None).

    Returns:
        tuple: (path, "pytorch" or "caffe2").
    """
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        return cfg.TEST.CHECKPOINT_FILE_PATH, cfg.TEST.CHECKPOINT_TYPE
    own = last_checkpoint(cfg.OUTPUT_DIR)
    if own:
        return own, "pytorch"
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        return cfg.TRAIN.CHECKPOINT_FILE_PATH, cfg.TRAIN.CHECKPOINT_TYPE
    return None, None


def checkpoint_to_test(cfg):
    """The path of ``checkpoint_and_type_to_test``, or None."""
    return checkpoint_and_type_to_test(cfg)[0]


def load_test_checkpoint(cfg, model):
    """Loads ``checkpoint_and_type_to_test`` into ``model``; returns its
    path, or None (the initial weights are tested, with a warning)."""
    path, checkpoint_type = checkpoint_and_type_to_test(cfg)
    if path:
        load_pretrained(path, checkpoint_type, model)
    else:
        logger.warning("No checkpoint to test: testing the initial weights.")
    return path


def check_test_config(cfg):
    """Refuses, before any work, test switches the loop cannot honour: a
    DATA.ENSEMBLE_METHOD other than "sum" or "max", a TEST.NUM_TEMPORAL_CLIPS
    value that is not a positive number of clips.

    Raises:
        ValueError: naming the key and what to set instead.
    """
    check_ensemble_method(cfg.DATA.ENSEMBLE_METHOD)
    for clips in cfg.TEST.NUM_TEMPORAL_CLIPS:
        if not isinstance(clips, int) or clips < 1:
            raise ValueError(
                "TEST.NUM_TEMPORAL_CLIPS holds {!r}: give numbers of clips of 1 or more "
                "(e.g. [1, 2]), or [] to test once with TEST.NUM_ENSEMBLE_VIEWS "
                "clips.".format(clips)
            )


def temporal_clip_configs(cfg):
    """One config per test run, as ``test_net``: ``cfg`` with
    TEST.NUM_ENSEMBLE_VIEWS set to each value of TEST.NUM_TEMPORAL_CLIPS
    (empty: the one run of TEST.NUM_ENSEMBLE_VIEWS)."""
    runs = []
    for views in list(cfg.TEST.NUM_TEMPORAL_CLIPS) or [cfg.TEST.NUM_ENSEMBLE_VIEWS]:
        run = cfg.clone()
        run.defrost()
        run.TEST.NUM_ENSEMBLE_VIEWS = views
        runs.append(run)
    return runs


def scores_path(cfg, checkpoint):
    """``OUTPUT_DIR/test_scores_<checkpoint>_<views>x<crops>.npz``."""
    name = os.path.splitext(os.path.basename(checkpoint))[0] if checkpoint else "random_init"
    return os.path.join(
        cfg.OUTPUT_DIR,
        "test_scores_{}_{}x{}.npz".format(
            name, cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS
        ),
    )


def save_scores(path, scores, labels, scored, video_paths, class_names=None):
    """Per-video scores (V, K), labels (V,), which videos were scored (V,),
    their files and the K class names (an empty array without names), as
    an .npz written atomically."""
    arrays = {
        "scores": scores.numpy(),
        "labels": labels.numpy(),
        "scored": scored.numpy(),
        "video_paths": np.array(video_paths, dtype=str),
        "class_names": np.array(class_names or [], dtype=str),
    }
    atomic_write(path, lambda stream: np.savez(stream, **arrays))
    logger.info("Saved per-video scores to %s", path)


def save_results(cfg, preds, labels):
    """``[preds, labels]`` pickled to OUTPUT_DIR/TEST.SAVE_RESULTS_PATH, as
    ``test_net`` saves them (written atomically; every run of
    TEST.NUM_TEMPORAL_CLIPS writes the same file, the last one stays).

    Args:
        preds (Tensor): (V, K) float32, ``VideoScores.preds``.
        labels (Tensor): (V,) int64, -1 for videos with no readable view.
    """
    path = os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    atomic_write(path, lambda stream: pickle.dump([preds, labels], stream))
    logger.info("Saved prediction results to %s", path)


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
    """Tests the model of ``cfg`` once per TEST.NUM_TEMPORAL_CLIPS value.

    Returns:
        list[dict]: each run's final stats.
    Raises:
        ValueError: ``check_test_config``'s, before any work.
    """
    setup_logging(cfg.OUTPUT_DIR)
    check_test_config(cfg)
    np.random.seed(cfg.RNG_SEED)
    torch.manual_seed(cfg.RNG_SEED)
    model = build_model(cfg)
    checkpoint = load_test_checkpoint(cfg, model)
    model.eval()
    finals = []
    for run in temporal_clip_configs(cfg):
        finals.append(multi_view_test(run, model, checkpoint))
        logger.info(
            "Finalized testing with %d temporal clips and %d spatial crops",
            run.TEST.NUM_ENSEMBLE_VIEWS, run.TEST.NUM_SPATIAL_CROPS,
        )
    return finals


def multi_view_test(cfg, model, checkpoint):
    """One multi-view test of ``model``, loaded from ``checkpoint``, with
    TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops per video.

    Returns:
        dict: the final stats.
    """
    loader = construct_loader(cfg, "test")
    dataset = loader.dataset
    views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    num_videos = videos_in(dataset, views)
    meter = TestMeter(num_videos, cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD)
    writer = open_writer(cfg)
    try:
        result = score_videos(cfg, model, loader, meter, views)
        unreadable = int((~result.scored).sum())
        if unreadable:
            logger.warning("%d of %d videos could not be read and are not scored.",
                           unreadable, num_videos)
        if not result.scored.any():
            raise RuntimeError("No test video could be read.")
        preds = result.preds.float()
        if writer is not None:
            writer.plot_eval(preds=preds[result.scored], labels=result.labels[result.scored])
    finally:
        if writer is not None:
            writer.close()
    if distributed.is_master() and cfg.TEST.SAVE_RESULTS_PATH:
        save_results(cfg, preds, result.labels)
    scored = result.scored
    top1_err, top5_err = topk_errors(result.scores[scored], result.labels[scored])
    stats = {
        "split": "test_final",
        "top1_acc": 100.0 - top1_err,
        "top5_acc": 100.0 - top5_err,
        "top1_err": top1_err,
        "top5_err": top5_err,
        "videos": int(scored.sum()),
        "unreadable_videos": unreadable,
        "views": views,
    }
    class_names = getattr(dataset, "class_names", None)
    if class_names is not None and len(class_names) != cfg.MODEL.NUM_CLASSES:
        logger.warning("The test set names %d classes, MODEL.NUM_CLASSES is %d: the per-class "
                       "results go without names.", len(class_names), cfg.MODEL.NUM_CLASSES)
        class_names = None
    report = ClassReport(result.scores[scored].numpy(), result.labels[scored].numpy(), class_names,
                         temporal_pairs(class_names, cfg.GTA.DATA.NO_FLIP_WORDS))
    stats.update(report.summary())
    log_json_stats(stats, cfg.OUTPUT_DIR)
    logger.info(
        "Test top-1 %.2f%%, top-5 %.2f%% on %d videos, %d view(s) each",
        stats["top1_acc"], stats["top5_acc"], stats["videos"], stats["views"],
    )
    if distributed.is_master():
        video_paths = getattr(dataset, "video_paths", [str(i) for i in range(num_videos)])
        path = scores_path(cfg, checkpoint)
        save_scores(path, result.scores, result.labels, scored, video_paths, class_names)
        for line in report.lines():
            logger.info(line)
        logger.info("Per-class results: %s", ", ".join(write_report(report, path).values()))
    return stats


def score_videos(cfg, model, loader, meter, views):
    """Runs ``model`` on every view ``loader`` gives this process, logging
    PySlowFast's test_iter stats every LOG_PERIOD iterations and at the end.

    Returns:
        VideoScores: of every process's views.
    """
    device = distributed.device_of(cfg)
    start = time.perf_counter()
    for cur_iter, (inputs, labels, index, _, meta) in enumerate(loader):
        inputs = [x.to(device, non_blocking=True) for x in inputs]
        scores = model(inputs).cpu()
        valid = meta.get("valid", torch.ones(len(index), dtype=torch.bool))
        meter.update(scores, labels, index // views, valid)
        if (cur_iter + 1) % cfg.LOG_PERIOD == 0 or cur_iter + 1 == len(loader):
            seconds = (time.perf_counter() - start) / (cur_iter + 1)
            log_test_iter(cur_iter, len(loader), seconds, cfg.OUTPUT_DIR)
    return meter.finalize(device)
