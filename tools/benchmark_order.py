#!/usr/bin/env python3
"""Temporal-order benchmark: which blocks can tell a clip from the same clip
played backwards?

    python tools/benchmark_order.py [--epochs 60] [--out output/benchmark_order]
        [--data output/synthetic_ssv2]
        [--models baseline NL DNL TAPE GTA TSM TSM+GTA DNL_X TAPE_X]

Trains C2D (the demo's 1/8-width C2D-R50) with no block, NL, DNL, SA+TAPE
and GTA at the NL positions, TSM's shifted backbone alone and with GTA, and
(DNL_X, TAPE_X) DNL and SA+TAPE with TA's queries and keys taken from the
block's input X rather than SA's output (GTA.TA_INPUT: x), each with the
same data, seed, schedule and width, on the synthetic time-reversal set
(generated if --data is missing), then tests each. Writes OUT/results.md
(test top-1, mean class accuracy and accuracy within the time-reversed
pairs, as testing's per-class report computes them:
``gta_slowfast.analysis``) and OUT/curves.png (training loss and
validation top-1 per epoch). A model that cannot see temporal order is at
50% within pairs. ``tools/analyze_scores.py`` compares the models' saved
scores pair by pair.
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import gta_slowfast  # noqa: E402
from gta_slowfast.analysis.class_report import ClassReport  # noqa: E402
from gta_slowfast.analysis.report_files import load_scores  # noqa: E402
from gta_slowfast.analysis.temporal_pairs import temporal_pairs  # noqa: E402
from gta_slowfast.datasets.ssv2 import LABELS_FILE, read_class_names  # noqa: E402
from gta_slowfast.demo.synthetic_ssv2 import generate_dataset  # noqa: E402
from gta_slowfast.engine.run import run_job  # noqa: E402
from gta_slowfast.engine.test import checkpoint_to_test, scores_path  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "SSv2", "synthetic", "C2D_GTA_8x1_R50.yaml")
MODELS = {
    "baseline": ["NONLOCAL.LOCATION", "[[[]], [[]], [[]], [[]]]"],
    "NL": ["GTA.BLOCK", "NL"],
    "DNL": ["GTA.BLOCK", "DNL"],
    "TAPE": ["GTA.BLOCK", "SA+TAPE"],
    "GTA": ["GTA.BLOCK", "GTA"],
    "TSM": ["NONLOCAL.LOCATION", "[[[]], [[]], [[]], [[]]]", "GTA.TEMPORAL_SHIFT.ENABLE", True],
    "TSM+GTA": ["GTA.BLOCK", "GTA", "GTA.TEMPORAL_SHIFT.ENABLE", True],
    "DNL_X": ["GTA.BLOCK", "DNL", "GTA.TA_INPUT", "x"],
    "TAPE_X": ["GTA.BLOCK", "SA+TAPE", "GTA.TA_INPUT", "x"],
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="output/synthetic_ssv2", help="synthetic SSv2 folder")
    parser.add_argument("--out", default="output/benchmark_order", help="results folder")
    parser.add_argument("--epochs", type=int, default=60, help="training epochs per model")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE overrides for every model")
    return parser.parse_args(argv)


def accuracies(scores_file):
    """Test top-1, mean class accuracy and accuracy within the temporal
    pairs (the reversal pairs), in percent, of the videos the test scored.

    Returns:
        tuple of float: (top1, mean_class_acc, within_pair).
    Raises:
        ValueError: scores saved without class names, or of classes
            without a temporal pair.
    """
    run = load_scores(scores_file)
    names = run["class_names"]
    pairs = temporal_pairs(names)
    if not pairs:
        raise ValueError("{} names no class of a reversal pair.".format(scores_file))
    scored = run["scored"].astype(bool)
    report = ClassReport(run["scores"][scored], run["labels"][scored], names, pairs)
    return report.top1_acc, report.mean_class_acc, report.pair_acc


def curves(output_dir):
    """(epochs, training loss) and (epochs, validation top-1) from json stats."""
    train, val = [], []
    with open(os.path.join(output_dir, "json_stats.log")) as stream:
        for line in stream:
            row = json.loads(line.partition("json_stats: ")[2])
            epoch = int(str(row.get("epoch", "0/0")).split("/")[0])
            kind = row.get("_type", row.get("split"))
            if kind == "train_epoch":
                train.append((epoch, row["loss"]))
            elif kind == "val_epoch":
                val.append((epoch, 100.0 - row["top1_err"]))
    return train, val


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isfile(os.path.join(args.data, LABELS_FILE)):
        generate_dataset(args.data)
    names = read_class_names(os.path.join(args.data, LABELS_FILE))
    results = {}
    for name in args.models:
        output_dir = os.path.join(args.out, name)
        cfg = gta_slowfast.load_config(CONFIG, [
            "DATA.PATH_TO_DATA_DIR", args.data,
            "DATA.PATH_PREFIX", os.path.join(args.data, "videos"),
            "MODEL.NUM_CLASSES", len(names),
            "SOLVER.MAX_EPOCH", args.epochs,
            "TRAIN.EVAL_PERIOD", 1,
            "OUTPUT_DIR", output_dir,
        ] + MODELS[name] + list(args.opts))
        run_job(cfg, "tcp://localhost:9999")
        top1, mean_class, within = accuracies(scores_path(cfg, checkpoint_to_test(cfg)))
        results[name] = {"top1": top1, "mean_class": mean_class, "within_pair": within,
                         "curves": curves(output_dir)}
    os.makedirs(args.out, exist_ok=True)
    lines = [
        "| model | test top-1 (%) | mean class accuracy (%) | top-1 within reversal pairs (%) |",
        "|---|---|---|---|",
    ] + ["| {} | {:.1f} | {:.1f} | {:.1f} |".format(n, r["top1"], r["mean_class"], r["within_pair"])
         for n, r in results.items()]
    table = "\n".join(lines)
    with open(os.path.join(args.out, "results.md"), "w") as stream:
        stream.write(table + "\n\n{} epochs per model; chance: {:.1f}% overall, 50% within pairs.\n"
                     .format(args.epochs, 100.0 / len(names)))
    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for name, result in results.items():
        train, val = result["curves"]
        loss_axis.plot(*zip(*train), label=name)
        acc_axis.plot(*zip(*val), label=name)
    loss_axis.set(xlabel="epoch", ylabel="training loss", title="training loss")
    acc_axis.set(xlabel="epoch", ylabel="validation top-1 (%)", title="validation top-1")
    acc_axis.legend()
    figure.savefig(os.path.join(args.out, "curves.png"), dpi=100, bbox_inches="tight")
    print(table)


if __name__ == "__main__":
    main()
