#!/usr/bin/env python3
"""Forward+backward time and peak memory of NL, DNL and GTA, with ratios
against NL measured in the same run.

    python tools/benchmark_speed.py [--device cpu|cuda] [--autocast bf16 [fp16]]
        [--select model] [--batch 1] [--repeats 5] [--rounds 3] [--keep-denormals]
        [--json] [--quick]

Cases: one block at the res3 shape (C=512, T=8, 28x28) and the res4 shape
(C=1024, T=8, 14x14), batch 1; and one training step (forward, backward,
SGD step) of the whole C2D-R50 at 8x224x224 with NL and with GTA (the SSv2
configs), on --batch clips (``MORE_MODELS`` adds steps measured where
tools/gpu_check.py names them). In fp32, and, for each --autocast dtype,
with the forward pass under ``torch.autocast`` in that dtype (case "NAME@bf16"), as
TRAIN.MIXED_PRECISION trains; ratios are against NL in the same precision.
--select keeps the cases whose name contains one of its words. Each
measurement runs in a fresh process, after two warm-up runs.
Time: the median of --repeats runs (CUDA events on a GPU); on the CPU, the
median of that over --rounds rounds that run every case in turn. Peak memory on a
GPU: ``torch.cuda.max_memory_allocated`` over what the model and input
hold. On the CPU: the growth of the process's peak resident set (VmHWM,
reset after the warm-up) over its resident set after the warm-up, in a
process of its own in which glibc hands every freed tensor back to the
system (a fixed ``MALLOC_MMAP_THRESHOLD_``), so that the figure is what
the step allocates, not how the heap fragments. On the CPU, denormal
floats are flushed to zero (``torch.set_flush_denormal``) unless
--keep-denormals: x86 cores multiply them many times slower, and the
gradients of a softmax with far-apart scores (TA on X_hat at init) are
full of them, so a block's time would depend on how its random weights
happen to scale. --quick shrinks every shape (for tests).
"""

import argparse
import ctypes
import json
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKS = ("NL", "DNL", "GTA")
SHAPES = {"res3": (512, 28), "res4": (1024, 14)}
MODELS = {"NL": "C2D_NLN_8x1_R50.yaml", "GTA": "C2D_GTA_8x1_R50.yaml"}
# Training-step cases measured only where named (tools/gpu_check.py):
# C2D-R50 with no block and with DNL, SlowFast-R50 with NL and with GTA.
MORE_MODELS = {"model_none": "C2D_8x1_R50.yaml", "model_DNL": "C2D_DNL_8x1_R50.yaml",
               "slowfast_NL": "SLOWFAST_NLN_16x8_R50.yaml",
               "slowfast_GTA": "SLOWFAST_GTA_16x8_R50.yaml"}


AUTOCAST_DTYPES = ("bf16", "fp16")


def cases(autocast=(), select=()):
    """Case names: "block_res3_GTA", "model_NL", ... and, per autocast
    dtype, the same with "@bf16" (or "@fp16") appended; only those whose
    name contains a word of ``select`` where given."""
    names = ["block_{}_{}".format(shape, block) for shape in SHAPES for block in BLOCKS]
    names += ["model_{}".format(block) for block in MODELS]
    names = [name for name in names if not select or any(word in name for word in select)]
    return names + ["{}@{}".format(name, dtype) for dtype in autocast for name in names]


def model_config(name):
    """The SSv2 config of a training-step case ("model_GTA", "slowfast_NL", ...)."""
    return MORE_MODELS.get(name) or MODELS[name.split("_", 1)[1]]


def build_case(name, quick, device, batch=1, crop=None):
    """Returns (module, step) for a case; step() runs one forward+backward
    (model: + SGD step on ``batch`` clips of ``crop``^2 where given, else the
    config's or --quick's size), the forward under autocast for
    "...@dtype"."""
    import torch

    import gta_slowfast
    from gta_slowfast import compat
    from gta_slowfast.flop_count import clip_inputs
    from gta_slowfast.blocks import DecoupledAttentionBlock

    torch.manual_seed(0)
    name, _, precision = name.partition("@")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    kind, *rest = name.split("_")
    if kind == "block":
        shape, block = rest
        channels, size = SHAPES[shape]
        if quick:
            channels, size = channels // 8, size // 2
        if block == "NL":
            module = compat.Nonlocal(channels, channels // 2, [1, 2, 2], instantiation="softmax")
        else:
            module = DecoupledAttentionBlock(channels, 8, block, pool_size=[1, 2, 2])
        torch.nn.init.ones_(module.bn.weight)
        module = module.to(device).train()
        x = torch.randn(1, channels, 8, size, size, device=device)

        def step():
            with autocast():
                out = module(x.requires_grad_())
            out.float().sum().backward()

        return module, step
    opts = ["NUM_GPUS", 1 if device.type == "cuda" else 0]
    if quick:
        opts += ["RESNET.WIDTH_PER_GROUP", 8, "DATA.TRAIN_CROP_SIZE", 64, "DATA.TEST_CROP_SIZE", 64]
        if kind == "slowfast":
            opts += ["DATA.NUM_FRAMES", 16]
    if crop:
        opts += ["DATA.TRAIN_CROP_SIZE", crop, "DATA.TEST_CROP_SIZE", crop]
    cfg = gta_slowfast.load_config(os.path.join(REPO, "configs", "SSv2", model_config(name)), opts)
    model = gta_slowfast.build_model(cfg).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clips = [pathway.to(device) for pathway in
             clip_inputs(cfg, crop_size=cfg.DATA.TRAIN_CROP_SIZE, batch_size=batch)]
    labels = torch.zeros(batch, dtype=torch.long, device=device)

    def step():
        optimizer.zero_grad()
        with autocast():
            # a new list: PySlowFast's stems replace the list's items in place
            loss = torch.nn.functional.cross_entropy(model(list(clips)), labels)
        loss.backward()
        optimizer.step()

    return model, step


WARMUP_RUNS = 2
# Allocations above this size are mmapped and unmapped when freed.
MALLOC_MMAP_THRESHOLD = "65536"


def resident_mb(field):
    """VmRSS or VmHWM of this process, in MB (Linux)."""
    with open("/proc/self/status") as status:
        return int(re.search(field + r":\s+(\d+)", status.read()).group(1)) / 1024.0


def measure_time(step, device, repeats):
    """Median milliseconds of ``repeats`` runs of step()."""
    import torch

    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            tic = time.perf_counter()
            step()
            times.append((time.perf_counter() - tic) * 1000.0)
    return statistics.median(times)


def measure(name, quick, device_name, repeats, metric, keep_denormals=False, batch=1, crop=None):
    """Runs one case in this process; returns {"time_ms"} and/or {"memory_mb"}."""
    import torch

    device = torch.device(device_name)
    if device.type == "cpu" and not keep_denormals:
        torch.set_flush_denormal(True)
    _, step = build_case(name, quick, device, batch, crop)
    for _ in range(WARMUP_RUNS):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        result = {"time_ms": measure_time(step, device, repeats)}
        result["memory_mb"] = (torch.cuda.max_memory_allocated() - baseline) / 2**20
        return result
    result = {}
    if metric in ("time", "both"):
        result["time_ms"] = measure_time(step, device, repeats)
    if metric in ("memory", "both"):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        baseline = resident_mb("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets VmHWM to the current resident set
        step()
        result["memory_mb"] = resident_mb("VmHWM") - baseline
    return result


def run_in_fresh_process(name, args, metric):
    command = [sys.executable, os.path.abspath(__file__), "--case", name, "--metric", metric,
               "--device", args.device, "--repeats", str(args.repeats), "--batch", str(args.batch)]
    if args.quick:
        command.append("--quick")
    if args.keep_denormals:
        command.append("--keep-denormals")
    env = dict(os.environ)
    if metric == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = MALLOC_MMAP_THRESHOLD
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_cases(args):
    """{"name": {"time_ms", "memory_mb"}} of every case. On the CPU, time is
    the median over --rounds rounds, each of which runs every case once in
    turn (so that drift of the machine's speed hits NL and GTA alike), and
    memory is measured once, in a process of its own. On a GPU, one
    process per case measures both."""
    names = cases(args.autocast, args.select)
    if args.device.startswith("cuda"):
        return {name: run_in_fresh_process(name, args, "both") for name in names}
    times = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            times[name].append(run_in_fresh_process(name, args, "time")["time_ms"])
    return {
        name: {"time_ms": statistics.median(times[name]),
               **run_in_fresh_process(name, args, "memory")}
        for name in names
    }


def with_ratios(results):
    """Adds time and memory ratios against the NL case of the same group
    and precision."""
    for name, row in results.items():
        case, at, precision = name.partition("@")
        reference = results[case.rsplit("_", 1)[0] + "_NL" + at + precision]
        row["time_ratio_vs_nl"] = row["time_ms"] / reference["time_ms"]
        row["memory_ratio_vs_nl"] = row["memory_mb"] / max(reference["memory_mb"], 1e-9)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=3,
                        help="CPU: processes per case for time, in turn with the other cases")
    parser.add_argument("--autocast", nargs="+", default=[], choices=AUTOCAST_DTYPES,
                        help="also measure every case with the forward under autocast")
    parser.add_argument("--batch", type=int, default=1, help="clips per training step (model cases)")
    parser.add_argument("--select", nargs="+", default=[],
                        help="only the cases whose name contains one of these words")
    parser.add_argument("--keep-denormals", action="store_true",
                        help="CPU: compute with denormal floats instead of flushing them to zero")
    parser.add_argument("--quick", action="store_true", help="small shapes, for tests")
    parser.add_argument("--json", action="store_true",
                        help='print {"name": {"time_ratio_vs_nl", "memory_ratio_vs_nl"}}')
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--metric", default="both", choices=("time", "memory", "both"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(measure(args.case, args.quick, args.device, args.repeats, args.metric,
                                 args.keep_denormals, args.batch)))
        return
    results = with_ratios(run_cases(args))
    if args.json:
        print(json.dumps({
            name: {"time_ratio_vs_nl": round(row["time_ratio_vs_nl"], 3),
                   "memory_ratio_vs_nl": round(row["memory_ratio_vs_nl"], 3)}
            for name, row in results.items()
        }, indent=2))
        return
    print("{:<21} {:>10} {:>11} {:>10} {:>12}".format(
        "case", "time (ms)", "peak (MB)", "time / NL", "memory / NL"))
    for name, row in results.items():
        print("{:<21} {:>10.1f} {:>11.1f} {:>10.2f} {:>12.2f}".format(
            name, row["time_ms"], row["memory_mb"], row["time_ratio_vs_nl"],
            row["memory_ratio_vs_nl"]))
    cpu_rounds = "" if args.device.startswith("cuda") else " x {} rounds; denormals {}".format(
        args.rounds, "kept" if args.keep_denormals else "flushed")
    print("device: {}; forward+backward (model: + SGD step), batch {}, time: median of {} "
          "runs{}; memory: peak growth over the warmed-up process{}".format(
              args.device, args.batch, args.repeats, cpu_rounds, " (quick shapes)" if args.quick else ""))


if __name__ == "__main__":
    main()
