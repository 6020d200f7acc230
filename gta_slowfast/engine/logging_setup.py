"""Log lines and PySlowFast-style json stats, on the master process only."""

import decimal
import logging
import os
import sys

import simplejson

from gta_slowfast.engine import distributed

_FORMAT = "[%(asctime)s][%(levelname)s] %(name)s: %(lineno)4d: %(message)s"
_HANDLER_TAG = "_gta_slowfast"


def setup_logging(output_dir=None):
    """Logs to stdout and ``OUTPUT_DIR/stdout.log`` on the master process;
    other processes log errors only."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_TAG, False)]:
        root.removeHandler(handler)
        handler.close()
    if not distributed.is_master():
        root.setLevel(logging.ERROR)
        return
    root.setLevel(logging.INFO)
    handlers = [logging.StreamHandler(sys.stdout)]
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(output_dir, "stdout.log")))
    for handler in handlers:
        setattr(handler, _HANDLER_TAG, True)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S"))
        root.addHandler(handler)


def log_json_stats(stats, output_dir=None):
    """Logs ``json_stats: {...}`` and appends the same line to
    ``OUTPUT_DIR/json_stats.log``, in GitHub-main PySlowFast's format: keys
    sorted, floats written with 5 decimals."""
    if not distributed.is_master():
        return
    line = "json_stats: " + simplejson.dumps(
        {k: decimal.Decimal("{:.5f}".format(v)) if isinstance(v, float) else v
         for k, v in stats.items()},
        sort_keys=True,
        use_decimal=True,
    )
    logging.getLogger("gta_slowfast").info(line)
    if output_dir:
        with open(os.path.join(output_dir, "json_stats.log"), "a") as stream:
            stream.write(line + "\n")
