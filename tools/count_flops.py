#!/usr/bin/env python3
"""Prints GFLOPs and parameters per config, as in the paper's Table 1.

    python tools/count_flops.py --cfg configs/SSv2/C2D_8x1_R50.yaml \
        configs/SSv2/C2D_GTA_8x1_R50.yaml [--json] [--opts KEY VALUE ...]

One clip at the config's DATA.TEST_CROP_SIZE and DATA.NUM_FRAMES, model in
eval mode on the CPU. GFLOPs follow fvcore: one multiply-add is one FLOP.
"""

import argparse
import logging
import os

import simplejson
import torch

import gta_slowfast
from gta_slowfast.flop_count import clip_inputs, count_gflops, count_params


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", nargs="+", required=True, help="YAML configs")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE overrides applied to every config")
    return parser.parse_args()


def measure(path, opts):
    cfg = gta_slowfast.load_config(path, opts)
    cfg.NUM_GPUS = 0
    model = gta_slowfast.build_model(cfg).eval()
    with torch.no_grad():
        gflops = count_gflops(model, clip_inputs(cfg))
    return {
        "config": os.path.relpath(path),
        "gflops": round(gflops, 2),
        "params_m": round(count_params(model) / 1e6, 2),
    }


def main():
    args = parse_args()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    rows = [measure(path, args.opts) for path in args.cfg]
    if args.json:
        print(simplejson.dumps(rows, indent=2))
        return
    width = max(len(row["config"]) for row in rows)
    print("{:<{w}}  {:>8}  {:>10}".format("config", "GFLOPs", "params (M)", w=width))
    for row in rows:
        print("{:<{w}}  {:>8.2f}  {:>10.2f}".format(
            row["config"], row["gflops"], row["params_m"], w=width))
    print("GFLOPs: fvcore, one multiply-add = 1 FLOP, one clip at "
          "DATA.TEST_CROP_SIZE; convs, matmuls/einsums, attention, linear "
          "and batch norm counted.")


if __name__ == "__main__":
    main()
