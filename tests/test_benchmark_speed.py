"""tools/benchmark_speed.py runs each case in a fresh process and reports
ratios against NL in the same precision (quick shapes; the speed targets are
checked by running the tool, not by a timed test)."""

import json
import subprocess
import sys

from conftest import REPO
from pipeline import load_tool


def test_cases_cover_every_block_shape_model_and_autocast_dtype():
    cases = load_tool("benchmark_speed").cases
    fp32 = ["block_res3_NL", "block_res3_DNL", "block_res3_GTA",
            "block_res4_NL", "block_res4_DNL", "block_res4_GTA", "model_NL", "model_GTA"]
    assert cases() == fp32
    assert cases(["bf16"]) == fp32 + [name + "@bf16" for name in fp32]
    assert cases(["fp16"], ["res4_GTA", "model"]) == [
        "block_res4_GTA", "model_NL", "model_GTA",
        "block_res4_GTA@fp16", "model_NL@fp16", "model_GTA@fp16"]


def quick_run(*options):
    """The tool's --json table for quick shapes, one run of one round."""
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "benchmark_speed.py"), "--quick", "--repeats", "1",
         "--rounds", "1", "--json"] + list(options),
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    return json.loads(result.stdout)


def assert_ratios_against_nl(table):
    for name, row in table.items():
        assert set(row) == {"time_ratio_vs_nl", "memory_ratio_vs_nl"}
        assert row["time_ratio_vs_nl"] > 0 and row["memory_ratio_vs_nl"] > 0
        if "_NL" in name:
            assert row == {"time_ratio_vs_nl": 1.0, "memory_ratio_vs_nl": 1.0}


def test_quick_run_reports_blocks_against_nl_in_fp32_and_bf16():
    table = quick_run("--select", "res4_NL", "res4_GTA", "--autocast", "bf16")
    blocks = ["block_res4_NL", "block_res4_GTA"]
    assert list(table) == blocks + [name + "@bf16" for name in blocks]
    assert_ratios_against_nl(table)


def test_quick_run_reports_a_training_step_of_each_model_against_nl():
    table = quick_run("--select", "model")
    assert list(table) == ["model_NL", "model_GTA"]
    assert_ratios_against_nl(table)
