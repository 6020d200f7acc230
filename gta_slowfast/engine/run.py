"""What ``tools/run_net.py`` does with a config: train, then test.

GitHub-main PySlowFast's own ``tools/train_net.py`` and ``test_net.py`` run
where they can be imported (``compat.find_pyslowfast_tools``), with the
plugin's models and datasets; otherwise the plugin's own loop
(``gta_slowfast.engine.train`` and ``.test``). The log says which, and why.
"""

import logging
import os

from gta_slowfast import compat
from gta_slowfast.engine.checkpoint import last_checkpoint, pyslowfast_checkpoint
from gta_slowfast.engine.launch import launch_job
from gta_slowfast.engine.logging_setup import setup_logging

logger = logging.getLogger(__name__)


def run_job(cfg, init_method):
    """Trains when TRAIN.ENABLE, then tests when TEST.ENABLE.

    Args:
        cfg (CfgNode): the job's config, NUM_SHARDS and SHARD_ID set.
        init_method (str): rendezvous address, tcp://HOST:PORT.
    """
    check_checkpoint_files(cfg)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    setup_logging(cfg.OUTPUT_DIR)
    tools = compat.find_pyslowfast_tools()
    if tools.available:
        logger.info("Running PySlowFast's tools/train_net.py and test_net.py: %s.", tools.reason)
        cfg = weights_for_pyslowfast_tools(tools.prepare_config(cfg))
        train, test = tools.train, tools.test
    else:
        logger.info("Running the plugin's training and test loop: %s.", tools.reason)
        from gta_slowfast.engine.test import test
        from gta_slowfast.engine.train import train
    if cfg.TRAIN.ENABLE:
        launch_job(cfg, init_method, train)
    if cfg.TEST.ENABLE:
        launch_job(cfg, init_method, test)


def check_checkpoint_files(cfg):
    """Fails before any work where a checkpoint the job will load is not a
    file: TEST.CHECKPOINT_FILE_PATH when testing, TRAIN.CHECKPOINT_FILE_PATH
    when training does not resume from OUTPUT_DIR's own checkpoints.

    Raises:
        FileNotFoundError: naming the key, the path and the way out.
    """
    resumes = cfg.TRAIN.AUTO_RESUME and last_checkpoint(cfg.OUTPUT_DIR)
    for name in ("TRAIN", "TEST"):
        path = cfg[name].CHECKPOINT_FILE_PATH
        used = cfg[name].ENABLE and not (name == "TRAIN" and resumes)
        if path and used and not os.path.isfile(path):
            raise FileNotFoundError(
                "{}.CHECKPOINT_FILE_PATH names no file: {} (working directory {}). Give the "
                "checkpoint's path, or --opts {}.CHECKPOINT_FILE_PATH '' to start from the "
                "model's initialisation.".format(name, path, os.getcwd(), name)
            )


def weights_for_pyslowfast_tools(cfg):
    """``cfg`` with TRAIN.CHECKPOINT_FILE_PATH and TEST.CHECKPOINT_FILE_PATH
    (PyTorch type) pointing at files PySlowFast's loader reads as meant for
    this model (``pyslowfast_checkpoint``): a torchvision ImageNet ResNet, a
    checkpoint of other blocks, or GTA matrices of another clip length. A
    training run that resumes from OUTPUT_DIR's own checkpoints leaves
    TRAIN.CHECKPOINT_FILE_PATH alone, as PySlowFast ignores it then.
    """
    resumes = cfg.TRAIN.AUTO_RESUME and last_checkpoint(cfg.OUTPUT_DIR)
    names = [
        name
        for name in ("TRAIN", "TEST")
        if cfg[name].CHECKPOINT_FILE_PATH
        and cfg[name].CHECKPOINT_TYPE == "pytorch"
        and not (name == "TRAIN" and resumes)
    ]
    if not names:
        return cfg
    from gta_slowfast.models import build_model

    cfg = cfg.clone()
    cpu_cfg = cfg.clone()
    cpu_cfg.NUM_GPUS = 0
    model = build_model(cpu_cfg)
    for name in names:
        cfg[name].CHECKPOINT_FILE_PATH = pyslowfast_checkpoint(
            cfg[name].CHECKPOINT_FILE_PATH, model, cfg.OUTPUT_DIR
        )
    return cfg
