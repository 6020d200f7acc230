#!/usr/bin/env python3
"""Forward+backward time and peak memory of NL, DNL and GTA, with ratios
against NL measured in the same run.

    python tools/benchmark_speed.py [--device cpu|cuda] [--repeats 5] [--json] [--quick]

Cases: one block at the res3 shape (C=512, T=8, 28x28) and the res4 shape
(C=1024, T=8, 14x14), batch 1; and one training step (forward, backward,
SGD step) of the whole C2D-R50 at 8x224x224 with NL and with GTA (the SSv2
configs). Every case runs in a fresh process. Time: the median of
--repeats runs after two warm-up runs (CUDA events on a GPU). Peak memory:
on the CPU the growth of the process's peak resident memory over what the
model and input already hold; on a GPU ``torch.cuda.max_memory_allocated``
over the same baseline. --quick shrinks every shape (for tests).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKS = ("NL", "DNL", "GTA")
SHAPES = {"res3": (512, 28), "res4": (1024, 14)}
MODELS = {"NL": "C2D_NLN_8x1_R50.yaml", "GTA": "C2D_GTA_8x1_R50.yaml"}


def cases():
    names = ["block_{}_{}".format(shape, block) for shape in SHAPES for block in BLOCKS]
    return names + ["model_{}".format(block) for block in MODELS]


def build_case(name, quick, device):
    """Returns (module, inputs, step) for a case; step(inputs) runs once."""
    import torch

    import gta_slowfast
    from gta_slowfast import compat
    from gta_slowfast.flop_count import clip_inputs
    from gta_slowfast.models import BlockSpec, DecoupledAttentionBlock

    torch.manual_seed(0)
    kind, *rest = name.split("_")
    if kind == "block":
        shape, block = rest
        channels, size = SHAPES[shape]
        if quick:
            channels, size = channels // 8, size // 2
        if block == "NL":
            module = compat.Nonlocal(channels, channels // 2, [1, 2, 2], instantiation="softmax")
        else:
            module = DecoupledAttentionBlock(channels, 8, BlockSpec.parse(block), pool_size=[1, 2, 2])
        torch.nn.init.ones_(module.bn.weight)
        module = module.to(device).train()
        x = torch.randn(1, channels, 8, size, size, device=device)

        def step():
            module(x.requires_grad_()).sum().backward()

        return module, step
    opts = ["NUM_GPUS", 1 if device.type == "cuda" else 0]
    if quick:
        opts += ["RESNET.WIDTH_PER_GROUP", 8, "DATA.TRAIN_CROP_SIZE", 64, "DATA.TEST_CROP_SIZE", 64]
    cfg = gta_slowfast.load_config(os.path.join(REPO, "configs", "SSv2", MODELS[rest[0]]), opts)
    model = gta_slowfast.build_model(cfg).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clip = clip_inputs(cfg, crop_size=cfg.DATA.TRAIN_CROP_SIZE)[0].to(device)
    labels = torch.zeros(1, dtype=torch.long, device=device)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model([clip]), labels).backward()
        optimizer.step()

    return model, step


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(name, quick, device_name, repeats):
    """Runs one case in this process; returns {"time_ms", "memory_mb"}."""
    import torch

    device = torch.device(device_name)
    _, step = build_case(name, quick, device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        baseline = peak_rss_mb()
    times = []
    for index in range(repeats + 2):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            elapsed = start.elapsed_time(end)
        else:
            tic = time.perf_counter()
            step()
            elapsed = (time.perf_counter() - tic) * 1000.0
        if index >= 2:
            times.append(elapsed)
    if cuda:
        memory = (torch.cuda.max_memory_allocated() - baseline) / 2**20
    else:
        memory = peak_rss_mb() - baseline
    return {"time_ms": statistics.median(times), "memory_mb": memory}


def run_in_fresh_process(name, args):
    command = [sys.executable, os.path.abspath(__file__), "--case", name,
               "--device", args.device, "--repeats", str(args.repeats)]
    if args.quick:
        command.append("--quick")
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def with_ratios(results):
    """Adds time and memory ratios against the NL case of the same group."""
    for name, row in results.items():
        reference = results[name.rsplit("_", 1)[0] + "_NL"]
        row["time_ratio_vs_nl"] = row["time_ms"] / reference["time_ms"]
        row["memory_ratio_vs_nl"] = row["memory_mb"] / max(reference["memory_mb"], 1e-9)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument("--quick", action="store_true", help="small shapes, for tests")
    parser.add_argument("--json", action="store_true",
                        help='print {"name": {"time_ratio_vs_nl", "memory_ratio_vs_nl"}}')
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(measure(args.case, args.quick, args.device, args.repeats)))
        return
    results = with_ratios({name: run_in_fresh_process(name, args) for name in cases()})
    if args.json:
        print(json.dumps({
            name: {"time_ratio_vs_nl": round(row["time_ratio_vs_nl"], 3),
                   "memory_ratio_vs_nl": round(row["memory_ratio_vs_nl"], 3)}
            for name, row in results.items()
        }, indent=2))
        return
    print("{:<16} {:>10} {:>11} {:>10} {:>12}".format(
        "case", "time (ms)", "peak (MB)", "time / NL", "memory / NL"))
    for name, row in results.items():
        print("{:<16} {:>10.1f} {:>11.1f} {:>10.2f} {:>12.2f}".format(
            name, row["time_ms"], row["memory_mb"], row["time_ratio_vs_nl"],
            row["memory_ratio_vs_nl"]))
    print("device: {}; forward+backward (model: + SGD step), batch 1, median of {} "
          "runs; memory: peak growth over model and input{}".format(
              args.device, args.repeats, " (quick shapes)" if args.quick else ""))


if __name__ == "__main__":
    main()
