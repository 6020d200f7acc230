#!/usr/bin/env python3
"""Finds the videos of a data set that training or testing cannot use.

    python tools/check_videos.py --cfg CONFIG.yaml [--split train|val|test] \
        [--workers N] [--out FILE] [--opts KEY VALUE ...]

Reads every video of the split (TRAIN.DATASET for train and val,
TEST.DATASET for test) with the reader its data set uses, decoding every
frame, in N worker processes (default: DATA_LOADER.NUM_WORKERS, at least
1), with a progress line (videos done, rate, time left). Lists each video
that cannot be read (missing, empty, not a video, a frame that does not
decode), decodes to fewer frames than its container declares, or is
shorter than the config's clip (DATA.NUM_FRAMES TSN segments, or a dense
window of DATA.NUM_FRAMES x DATA.SAMPLING_RATE), with the reason, and
writes them to --out (default OUTPUT_DIR/bad_videos_<split>.txt): one
path a line, the reason in a comment above it. Given as
GTA.DATA.EXCLUDE_LIST, that file keeps them out of training and testing.
Every video is checked, whatever GTA.DATA.EXCLUDE_LIST says. Exit status
1 when any video is listed, 0 otherwise.
"""

import argparse
import logging
import os
import sys
import time

import torch

import gta_slowfast
from gta_slowfast.datasets import build_dataset
from gta_slowfast.datasets.clip_dataset import VideoClipDataset
from gta_slowfast.datasets.exclude_list import write_exclude_list
from gta_slowfast.datasets.video_check import VideoChecks

SPLITS = ("train", "val", "test")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", required=True, help="YAML config of the data set")
    parser.add_argument("--split", choices=SPLITS, default="train", help="split to check")
    parser.add_argument("--workers", type=int, help="worker processes (default: "
                        "DATA_LOADER.NUM_WORKERS, at least 1)")
    parser.add_argument("--out", help="list to write (default OUTPUT_DIR/bad_videos_<split>.txt)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE pairs that override the config")
    return parser.parse_args(argv)


class Progress:
    """A progress line on a stream: videos done of the total, rate, time
    left; rewritten in place on a terminal, else a line every ``period``
    seconds and at the end."""

    def __init__(self, total, stream=sys.stderr, period=10.0):
        self.total = total
        self.stream = stream
        self.period = period if not stream.isatty() else 0.2
        self.start = self.last = time.monotonic()

    def update(self, done, found):
        now = time.monotonic()
        if now - self.last < self.period and done < self.total:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate else float("inf")
        line = "checked {}/{} videos, {} problem(s), {:.1f} videos/s, ETA {}".format(
            done, self.total, found, rate, _duration(left))
        if self.stream.isatty():
            self.stream.write("\r" + line + ("\n" if done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds):
    if seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    return "{}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


def check_split(cfg, split, workers):
    """Every video of ``split`` that cannot be used, with its reason.

    Returns:
        tuple: (the data set, list of (path, reason) in the split's order).
    Raises:
        ValueError: the split's data set is not one of the plugin's.
    """
    name = cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET
    dataset = build_dataset(name, cfg, split)
    if not isinstance(dataset, VideoClipDataset):
        key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
        raise ValueError("{} is {}: check_videos.py reads the plugin's data sets (gta_ssv2, "
                         "gta_ssv1, gta_kinetics).".format(key, name))
    checks = VideoChecks(dataset)
    loader = torch.utils.data.DataLoader(checks, batch_size=None, num_workers=workers)
    progress = Progress(len(checks))
    problems = []
    for done, (index, reason) in enumerate(loader, start=1):
        if reason is not None:
            problems.append((dataset.video_paths[index], reason))
        progress.update(done, len(problems))
    return dataset, problems


def main(argv=None):
    """Checks the split; returns the exit status."""
    args = parse_args(argv)
    cfg = gta_slowfast.load_config(args.cfg, args.opts)
    if cfg.GTA.DATA.EXCLUDE_LIST:
        print("Checking every video, also those GTA.DATA.EXCLUDE_LIST {} leaves out.".format(
            cfg.GTA.DATA.EXCLUDE_LIST))
        cfg.GTA.DATA.EXCLUDE_LIST = ""
    workers = max(args.workers if args.workers is not None else cfg.DATA_LOADER.NUM_WORKERS, 1)
    dataset, problems = check_split(cfg, args.split, workers)
    out = args.out or os.path.join(cfg.OUTPUT_DIR, "bad_videos_{}.txt".format(args.split))
    total = len(dataset.video_paths)
    header = ["tools/check_videos.py --cfg {} --split {}: {} of {} videos cannot be used.".format(
        args.cfg, args.split, len(problems), total),
        "Give this file as GTA.DATA.EXCLUDE_LIST to leave them out."]
    write_exclude_list(out, problems, header)
    for path, reason in problems:
        print("{}: {}".format(path, reason))
    print("{} of {} videos of the {} split cannot be used; list written to {}{}".format(
        len(problems), total, args.split, out,
        " (--opts GTA.DATA.EXCLUDE_LIST {} leaves them out)".format(out) if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(message)s")
    sys.exit(main())
