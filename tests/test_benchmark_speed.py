"""tools/benchmark_speed.py runs each case in a fresh process and reports
ratios against NL in the same precision (quick shapes; the speed targets are
checked by running the tool, not by a timed test). One quick run goes end to
end; the autocast cases' steps and the ratios are checked in this process."""

import json
import subprocess
import sys

import pytest
import torch

from conftest import REPO, once_under_main
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


def test_ratios_are_against_nl_of_the_same_group_and_precision():
    table = load_tool("benchmark_speed").with_ratios({
        "block_res4_NL": {"time_ms": 4.0, "memory_mb": 8.0},
        "block_res4_GTA": {"time_ms": 2.0, "memory_mb": 2.0},
        "block_res4_NL@bf16": {"time_ms": 1.0, "memory_mb": 4.0},
        "block_res4_GTA@bf16": {"time_ms": 3.0, "memory_mb": 1.0},
        "model_NL": {"time_ms": 10.0, "memory_mb": 100.0},
        "model_GTA": {"time_ms": 5.0, "memory_mb": 150.0},
    })
    assert {name: (row["time_ratio_vs_nl"], row["memory_ratio_vs_nl"])
            for name, row in table.items()} == {
        "block_res4_NL": (1.0, 1.0), "block_res4_GTA": (0.5, 0.25),
        "block_res4_NL@bf16": (1.0, 1.0), "block_res4_GTA@bf16": (3.0, 0.25),
        "model_NL": (1.0, 1.0), "model_GTA": (0.5, 1.5)}


@pytest.mark.parametrize("name", ["block_res4_NL@bf16", "block_res4_GTA@bf16"])
def test_block_case_step_trains_every_parameter_under_autocast(name):
    """A case's step (what each fresh process times), here in this process:
    quick shapes, bf16 autocast on the CPU; every parameter gets a finite,
    non-zero gradient."""
    module, step = load_tool("benchmark_speed").build_case(name, True, torch.device("cpu"))
    step()
    grads = {key: param.grad for key, param in module.named_parameters()}
    assert all(grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
               for grad in grads.values()), [key for key, grad in grads.items() if grad is None]


@once_under_main
def test_quick_run_reports_a_training_step_of_each_model_against_nl():
    table = quick_run("--select", "model")
    assert list(table) == ["model_NL", "model_GTA"]
    assert_ratios_against_nl(table)
