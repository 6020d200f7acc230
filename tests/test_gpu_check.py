"""tools/gpu_check.py at --quick sizes on the CPU: the same code the GPU
machine runs (only sizes, device and precision differ), so that a change
that breaks the GPU check breaks the suite.

The check runs once in CI, under the GitHub-main SlowFast snapshot whose
own tools import as they are (bac7b67): the GPU machine's bundle carries a
GitHub-main tree, and there every part of the check runs, SlowFast's own
train_net/test_net included. Under pyslowfast 1.0 (no SlowFast tools: the
pyslowfast part is skipped) and at HEAD (the same code, its tools reached
through the plugin's alias of a Meta-internal import, which
tests/test_pyslowfast_main.py covers) the run would only repeat this one
at minutes each, which CI's time cannot afford.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from gta_slowfast import compat
from gta_slowfast.engine import pyslowfast_tools

from conftest import REPO
from pipeline import load_tool

gpu_check = load_tool("gpu_check")

MAIN = compat.GENERATION == "main"
# SlowFast since Aug 2024 (HEAD) imports its own ava_evaluation under Meta's
# internal name.
META_IMPORTS = MAIN and pyslowfast_tools.AVA_EVALUATION_ALIAS in (
    pathlib.Path(pyslowfast_tools.clone_root()) / "slowfast" / "utils" / "ava_eval_helper.py"
).read_text()
quick_run = pytest.mark.skipif(
    not MAIN or META_IMPORTS,
    reason="the CPU run of the GPU check runs once, under GitHub-main SlowFast before HEAD "
    "(bac7b67), whose tools run every part of it; here it would repeat that run ({})".format(
        "SlowFast HEAD" if MAIN else "pyslowfast 1.0"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The check's JSON report and printed output, run once for the module
    (several minutes on 2 cores). ``--slowfast ''``: the slowfast this suite
    imports, whatever a gpu_bundle/ holds."""
    workdir = tmp_path_factory.mktemp("gpu_check")
    out = workdir / "report.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gpu_check.py"), "--device", "cpu", "--quick",
         "--workdir", str(workdir), "--slowfast", "", "--json", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(out.read_text()), result.stdout


def rows_of(report, part):
    return {(row["model"], row["precision"]): row for row in report["training"]
            if row["part"] == part}


@quick_run
def test_plugin_loop_trains_resumes_and_tests_every_model(report):
    report, _ = report
    rows = rows_of(report, "plugin")
    precisions = gpu_check.SIZES["quick"]["precisions"]
    assert set(rows) == {(model, precision) for model in gpu_check.TRAIN_MODELS
                         for precision in precisions[model]}
    assert {p for model in precisions for p in precisions[model]} == {"fp16", "bf16"}
    assert gpu_check.SIZES["full"]["precisions"] == {
        model: ("fp32", "fp16", "bf16") for model in gpu_check.TRAIN_MODELS}
    for (model, precision), row in rows.items():
        assert row["status"] == "ok", row
        # 6 training videos, batch 4, drop_last: 1 iteration in each of 2 epochs
        assert row["train_iters"] == 2
        assert 0.0 <= row["test_top1"] <= 100.0
        # fp16: the CPU GradScaler's state went into the checkpoint and back
        assert any(note.startswith("GradScaler scale") for note in row["notes"]) == (
            precision == "fp16"), row


@quick_run
def test_pyslowfast_tools_run_or_say_why_not(report):
    report, _ = report
    (row,) = rows_of(report, "pyslowfast").values()
    tools = pyslowfast_tools.find_pyslowfast_tools() if compat.GENERATION == "main" else None
    if tools is not None and tools.available:
        assert row["status"] == "ok", row
        assert row["train_iters"] >= 2 and row["test_top1"] is not None
    else:
        assert row["status"] == "skipped"
        assert "cannot run here" in row["notes"][0]


@quick_run
def test_speed_cases_and_ratios(report):
    report, _ = report
    results = report["speed"]["results"]
    precisions = ("", "@fp16", "@bf16")
    cases = gpu_check.SIZES["quick"]["speed_cases"]
    assert set(cases) <= set(gpu_check.SPEED_CASES) and {"model_NL", "model_GTA"} <= set(cases)
    assert set(results) == {case + p for case in cases for p in precisions}
    batch = gpu_check.SIZES["quick"]["batch"]
    for name, row in results.items():
        assert row["clips_per_s"] == pytest.approx(batch * 1000.0 / row["time_ms"])
        group = name.partition("@")[0].rsplit("_", 1)[0]
        reference = results[group + "_NL" + name[len(name.partition("@")[0]):]]
        assert row["time_ratio_vs_nl"] == pytest.approx(row["time_ms"] / reference["time_ms"])


@quick_run
def test_loader_rows_against_the_model(report):
    report, stdout = report
    loader = report["loader"]["results"]
    workers = gpu_check.SIZES["quick"]["workers"]
    assert {(row["kind"], row["workers"]) for row in loader.values()} == {
        (kind, w) for kind in ("ssv2", "kinetics") for w in workers}
    model = report["speed"]["results"]["model_GTA"]["clips_per_s"]
    for row in loader.values():
        assert row["clips_per_s"] > 0
        assert row["workers_needed"]["fp32"] == pytest.approx(
            model / (row["clips_per_s"] / row["workers"]), rel=1e-2)
    assert "failed parts: none" in stdout


def test_json_stats_reads_both_formats():
    text = "\n".join([
        '{"_type": "train_iter", "loss": 1.5}',
        '[11/30 13:28:01][INFO] x:  43: json_stats: {"split": "test_final", "top1_acc": 50.0}',
        'json_stats: {"_type": "train_iter_", "loss": 2.0}',
        "not json", '{"truncated": ',
    ])
    rows = gpu_check.json_stats(text)
    assert [row["type"] for row in rows] == ["train_iter", "test_final", "train_iter_"]
    assert [row.get("loss") for row in rows] == [1.5, None, 2.0]
    assert rows[1]["top1_acc"] == 50.0
