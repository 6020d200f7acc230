"""tools/count_flops.py against the paper's Table 1 (2D backbone, SSv2)."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

CONFIGS = ["C2D_8x1_R50", "C2D_NLN_8x1_R50", "C2D_GTA_8x1_R50"]


@pytest.fixture(scope="module")
def table():
    paths = [str(REPO / "configs" / "SSv2" / (name + ".yaml")) for name in CONFIGS]
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "count_flops.py"), "--json", "--cfg"] + paths,
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    rows = json.loads(result.stdout)
    assert [row["config"] for row in rows] == [
        "configs/SSv2/{}.yaml".format(name) for name in CONFIGS
    ]
    return {name: row for name, row in zip(CONFIGS, rows)}


def test_baseline_matches_paper_within_one_percent(table):
    assert table["C2D_8x1_R50"]["gflops"] == pytest.approx(32.7, rel=0.01)
    assert table["C2D_8x1_R50"]["params_m"] == pytest.approx(23.9, rel=0.01)


def test_gta_within_budget_and_cheaper_than_nl(table):
    gta, nl = table["C2D_GTA_8x1_R50"], table["C2D_NLN_8x1_R50"]
    assert gta["gflops"] <= 52.7
    assert gta["params_m"] <= 32.8
    assert gta["gflops"] < nl["gflops"]


def test_nl_counts_pyslowfast_nonlocal(table):
    # PySlowFast pools before phi/g: 55.1 GFLOPs, 31.22 M (DESIGN.md).
    assert table["C2D_NLN_8x1_R50"]["gflops"] == pytest.approx(55.1, rel=0.01)
    assert table["C2D_NLN_8x1_R50"]["params_m"] == pytest.approx(31.22, rel=0.005)
