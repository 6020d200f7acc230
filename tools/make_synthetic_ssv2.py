#!/usr/bin/env python3
r"""Writes the synthetic time-reversal data set in the Something-Something-v2 layout.

    python tools/make_synthetic_ssv2.py [--out output/synthetic_ssv2] \
        [--num-pairs 4] [--train-per-class 40] [--val-per-class 10] \
        [--frames 24] [--height 72] [--width 96] [--fps 12] [--seed 0] \
        [--overwrite]

Classes come in time-reversed pairs: a video of the second class of a pair
is a video of the first class played backwards, so only the order of frames
tells the two apart (an order-blind model is at chance within each pair).
Pair p is classes 2p (forward) and 2p + 1 (reversed); the pairs, in order:

{pairs}

Output, as in the official release:
  OUT/something-something-v2-labels.json      {{"Class name": "0", ...}}
  OUT/something-something-v2-train.json       [{{"id", "label", "template", "placeholders"}}, ...]
  OUT/something-something-v2-validation.json
  OUT/videos/<id>.webm                        VP9 (PyAV's libvpx-vp9), yuv420p

The class of an entry is its template with "[" and "]" removed. Everything
is a function of --seed. A non-empty OUT is refused unless --overwrite, which
replaces only the files this run writes and deletes nothing.
"""

import argparse
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from gta_slowfast.demo.scenes import CLASS_PAIRS, MAX_PAIRS  # noqa: E402
from gta_slowfast.demo.synthetic_ssv2 import generate_dataset  # noqa: E402


def _doc():
    pairs = "\n".join(f"  {p}: {fwd!r} / {rev!r}"
                      for p, (fwd, rev) in enumerate(CLASS_PAIRS))
    return __doc__.format(pairs=pairs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=_doc(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="output/synthetic_ssv2",
                        help="output folder (default: %(default)s, where "
                             "configs/SSv2/synthetic/ looks)")
    parser.add_argument("--num-pairs", type=int, default=4,
                        help=f"time-reversed class pairs, 1..{MAX_PAIRS}; classes "
                             "= 2 x pairs (default: %(default)s)")
    parser.add_argument("--train-per-class", type=int, default=40,
                        help="training videos per class (default: %(default)s)")
    parser.add_argument("--val-per-class", type=int, default=10,
                        help="validation videos per class (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=24,
                        help="frames per video, >= 2; an odd number of frames per "
                             "TSN segment (24 = 8 x 3) keeps test-time centre "
                             "frames symmetric under time reversal "
                             "(default: %(default)s)")
    parser.add_argument("--height", type=int, default=72,
                        help="frame height in pixels, even, >= 32 (default: %(default)s)")
    parser.add_argument("--width", type=int, default=96,
                        help="frame width in pixels, even, >= 32 (default: %(default)s)")
    parser.add_argument("--fps", type=int, default=12,
                        help="frame rate written to the files (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; same seed, same data set (default: %(default)s)")
    parser.add_argument("--crf", type=int, default=18,
                        help="VP9 constant quality 0..63, lower is better "
                             "(default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty OUT, replacing the files "
                             "of the same names (nothing is deleted)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = generate_dataset(
            args.out, num_pairs=args.num_pairs,
            train_per_class=args.train_per_class,
            val_per_class=args.val_per_class, num_frames=args.frames,
            height=args.height, width=args.width, fps=args.fps, seed=args.seed,
            overwrite=args.overwrite, crf=args.crf, verbose=not args.quiet)
    except (FileExistsError, NotADirectoryError, ValueError, RuntimeError) as e:
        print(f"make_synthetic_ssv2: error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        for i, name in enumerate(summary["classes"]):
            n_tr = summary["counts"]["train"][name]
            n_va = summary["counts"]["validation"][name]
            print(f"  {i}: {name} ({n_tr} train, {n_va} validation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
