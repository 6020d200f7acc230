"""tools/benchmark_order.py: the within-pair accuracy, and a tiny run."""

import json

import cv2
import numpy as np
import pytest

from gta_slowfast.datasets.ssv2 import read_class_names

from pipeline import load_tool


def test_accuracies_are_the_test_reports_figures_over_the_scored_videos(tmp_path):
    tool = load_tool("benchmark_order")
    names = ["Moving something up", "Moving something down", "Something appearing",
             "Something disappearing"]
    # Pairs (0, 1) and (2, 3). Video 0 (class 0): wrong overall (class 2
    # wins) but right within its pair (0 beats 1). Video 1 (class 3): right
    # overall and within. Video 2 (class 1): wrong within its pair.
    # Video 3 unscored: it would be right everywhere.
    path = tmp_path / "scores.npz"
    np.savez(path, scores=np.array([[0.3, 0.1, 0.5, 0.1], [0.1, 0.1, 0.2, 0.6],
                                    [0.5, 0.3, 0.1, 0.1], [0.0, 1.0, 0.0, 0.0]]),
             labels=np.array([0, 3, 1, 1]), scored=np.array([True, True, True, False]),
             video_paths=np.array(["a", "b", "c", "d"]), class_names=np.array(names))
    top1, mean_class, within = tool.accuracies(str(path))
    assert top1 == pytest.approx(100 / 3)
    assert mean_class == pytest.approx(100 / 3)  # classes 0, 1, 3: 0%, 0%, 100%
    assert within == pytest.approx(200 / 3)


def test_accuracies_refuse_scores_without_reversal_pairs(tmp_path):
    tool = load_tool("benchmark_order")
    path = tmp_path / "scores.npz"
    np.savez(path, scores=np.eye(2), labels=np.array([0, 1]), scored=np.array([True, True]),
             video_paths=np.array(["a", "b"]), class_names=np.array(["jumping", "running"]))
    with pytest.raises(ValueError, match="no class of a reversal pair"):
        tool.accuracies(str(path))


def test_tiny_run_writes_table_and_curves(tiny_ssv2, tmp_path, monkeypatch):
    monkeypatch.setenv("PYSLOWFAST_ROOT", "")  # the plugin's loop on both generations
    out = tmp_path / "out"
    tool = load_tool("benchmark_order")
    tool.main(["--data", str(tiny_ssv2), "--out", str(out), "--epochs", "1",
               "--models", "baseline", "GTA", "--opts",
               "GTA.DATA.RESIZE", "[40, 48]", "DATA.TRAIN_CROP_SIZE", "32",
               "DATA.TEST_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4",
               "DATA_LOADER.NUM_WORKERS", "0"])
    table = (out / "results.md").read_text()
    assert "| baseline |" in table and "| GTA |" in table
    assert cv2.imread(str(out / "curves.png")) is not None
    labels = json.loads((tiny_ssv2 / "something-something-v2-labels.json").read_text())
    names = read_class_names(str(tiny_ssv2 / "something-something-v2-labels.json"))
    assert [int(labels[name]) for name in names] == list(range(len(labels)))


def test_curves_read_the_json_stats_lines_the_loop_writes(tmp_path):
    from gta_slowfast.engine.logging_setup import log_json_stats

    tool = load_tool("benchmark_order")
    log_json_stats({"_type": "train_iter_", "epoch": "1/2", "loss": 9.0}, str(tmp_path))
    log_json_stats({"_type": "train_epoch", "epoch": "1/2", "loss": 1.5}, str(tmp_path))
    log_json_stats({"_type": "val_epoch", "epoch": "1/2", "top1_err": 75.0}, str(tmp_path))
    log_json_stats({"_type": "train_epoch", "epoch": "2/2", "loss": 1.25}, str(tmp_path))
    assert tool.curves(str(tmp_path)) == ([(1, 1.5), (2, 1.25)], [(1, 25.0)])
