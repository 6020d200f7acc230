#!/usr/bin/env python3
"""The GPU check: training loops, precisions, speed and data loading on one
device, in one command; prints one table and writes JSON.

    python tools/gpu_check.py --device cuda|cpu [--quick] [--json OUT.json]
        [--workdir output/gpu_check] [--slowfast DIR] [--parts train pyslowfast speed loader]

Parts (each in processes of its own, so that one failing leaves the others
their rows):

* train: the plugin's loop (tools/run_net.py with GTA.LOOP plugin)
  trains C2D-R50 + GTA (configs/SSv2/C2D_GTA_8x1_R50.yaml) and SlowFast-R50 +
  GTA (configs/SSv2/SLOWFAST_GTA_16x8_R50.yaml) on one device (NUM_GPUS 1 on
  CUDA, 0 on the CPU) for one epoch with a checkpoint, then resumes for a
  second and tests, in fp32 and with TRAIN.MIXED_PRECISION in fp16 with a
  GradScaler and in bf16 (GTA.TRAIN.MIXED_PRECISION_DTYPE), on the synthetic
  time-reversal SSv2 (gta_slowfast/demo/) written at SSv2's
  size (240 x 428, 48 frames).
* pyslowfast: the same for C2D-R50 + GTA with TRAIN.MIXED_PRECISION (fp32
  on the CPU, where its autocast does not run) through
  GitHub-main SlowFast's own tools/train_net.py and test_net.py (GTA.LOOP
  pyslowfast, the tree of --slowfast on PYTHONPATH); skipped, saying why,
  where they cannot run.
* speed: clips/s and peak memory of one training step (forward, backward,
  SGD step) of C2D-R50 at 8 x 224^2 with no block, NL, DNL and GTA, and of
  SlowFast-R50 (16 x 8) with NL and GTA, 8 clips a step, in fp32, fp16 and
  bf16 autocast, with ratios against NL from the same run
  (tools/benchmark_speed.py's cases, all in one process).
* loader: clips/s of the plugin's training DataLoader (C2D SSv2 and Kinetics
  configs, 8 clips a batch, batches moved to the device) over
  tools/benchmark_loader.py's SSv2-like and Kinetics-like files, with 8 and
  16 workers, against the speed part's C2D-R50 + GTA clips/s.

Every training run sets LOG_MODEL_INFO False (the model's statistics are
no part of the check and cost seconds a run).

--quick runs the same code at tiny sizes (for the test suite): fewer and
smaller videos, models at 1/8 width and 32^2 crops, each half precision
trained once (C2D-R50 in fp16, SlowFast-R50 in bf16; fp32 is the same code
with autocast off), a
training step of 1 clip measured once for C2D-R50 with NL and GTA only (in
the three precisions), 1 loader worker for 2 batches.
--slowfast (default: $PYSLOWFAST_ROOT; `make gpu-check` gives the bundle's
gpu_bundle/SlowFast) goes on PYTHONPATH and is the tree whose tools the
pyslowfast part runs; without one, the slowfast installed is used. Exits 1 if a part that ran failed.
"""

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = ("train", "pyslowfast", "speed", "loader")
TRAIN_MODELS = {"C2D-R50+GTA": "C2D_GTA_8x1_R50.yaml",
                "SlowFast-R50+GTA": "SLOWFAST_GTA_16x8_R50.yaml"}
# GTA.TRAIN.MIXED_PRECISION_DTYPE of each precision of the plugin's loop.
AUTOCAST_DTYPES = {"fp16": "float16", "bf16": "bfloat16"}
SPEED_CASES = ("model_none", "model_NL", "model_DNL", "model_GTA", "slowfast_NL", "slowfast_GTA")
SPEED_LABELS = {"model_none": "C2D-R50", "model_NL": "C2D-R50+NL", "model_DNL": "C2D-R50+DNL",
                "model_GTA": "C2D-R50+GTA", "slowfast_NL": "SlowFast-R50+NL",
                "slowfast_GTA": "SlowFast-R50+GTA"}
NUM_CLASSES = 6  # 3 time-reversed pairs; PySlowFast's tools score top-5

# Only sizes differ between the full check and --quick (the number of
# training runs and speed cases too: --quick trains each half precision once and
# measures the C2D speed cases with and without GTA only).
SIZES = {
    "full": {
        "data": dict(num_pairs=3, train_per_class=3, val_per_class=1, num_frames=48,
                     height=240, width=428),
        "opts": ["TRAIN.BATCH_SIZE", 8, "TEST.BATCH_SIZE", 8, "DATA_LOADER.NUM_WORKERS", 4],
        "slowfast_opts": [],
        "precisions": {name: ("fp32", "fp16", "bf16") for name in TRAIN_MODELS},
        "speed_cases": SPEED_CASES, "speed_crop": None,
        "batch": 8, "repeats": 6, "workers": (8, 16), "loader_batches": 24,
        "loader_sizes": "full", "loader_files": {"ssv2_files": 4, "kinetics_files": 2},
    },
    "quick": {
        "data": dict(num_pairs=3, train_per_class=1, val_per_class=1, num_frames=16,
                     height=40, width=48),
        "opts": ["TRAIN.BATCH_SIZE", 4, "TEST.BATCH_SIZE", 6, "DATA_LOADER.NUM_WORKERS", 0,
                 "RESNET.WIDTH_PER_GROUP", 8, "DATA.TRAIN_CROP_SIZE", 32,
                 "DATA.TEST_CROP_SIZE", 32, "GTA.DATA.RESIZE", "[40, 48]"],
        # The SlowFast config's own short-side jitter (GTA.DATA.RESIZE []),
        # which its DATA.INV_UNIFORM_SAMPLE needs, at the quick size.
        "slowfast_opts": ["DATA.NUM_FRAMES", 16, "DATA.TRAIN_JITTER_SCALES", "[40, 48]",
                          "GTA.DATA.RESIZE", "[]"],
        "precisions": {"C2D-R50+GTA": ("fp16",), "SlowFast-R50+GTA": ("bf16",)},
        "speed_cases": ("model_NL", "model_GTA"), "speed_crop": 32,
        "batch": 1, "repeats": 1, "workers": (1,), "loader_batches": 2,
        "loader_sizes": "quick", "loader_files": {},
    },
}


# ----------------------------------------------------------------- helpers


def load_tool(name):
    """Imports ``tools/<name>.py`` (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tools_env(slowfast):
    """The environment for the training runs: PYSLOWFAST_ROOT names the
    tree where one is given; otherwise unset, so that the clone slowfast is
    imported from is used."""
    env = dict(os.environ, PYTHONPATH=python_path(slowfast))
    env.pop("PYSLOWFAST_ROOT", None)
    if slowfast:
        env["PYSLOWFAST_ROOT"] = slowfast
    return env


def python_path(slowfast):
    """PYTHONPATH for the check's processes: the repository, the SlowFast
    tree where given, then what was there."""
    parts = [REPO] + ([slowfast] if slowfast else []) + [os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(part for part in parts if part)


def progress(message):
    """A line on stderr as each step ends, so that a run cut short by a
    time limit still shows how far it got."""
    print("[gpu_check] " + message, file=sys.stderr, flush=True)


def run(command, env, log_path):
    """Runs ``command`` in the repository, its output going to ``log_path``
    as it comes; returns (exit status, seconds, output)."""
    start = time.perf_counter()
    with open(log_path, "w") as stream:
        code = subprocess.run(command, cwd=REPO, env=env, stdout=stream,
                              stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    progress("{} in {:.0f} s, exit {}: {}".format(
        os.path.basename(os.path.dirname(log_path)) + "/" + os.path.basename(log_path),
        seconds, code, " ".join(command[1:4])))
    return code, seconds, read(log_path)


def json_stats(text):
    """The json stats records in a log's text or a json_stats.log: lines
    ``json_stats: {...}`` (PySlowFast's format) or bare ``{...}``; each
    record's type is its ``_type`` or else its ``split``."""
    rows = []
    for line in text.splitlines():
        _, marker, rest = line.partition("json_stats: ")
        candidate = rest if marker else line
        if not candidate.strip().startswith("{"):
            continue
        try:
            row = json.loads(candidate)
        except ValueError:
            continue
        row["type"] = row.get("_type", row.get("split"))
        rows.append(row)
    return rows


def read(path):
    if not os.path.exists(path):
        return ""
    with open(path) as stream:
        return stream.read()


# ------------------------------------------------------------------- train


def make_data(workdir, sizes):
    """The synthetic SSv2 for the training parts, written once per size."""
    from gta_slowfast.demo.synthetic_ssv2 import generate_dataset

    data_dir = os.path.join(workdir, "ssv2_" + sizes["loader_sizes"])
    if not os.path.exists(os.path.join(data_dir, "something-something-v2-validation.json")):
        generate_dataset(data_dir, overwrite=True, verbose=False, **sizes["data"])
    return data_dir


def training_run(name, config, loop, precision, args, data_dir, slowfast):
    """Trains one epoch (a checkpoint), resumes for a second, then tests;
    returns a row of the table."""
    sizes = SIZES["quick" if args.quick else "full"]
    mixed = precision != "fp32"
    out = os.path.join(args.workdir, "{}_{}_{}".format(loop, name, precision))
    if os.path.exists(out):
        subprocess.run(["rm", "-rf", out], check=True)
    os.makedirs(out)
    opts = [
        "NUM_GPUS", 1 if args.device == "cuda" else 0,
        "OUTPUT_DIR", out, "DATA.PATH_TO_DATA_DIR", data_dir,
        "DATA.PATH_PREFIX", os.path.join(data_dir, "videos"),
        "MODEL.NUM_CLASSES", NUM_CLASSES, "TRAIN.CHECKPOINT_FILE_PATH", "",
        "TRAIN.CHECKPOINT_PERIOD", 1, "TRAIN.EVAL_PERIOD", 1, "TRAIN.MIXED_PRECISION", mixed,
        "BN.NUM_BATCHES_PRECISE", 2, "LOG_PERIOD", 1, "LOG_MODEL_INFO", False,
        "GTA.LOOP", loop,
    ] + (["GTA.TRAIN.MIXED_PRECISION_DTYPE", AUTOCAST_DTYPES[precision]]
         if loop == "plugin" and mixed else []) + sizes["opts"] + (sizes["slowfast_opts"] if "SlowFast" in name else [])
    env = tools_env(slowfast)
    command = [sys.executable, os.path.join(REPO, "tools", "run_net.py"),
               "--cfg", os.path.join(REPO, "configs", "SSv2", config), "--opts"]
    row = {"part": loop, "model": name, "precision": precision, "status": "ok", "notes": []}
    seconds = 0.0
    outputs = []
    for step, extra in enumerate((["SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False],
                                  ["SOLVER.MAX_EPOCH", 2])):
        code, took, output = run(command + [str(o) for o in opts + extra], env,
                                 os.path.join(out, "run{}.log".format(step + 1)))
        seconds += took
        outputs.append(output)
        if code != 0:
            row["status"] = "FAILED"
            row["notes"].append("run {} exit {}: {}".format(
                step + 1, code, " | ".join(output.strip().splitlines()[-3:])[-400:]))
            break
    row["seconds"] = round(seconds, 1)
    # The console logs of the runs hold every record once (json_stats.log
    # repeats the plugin's; SlowFast's lacks test_final).
    stats = json_stats("\n".join(outputs))
    losses = [row_["loss"] for row_ in stats if str(row_["type"]).startswith("train_iter")
              and "loss" in row_]
    finals = [row_ for row_ in stats if row_["type"] == "test_final"]
    row["train_iters"] = len(losses)
    row["last_loss"] = float(losses[-1]) if losses else None
    row["test_top1"] = float(finals[-1]["top1_acc"]) if finals else None
    if row["status"] == "ok":
        check_training(row, loop, precision, args.device, out, outputs, losses, finals)
    progress("{} {} {}: {} {}".format(loop, name, precision, row["status"],
                                      "; ".join(row["notes"])))
    return row


def check_training(row, loop, precision, device, out, outputs, losses, finals):
    """Marks the row FAILED, saying what is missing, where the runs did not
    checkpoint, resume, test, log finite losses or use the precision asked."""
    import torch

    problems = []
    expected_line = ("Running PySlowFast's tools/train_net.py" if loop == "pyslowfast"
                     else "Running the plugin's training and test loop")
    if expected_line not in outputs[0]:
        problems.append("the log lacks '{}'".format(expected_line))
    checkpoints = os.path.join(out, "checkpoints")
    names = sorted(os.listdir(checkpoints)) if os.path.isdir(checkpoints) else []
    for epoch in (1, 2):
        if "checkpoint_epoch_{:05d}.pyth".format(epoch) not in names:
            problems.append("no checkpoint of epoch {}".format(epoch))
    resumed = ("Load from last checkpoint" if loop == "pyslowfast" else "Resuming from")
    if resumed not in outputs[-1]:
        problems.append("the second run did not resume ('{}' missing)".format(resumed))
    if not losses or not all(math.isfinite(float(loss)) for loss in losses):
        problems.append("no finite training losses")
    if not finals:
        problems.append("no test_final record")
    if loop == "plugin" and precision != "fp32":
        described = "{} autocast{} on {}".format(
            precision, " with a GradScaler" if precision == "fp16" else "",
            "CUDA" if device == "cuda" else "the CPU")
        if described not in outputs[-1]:
            problems.append("the log does not say '{}'".format(described))
    if "checkpoint_epoch_00002.pyth" in names and precision == "fp16":
        state = torch.load(os.path.join(checkpoints, "checkpoint_epoch_00002.pyth"),
                           map_location="cpu", weights_only=False)
        if (loop == "plugin" or device == "cuda") and "scaler_state" not in state:
            problems.append("the checkpoint holds no scaler_state")
        if "scale" in state.get("scaler_state", {}):
            row["notes"].append("GradScaler scale {:g}".format(state["scaler_state"]["scale"]))
    if problems:
        row["status"] = "FAILED"
        row["notes"] += problems


def train_part(args, slowfast):
    sizes = SIZES["quick" if args.quick else "full"]
    data_dir = make_data(args.workdir, sizes)
    return [training_run(name, config, "plugin", precision, args, data_dir, slowfast)
            for name, config in TRAIN_MODELS.items() for precision in sizes["precisions"][name]]


def pyslowfast_part(args, slowfast):
    """SlowFast's own train_net/test_net on C2D-R50 + GTA, where its tools
    import: with TRAIN.MIXED_PRECISION on CUDA, in fp32 on the CPU (its
    autocast is CUDA's)."""
    mixed = args.device == "cuda"
    precision = "fp16" if mixed else "fp32 (autocast is CUDA's)"
    probe = subprocess.run(
        [sys.executable, "-c", "from gta_slowfast.engine.pyslowfast_tools import "
         "find_pyslowfast_tools; t = find_pyslowfast_tools(); print(t.available); "
         "print(t.reason)"],
        cwd=REPO, env=tools_env(slowfast), capture_output=True, text=True)
    lines = probe.stdout.strip().splitlines()
    if probe.returncode != 0 or not lines or lines[0] != "True":
        why = lines[1] if len(lines) > 1 else probe.stderr.strip()[-300:]
        return [{"part": "pyslowfast", "model": "C2D-R50+GTA", "precision": precision,
                 "status": "skipped", "notes": ["SlowFast's tools cannot run here: " + why]}]
    data_dir = make_data(args.workdir, SIZES["quick" if args.quick else "full"])
    row = training_run("C2D-R50+GTA", TRAIN_MODELS["C2D-R50+GTA"], "pyslowfast",
                       "fp16" if mixed else "fp32", args, data_dir, slowfast)
    row["precision"] = precision
    row["notes"].append("TRAIN.MIXED_PRECISION {}".format(mixed))
    return [row]


# ------------------------------------------------------------ speed, loader


def speed_worker(args):
    """In a process of its own: every speed case in turn; prints JSON."""
    import gc

    import torch

    bench = load_tool("benchmark_speed")
    sizes = SIZES["quick" if args.quick else "full"]
    cases = sizes["speed_cases"]
    names = list(cases) + ["{}@{}".format(n, p) for p in ("fp16", "bf16") for n in cases]
    results = {}
    for name in names:
        results[name] = bench.measure(name, args.quick, args.device, sizes["repeats"], "both",
                                      batch=sizes["batch"], crop=sizes["speed_crop"])
        results[name]["clips_per_s"] = sizes["batch"] / (results[name]["time_ms"] / 1000.0)
        progress("speed {}: {}".format(name, json.dumps(results[name])))
        gc.collect()
        if args.device == "cuda":
            torch.cuda.empty_cache()
    print(json.dumps(bench.with_ratios(results)))


def loader_worker(args):
    """In a process of its own: the training loader's clips/s; prints JSON."""
    import torch

    import gta_slowfast
    from gta_slowfast.datasets import construct_loader

    bench = load_tool("benchmark_loader")
    sizes = SIZES["quick" if args.quick else "full"]
    videos = bench.make_videos(os.path.join(args.workdir, "loader_videos_" + sizes["loader_sizes"]),
                               dict(bench.SIZES[sizes["loader_sizes"]], **sizes["loader_files"]))
    device = torch.device(args.device)
    results = {}
    kinds = (("ssv2", bench.SSV2_CONFIG, bench.write_ssv2_layout, videos["ssv2"]),
             ("kinetics", bench.KINETICS_CONFIG, bench.write_kinetics_layout,
              videos["kinetics_gop30"]))
    for kind, config, write_layout, paths in kinds:
        data_dir = os.path.join(args.workdir, "loader_" + kind)
        os.makedirs(data_dir, exist_ok=True)
        # Each file listed as often as the batches read need (the start's too).
        write_layout(data_dir, paths * math.ceil(
            (sizes["loader_batches"] + 1) * sizes["batch"] / len(paths)))
        for workers in sizes["workers"]:
            cfg = gta_slowfast.load_config(config, [
                "NUM_GPUS", 1 if args.device == "cuda" else 0,
                "DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", os.path.dirname(paths[0]),
                "TRAIN.BATCH_SIZE", sizes["batch"], "DATA_LOADER.NUM_WORKERS", workers,
                "DATA_LOADER.PIN_MEMORY", True])
            batches = iter(construct_loader(cfg, "train"))
            next(batches)  # the workers' start
            start = time.perf_counter()
            clips = 0
            for _ in range(sizes["loader_batches"]):
                inputs = next(batches)[0]
                inputs = [x.to(device, non_blocking=True) for x in inputs]
                clips += inputs[0].shape[0]
            if args.device == "cuda":
                torch.cuda.synchronize()
            results["{}_{}w".format(kind, workers)] = {
                "kind": kind, "workers": workers,
                "clips_per_s": clips / (time.perf_counter() - start)}
            progress("loader {}".format(json.dumps(results["{}_{}w".format(kind, workers)])))
            del batches
    print(json.dumps(results))


def worker_part(part, args, slowfast):
    """Runs speed_worker or loader_worker in a fresh process; its JSON, or
    {"error": ...}."""
    command = [sys.executable, os.path.abspath(__file__), "--device", args.device,
               "--workdir", args.workdir, "--worker", part] + (["--quick"] if args.quick else [])
    code, seconds, output = run(command, dict(os.environ, PYTHONPATH=python_path(slowfast)),
                                os.path.join(args.workdir, part + ".log"))
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        return {"error": "exit {}: {}".format(code, " | ".join(output.strip().splitlines()[-3:]))[-500:],
                "seconds": round(seconds, 1)}
    return {"results": json.loads(lines[-1]), "seconds": round(seconds, 1)}


# ------------------------------------------------------------------ report


def machine():
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
    else:
        name = "CPU only"
    return "{}; {} CPU cores; torch {}; Python {}".format(
        name, os.cpu_count(), torch.__version__, sys.version.split()[0])


def print_report(report):
    print("=" * 100)
    print("GPU check: device {}{}; {}".format(report["device"], " (quick sizes)" if report["quick"]
                                             else "", report["machine"]))
    print("{:<11} {:<18} {:<26} {:<8} {:>7} {:>6} {:>9} {:>8}  {}".format(
        "part", "model", "precision", "status", "seconds", "iters", "last loss", "top-1",
        "notes"))
    for row in report["training"]:
        print("{:<11} {:<18} {:<26} {:<8} {:>7} {:>6} {:>9} {:>8}  {}".format(
            row["part"], row["model"], row["precision"], row["status"],
            row.get("seconds", ""), row.get("train_iters", ""),
            "" if row.get("last_loss") is None else "{:.3f}".format(row["last_loss"]),
            "" if row.get("test_top1") is None else "{:.1f}".format(row["test_top1"]),
            "; ".join(row["notes"])))
    speed = report.get("speed", {})
    if "results" in speed:
        print("{:<11} {:<18} {:<26} {:>8} {:>10} {:>10} {:>8} {:>8}".format(
            "speed", "model", "precision", "clips/s", "step (ms)", "peak (MB)", "time/NL",
            "mem/NL"))
        for name, row in speed["results"].items():
            case, _, precision = name.partition("@")
            print("{:<11} {:<18} {:<26} {:>8.1f} {:>10.1f} {:>10.1f} {:>8.2f} {:>8.2f}".format(
                "speed", SPEED_LABELS[case], precision or "fp32", row["clips_per_s"],
                row["time_ms"], row["memory_mb"], row["time_ratio_vs_nl"],
                row["memory_ratio_vs_nl"]))
    elif speed:
        print("speed       FAILED  {}".format(speed["error"]))
    loader = report.get("loader", {})
    if "results" in loader:
        print("{:<11} {:<18} {:>8} {:>10} {:>28}".format(
            "loader", "files", "workers", "clips/s", "C2D-R50+GTA clips/s, workers"))
        for row in loader["results"].values():
            print("{:<11} {:<18} {:>8} {:>10.1f} {:>28}".format(
                "loader", row["kind"], row["workers"], row["clips_per_s"],
                row.get("model_vs", "")))
    elif loader:
        print("loader      FAILED  {}".format(loader["error"]))
    print("failed parts: {}".format(", ".join(report["failed"]) or "none"))


def compare_loader_with_model(report):
    """Adds to each loader row the C2D-R50 + GTA training clips/s (fp32 and
    the device's mixed precision) and the workers it would need at this
    rate per worker."""
    speed = report.get("speed", {}).get("results")
    loader = report.get("loader", {}).get("results")
    if not speed or not loader:
        return
    mixed = "fp16" if report["device"] == "cuda" else "bf16"
    for row in loader.values():
        per_worker = row["clips_per_s"] / row["workers"]
        models = {"fp32": speed["model_GTA"]["clips_per_s"],
                  mixed: speed["model_GTA@" + mixed]["clips_per_s"]}
        row["workers_needed"] = {p: rate / per_worker for p, rate in models.items()}
        row["model_vs"] = "; ".join("{} {:.1f}, {:.1f}".format(p, rate, row["workers_needed"][p])
                                    for p, rate in models.items())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True, choices=("cuda", "cpu"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the test suite's run)")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--workdir", default=os.path.join(REPO, "output", "gpu_check"))
    parser.add_argument("--slowfast", default=os.environ.get("PYSLOWFAST_ROOT", ""),
                        help="GitHub-main SlowFast tree for PYTHONPATH (default: %(default)r)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--worker", choices=("speed", "loader"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workdir = os.path.abspath(args.workdir)
    os.makedirs(args.workdir, exist_ok=True)
    if args.slowfast:
        args.slowfast = os.path.abspath(args.slowfast)
        sys.path[:0] = [REPO, args.slowfast]
    elif REPO not in sys.path:
        sys.path.insert(0, REPO)
    if args.worker:
        {"speed": speed_worker, "loader": loader_worker}[args.worker](args)
        return 0
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no GPU here ({})".format(torch.__version__))
    start = time.perf_counter()
    report = {"device": args.device, "quick": args.quick, "machine": machine(),
              "slowfast": args.slowfast, "training": []}
    if "train" in args.parts:
        report["training"] += train_part(args, args.slowfast)
    if "pyslowfast" in args.parts:
        report["training"] += pyslowfast_part(args, args.slowfast)
    for part in ("speed", "loader"):
        if part in args.parts:
            report[part] = worker_part(part, args, args.slowfast)
    compare_loader_with_model(report)
    report["failed"] = sorted(
        {row["part"] for row in report["training"] if row["status"] == "FAILED"}
        | {part for part in ("speed", "loader") if "error" in report.get(part, {})})
    report["seconds"] = round(time.perf_counter() - start, 1)
    print_report(report)
    print("total {:.0f} s".format(report["seconds"]))
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(report, stream, indent=2)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
