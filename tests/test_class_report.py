"""Per-class results and temporal pairs (gta_slowfast.analysis) against a
hand-computed example, their files, and the test loop writing them."""

import csv

import numpy as np
import pytest
import torch
from torch import nn

import gta_slowfast
from gta_slowfast.analysis import confusion_figure, temporal_pairs
from gta_slowfast.analysis.class_report import ClassReport
from gta_slowfast.analysis.report_files import load_scores, report_paths, write_report
from gta_slowfast.analysis.temporal_pairs import ClassPair
from gta_slowfast.datasets.transforms import mirror_classes
from gta_slowfast.demo import scenes
from gta_slowfast.engine import test as engine_test

from pipeline import CONFIG, json_stats

# Classes 0/1 are opposite actions (the demo's and the shipped list's),
# 2/3 mirror images (left <-> right).
NAMES = ["Moving something up", "Moving something down",
         "Pushing something from left to right", "Pushing something from right to left"]
LABELS = [0, 0, 1, 1, 2, 2, 3, 3, 3]
SCORES = [
    [0.6, 0.3, 0.1, 0.0],  # 0 -> 0 right; within pair right
    [0.2, 0.5, 0.3, 0.0],  # 0 -> 1 wrong; within pair wrong
    [0.1, 0.4, 0.5, 0.0],  # 1 -> 2 wrong; within pair right (0.4 > 0.1)
    [0.0, 0.9, 0.1, 0.0],  # 1 -> 1 right; right
    [0.0, 0.0, 0.7, 0.3],  # 2 -> 2 right; right
    [0.1, 0.0, 0.4, 0.5],  # 2 -> 3 wrong; wrong
    [0.0, 0.0, 0.6, 0.4],  # 3 -> 2 wrong; wrong
    [0.2, 0.0, 0.1, 0.7],  # 3 -> 3 right; right
    [0.0, 0.0, 0.2, 0.8],  # 3 -> 3 right; right
]
# By hand:
CONFUSION = [[1, 1, 0, 0],
             [0, 1, 1, 0],
             [0, 0, 1, 1],
             [0, 0, 1, 2]]
TOP1 = [50.0, 50.0, 50.0, 200.0 / 3]
TOP1_ACC = 500.0 / 9
MEAN_CLASS_ACC = (50.0 * 3 + 200.0 / 3) / 4
PAIR_ACC = 600.0 / 9  # 6 of the 9 videos (all paired) score their class above its partner
PAIRS = [ClassPair(0, 1, ("opposite",)), ClassPair(2, 3, ("mirror",))]
PAIR_ROWS = [  # (first_top1, second_top1, first_as_second, second_as_first, within_pair)
    (50.0, 50.0, 50.0, 0.0, 75.0),          # 0 taken for 1 once of 2; 3 of 4 within
    (50.0, 200.0 / 3, 50.0, 100.0 / 3, 60.0),  # 2 -> 3 once of 2, 3 -> 2 once of 3; 3 of 5
]


def hand_report():
    return ClassReport(np.array(SCORES), np.array(LABELS), NAMES,
                       temporal_pairs.temporal_pairs(NAMES))


def test_per_class_figures_and_pairs_by_hand():
    report = hand_report()
    assert report.pairs == PAIRS
    assert report.confusion.tolist() == CONFUSION
    assert report.videos.tolist() == [2, 2, 2, 3]
    assert report.top1 == pytest.approx(TOP1)
    assert report.top1_acc == pytest.approx(TOP1_ACC)
    assert report.mean_class_acc == pytest.approx(MEAN_CLASS_ACC)
    assert report.pair_acc == pytest.approx(PAIR_ACC) and report.paired_videos == 9
    assert report.summary() == pytest.approx({"mean_class_acc": MEAN_CLASS_ACC,
                                              "pair_acc": PAIR_ACC})
    for row, expected in zip(report.pair_rows, PAIR_ROWS):
        got = [row[key] for key in ("first_top1", "second_top1", "first_as_second",
                                    "second_as_first", "within_pair")]
        assert got == pytest.approx(list(expected))
    assert [(r["first_videos"], r["second_videos"]) for r in report.pair_rows] == [(2, 2), (2, 3)]
    # 2 <-> 3 twice, then 0 -> 1 and 1 -> 2 once each (the lower class first).
    assert report.most_confused() == [(2, 3, 1, 1), (0, 1, 1, 0), (1, 2, 1, 0)]
    assert report.most_taken_for(3) == (2, pytest.approx(100.0 / 3))
    lines = "\n".join(report.lines())
    assert "'Pushing something from left to right' <-> 'Pushing something from right to " \
           "left': 1 of 2 and 1 of 3" in lines
    assert "accuracy within pairs 66.67% over 9 videos of 2 pairs" in lines


def test_classes_without_videos_and_without_names():
    # Class 0: 1 of 1 right, class 1: 1 of 2; class 2 has no video and is left out of
    # the mean. No names, no pairs.
    report = ClassReport(np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]),
                         np.array([0, 1, 1]))
    assert np.isnan(report.top1[2]) and report.mean_class_acc == pytest.approx(75.0)
    assert report.summary() == {"mean_class_acc": pytest.approx(75.0)}
    assert report.name(1) == "class 1" and report.pair_acc is None
    with pytest.raises(ValueError, match="2 class names for scores of 3 classes"):
        ClassReport(np.zeros((1, 3)), np.array([0]), ["a", "b"])
    with pytest.raises(ValueError, match="Labels must be in 0..2"):
        ClassReport(np.zeros((1, 3)), np.array([3]))


def test_pair_accuracy_needs_the_own_class_above_every_partner():
    # Class 0 is paired with 1 and with 2: its video must beat both.
    pairs = [ClassPair(0, 1, ("mirror",)), ClassPair(0, 2, ("opposite",))]
    scores = np.array([[0.5, 0.4, 0.6], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4], [0.9, 0.0, 0.1]])
    labels = np.array([0, 0, 1, 1])
    # Video 0: 0.5 < 0.6 wrong; video 1 right; video 2: a tie with class 0 is wrong;
    # video 3: 0.0 < 0.9 wrong.
    assert temporal_pairs.pair_accuracy(scores, labels, pairs) == (25.0, 4)
    assert temporal_pairs.pair_accuracy(scores, labels, []) == (None, 0)


def test_mirror_pairs_are_flip_label_swaps_and_skip_classes_without_a_mirror():
    names = scenes.class_names(6)
    swaps = mirror_classes(names, ["left", "right"])
    expected = sorted({tuple(sorted(item)) for item in swaps.items()})
    assert temporal_pairs.mirror_pairs(names, ["left", "right"]) == expected == [(0, 1), (10, 11)]
    # An SSv2 class that says "right" with no mirror class is left out, not an error.
    names = ["Pushing something from left to right",
             "Plugging something into something but pulling it right out as you remove "
             "your hand", "Pushing something from right to left"]
    assert temporal_pairs.mirror_pairs(names, ["left", "right"]) == [(0, 2)]
    # An odd word (no label swapped, only never flipped) has no partner.
    assert temporal_pairs.mirror_pairs(names, ["left", "right", "up"]) == [(0, 2)]
    assert temporal_pairs.mirror_pairs(names, ["up"]) == []


def test_demo_pairs_are_its_reversal_pairs():
    pairs = temporal_pairs.temporal_pairs(scenes.class_names(6))
    assert [(p.first, p.second) for p in pairs] == [(2 * p, 2 * p + 1) for p in range(6)]
    assert all("opposite" in p.kinds for p in pairs)
    assert [p.kinds for p in pairs if "mirror" in p.kinds] == [("mirror", "opposite")] * 2


def test_shipped_opposite_actions_parse_and_match_names_case_insensitively(tmp_path):
    listed = temporal_pairs.read_opposite_actions()
    assert ("Opening something", "Closing something") in listed and len(listed) >= 15
    for first, second in listed:
        assert first != second and not set("[]|#") & set(first + second)
    assert temporal_pairs.opposite_pairs(["x", "closing SOMETHING", "Opening something"]) == [
        (1, 2)]
    bad = tmp_path / "pairs.txt"
    bad.write_text("# a comment\nOpening something | Closing something\nFolding something\n")
    with pytest.raises(ValueError, match=r"pairs.txt:3: expected 'first class \| second class'"):
        temporal_pairs.read_opposite_actions(str(bad))


def test_report_files_hold_the_hand_figures(tmp_path):
    paths = write_report(hand_report(), str(tmp_path / "test_scores_x_1x1.npz"))
    assert paths == report_paths(str(tmp_path / "test_scores_x_1x1.npz"))
    with open(paths["per_class"]) as stream:
        rows = list(csv.DictReader(stream))
    assert [row["name"] for row in rows] == NAMES
    assert [int(row["videos"]) for row in rows] == [2, 2, 2, 3]
    assert [float(row["top1"]) for row in rows] == pytest.approx(TOP1, abs=1e-4)
    assert [row["most_taken_for"] for row in rows] == ["1", "2", "3", "2"]
    with open(paths["confusion"]) as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["class", "name", "0", "1", "2", "3"]
    assert [[int(v) for v in row[2:]] for row in rows[1:]] == CONFUSION
    with open(paths["pairs"]) as stream:
        rows = list(csv.DictReader(stream))
    assert [(row["kinds"], row["first_name"], row["second_name"]) for row in rows] == [
        ("opposite", NAMES[0], NAMES[1]), ("mirror", NAMES[2], NAMES[3])]
    assert [float(row["within_pair"]) for row in rows] == [75.0, 60.0]
    with open(paths["figure"], "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"


def test_many_classes_show_the_most_confused_with_their_partners_and_sum_the_rest():
    # 40 classes, each video right but for 35 <-> 36 (each once), 5 -> 7 and 8 -> 7.
    labels = list(range(40)) + [35, 36, 5, 8]
    predictions = list(range(40)) + [36, 35, 7, 7]
    scores = np.eye(40)[predictions]
    pairs = [ClassPair(7, 20, ("opposite",)), ClassPair(35, 36, ("mirror",))]
    report = ClassReport(scores, np.array(labels), None, pairs)
    # Involvement: 7: 2, 35: 2, 36: 2, 5: 1, 8: 1. With room for 4: 7 and its partner 20,
    # then 35 and 36; in drawing order each class followed by its partner.
    assert confusion_figure.shown_classes(report, max_classes=4) == [7, 20, 35, 36]
    # With room for 5: 7 and 20, 35 and 36, then 5 alone.
    assert confusion_figure.shown_classes(report, max_classes=5) == [5, 7, 20, 35, 36]
    matrix = confusion_figure.summarised_matrix(report.confusion, [7, 20, 35, 36])
    # Others: 36 classes with one right video each, plus 5 -> 7 and 8 -> 7.
    assert matrix.tolist() == [[1, 0, 0, 0, 0],
                               [0, 1, 0, 0, 0],
                               [0, 0, 1, 1, 0],
                               [0, 0, 1, 1, 0],
                               [2, 0, 0, 0, 36]]


def test_scores_file_keeps_the_class_names_and_reads_without_them(tmp_path):
    args = (torch.tensor(SCORES), torch.tensor(LABELS), torch.ones(len(LABELS), dtype=torch.bool),
            ["v{}".format(i) for i in range(len(LABELS))])
    engine_test.save_scores(str(tmp_path / "named.npz"), *args, class_names=NAMES)
    engine_test.save_scores(str(tmp_path / "unnamed.npz"), *args)
    named = load_scores(str(tmp_path / "named.npz"))
    assert named["class_names"] == NAMES and np.allclose(named["scores"], SCORES)
    assert load_scores(str(tmp_path / "unnamed.npz"))["class_names"] is None


class NamedViews(torch.utils.data.Dataset):
    """The hand example as a one-view test set with class names; item i's
    input is i, which ``TableModel`` turns into SCORES[i]."""

    class_names = NAMES
    num_videos = len(LABELS)
    video_paths = ["video{}.webm".format(i) for i in range(len(LABELS))]

    def __len__(self):
        return self.num_videos

    def __getitem__(self, index):
        return [torch.tensor(index)], LABELS[index], index, 0, {}


class TableModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.tensor(SCORES))

    def forward(self, inputs):
        return self.table[inputs[0].long()]


def test_the_test_loop_writes_the_report_and_json_stats(monkeypatch, tmp_path):
    monkeypatch.setattr(engine_test, "build_model", lambda cfg: TableModel())
    monkeypatch.setattr(engine_test, "construct_loader", lambda cfg, split:
                        torch.utils.data.DataLoader(NamedViews(), batch_size=4))
    cfg = gta_slowfast.load_config(CONFIG, [
        "NUM_GPUS", 0, "MODEL.NUM_CLASSES", 4, "OUTPUT_DIR", str(tmp_path),
        "TEST.NUM_ENSEMBLE_VIEWS", 1, "TEST.NUM_SPATIAL_CROPS", 1])
    (final,) = engine_test.test(cfg)
    assert final["mean_class_acc"] == pytest.approx(MEAN_CLASS_ACC)
    assert final["pair_acc"] == pytest.approx(PAIR_ACC)
    (record,) = json_stats(tmp_path, "test_final")
    assert record["mean_class_acc"] == pytest.approx(MEAN_CLASS_ACC, abs=1e-5)
    assert record["pair_acc"] == pytest.approx(PAIR_ACC, abs=1e-5)
    scores_file = tmp_path / "test_scores_random_init_1x1.npz"
    assert load_scores(str(scores_file))["class_names"] == NAMES
    for path in report_paths(str(scores_file)).values():
        assert (tmp_path / path).is_file()
    log = (tmp_path / "stdout.log").read_text()
    assert "accuracy within pairs 66.67%" in log and "'Moving something up' <-> " in log
