"""The class report's files beside a scores file, and the scores files and
class-names files it is built from.

Beside ``test_scores_X.npz`` (or in another folder):

* ``test_scores_X_per_class.csv``: class, name, videos, top1 (percent),
  most_taken_for and most_taken_for_name (the class its videos are most
  often wrongly predicted as), most_taken_for_pct (the share of its
  videos);
* ``test_scores_X_confusion.csv``: class, name, then the number of videos
  of that class predicted as class 0, 1, ... (columns named by index);
* ``test_scores_X_confusion.png``: ``confusion_figure``'s picture;
* ``test_scores_X_pairs.csv``: one row per temporal pair (with class names):
  kinds, each class's videos and top-1, how often each is taken for the
  other, accuracy within the pair.
"""

import csv
import os
import pickle

import numpy as np

from gta_slowfast.analysis.confusion_figure import save_confusion_figure
from gta_slowfast.datasets import ssv1, ssv2

REPORT_SUFFIXES = {
    "per_class": "_per_class.csv",
    "confusion": "_confusion.csv",
    "figure": "_confusion.png",
    "pairs": "_pairs.csv",
}


def report_paths(scores_file, out_dir=None):
    """{kind: path} of the report of ``scores_file``, in ``out_dir`` or beside it."""
    stem = os.path.splitext(os.path.basename(scores_file))[0]
    folder = os.path.dirname(scores_file) if out_dir is None else out_dir
    return {kind: os.path.join(folder, stem + suffix) for kind, suffix in REPORT_SUFFIXES.items()}


def write_report(report, scores_file, out_dir=None):
    """Writes the per-class CSV, the confusion matrix CSV and PNG and, where
    classes are paired, the pairs CSV.

    Args:
        report (ClassReport).
        scores_file (str): names the files.
        out_dir (str): their folder; None: the scores file's.
    Returns:
        dict: {kind: path} of the files written.
    """
    paths = report_paths(scores_file, out_dir)
    os.makedirs(os.path.dirname(paths["per_class"]) or ".", exist_ok=True)
    rows = []
    for k in range(report.num_classes):
        taken_for = report.most_taken_for(k)
        other, share = ("", None) if taken_for is None else taken_for
        rows.append([k, _name(report, k), int(report.videos[k]), _number(report.top1[k]), other,
                     "" if other == "" else _name(report, other), _number(share)])
    _write_csv(paths["per_class"], ["class", "name", "videos", "top1", "most_taken_for",
                                    "most_taken_for_name", "most_taken_for_pct"], rows)
    _write_csv(paths["confusion"], ["class", "name"] + list(range(report.num_classes)),
               [[k, _name(report, k)] + row.tolist() for k, row in enumerate(report.confusion)])
    save_confusion_figure(paths["figure"], report)
    if not report.pairs:
        del paths["pairs"]
        return paths
    _write_csv(paths["pairs"], [
        "kinds", "first", "first_name", "second", "second_name", "first_videos",
        "second_videos", "first_top1", "second_top1", "first_as_second", "second_as_first",
        "within_pair",
    ], [["+".join(row["kinds"]), row["first"], _name(report, row["first"]), row["second"],
         _name(report, row["second"]), row["first_videos"], row["second_videos"],
         _number(row["first_top1"]), _number(row["second_top1"]),
         _number(row["first_as_second"]), _number(row["second_as_first"]),
         _number(row["within_pair"])] for row in report.pair_rows])
    return paths


def load_scores(path):
    """A scores file of testing: the plugin's ``.npz``
    (``engine.test.save_scores``), or the ``[preds, labels]`` pickle of
    TEST.SAVE_RESULTS_PATH (PySlowFast's own ``test_net`` writes it too),
    whose videos are named by their row and scored where the label is not -1.

    Returns:
        dict: ``scores`` (V, K) float, ``labels`` (V,) int, ``scored`` (V,)
        bool, ``video_paths`` (V,) str, ``class_names`` (list of K str, or
        None for a file saved without them).
    Raises:
        ValueError: a missing file, or one that is not a scores file.
    """
    if not os.path.isfile(path):
        raise ValueError("No scores file {}.".format(path))
    try:
        arrays = _read_pickle(path) if path.endswith(".pkl") else _read_npz(path)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError("{} is not a scores file of testing (.npz, or the .pkl of "
                         "TEST.SAVE_RESULTS_PATH): {}".format(path, error))
    missing = [key for key in ("scores", "labels", "scored", "video_paths") if key not in arrays]
    if missing:
        raise ValueError("{} is not a scores file of testing: it lacks {}.".format(
            path, ", ".join(missing)))
    names = arrays.get("class_names")
    arrays["class_names"] = [str(name) for name in names] if names is not None and len(
        names) else None
    return arrays


def _read_npz(path):
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _read_pickle(path):
    with open(path, "rb") as stream:
        content = pickle.load(stream)
    if not isinstance(content, (list, tuple)) or len(content) != 2:
        raise ValueError("expected [preds, labels]")
    preds, labels = (np.asarray(item) for item in content)
    return {"scores": preds, "labels": labels, "scored": labels >= 0,
            "video_paths": np.array([str(i) for i in range(len(labels))])}


def read_class_names(path):
    """Class names from SSv2's ``something-something-v2-labels.json`` ({name:
    "index"}) or from a text file of one name a line (SSv1's
    ``something-something-v1-labels.csv``, or any list).

    Raises:
        ValueError: a missing or malformed file, naming it.
    """
    if not os.path.isfile(path):
        raise ValueError("No class-names file {}.".format(path))
    try:
        if path.endswith(".json"):
            return ssv2.read_class_names(path)
        return ssv1.read_class_names(path)
    except (ValueError, AttributeError) as error:
        message = str(error)
        raise ValueError(message if path in message else "{}: {}".format(path, message))


def _name(report, k):
    return report.class_names[k] if report.class_names else ""


def _number(value):
    """A percentage with 4 decimals; "" for None or NaN."""
    if value is None or np.isnan(value):
        return ""
    return "{:.4f}".format(value)


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
