"""tools/benchmark_order.py: the within-pair accuracy, and a tiny run."""

import json

import cv2
import numpy as np
import pytest

from pipeline import load_tool


def test_within_pair_accuracy_compares_a_class_with_its_reversal(tmp_path):
    tool = load_tool("benchmark_order")
    partners = {0: 1, 1: 0, 2: 3, 3: 2}
    # Video 0 (class 0): wrong overall (class 2 wins) but right within its
    # pair (0 beats 1). Video 1 (class 3): right overall and within.
    # Video 2 (class 1): wrong within its pair. Video 3 unscored.
    path = tmp_path / "scores.npz"
    np.savez(path, scores=np.array([[0.3, 0.1, 0.5, 0.1], [0.1, 0.1, 0.2, 0.6],
                                    [0.5, 0.3, 0.1, 0.1], [0.0, 1.0, 0.0, 0.0]]),
             labels=np.array([0, 3, 1, 0]), scored=np.array([True, True, True, False]),
             video_paths=np.array(["a", "b", "c", "d"]))
    overall, within = tool.accuracies(str(path), partners)
    assert overall == pytest.approx(100 / 3)
    assert within == pytest.approx(200 / 3)


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
    partners = tool.reversal_partners(str(tiny_ssv2))
    assert sorted(partners) == sorted(int(i) for i in labels.values())
    assert all(partners[partners[c]] == c and partners[c] != c for c in partners)


def test_curves_read_the_json_stats_lines_the_loop_writes(tmp_path):
    from gta_slowfast.engine.logging_setup import log_json_stats

    tool = load_tool("benchmark_order")
    log_json_stats({"_type": "train_iter_", "epoch": "1/2", "loss": 9.0}, str(tmp_path))
    log_json_stats({"_type": "train_epoch", "epoch": "1/2", "loss": 1.5}, str(tmp_path))
    log_json_stats({"_type": "val_epoch", "epoch": "1/2", "top1_err": 75.0}, str(tmp_path))
    log_json_stats({"_type": "train_epoch", "epoch": "2/2", "loss": 1.25}, str(tmp_path))
    assert tool.curves(str(tmp_path)) == ([(1, 1.5), (2, 1.25)], [(1, 25.0)])
