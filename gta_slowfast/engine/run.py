"""What ``tools/run_net.py`` does with a config: train, then test."""

import os

from gta_slowfast import compat
from gta_slowfast.engine.launch import launch_job

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_job(cfg, init_method):
    """Trains when TRAIN.ENABLE, then tests when TEST.ENABLE.

    Uses GitHub-main PySlowFast's tools where they are found (see
    ``compat.find_pyslowfast_tools``), else the plugin's own loop.

    Args:
        cfg (CfgNode): the job's config, NUM_SHARDS and SHARD_ID set.
        init_method (str): rendezvous address, tcp://HOST:PORT.
    """
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    tools = compat.find_pyslowfast_tools(os.path.dirname(REPO_ROOT))
    if tools is None:
        from gta_slowfast.engine.test import test
        from gta_slowfast.engine.train import train
    else:
        train, test = tools
    if cfg.TRAIN.ENABLE:
        launch_job(cfg, init_method, train)
    if cfg.TEST.ENABLE:
        launch_job(cfg, init_method, test)
