"""tools/analyze_scores.py (the per-class report of saved scores, runs side
by side) and tools/plot_log.py (training curves from json stats), run
in-process on files written here."""

import csv
import json
import pickle
import re

import numpy as np
import pytest
import torch

from pipeline import load_tool

analyze_scores = load_tool("analyze_scores")
plot_log = load_tool("plot_log")

# Four demo classes: two reversal pairs (0/1, 2/3).
NAMES = ["Moving something up", "Moving something down",
         "Moving something towards the camera", "Moving something away from the camera"]
VIDEOS = ["v{}.webm".format(i) for i in range(8)]
LABELS = [0, 0, 1, 1, 2, 2, 3, 3]
# "NL": blind to order, every video of the up/down pair taken for "up"; the camera pair right.
NL = np.eye(4)[[0, 0, 0, 0, 2, 2, 3, 3]] * 0.8 + 0.05
# "GTA": every video right.
GTA = np.eye(4)[LABELS] * 0.8 + 0.05


def write_scores(path, scores, videos=VIDEOS, labels=LABELS, names=NAMES, scored=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"scores": np.asarray(scores, np.float32), "labels": np.array(labels),
              "scored": np.ones(len(videos), bool) if scored is None else np.array(scored),
              "video_paths": np.array(videos, dtype=str)}
    if names is not None:
        arrays["class_names"] = np.array(names, dtype=str)
    np.savez(path, **arrays)
    return str(path)


def test_one_scores_file_gives_testing_report(tmp_path, capsys):
    scores = write_scores(tmp_path / "NL" / "test_scores_a_1x1.npz", NL)
    analyze_scores.main([scores])
    out = capsys.readouterr().out
    # Up/down: 2 of 2 "up" right, 0 of 2 "down"; the camera pair all right.
    assert "Mean class accuracy 75.00% over 4 classes with videos (top-1 75.00% over 8" in out
    assert "'Moving something up' <-> 'Moving something down': 0 of 2 and 2 of 2" in out
    assert "accuracy within pairs 75.00% over 8 videos of 2 pairs" in out
    with open(tmp_path / "NL" / "test_scores_a_1x1_per_class.csv") as stream:
        assert [float(r["top1"]) for r in csv.DictReader(stream)] == [100.0, 0.0, 100.0, 100.0]
    assert (tmp_path / "NL" / "test_scores_a_1x1_confusion.png").is_file()


def test_two_runs_side_by_side_show_the_pairs_one_confuses(tmp_path, capsys):
    # The second run lists the videos in another order, and one video is unscored in the first.
    order = [7, 6, 5, 4, 3, 2, 1, 0]
    nl = write_scores(tmp_path / "NL" / "test_scores_a_1x1.npz", NL,
                      scored=[True] * 7 + [False])
    gta = write_scores(tmp_path / "GTA" / "test_scores_a_1x1.npz", GTA[order],
                       videos=[VIDEOS[i] for i in order], labels=[LABELS[i] for i in order])
    analyze_scores.main([nl, gta, "--out", str(tmp_path / "cmp")])
    out = capsys.readouterr().out
    assert "comparison on the 7 videos every run scored" in out
    lines = out[out.index("=== comparison"):].splitlines()
    # Within the up/down pair: NL 2 of 4 (the "up" videos), GTA 4 of 4; first, as they differ most.
    pair_line = lines[lines.index(next(l for l in lines if l.startswith("Accuracy within"))) + 2]
    assert pair_line.split()[:2] == ["50.0%", "100.0%"] and "'Moving something up'" in pair_line
    with open(tmp_path / "cmp" / "comparison_classes.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["name"], r["top1_NL"], r["top1_GTA"]) for r in rows][:2] == [
        (NAMES[0], "100.0000", "100.0000"), (NAMES[1], "0.0000", "100.0000")]
    with open(tmp_path / "cmp" / "comparison_pairs.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["within_pair_NL"], r["within_pair_GTA"]) for r in rows] == [
        ("50.0000", "100.0000"), ("100.0000", "100.0000")]
    assert (tmp_path / "cmp" / "GTA" / "test_scores_a_1x1_pairs.csv").is_file()


def test_old_scores_file_takes_class_names_from_a_labels_file(tmp_path, capsys):
    scores = write_scores(tmp_path / "old" / "s.npz", GTA, names=None)
    labels = tmp_path / "something-something-v2-labels.json"
    labels.write_text(json.dumps({name: str(k) for k, name in enumerate(NAMES)}))
    analyze_scores.main([scores])
    assert "No class names (give --class-names): no temporal pairs." in capsys.readouterr().out
    analyze_scores.main([scores, "--class-names", str(labels)])
    assert "accuracy within pairs 100.00%" in capsys.readouterr().out


def test_pyslowfast_results_pickle_is_read_with_a_names_file(tmp_path, capsys):
    # TEST.SAVE_RESULTS_PATH: [preds, labels] tensors, label -1 for an unreadable video.
    path = tmp_path / "pyslowfast" / "preds.pkl"
    path.parent.mkdir()
    with open(path, "wb") as stream:
        pickle.dump([torch.tensor(np.vstack([NL, NL[:1]]), dtype=torch.float32),
                     torch.tensor(LABELS + [-1])], stream)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n")
    analyze_scores.main([str(path), "--class-names", str(names)])
    out = capsys.readouterr().out
    assert "top-1 75.00% over 8 videos" in out and "accuracy within pairs 75.00%" in out


@pytest.mark.parametrize("case, message", [
    ("missing", r"No scores file .*absent\.npz"),
    ("other data set", r"name different classes \(class 1: 'Moving something down' and "
                       r"'Folding something'\): files of different data sets"),
    ("other class count", r"scores 4 classes and .* 3: scores files of different data sets"),
    ("other videos", r"hold different videos \(8 and 8; e\.g\. v0\.webm\)"),
    ("other labels", r"give video v1\.webm different labels \(0 and 1\)"),
    ("short names file", r"names\.txt names 3 classes, but the scores have 4: a class-names "
                         r"file of another data set"),
    ("missing names file", r"No class-names file .*absent\.json"),
])
def test_bad_input_gets_a_clear_error(tmp_path, case, message):
    first = write_scores(tmp_path / "a" / "s.npz", NL)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES[:3]) + "\n")

    def second(scores, **changes):
        return write_scores(tmp_path / "b" / "s.npz", scores, **changes)

    args = {
        "missing": lambda: [first, str(tmp_path / "absent.npz")],
        "other data set": lambda: [first, second(GTA, names=[
            NAMES[0], "Folding something", NAMES[2], NAMES[3]])],
        "other class count": lambda: [first, second(GTA[:, :3], names=NAMES[:3])],
        "other videos": lambda: [first, second(GTA, videos=["w{}".format(i) for i in range(8)])],
        "other labels": lambda: [first, second(GTA, labels=[0, 1, 1, 1, 2, 2, 3, 3])],
        "short names file": lambda: [first, "--class-names", str(names)],
        "missing names file": lambda: [first, "--class-names", str(tmp_path / "absent.json")],
    }[case]()
    with pytest.raises(SystemExit) as exit_info:
        analyze_scores.main(args)
    assert exit_info.value.code.startswith("analyze_scores: ")
    assert re.search(message, exit_info.value.code)


def stats_line(**record):
    return "[11/30 10:00:00][INFO] gta_slowfast:   49: json_stats: " + json.dumps(record) + "\n"


def test_plot_log_reads_json_stats_and_draws_each_run(tmp_path, capsys):
    run = tmp_path / "GTA"
    run.mkdir()
    (run / "json_stats.log").write_text("".join([
        "json_stats: " + json.dumps({"_type": "train_iter_", "epoch": "1/2", "iter": "1/2",
                                     "loss": 2.0, "lr": 0.1, "top1_err": 90.0}) + "\n",
        "json_stats: " + json.dumps({"_type": "train_iter_", "epoch": "1/2", "iter": "2/2",
                                     "loss": 1.5, "lr": 0.1, "top1_err": 80.0}) + "\n",
        "json_stats: " + json.dumps({"_type": "train_epoch", "epoch": "1/2", "loss": 1.75,
                                     "lr": 0.1, "top1_err": 85.0}) + "\n",
        "json_stats: " + json.dumps({"_type": "val_epoch", "epoch": "1/2", "top1_err": 70.0})
        + "\n",
        # Resumed: epoch 1's validation logged again; the later record counts.
        "json_stats: " + json.dumps({"_type": "val_epoch", "epoch": "1/2", "top1_err": 60.0})
        + "\n",
        "json_stats: " + json.dumps({"split": "test_final", "top1_acc": 50.0}) + "\n",
    ]))
    curves = plot_log.curves(plot_log.read_stats(str(run)))
    assert curves == {"iter_loss": [(0.5, 2.0), (1.0, 1.5)], "iter_lr": [(0.5, 0.1), (1.0, 0.1)],
                      "iter_top1_err": [(0.5, 90.0), (1.0, 80.0)], "epoch_loss": [(1, 1.75)],
                      "epoch_lr": [(1, 0.1)], "epoch_top1_err": [(1, 85.0)],
                      "val_top1_err": [(1, 60.0)]}
    # GitHub main's own tools log json stats only in stdout.log, among other lines.
    other = tmp_path / "NL"
    other.mkdir()
    (other / "stdout.log").write_text("[INFO] start\n" + stats_line(
        _type="train_epoch", epoch="1/2", loss=2.5, lr=0.1, top1_err=95.0) + stats_line(
        _type="val_epoch", epoch="1/2", top1_err=88.0))
    assert plot_log.curves(plot_log.read_stats(str(other)))["val_top1_err"] == [(1, 88.0)]
    out = tmp_path / "curves.png"
    plot_log.main([str(run), str(other), "--out", str(out)])
    with open(out, "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
    plot_log.main([str(run)])
    assert (run / "training_curves.png").is_file()
    assert "Wrote" in capsys.readouterr().out


def test_plot_log_says_when_there_is_nothing_to_plot(tmp_path):
    with pytest.raises(SystemExit, match="plot_log: No folder .*absent"):
        plot_log.main([str(tmp_path / "absent")])
    (tmp_path / "stdout.log").write_text("[INFO] no stats here\n")
    with pytest.raises(SystemExit, match="No json_stats lines in .*json_stats.log or stdout.log"):
        plot_log.main([str(tmp_path)])
    (tmp_path / "json_stats.log").write_text(
        "json_stats: " + json.dumps({"split": "test_final", "top1_acc": 50.0}) + "\n")
    with pytest.raises(SystemExit, match="logs no train_iter, train_epoch or val_epoch record"):
        plot_log.main([str(tmp_path)])
