#!/usr/bin/env python3
"""Training curves of one run or several overlaid, from their json stats, as a PNG.

    python tools/plot_log.py OUTPUT_DIR [OUTPUT_DIR ...] [--out FILE.png]

Reads the ``json_stats: {...}`` lines of each OUTPUT_DIR's json_stats.log
(written by the plugin's loops) or, where there is none, of its stdout.log
(GitHub-main PySlowFast's own tools log them only there), and draws, against
the epoch: the training loss, the training and validation top-1 error, and
the learning rate. Iteration records (``train_iter``) give the fine curves,
epoch records (``train_epoch``, ``val_epoch``) the points. Each run is
labelled by its folder. A run resumed in the same folder logs some records
twice: the last one counts. Writes OUTPUT_DIR/training_curves.png for one
run, ./training_curves.png for several, unless --out says where.
"""

import argparse
import json
import os
import sys

LOG_FILES = ("json_stats.log", "stdout.log")
MARKER = "json_stats: "


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dirs", nargs="+", metavar="OUTPUT_DIR", help="training folders")
    parser.add_argument("--out", help="the PNG to write")
    return parser.parse_args(argv)


def read_stats(output_dir):
    """The json stats records of a run, from its first log file that has any.

    Returns:
        list of dict: in log order.
    Raises:
        ValueError: a missing folder, or no json stats line in its logs.
    """
    if not os.path.isdir(output_dir):
        raise ValueError("No folder {}.".format(output_dir))
    for name in LOG_FILES:
        path = os.path.join(output_dir, name)
        if not os.path.isfile(path):
            continue
        records = []
        with open(path, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                _, marker, text = line.partition(MARKER)
                if not marker:
                    continue
                try:
                    records.append(json.loads(text))
                except ValueError:
                    continue
        if records:
            return records
    raise ValueError("No json_stats lines in {} ({}): is it the OUTPUT_DIR of a training "
                     "run?".format(output_dir, " or ".join(LOG_FILES)))


def _fraction(text):
    """"3/10" -> (3, 10)."""
    done, _, total = str(text).partition("/")
    return int(done), int(total or 0)


def curves(records):
    """The curves of a run's records.

    Returns:
        dict: name -> sorted list of (epoch, value), for ``iter_loss``,
        ``iter_top1_err``, ``iter_lr`` (x = epoch - 1 + iteration / epoch
        iterations), ``epoch_loss``, ``epoch_top1_err``, ``epoch_lr``,
        ``val_top1_err`` (x = the epoch, 1-based); a record's missing or
        null field is skipped; of two records at one x, the later counts.
    """
    points = {}
    for record in records:
        kind = str(record.get("_type", ""))
        if kind.startswith("train_iter"):
            epoch, _ = _fraction(record["epoch"])
            done, per_epoch = _fraction(record["iter"])
            x, prefix, fields = epoch - 1 + done / max(per_epoch, 1), "iter_", (
                "loss", "top1_err", "lr")
        elif kind == "train_epoch":
            x, prefix, fields = _fraction(record["epoch"])[0], "epoch_", ("loss", "top1_err", "lr")
        elif kind == "val_epoch":
            x, prefix, fields = _fraction(record["epoch"])[0], "val_", ("top1_err",)
        else:
            continue
        for field in fields:
            if record.get(field) is not None:
                points.setdefault(prefix + field, {})[x] = float(record[field])
    return {name: sorted(values.items()) for name, values in points.items()}


def plot(runs, path):
    """Draws loss, top-1 error and learning rate of each run into ``path``.

    Args:
        runs (list of (str, dict)): (label, ``curves``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    panels = [
        (axes[0], "training loss", [("iter_loss", "-", ""), ("epoch_loss", "o", "")]),
        (axes[1], "top-1 error (%)", [("iter_top1_err", "-", " train"),
                                      ("epoch_top1_err", "o", " train"),
                                      ("val_top1_err", "s--", " val")]),
        (axes[2], "learning rate", [("iter_lr", "-", ""), ("epoch_lr", "o", "")]),
    ]
    for i, (label, run) in enumerate(runs):
        colour = colours[i % len(colours)]
        for axis, _, series in panels:
            labelled = set()
            for name, style, role in series:
                if name not in run:
                    continue
                xs, ys = zip(*run[name])
                axis.plot(xs, ys, style, color=colour, markersize=4, linewidth=1.0,
                          label=None if role in labelled else label + role)
                labelled.add(role)
    for axis, title, _ in panels:
        axis.set(xlabel="epoch", title=title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    labels = [os.path.basename(os.path.normpath(d)) or d for d in args.output_dirs]
    if len(set(labels)) < len(labels):
        labels = [os.path.normpath(d) for d in args.output_dirs]
    try:
        runs = [(label, curves(read_stats(d))) for label, d in zip(labels, args.output_dirs)]
    except ValueError as error:
        sys.exit("plot_log: {}".format(error))
    for (label, run), output_dir in zip(runs, args.output_dirs):
        if not run:
            sys.exit("plot_log: {} logs no train_iter, train_epoch or val_epoch record."
                     .format(output_dir))
    path = args.out or (os.path.join(args.output_dirs[0], "training_curves.png")
                        if len(runs) == 1 else "training_curves.png")
    plot(runs, path)
    print("Wrote {}".format(path))


if __name__ == "__main__":
    main()
