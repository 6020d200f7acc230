"""Driving the real pipeline in tests: a tiny synthetic SSv2 and
tools/run_net.py with the demo config shrunk to CPU-test size."""

import importlib.util
import json
import os
import subprocess
import sys

from gta_slowfast.demo.synthetic_ssv2 import generate_dataset

from conftest import REPO

CONFIG = str(REPO / "configs" / "SSv2" / "synthetic" / "C2D_GTA_8x1_R50.yaml")


def make_tiny_dataset(out):
    """2 class pairs, 4 training and 2 validation videos per class, 12
    frames of 40 x 48 pixels, in the official SSv2 layout under ``out``."""
    generate_dataset(str(out), num_pairs=2, train_per_class=4, val_per_class=2,
                     num_frames=12, height=40, width=48, verbose=False)
    return out


def run_opts(output_dir, num_classes):
    """--opts that shrink a run of any repo config to CPU-test size:
    32-pixel crops, batches of 4, no loader workers, a log line per
    iteration, no model summary."""
    return [
        "OUTPUT_DIR", str(output_dir), "MODEL.NUM_CLASSES", str(num_classes),
        "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32",
        "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4",
        "DATA_LOADER.NUM_WORKERS", "0", "LOG_PERIOD", "1", "LOG_MODEL_INFO", "False",
    ]


def tiny_opts(data_dir, output_dir):
    """--opts that point the demo config at a tiny data set (4 classes,
    ``make_tiny_dataset``), shrunk."""
    return [
        "DATA.PATH_TO_DATA_DIR", str(data_dir),
        "DATA.PATH_PREFIX", str(data_dir / "videos"),
        "GTA.DATA.RESIZE", "[40, 48]",
    ] + run_opts(output_dir, 4)


def net_command(config, opts):
    """The tools/run_net.py command line for ``config`` (a path relative to
    configs/, or absolute) and --opts ``opts``."""
    return [sys.executable, str(REPO / "tools" / "run_net.py"),
            "--cfg", str(REPO / "configs" / config), "--opts"] + [str(o) for o in opts]


def run_net_command(data_dir, output_dir, *opts):
    """The tools/run_net.py command line for the demo config on a tiny data
    set (``tiny_opts``), then ``opts``."""
    return net_command(CONFIG, tiny_opts(data_dir, output_dir) + list(opts))


def plugin_loop_env():
    """The environment with PYSLOWFAST_ROOT set empty: tools/run_net.py runs
    the plugin's own loop even where GitHub-main PySlowFast's tools could."""
    return dict(os.environ, PYSLOWFAST_ROOT="")


def run_net(data_dir, output_dir, *opts):
    """Runs tools/run_net.py in the plugin's loop; the CompletedProcess, with
    ``.output`` the stdout and stderr together."""
    return run_command(run_net_command(data_dir, output_dir, *opts), plugin_loop_env())


def run_command(command, env=None):
    """Runs ``command`` in the repository; the CompletedProcess, with
    ``.output`` the stdout and stderr together."""
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600,
                            env=env)
    result.output = result.stdout + result.stderr
    return result


def output_of(result):
    """The output of a finished ``run_command``; asserts it exited 0 (its
    output's tail the message otherwise)."""
    assert result.returncode == 0, result.output[-4000:]
    return result.output


def run_config(config, opts, env=None):
    """Runs tools/run_net.py with ``config`` (``net_command``) and ``opts``;
    asserts it exits 0 and returns its output."""
    return output_of(run_command(net_command(config, opts), env))


def json_records(text, kind):
    """The records of the ``json_stats: {...}`` lines of ``text`` (a log or
    a run's output), as PySlowFast writes them, whose ``_type`` (or, for
    test records, ``split``) is ``kind``: "train_iter_", "train_epoch",
    "val_epoch", "test_iter", "test_final"."""
    rows = []
    for line in text.splitlines():
        _, found, record = line.partition("json_stats: ")
        if not found:
            continue
        try:
            rows.append(json.loads(record))
        except ValueError:  # a line being written while we read
            continue
    return [row for row in rows if row.get("_type", row.get("split")) == kind]


def json_stats(output_dir, kind):
    """``json_records`` of OUTPUT_DIR/json_stats.log (none if it is missing)."""
    path = os.path.join(output_dir, "json_stats.log")
    if not os.path.exists(path):
        return []
    with open(path) as stream:
        return json_records(stream.read(), kind)


def load_tool(name):
    """Imports ``tools/<name>.py`` (tools/ is not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
