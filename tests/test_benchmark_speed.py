"""tools/benchmark_speed.py runs every case in a fresh process and reports
ratios against NL (quick shapes; the speed targets are checked by running
the tool, not by a timed test)."""

import json
import subprocess
import sys

from conftest import REPO


def test_quick_run_reports_every_case_against_nl():
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "benchmark_speed.py"), "--quick", "--repeats", "1", "--rounds", "1",
         "--json"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    table = json.loads(result.stdout)
    assert set(table) == {
        "block_res3_NL", "block_res3_DNL", "block_res3_GTA",
        "block_res4_NL", "block_res4_DNL", "block_res4_GTA",
        "model_NL", "model_GTA",
    }
    for name, row in table.items():
        assert set(row) == {"time_ratio_vs_nl", "memory_ratio_vs_nl"}
        assert row["time_ratio_vs_nl"] > 0 and row["memory_ratio_vs_nl"] > 0
        if name.endswith("_NL"):
            assert row == {"time_ratio_vs_nl": 1.0, "memory_ratio_vs_nl": 1.0}


def test_autocast_rows_are_measured_against_nl_in_the_same_precision():
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "benchmark_speed.py"), "--quick", "--repeats", "1",
         "--rounds", "1", "--select", "res4", "--autocast", "bf16", "--json"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    table = json.loads(result.stdout)
    blocks = ["block_res4_NL", "block_res4_DNL", "block_res4_GTA"]
    assert list(table) == blocks + [name + "@bf16" for name in blocks]
    assert table["block_res4_NL@bf16"] == {"time_ratio_vs_nl": 1.0, "memory_ratio_vs_nl": 1.0}
    assert table["block_res4_GTA@bf16"]["time_ratio_vs_nl"] > 0
