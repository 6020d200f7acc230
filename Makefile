# Set-up and checks for gta_slowfast. Everything runs on the CPU.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test demo flops clean

install: $(VENV)/.installed

# torch is pinned to the CPU build 2.13.0 in setup.cfg; pip finds it on this
# machine's disk or on the registry.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[test]"
	touch $@

# pytest exits 5 when it collects no test; say so instead of failing CI.
test: install
	$(PY) -m pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no test"; exit 0; fi; exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info

# The built-in demo: a synthetic time-reversal SSv2 (real webm files), then a
# reduced-width C2D + GTA trained and tested on the CPU; prints test top-1.
DEMO_DATA := output/synthetic_ssv2
demo: install
	test -f $(DEMO_DATA)/something-something-v2-labels.json || \
		$(PY) tools/make_synthetic_ssv2.py --out $(DEMO_DATA)
	$(PY) tools/run_net.py --cfg configs/SSv2/synthetic/C2D_GTA_8x1_R50.yaml

# The paper's Table 1 for the 2D SSv2 configs: GFLOPs and parameters.
flops: install
	$(PY) tools/count_flops.py --cfg configs/SSv2/C2D_8x1_R50.yaml \
		configs/SSv2/C2D_NLN_8x1_R50.yaml configs/SSv2/C2D_DNL_8x1_R50.yaml \
		configs/SSv2/C2D_GTA_8x1_R50.yaml
