"""tools/benchmark_loader.py on tiny files (--quick): every case reported,
against PySlowFast's Kinetics loader where pyslowfast 1.0 is installed (the
speed targets are checked by running the tool, not by a timed test)."""

import json
import subprocess
import sys

from gta_slowfast import compat

from conftest import REPO, once_under_main


@once_under_main
def test_quick_run_reports_each_case_against_its_reference(tmp_path):
    command = [sys.executable, str(REPO / "tools" / "benchmark_loader.py"), "--quick",
               "--rounds", "1", "--clips-per-video", "1", "--videos", str(tmp_path)]
    table = json.loads(subprocess.run(command + ["--json"], capture_output=True, text=True,
                                      check=True, cwd=REPO).stdout)
    assert set(table) == {"ssv2_train", "kinetics_train_gop30", "kinetics_train_gop250",
                          "kinetics_test_gop30"}
    for case, row in table.items():
        assert set(row) == {"cpu_s", "reference_cpu_s", "ratio"} and row["cpu_s"] > 0
        if case == "ssv2_train" or compat.GENERATION == "1.0":
            assert row["reference_cpu_s"] > 0
            assert abs(row["ratio"] - row["cpu_s"] / row["reference_cpu_s"]) < 1e-9
        else:
            assert row["reference_cpu_s"] is None and row["ratio"] is None
    markdown = subprocess.run(command, capture_output=True, text=True, check=True,
                              cwd=REPO).stdout
    assert "| Kinetics test video, 10x3, GOP 30 | video |" in markdown
    assert "| VP9 full decode, 1 thread(s) | file |" in markdown
