"""After `pip install -e .` into the GitHub-main environment (Makefile):
torch and torchvision are the versions installed before, and no `slowfast`
package came with the plugin (a site-packages pyslowfast would shadow a
clone on PYTHONPATH installed with `pip install -e`).

    python tests/check_main_install.py TORCH_VERSION TORCHVISION_VERSION
"""

import importlib.util
import sys

import torch
import torchvision


def main(torch_version, torchvision_version):
    problems = []
    for module, expected in ((torch, torch_version), (torchvision, torchvision_version)):
        installed = module.__version__.split("+")[0]
        if installed != expected:
            problems.append("{} {} was replaced by {}".format(module.__name__, expected, installed))
    if importlib.util.find_spec("slowfast") is not None:
        problems.append("a slowfast package is installed: {}".format(
            importlib.util.find_spec("slowfast").origin))
    if problems:
        sys.exit("pip install -e . changed the environment: " + "; ".join(problems))
    print("pip install -e . left torch {}, torchvision {} and PySlowFast alone".format(
        torch_version, torchvision_version))


if __name__ == "__main__":
    main(*sys.argv[1:])
