#!/usr/bin/env python3
"""The per-class report of saved test scores, without retesting; several runs side by side.

    python tools/analyze_scores.py OUT/test_scores_checkpoint_epoch_00050_1x1.npz
    python tools/analyze_scores.py NL/test_scores_*.npz GTA/test_scores_*.npz [--out DIR]
        [--class-names FILE] [--mirror-words left right] [--top 10]

Each file is what testing writes (``OUTPUT_DIR/test_scores_*.npz``), or
the ``[preds, labels]`` pickle of TEST.SAVE_RESULTS_PATH, which GitHub-main
PySlowFast's own test_net.py writes too (no class names in it: give
--class-names; its videos are named by their row). For each, the report testing logs: mean class accuracy, the most confused
classes, the temporal pairs (mirror and opposite-action pairs, found from
the class names) with the accuracy within pairs; and the files testing
writes beside the scores (per-class CSV, confusion matrix CSV and PNG,
pairs CSV), written beside each file or, with --out, into DIR (DIR/<run>/
for several runs).

Class names come from the scores file (testing saves them) or, for a file
saved without them, from --class-names (SSv2's
something-something-v2-labels.json, or a text file of one name a line);
without names there are no pairs.

Several files: the runs must hold the same videos with the same labels
(e.g. NL and GTA tested on one test set); each is reported on the videos
every run scored, then compared: top-1, mean class accuracy and accuracy
within pairs per run, each pair's accuracy within it, and the classes whose
top-1 differs most between the runs (with --out, DIR/comparison_classes.csv
and DIR/comparison_pairs.csv). A run is named by its scores file's folder.
"""

import argparse
import csv
import os
import sys

import numpy as np

from gta_slowfast.analysis.class_report import ClassReport
from gta_slowfast.analysis.report_files import load_scores, read_class_names, write_report
from gta_slowfast.analysis.temporal_pairs import temporal_pairs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", nargs="+", help="test_scores_*.npz files (or TEST.SAVE_RESULTS_PATH pickles)")
    parser.add_argument("--class-names", help="class names for files saved without them: "
                        "something-something-v2-labels.json or one name a line")
    parser.add_argument("--out", help="folder for the report files (default: beside each "
                        "scores file)")
    parser.add_argument("--mirror-words", nargs="+", default=["left", "right"],
                        help="pairs of mirror words, as GTA.DATA.NO_FLIP_WORDS (default: left "
                        "right)")
    parser.add_argument("--top", type=int, default=10,
                        help="most confused classes and most different classes to list")
    return parser.parse_args(argv)


def run_names(paths):
    """Each scores file's folder name, numbered (``NAME_1``, ``NAME_2``, ...)
    where two folders share a name."""
    names = [os.path.basename(os.path.dirname(os.path.abspath(path))) for path in paths]
    if len(set(names)) < len(names):
        return ["{}_{}".format(name, i) for i, name in enumerate(names, start=1)]
    return names


def class_names_of(runs, paths, names_file):
    """The class names every run shares: the runs' own, checked against
    each other and against ``names_file``; None when nothing names them.

    Raises:
        ValueError: runs of different class counts or names (another data
            set), or a names file of another class count or other names.
    """
    num_classes = runs[0]["scores"].shape[1]
    for path, run in zip(paths[1:], runs[1:]):
        if run["scores"].shape[1] != num_classes:
            raise ValueError("{} scores {} classes and {} {}: scores files of different data "
                             "sets.".format(paths[0], num_classes, path, run["scores"].shape[1]))
    named = [(path, run["class_names"]) for path, run in zip(paths, runs) if run["class_names"]]
    if names_file:
        named.insert(0, (names_file, read_class_names(names_file)))
    if not named:
        return None
    source, names = named[0]
    for path, other in named:
        if len(other) != num_classes:
            raise ValueError("{} names {} classes, but the scores have {}: a class-names file "
                             "of another data set.".format(path, len(other), num_classes))
        if other != names:
            k = next(k for k, (a, b) in enumerate(zip(names, other)) if a != b)
            raise ValueError("{} and {} name different classes (class {}: '{}' and '{}'): "
                             "files of different data sets.".format(source, path, k, names[k],
                                                                    other[k]))
    return names


def common_videos(runs, paths):
    """The videos every run scored, and their labels.

    Returns:
        tuple: (list of row-index arrays, one per run, in the first run's
            order; labels (N,)).
    Raises:
        ValueError: runs of different videos, or different labels for one
            video, or no video scored by every run.
    """
    first = list(runs[0]["video_paths"])
    for path, run in zip(paths[1:], runs[1:]):
        if set(run["video_paths"]) != set(first):
            only = sorted(set(first) ^ set(run["video_paths"]))
            raise ValueError("{} and {} hold different videos ({} and {}; e.g. {}): compare "
                             "runs tested on the same test set.".format(
                                 paths[0], path, len(first), len(run["video_paths"]), only[0]))
    rows = [{video: i for i, video in enumerate(run["video_paths"])} for run in runs]
    videos = [v for v in first if all(run["scored"][row[v]] for run, row in zip(runs, rows))]
    if not videos:
        raise ValueError("No video is scored in every run of {}.".format(", ".join(paths)))
    index = [np.array([row[v] for v in videos]) for row in rows]
    labels = runs[0]["labels"][index[0]]
    for path, run, run_index in zip(paths[1:], runs[1:], index[1:]):
        differ = np.nonzero(run["labels"][run_index] != labels)[0]
        if len(differ):
            raise ValueError("{} and {} give video {} different labels ({} and {}).".format(
                paths[0], path, videos[differ[0]], labels[differ[0]],
                run["labels"][run_index][differ[0]]))
    return index, labels


def reports_of(paths, names_file=None, mirror_words=("left", "right")):
    """A ClassReport per scores file, on the videos every file scored.

    Raises:
        ValueError: a missing or unreadable file, files of different data
            sets or videos (``class_names_of``, ``common_videos``).
    """
    runs = [load_scores(path) for path in paths]
    names = class_names_of(runs, paths, names_file)
    index, labels = common_videos(runs, paths)
    pairs = temporal_pairs(names, mirror_words)
    return [ClassReport(run["scores"][rows], labels, names, pairs)
            for run, rows in zip(runs, index)]


def comparison_lines(reports, names, top):
    """The side-by-side tables of several runs' reports."""
    width = max(8, max(len(name) for name in names))
    lines = ["{:<{w}}  {:>6}  {:>7}  {:>10}  {:>12}".format(
        "run", "videos", "top-1", "mean class", "within pairs", w=width)]
    for name, report in zip(names, reports):
        lines.append("{:<{w}}  {:>6}  {:>7.2f}  {:>10.2f}  {:>12}".format(
            name, len(report.labels), report.top1_acc, report.mean_class_acc,
            "n/a" if report.pair_acc is None else "{:.2f}".format(report.pair_acc), w=width))
    header = "  ".join("{:>8}".format(name[:8]) for name in names)
    first = reports[0]
    if first.pairs:
        lines.append("Accuracy within each temporal pair (the pairs the runs differ on most "
                     "first):")
        lines.append(header + "  pair")
        table = np.array([[np.nan if row["within_pair"] is None else row["within_pair"]
                           for row in report.pair_rows] for report in reports])
        for p in _most_different(table, len(first.pairs)):
            pair = first.pairs[p]
            lines.append("  ".join(_cell(v) for v in table[:, p]) + "  {} '{}' | '{}'".format(
                "+".join(pair.kinds), first.name(pair.first), first.name(pair.second)))
    table = np.array([report.top1 for report in reports])
    lines.append("Classes whose top-1 differs most:")
    lines.append(header + "  videos  class")
    for k in _most_different(table, top):
        lines.append("  ".join(_cell(v) for v in table[:, k]) + "  {:>6}  {} {}".format(
            int(first.videos[k]), k, first.name(k)))
    return lines


def write_comparison(out_dir, reports, names):
    """DIR/comparison_classes.csv (per class, each run's top-1) and, with
    pairs, DIR/comparison_pairs.csv (per pair, each run's accuracy within it)."""
    os.makedirs(out_dir, exist_ok=True)
    first = reports[0]
    with open(os.path.join(out_dir, "comparison_classes.csv"), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["class", "name", "videos"] + ["top1_" + name for name in names])
        for k in range(first.num_classes):
            writer.writerow([k, first.class_names[k] if first.class_names else "",
                             int(first.videos[k])] + [_csv(report.top1[k]) for report in reports])
    if not first.pairs:
        return
    with open(os.path.join(out_dir, "comparison_pairs.csv"), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["kinds", "first_name", "second_name"]
                        + ["within_pair_" + name for name in names])
        for p, pair in enumerate(first.pairs):
            writer.writerow(["+".join(pair.kinds), first.name(pair.first),
                             first.name(pair.second)]
                            + [_csv(report.pair_rows[p]["within_pair"]) for report in reports])


def _most_different(table, count):
    """Columns of ``table`` (runs x items) by decreasing spread (max - min
    over the runs; NaN last), at most ``count``."""
    known = ~np.isnan(table)
    highest = np.where(known, table, -np.inf).max(axis=0)
    lowest = np.where(known, table, np.inf).min(axis=0)
    spread = np.where(known.any(axis=0), highest - lowest, -1.0)
    return sorted(range(table.shape[1]), key=lambda k: (-spread[k], k))[:count]


def _cell(value):
    return "{:>8}".format("n/a" if np.isnan(value) else "{:.1f}%".format(value))


def _csv(value):
    return "" if value is None or np.isnan(value) else "{:.4f}".format(value)


def main(argv=None):
    args = parse_args(argv)
    try:
        reports = reports_of(args.scores, args.class_names, args.mirror_words)
    except ValueError as error:
        sys.exit("analyze_scores: {}".format(error))
    names = run_names(args.scores)
    several = len(reports) > 1
    for path, name, report in zip(args.scores, names, reports):
        print("=== {}{}".format(path, " ({})".format(name) if several else ""))
        if report.class_names is None:
            print("No class names (give --class-names): no temporal pairs.")
        print("\n".join(report.lines(args.top)))
        out_dir = args.out and (os.path.join(args.out, name) if several else args.out)
        print("Report files: " + ", ".join(write_report(report, path, out_dir).values()))
    if several:
        print("=== comparison on the {} videos every run scored".format(len(reports[0].labels)))
        print("\n".join(comparison_lines(reports, names, args.top)))
        if args.out:
            write_comparison(args.out, reports, names)


if __name__ == "__main__":
    main()
