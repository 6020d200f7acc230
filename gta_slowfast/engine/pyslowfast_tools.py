"""GitHub-main PySlowFast's own loop: ``train`` of the clone's
``tools/train_net.py`` and ``test`` of its ``tools/test_net.py``, found,
imported and called with the job's config.

``tools/`` is no package: each file is imported once per process from its
path. Since Aug 2024 the tools import the clone's own ``ava_evaluation``
package under Meta's internal name (``AVA_EVALUATION_ALIAS``), which this
module resolves while it imports them. ``train_net`` calls
``torch.cuda.synchronize()`` unguarded; on a machine without CUDA that call
is a no-op while the tools' function runs (``cuda_synchronize_as_no_op``),
and torch's own function is back afterwards.
"""

import contextlib
import importlib.machinery
import importlib.util
import logging
import os
import sys

import slowfast
import torch

from gta_slowfast import compat

logger = logging.getLogger(__name__)

# The name SlowFast's library imports its own top-level ava_evaluation/
# package under since Aug 2024 (slowfast/utils/ava_eval_helper.py, imported
# by slowfast/utils/meters.py, so by tools/train_net.py and test_net.py):
# Meta's internal path.
AVA_EVALUATION_ALIAS = "vision.fair.slowfast.ava_evaluation"


@contextlib.contextmanager
def ava_evaluation_alias(clone):
    """While SlowFast's tools are imported from ``clone``:
    ``vision.fair.slowfast.ava_evaluation`` names the clone's own
    ``ava_evaluation/`` package, where the clone has one and no ``vision``
    package can be imported (elsewhere, e.g. in Meta's environment, nothing
    is done). The clone is not touched. Afterwards every ``vision`` name is
    removed from ``sys.modules``; the modules imported meanwhile keep their
    references.

    Yields:
        list: filled on exit with one line for the log where the alias was
        used, empty otherwise.
    """
    package_dir = os.path.join(clone, "ava_evaluation")
    notes = []
    if not os.path.isdir(package_dir) or importlib.util.find_spec("vision") is not None:
        yield notes
        return
    parts = AVA_EVALUATION_ALIAS.split(".")
    parent = None
    for depth in range(1, len(parts) + 1):
        spec = importlib.machinery.ModuleSpec(".".join(parts[:depth]), None, is_package=True)
        spec.submodule_search_locations = [package_dir] if depth == len(parts) else []
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        if parent is not None:
            setattr(parent, parts[depth - 1], module)
        parent = module
    try:
        yield notes
    finally:
        aliased = [name for name in sys.modules if name == "vision" or name.startswith("vision.")]
        if any(name.startswith(AVA_EVALUATION_ALIAS + ".") for name in aliased):
            notes.append(
                "{} (Meta's internal name, which SlowFast's tools import) resolved to the "
                "clone's own package {} while importing them; the clone is unchanged".format(
                    AVA_EVALUATION_ALIAS, package_dir)
            )
        for name in aliased:
            del sys.modules[name]


@contextlib.contextmanager
def cuda_synchronize_as_no_op():
    """While SlowFast's ``train`` or ``test`` runs on a machine without CUDA:
    ``torch.cuda.synchronize`` does nothing (``train_net`` calls it
    unguarded every iteration, which would raise), with one log line;
    torch's own function is restored on exit. Where CUDA is available
    nothing changes."""
    if torch.cuda.is_available():
        yield
        return
    original = torch.cuda.synchronize
    torch.cuda.synchronize = _no_synchronize
    logger.info("No CUDA: torch.cuda.synchronize, which PySlowFast's tools call unguarded, "
                "does nothing while they run.")
    try:
        yield
    finally:
        torch.cuda.synchronize = original


def _no_synchronize(*args, **kwargs):
    """``torch.cuda.synchronize`` on a machine without CUDA: no kernel to wait for."""


# PySlowFast's tools modules this process has imported, by file, with the
# log line of ava_evaluation_alias where their import used it.
_TOOL_MODULES = {}


def tool_module(tools_dir, name):
    """``tools/<name>.py`` of the clone holding ``tools_dir``, imported once
    per process (``tools/`` is no package), and the log line of
    ``ava_evaluation_alias`` where importing it used the alias.

    Returns:
        (module, list of str)
    """
    path = os.path.join(tools_dir, name + ".py")
    if path not in _TOOL_MODULES:
        spec = importlib.util.spec_from_file_location("pyslowfast_tools_" + name, path)
        module = importlib.util.module_from_spec(spec)
        with ava_evaluation_alias(os.path.dirname(tools_dir)) as notes:
            spec.loader.exec_module(module)
        _TOOL_MODULES[path] = module, notes
    return _TOOL_MODULES[path]


class PySlowFastTool:
    """One function of PySlowFast's tools, called with the job's config:
    ``train`` of ``tools/train_net.py`` or ``test`` of ``test_net.py``.
    Pickled by file and name, so that the processes ``launch_job`` spawns
    import it themselves."""

    def __init__(self, tools_dir, module, function):
        self.tools_dir = tools_dir
        self.module = module
        self.function = function

    def __call__(self, cfg):
        module, _ = tool_module(self.tools_dir, self.module)
        with cuda_synchronize_as_no_op():
            return getattr(module, self.function)(cfg)


class PySlowFastTools:
    """GitHub main's ``train`` and ``test`` (from ``tools/train_net.py`` and
    ``tools/test_net.py``), or why they are not used.

    Attributes:
        train (PySlowFastTool or None), test (PySlowFastTool or None): None
            where not used.
        reason (str): why these tools are used or not, for the log.
        notes (list of str): what importing them took, for the log (the
            ``vision.fair.slowfast.ava_evaluation`` alias).
    """

    def __init__(self, train=None, test=None, reason="", notes=()):
        self.train = train
        self.test = test
        self.reason = reason
        self.notes = list(notes)

    @property
    def available(self):
        return self.train is not None


def clone_root():
    """The folder holding the imported ``slowfast`` package."""
    return os.path.dirname(os.path.dirname(os.path.abspath(slowfast.__file__)))


def find_pyslowfast_tools():
    """GitHub main's training and testing functions, where they can be used.

    ``$PYSLOWFAST_ROOT`` names the SlowFast clone (empty: use the plugin's
    loop on purpose); unset, the clone the imported ``slowfast`` package
    comes from. Where the tools cannot be imported, this says why.

    Returns:
        PySlowFastTools
    Raises:
        ValueError: ``$PYSLOWFAST_ROOT`` is not the clone ``slowfast`` is
            imported from.
    """
    if compat.GENERATION != "main":
        return PySlowFastTools(
            reason="pyslowfast {} is installed, which ships no tools".format(compat.GENERATION)
        )
    root = os.environ.get("PYSLOWFAST_ROOT")
    if root == "":
        return PySlowFastTools(reason="PYSLOWFAST_ROOT is set empty")
    clone = clone_root()
    if root is not None and os.path.realpath(root) != os.path.realpath(clone):
        raise ValueError(
            "PYSLOWFAST_ROOT is {} but slowfast is imported from {}: put the "
            "clone on PYTHONPATH, or set PYSLOWFAST_ROOT to the clone you "
            "import.".format(root, clone)
        )
    tools_dir = os.path.join(clone, "tools")
    if not os.path.isfile(os.path.join(tools_dir, "train_net.py")):
        return PySlowFastTools(reason="{} has no tools/train_net.py".format(clone))
    notes = []
    try:
        for name in ("train_net", "test_net"):
            notes += [note for note in tool_module(tools_dir, name)[1] if note not in notes]
    except ImportError as error:
        return PySlowFastTools(
            reason="PySlowFast's tools in {} cannot be imported ({}: {})".format(
                tools_dir, type(error).__name__, error)
        )
    return PySlowFastTools(
        PySlowFastTool(tools_dir, "train_net", "train"),
        PySlowFastTool(tools_dir, "test_net", "test"),
        reason="GitHub-main PySlowFast's tools are in {}".format(tools_dir),
        notes=notes,
    )
