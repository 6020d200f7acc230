#!/usr/bin/env python3
"""Pictures of a trained model's attention on one video, as PNG files.

    python tools/visualize.py --cfg CONFIG.yaml --checkpoint CKPT --video FILE \
        [--out DIR] [--opts KEY VALUE ...]

Writes to --out (default OUTPUT_DIR/visualization): frames.png (the frames
the model sees, test pipeline); for each GTA block its T x T matrices per
group and head (``*_pixel_mixing.png``, ``*_region_mixing.png``) and its
regions over the frames (``*_regions.png``, paper Figures 4 and 6); for NL,
DNL and other SA/TA blocks the attention of the centre pixel of the middle
frame over space and time (``*_query.png``, Figures 1 and 3).
"""

import argparse
import os

import gta_slowfast
from gta_slowfast.engine.checkpoint import load_checkpoint
from gta_slowfast.visualization import read_test_clip, visualize


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", required=True, help="YAML config of the model")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to load")
    parser.add_argument("--video", required=True, help="video file")
    parser.add_argument("--out", help="output folder (default OUTPUT_DIR/visualization)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE pairs that override the config")
    args = parser.parse_args(argv)
    cfg = gta_slowfast.load_config(args.cfg, args.opts)
    cfg.NUM_GPUS = 0
    model = gta_slowfast.build_model(cfg)
    load_checkpoint(args.checkpoint, model)
    model.eval()
    inputs, frames = read_test_clip(cfg, args.video)
    out = args.out or os.path.join(cfg.OUTPUT_DIR, "visualization")
    for path in visualize(model, inputs, frames, out):
        print(path)


if __name__ == "__main__":
    main()
