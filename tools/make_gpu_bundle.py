#!/usr/bin/env python3
"""Puts into one folder what tools/gpu_check.py needs on a GPU machine with
no network, a bare Python 3.12 and torch, torchvision, opencv-python-headless,
simplejson, tensorboard, tabulate, pyyaml and tqdm already installed.

    python tools/make_gpu_bundle.py [--out gpu_bundle] [--slowfast DIR]
        [--pytorchvideo DIR] [--limit-mib 64]

Writes, under --out:

* ``wheels/``: cp312 manylinux wheels of what that machine lacks: PyAV
  (``av``, binary, downloaded for Python 3.12 whatever Python runs this),
  fvcore, iopath, yacs, termcolor (wheels built here where the registry has
  only sources), and pytorchvideo built from --pytorchvideo;
* ``SlowFast/``: a copy of the GitHub-main SlowFast tree --slowfast (default
  ``$PYSLOWFAST_ROOT`` if it names one folder, else
  ``../shared/upstream/SlowFast-bac7b67``), without its ``.git``, which
  gpu_check.py puts on PYTHONPATH.

Then prints the bundle's size and the repository's tracked files' size, and
fails if together they pass --limit-mib (what a device machine takes with
the working tree). There, ``make gpu-check`` installs the wheels with
``pip install --no-index`` and runs the check.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPSTREAM = os.path.join(os.path.dirname(REPO), "shared", "upstream")

# The versions the GitHub-main environment (.venv-main) is tested with.
AV = "av==18.1.0"
PURE_PYTHON = ("fvcore==0.1.5.post20221221", "iopath==0.1.10", "yacs==0.1.8", "termcolor==3.3.0")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")


def default_slowfast():
    """$PYSLOWFAST_ROOT where it names one folder, else the bac7b67 snapshot."""
    root = os.environ.get("PYSLOWFAST_ROOT", "").strip()
    if root and " " not in root and os.path.isdir(root):
        return root
    return os.path.join(UPSTREAM, "SlowFast-bac7b67")


def default_pytorchvideo():
    folders = sorted(name for name in os.listdir(UPSTREAM) if name.startswith("pytorchvideo-")) \
        if os.path.isdir(UPSTREAM) else []
    return os.path.join(UPSTREAM, folders[0]) if folders else None


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def download_binary(requirement, wheels):
    """The cp312 manylinux x86-64 wheel of ``requirement``, for the GPU
    machine's Python rather than this one's."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    pip("download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
        "--implementation", "cp", *platforms, "-d", wheels, requirement)


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(top, name))
               for top, _, names in os.walk(path) for name in names
               if not os.path.islink(os.path.join(top, name)))


def tracked_bytes():
    """Bytes of the repository's tracked files (what travels besides the bundle)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    return sum(os.path.getsize(os.path.join(REPO, name)) for name in names
               if name and os.path.isfile(os.path.join(REPO, name)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "gpu_bundle"))
    parser.add_argument("--slowfast", default=default_slowfast(),
                        help="GitHub-main SlowFast tree to copy (default: %(default)s)")
    parser.add_argument("--pytorchvideo", default=default_pytorchvideo(),
                        help="pytorchvideo source tree to build a wheel of (default: %(default)s)")
    parser.add_argument("--limit-mib", type=float, default=64.0,
                        help="most MiB the bundle and the tracked files may take together")
    args = parser.parse_args(argv)
    for name, path in (("--slowfast", args.slowfast), ("--pytorchvideo", args.pytorchvideo)):
        if not path or not os.path.isdir(path):
            parser.error("{} names no folder: {}".format(name, path))
    if not os.path.isdir(os.path.join(args.slowfast, "slowfast")):
        parser.error("--slowfast {} holds no slowfast/ package".format(args.slowfast))

    wheels = os.path.join(args.out, "wheels")
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(wheels)
    download_binary(AV, wheels)
    pip("wheel", "--no-deps", "-w", wheels, *PURE_PYTHON)
    with tempfile.TemporaryDirectory() as build:
        # pip builds in a copy, so the snapshot stays as it is.
        source = os.path.join(build, "pytorchvideo")
        shutil.copytree(args.pytorchvideo, source, ignore=shutil.ignore_patterns(".git"))
        pip("wheel", "--no-deps", "-w", wheels, source)
    shutil.copytree(args.slowfast, os.path.join(args.out, "SlowFast"),
                    ignore=shutil.ignore_patterns(".git", "__pycache__"))

    bundle, tracked = folder_bytes(args.out), tracked_bytes()
    for name in sorted(os.listdir(wheels)):
        print("{:>10.2f} MiB  wheels/{}".format(
            os.path.getsize(os.path.join(wheels, name)) / 2**20, name))
    print("{:>10.2f} MiB  SlowFast/ (from {})".format(
        folder_bytes(os.path.join(args.out, "SlowFast")) / 2**20, args.slowfast))
    total = (bundle + tracked) / 2**20
    print("bundle {:.2f} MiB + tracked files {:.2f} MiB = {:.2f} MiB (limit {:.0f} MiB)".format(
        bundle / 2**20, tracked / 2**20, total, args.limit_mib))
    if total > args.limit_mib:
        print("make_gpu_bundle: error: over the limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
