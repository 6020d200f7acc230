# Set-up and checks for gta_slowfast. Everything runs on the CPU.
#
# Two environments, one per PySlowFast generation:
#   .venv       pyslowfast 1.0 from PyPI, torch 2.13.0 (CPU build)
#   .venv-main  GitHub-main PySlowFast: torch 2.14.1 + torchvision 0.29.1 from
#               the registry, pytorchvideo from git; SlowFast itself is a clone
#               put on PYTHONPATH per run (PYSLOWFAST_ROOT), as its INSTALL.md says.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MAIN_VENV ?= .venv-main
MAIN_PY := $(MAIN_VENV)/bin/python
MAIN_TORCH ?= 2.14.1
MAIN_TORCHVISION ?= 0.29.1
UPSTREAM ?= ../shared/upstream
# SlowFast clones (GitHub main) the tests also run against, space separated;
# the first gets the whole suite, the others SlowFast's own tools' tests
# (tests/run_suites.sh):
#   make test PYSLOWFAST_ROOT=/path/to/SlowFast
PYSLOWFAST_ROOT ?= $(wildcard $(UPSTREAM)/SlowFast-287ec00 $(UPSTREAM)/SlowFast-bac7b67)
# pytorchvideo for GitHub main: the snapshot beside the repo, else git.
PYTORCHVIDEO ?= $(firstword $(wildcard $(UPSTREAM)/pytorchvideo-*) \
	git+https://github.com/facebookresearch/pytorchvideo.git)
# What GitHub-main SlowFast imports besides torch (its INSTALL.md), no detectron2.
MAIN_DEPS := fvcore iopath simplejson av opencv-python-headless psutil tensorboard \
	scikit-learn pandas matplotlib termcolor tabulate yacs pyyaml tqdm

.PHONY: install install-main test demo flops clean

install: $(VENV)/.installed

# The plugin's metadata pins neither torch nor PySlowFast: this environment
# gets the CPU torch 2.13.0 (from this machine's disk or the registry) and
# pyslowfast 1.0 here.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install torch==2.13.0 pyslowfast==1.0 -e ".[test]"
	touch $@

install-main: $(MAIN_VENV)/.installed

# torch and SlowFast's requirements first, then the plugin with its
# dependencies, which must leave torch and torchvision as they are and
# install no slowfast package of its own (checked).
$(MAIN_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(MAIN_VENV)
	$(MAIN_PY) -m pip install --upgrade pip
	$(MAIN_PY) -m pip install torch==$(MAIN_TORCH) torchvision==$(MAIN_TORCHVISION) $(MAIN_DEPS)
	$(MAIN_PY) -m pip install --no-deps "$(PYTORCHVIDEO)"
	$(MAIN_PY) -m pip install -e ".[test]"
	$(MAIN_PY) tests/check_main_install.py $(MAIN_TORCH) $(MAIN_TORCHVISION)
	touch $@

# The suite under pyslowfast 1.0, then under GitHub main for each clone in
# PYSLOWFAST_ROOT (skipped, saying so, where none is found).
test: install $(if $(strip $(PYSLOWFAST_ROOT)),install-main)
	PY="$(PY)" MAIN_PY="$(MAIN_PY)" TREES="$(PYSLOWFAST_ROOT)" tests/run_suites.sh

clean:
	rm -rf $(VENV) $(MAIN_VENV) build *.egg-info

# The built-in demo: a synthetic time-reversal SSv2 (real webm files), then a
# reduced-width C2D + GTA trained and tested on the CPU; prints test top-1.
# torch's thread count orders its float sums, so the figure printed depends
# on it: fixed, so that machines with more cores print the same.
DEMO_DATA := output/synthetic_ssv2
DEMO_THREADS ?= 2
demo: install
	test -f $(DEMO_DATA)/something-something-v2-labels.json || \
		$(PY) tools/make_synthetic_ssv2.py --out $(DEMO_DATA)
	OMP_NUM_THREADS=$(DEMO_THREADS) $(PY) tools/run_net.py --cfg configs/SSv2/synthetic/C2D_GTA_8x1_R50.yaml

# GFLOPs and parameters: the paper's Table 1 for the 2D SSv2 configs, R50 +
# TSM (Table 6), and Table 5's C2D-R50 + NL and + GTA on Kinetics-400.
flops: install
	$(PY) tools/count_flops.py --cfg configs/SSv2/C2D_8x1_R50.yaml \
		configs/SSv2/C2D_NLN_8x1_R50.yaml configs/SSv2/C2D_DNL_8x1_R50.yaml \
		configs/SSv2/C2D_GTA_8x1_R50.yaml configs/SSv2/TSM_8x1_R50.yaml \
		configs/Kinetics/C2D_NLN_8x8_R50.yaml configs/Kinetics/C2D_GTA_8x8_R50.yaml

# The GPU check (README, "Proof on a GPU"). gpu-bundle, here: what a GPU
# machine with no network lacks (PyAV, fvcore, iopath, yacs, termcolor and
# pytorchvideo as wheels for Python 3.12, a GitHub-main SlowFast tree) into
# $(GPU_BUNDLE). gpu-check, there: installs those wheels without the network
# into $(GPU_BUNDLE)/site and runs tools/gpu_check.py on the GPU (~7 min);
# GPU_CHECK_ARGS="--device cpu --quick" runs it on the CPU at tiny sizes.
GPU_BUNDLE ?= gpu_bundle
GPU_PYTHON ?= python3
GPU_CHECK_ARGS ?= --device cuda
GPU_SLOWFAST ?= $(firstword $(filter %bac7b67,$(PYSLOWFAST_ROOT)) $(PYSLOWFAST_ROOT))

.PHONY: gpu-bundle gpu-check

gpu-bundle:
	$(PYTHON) tools/make_gpu_bundle.py --out $(GPU_BUNDLE) $(if $(GPU_SLOWFAST),--slowfast $(GPU_SLOWFAST))

gpu-check:
	$(GPU_PYTHON) -m pip install -q --no-index --no-deps --no-compile --upgrade \
		--target $(abspath $(GPU_BUNDLE))/site $(GPU_BUNDLE)/wheels/*.whl
	PYTHONPATH=$(abspath $(GPU_BUNDLE))/site $(GPU_PYTHON) tools/gpu_check.py $(GPU_CHECK_ARGS) \
		--slowfast $(GPU_BUNDLE)/SlowFast --json $(GPU_BUNDLE)/gpu_check.json
