#!/usr/bin/env python3
"""Train and test a PySlowFast model with the GTA plugin.

    python tools/run_net.py --cfg configs/SSv2/C2D_GTA_8x1_R50.yaml \
        [--init_method tcp://HOST:PORT --shard_id I --num_shards N] \
        [--opts KEY VALUE ...]

Trains when TRAIN.ENABLE, then tests when TEST.ENABLE, in the loop GTA.LOOP
chooses: with "auto" (the default), GitHub-main PySlowFast's
tools/train_net.py and test_net.py where they can be imported (from the
clone slowfast is imported from, or PYSLOWFAST_ROOT), with the plugin's
models and datasets, otherwise (or with PYSLOWFAST_ROOT= empty) the plugin's
own loop; "pyslowfast" or "plugin" insist on one. The first log line says
which, and why.
Under torchrun (torchrun --nproc_per_node N tools/run_net.py ...) the ranks
come from torchrun's environment. In the plugin's loop, SIGTERM or SIGUSR1
stops training after the current iteration with a checkpoint, and the exit
status is 75; the same command resumes there.
"""

import argparse
import logging
import sys

import gta_slowfast
from gta_slowfast.engine.preemption import EXIT_PREEMPTED, TrainingPreempted
from gta_slowfast.engine.run import run_job


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", dest="cfg_file", required=True, help="YAML config")
    parser.add_argument("--init_method", default="tcp://localhost:9999",
                        help="torch.distributed rendezvous, tcp://HOST:PORT")
    parser.add_argument("--shard_id", type=int, default=0, help="this machine's index")
    parser.add_argument("--num_shards", type=int, default=1, help="number of machines")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE pairs that override the config")
    return parser.parse_args(argv)


def main(argv=None):
    """Runs the job; returns the exit status (EXIT_PREEMPTED after a
    preemption signal stopped training at a checkpoint)."""
    args = parse_args(argv)
    cfg = gta_slowfast.load_config(args.cfg_file, args.opts)
    cfg.NUM_SHARDS = args.num_shards
    cfg.SHARD_ID = args.shard_id
    try:
        run_job(cfg, args.init_method)
    except TrainingPreempted as stop:
        logging.getLogger("gta_slowfast").warning("%s", stop)
        return EXIT_PREEMPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
