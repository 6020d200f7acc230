#!/usr/bin/env python3
"""Averages the per-video test scores of several runs and prints top-1/top-5.

    python tools/ensemble.py OUT_8F/test_scores_*.npz OUT_16F/test_scores_*.npz

Each file is what testing writes (``OUTPUT_DIR/test_scores_*.npz``). Videos
are matched by path; a video is scored where every run scored it. The
paper's GTA_En averages an 8-frame and a 16-frame model this way.
"""

import argparse
import sys

import numpy as np
import simplejson
import torch

from gta_slowfast.engine.meters import topk_errors


def load(path):
    with np.load(path) as data:
        return {key: data[key] for key in ("scores", "labels", "scored", "video_paths")}


def ensemble(runs):
    """Averages runs over their common, scored videos.

    Returns:
        tuple: scores (V, K), labels (V,), video paths (V,).
    """
    common = set(runs[0]["video_paths"][runs[0]["scored"]])
    for run in runs[1:]:
        common &= set(run["video_paths"][run["scored"]])
    videos = sorted(common)
    total = 0
    labels = None
    for run in runs:
        row = {path: i for i, path in enumerate(run["video_paths"])}
        index = [row[path] for path in videos]
        total = total + run["scores"][index]
        run_labels = run["labels"][index]
        if labels is not None and not np.array_equal(labels, run_labels):
            raise ValueError("The runs disagree on the labels of the same videos.")
        labels = run_labels
    return total / len(runs), labels, videos


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", nargs="+", help="test_scores_*.npz files")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    runs = [load(path) for path in args.scores]
    scores, labels, videos = ensemble(runs)
    if not videos:
        sys.exit("No video is scored in every run.")
    rows = []
    for path, run in zip(args.scores, runs):
        mask = run["scored"]
        top1, top5 = topk_errors(torch.from_numpy(run["scores"][mask]), torch.from_numpy(run["labels"][mask]))
        rows.append({"run": path, "videos": int(mask.sum()), "top1_acc": 100 - top1, "top5_acc": 100 - top5})
    top1, top5 = topk_errors(torch.from_numpy(scores), torch.from_numpy(labels))
    rows.append({"run": "ensemble", "videos": len(videos), "top1_acc": 100 - top1, "top5_acc": 100 - top5})
    if args.json:
        print(simplejson.dumps(rows, indent=2))
        return
    width = max(len(row["run"]) for row in rows)
    print("{:<{w}}  {:>7}  {:>6}  {:>6}".format("run", "videos", "top-1", "top-5", w=width))
    for row in rows:
        print("{:<{w}}  {:>7}  {:>6.2f}  {:>6.2f}".format(
            row["run"], row["videos"], row["top1_acc"], row["top5_acc"], w=width))


if __name__ == "__main__":
    main()
