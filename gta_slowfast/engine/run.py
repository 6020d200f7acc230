"""What ``tools/run_net.py`` does with a config: train, then test.

``choose_loop`` decides, before any work, which loop runs (``GTA.LOOP``):
GitHub-main PySlowFast's own ``tools/train_net.py`` and ``test_net.py``
(``pyslowfast_tools.find_pyslowfast_tools``), with the plugin's models and datasets,
or the plugin's own loop (``gta_slowfast.engine.train`` and ``.test``). The
first log line says which, and why. Both loops get the config as
PySlowFast's own ``run_net.py`` gives it to its tools
(``compat.prepare_config``).
"""

import collections
import logging
import os

from gta_slowfast import compat
from gta_slowfast.config import check_gta_config
from gta_slowfast.engine.checkpoint import convert_for_pyslowfast_loader, last_checkpoint
from gta_slowfast.engine.key_support import check_config_for_loop
from gta_slowfast.engine.launch import launch_job, started_by_torchrun, torchrun_layout
from gta_slowfast.engine.logging_setup import setup_logging
from gta_slowfast.engine.pyslowfast_tools import find_pyslowfast_tools
from gta_slowfast.engine.test import check_test_config, test
from gta_slowfast.engine.train import train

logger = logging.getLogger(__name__)

# The first log line of a job, per loop.
LOOP_TITLES = {
    "pyslowfast": "Running PySlowFast's tools/train_net.py and test_net.py",
    "plugin": "Running the plugin's training and test loop",
}

Loop = collections.namedtuple("Loop", "name reason train test notes")
Loop.__doc__ = """The loop a job runs.

Attributes:
    name (str): "pyslowfast" (PySlowFast's tools) or "plugin".
    reason (str): why, for the log.
    train, test (callable): called with the job's config in every process.
    notes (list of str): further lines for the log.
"""


def run_job(cfg, init_method):
    """Trains when TRAIN.ENABLE, then tests when TEST.ENABLE, in the loop
    ``choose_loop`` picks; every check comes before any work.

    Args:
        cfg (CfgNode): the job's config, NUM_SHARDS and SHARD_ID set.
        init_method (str): rendezvous address, tcp://HOST:PORT.
    """
    check_checkpoint_files(cfg)
    loop = choose_loop(cfg)
    check_config_for_loop(cfg, loop.name)
    if loop.name == "plugin" and cfg.TEST.ENABLE:
        check_test_config(cfg)
    if started_by_torchrun():
        cfg = torchrun_layout(cfg)
    cfg = compat.prepare_config(cfg)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    setup_logging(cfg.OUTPUT_DIR)
    logger.info("%s (GTA.LOOP %s): %s.", LOOP_TITLES[loop.name], cfg.GTA.LOOP, loop.reason)
    for note in loop.notes:
        logger.info("%s.", note)
    if loop.name == "pyslowfast":
        cfg = weights_for_pyslowfast_tools(cfg)
    if cfg.TRAIN.ENABLE:
        launch_job(cfg, init_method, loop.train)
    if cfg.TEST.ENABLE:
        launch_job(cfg, init_method, loop.test)


def choose_loop(cfg):
    """The loop GTA.LOOP chooses for this job, and why; nothing else is done.

    Returns:
        Loop
    Raises:
        ValueError: a GTA key cannot work (``check_gta_config``: GTA.LOOP
            is one of ``config.LOOPS``).
        RuntimeError: GTA.LOOP pyslowfast where PySlowFast's tools cannot be
            used; says why.
    """
    check_gta_config(cfg)
    if cfg.GTA.LOOP == "plugin":
        return _plugin_loop("chosen in the config")
    tools = find_pyslowfast_tools()
    if tools.available:
        return Loop("pyslowfast", tools.reason, tools.train, tools.test, tools.notes)
    if cfg.GTA.LOOP == "pyslowfast":
        raise RuntimeError(
            "GTA.LOOP pyslowfast: PySlowFast's tools/train_net.py and test_net.py cannot be "
            "used, as {}. Use a GitHub-main SlowFast clone whose tools import, or GTA.LOOP "
            "plugin (or auto) for the plugin's loop.".format(tools.reason)
        )
    return _plugin_loop(tools.reason)


def _plugin_loop(reason):
    return Loop("plugin", reason, train, test, [])


def check_checkpoint_files(cfg):
    """Fails before any work where a checkpoint the job will load is not a
    file: TEST.CHECKPOINT_FILE_PATH when testing; TRAIN.CHECKPOINT_FILE_PATH
    when training does not resume from OUTPUT_DIR's own checkpoints, or when
    testing falls back to it (no TEST.CHECKPOINT_FILE_PATH and no checkpoint
    in OUTPUT_DIR, as PySlowFast's ``load_test_checkpoint``).

    Raises:
        FileNotFoundError: naming the key, the path and the way out.
    """
    own = last_checkpoint(cfg.OUTPUT_DIR)
    used_by = {
        "TRAIN": (cfg.TRAIN.ENABLE and not (cfg.TRAIN.AUTO_RESUME and own))
        or (cfg.TEST.ENABLE and not cfg.TEST.CHECKPOINT_FILE_PATH and not own),
        "TEST": cfg.TEST.ENABLE,
    }
    for name in ("TRAIN", "TEST"):
        path = cfg[name].CHECKPOINT_FILE_PATH
        used = used_by[name]
        if path and used and not os.path.isfile(path):
            raise FileNotFoundError(
                "{}.CHECKPOINT_FILE_PATH names no file: {} (working directory {}). Give the "
                "checkpoint's path, or --opts {}.CHECKPOINT_FILE_PATH '' to start from the "
                "model's initialisation.".format(name, path, os.getcwd(), name)
            )


def weights_for_pyslowfast_tools(cfg):
    """``cfg`` with TRAIN.CHECKPOINT_FILE_PATH and TEST.CHECKPOINT_FILE_PATH
    (PyTorch type) pointing at files PySlowFast's loader reads as meant for
    this model (``convert_for_pyslowfast_loader``): a torchvision ImageNet ResNet, a
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
        training = name == "TRAIN"
        cfg[name].CHECKPOINT_FILE_PATH = convert_for_pyslowfast_loader(
            cfg[name].CHECKPOINT_FILE_PATH, model, cfg.OUTPUT_DIR,
            clear_name_pattern=cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN if training else (),
            inflate=training and cfg.TRAIN.CHECKPOINT_INFLATE,
        )
    return cfg
