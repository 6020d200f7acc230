#!/usr/bin/env python3
"""Data-loading cost: CPU-seconds and wall-seconds per training clip and per
test video, for the plugin's datasets and for PySlowFast's own Kinetics
loader on the same files.

    python tools/benchmark_loader.py [--videos DIR] [--rounds 3] [--json]

Writes (or reuses, in ``--videos``) realistic files: SSv2-like (427x240
VP9 WebM, 12 fps, 48 frames, one keyframe at 0) and Kinetics-like (340x256
H.264 MP4, 30 fps, 10 s, B-frames, a keyframe every 30 or every 250
frames), all of natural-looking texture (1/f noise) panning under a moving
patch, so the codec does real work. Everything runs in this one process
with torch at one thread, as in a DataLoader worker:

* SSv2 (``configs/SSv2/C2D_8x1_R50.yaml``): a training clip and a test
  video against the floor, a bare single-thread PyAV decode of every frame
  of the same file;
* Kinetics (``configs/Kinetics/C2D_8x8_R50.yaml``, 10 clips x 3 crops at
  test): a training clip and a test video against pyslowfast 1.0's
  ``Kinetics`` dataset (its ``decoder`` and transforms) on the same files;
  under GitHub-main PySlowFast, whose Kinetics decoding is broken, that
  reference is left out and said so;
* decoder threads: a full decode of each codec with one thread against
  FFmpeg's default threading.

Each case runs once per round, rounds interleave the cases, and a case's
figure is its median over the rounds. Prints a markdown table; ``--json``
prints ``{"case": {"cpu_s", "reference_cpu_s", "ratio"}}`` for the cases
ssv2_train, kinetics_train_gop30, kinetics_train_gop250 and
kinetics_test_gop30 instead (reference_cpu_s and ratio null where the
reference could not run).
"""

import argparse
import collections
import json
import logging
import os
import random
import statistics
import time

import av
import numpy as np
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.datasets.kinetics import Gta_kinetics
from gta_slowfast.datasets.ssv2 import Gta_ssv2
from gta_slowfast.datasets.video_io import DECODER_THREADS
from gta_slowfast.demo.annotations import ssv2_entry, write_kinetics_lists, write_ssv2_annotations
from gta_slowfast.demo.video_writer import encode_video

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SSV2_CONFIG = os.path.join(REPO, "configs", "SSv2", "C2D_8x1_R50.yaml")
KINETICS_CONFIG = os.path.join(REPO, "configs", "Kinetics", "C2D_8x8_R50.yaml")
SSV2_CLASS = "Moving something from left to right"
JSON_CASES = ("ssv2_train", "kinetics_train_gop30", "kinetics_train_gop250",
              "kinetics_test_gop30")

# What the files are like: (frames, height, width, fps) and encoder settings.
SIZES = {
    "full": {"ssv2": (48, 240, 427, 12), "kinetics": (300, 256, 340, 30),
             "ssv2_files": 8, "kinetics_files": 4},
    "quick": {"ssv2": (16, 48, 64, 12), "kinetics": (40, 48, 64, 30),
              "ssv2_files": 2, "kinetics_files": 1},
}
GOPS = (30, 250)


def vp9_options():
    """libvpx-vp9, constant quality, one keyframe (at frame 0)."""
    return {"crf": "32", "b": "0", "g": "10000", "deadline": "good", "cpu-used": "4"}


def h264_options(gop):
    """libx264 (preset medium: 3 B-frames, pyramid), a keyframe every
    ``gop`` frames and nowhere else."""
    return {"crf": "23", "preset": "medium", "g": str(gop), "keyint_min": str(gop),
            "sc_threshold": "0", "bf": "3"}


def natural_texture(rng, height, width):
    """uint8 (height, width, 3) colour noise with a 1/f amplitude spectrum,
    the spectrum of natural images."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    falloff = np.hypot(fx, fy)
    falloff[0, 0] = 1.0
    channels = []
    for _ in range(3):
        spectrum = rng.standard_normal((height, width)) + 1j * rng.standard_normal((height, width))
        channel = np.real(np.fft.ifft2(spectrum / falloff))
        channels.append((channel - channel.mean()) / channel.std())
    return np.clip(128 + 45 * np.stack(channels, -1), 0, 255).astype(np.uint8)


def moving_frames(rng, num_frames, height, width):
    """Yields uint8 (height, width, 3) frames: a texture twice the frame's
    size panning diagonally, a textured patch crossing it, mild noise."""
    background = natural_texture(rng, 2 * height, 2 * width)
    patch = natural_texture(rng, height // 3, width // 4)
    for t in range(num_frames):
        progress = t / max(num_frames - 1, 1)
        top = int(height * 0.5 * progress)
        left = int(width * (0.3 * progress + 0.05 + 0.05 * np.sin(t / 5)))
        frame = background[top:top + height, left:left + width].copy()
        patch_top = int((height - patch.shape[0]) * (0.5 + 0.4 * np.sin(t / 7)))
        patch_left = int((width - patch.shape[1]) * progress)
        frame[patch_top:patch_top + patch.shape[0], patch_left:patch_left + patch.shape[1]] = patch
        noise = rng.integers(-4, 5, frame.shape)
        yield np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_video(path, codec, options, shape, seed):
    """Encodes ``moving_frames`` to ``path`` (its extension names the
    container); ``shape`` is (frames, height, width, fps)."""
    num_frames, height, width, fps = shape
    frames = moving_frames(np.random.default_rng(seed), num_frames, height, width)
    encode_video(path, frames, fps, codec, options)


def make_videos(folder, sizes):
    """Writes the files into ``folder`` unless a previous run wrote them
    with the same settings; returns {"ssv2": [paths], "kinetics_gop30":
    [paths], "kinetics_gop250": [paths]}."""
    spec = {"sizes": sizes, "vp9": vp9_options(), "h264": [h264_options(g) for g in GOPS]}
    videos = {"ssv2": [os.path.join(folder, "ssv2", "{}.webm".format(100 + i))
                       for i in range(sizes["ssv2_files"])]}
    for gop in GOPS:
        videos["kinetics_gop{}".format(gop)] = [
            os.path.join(folder, "kinetics_gop{}".format(gop), "video{}.mp4".format(i))
            for i in range(sizes["kinetics_files"])]
    spec_file = os.path.join(folder, "spec.json")
    all_paths = [path for paths in videos.values() for path in paths]
    if os.path.isfile(spec_file) and all(map(os.path.isfile, all_paths)):
        with open(spec_file) as stream:
            if json.load(stream) == json.loads(json.dumps(spec)):
                return videos
    for paths in videos.values():
        os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
    for seed, path in enumerate(videos["ssv2"]):
        write_video(path, "libvpx-vp9", vp9_options(), sizes["ssv2"], seed)
    for gop in GOPS:
        for seed, path in enumerate(videos["kinetics_gop{}".format(gop)]):
            write_video(path, "libx264", h264_options(gop), sizes["kinetics"], 1000 + seed)
    with open(spec_file, "w") as stream:
        json.dump(spec, stream)
    return videos


def write_ssv2_layout(folder, paths):
    """The official SSv2 json files for ``paths`` (<id>.webm), every video
    in train and validation, one class."""
    template = SSV2_CLASS.replace("something", "[something]")
    entries = [ssv2_entry(os.path.basename(p)[:-5], template) for p in paths]
    write_ssv2_annotations(folder, [SSV2_CLASS], {"train": entries, "validation": entries})


def write_kinetics_layout(folder, paths):
    """PySlowFast's train.csv and test.csv listing ``paths``, label 0."""
    videos = [(os.path.basename(p), 0) for p in paths]
    write_kinetics_lists(folder, {"train": videos, "test": videos})


def plugin_cfg(config, data_dir, prefix):
    return gta_slowfast.load_config(config, [
        "NUM_GPUS", 0, "DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", prefix,
    ])


def measure(step, count):
    """(CPU-seconds, wall-seconds) per call of ``step(i)`` for i < count."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        step(i)
    return (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count


def bare_decode(threads):
    """Decodes every frame of a file with PyAV, ``threads`` FFmpeg threads
    (None: FFmpeg's default)."""
    def decode(path):
        with av.open(path) as container:
            stream = container.streams.video[0]
            if threads is not None:
                stream.codec_context.thread_count = threads
            for _ in container.decode(stream):
                pass
    return decode


def per_training_clip(dataset, clips_per_video):
    """A step that reads training item i % len(dataset), and the count."""
    return (lambda i: dataset[i % len(dataset)]), clips_per_video * len(dataset)


def per_test_video(make_dataset, views):
    """A step that reads every view of test video i, the first from a
    dataset fresh from ``make_dataset()`` (no video kept from an earlier
    round), and the count."""
    num_videos = len(make_dataset()) // views
    state = {}

    def step(i):
        if i == 0:
            state["dataset"] = make_dataset()
        for item in range(i * views, (i + 1) * views):
            state["dataset"][item]
    return step, num_videos


def per_file(paths, decode):
    """A step that runs ``decode`` on file i, and the count."""
    return (lambda i: decode(paths[i])), len(paths)


def pyslowfast_kinetics(cfg, mode):
    """(pyslowfast 1.0's Kinetics dataset, None), or (None, why not) where
    another generation is installed."""
    if compat.GENERATION != "1.0":
        return None, ("PySlowFast {}'s Kinetics decoding does not work on this stack (see "
                      "the README); run under pyslowfast 1.0 for the reference".format(
                          compat.GENERATION))
    from slowfast.datasets.kinetics import Kinetics
    return Kinetics(cfg, mode), None


# One row of the table: what is measured, per what, the plugin's step and
# the reference's (a (callable, count) pair, see ``measure``; reference None
# with ``why`` where it cannot run).
Case = collections.namedtuple("Case", "label unit ours reference_label reference why")


def ssv2_cases(videos, workdir, clips_per_video):
    data_dir = os.path.join(workdir, "ssv2")
    os.makedirs(data_dir, exist_ok=True)
    write_ssv2_layout(data_dir, videos)
    cfg = plugin_cfg(SSV2_CONFIG, data_dir, os.path.dirname(videos[0]))
    views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    floor = per_file(videos, bare_decode(threads=1))
    return {
        "ssv2_train": Case("SSv2 training clip", "clip",
                           per_training_clip(Gta_ssv2(cfg, "train"), clips_per_video),
                           "bare decode, every frame", floor, None),
        "ssv2_test": Case("SSv2 test video, {}x{}".format(cfg.TEST.NUM_ENSEMBLE_VIEWS,
                                                          cfg.TEST.NUM_SPATIAL_CROPS), "video",
                          per_test_video(lambda: Gta_ssv2(cfg, "test"), views),
                          "bare decode, every frame", floor, None),
    }


def kinetics_cases(gop, videos, workdir, clips_per_video):
    data_dir = os.path.join(workdir, "kinetics_gop{}".format(gop))
    os.makedirs(data_dir, exist_ok=True)
    write_kinetics_layout(data_dir, videos)
    cfg = plugin_cfg(KINETICS_CONFIG, data_dir, os.path.dirname(videos[0]))
    views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    reference_train, why = pyslowfast_kinetics(cfg, "train")
    reference_test, _ = pyslowfast_kinetics(cfg, "test")
    return {
        "kinetics_train_gop{}".format(gop): Case(
            "Kinetics training clip, GOP {}".format(gop), "clip",
            per_training_clip(Gta_kinetics(cfg, "train"), clips_per_video), "PySlowFast 1.0",
            reference_train and per_training_clip(reference_train, clips_per_video), why),
        "kinetics_test_gop{}".format(gop): Case(
            "Kinetics test video, {}x{}, GOP {}".format(
                cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, gop), "video",
            per_test_video(lambda: Gta_kinetics(cfg, "test"), views), "PySlowFast 1.0",
            reference_test and per_test_video(lambda: reference_test, views), why),
    }


def thread_cases(videos):
    return {
        "threads_{}".format(codec): Case(
            "{} full decode, {} thread(s)".format(codec, DECODER_THREADS), "file",
            per_file(paths, bare_decode(DECODER_THREADS)), "FFmpeg's default threads",
            per_file(paths, bare_decode(None)), None)
        for codec, paths in (("VP9", videos["ssv2"]), ("H.264", videos["kinetics_gop30"]))
    }


def build_cases(videos, workdir, clips_per_video):
    """{case name: Case}, the rows of the table in order."""
    cases = ssv2_cases(videos["ssv2"], workdir, clips_per_video)
    for gop in GOPS:
        cases.update(kinetics_cases(gop, videos["kinetics_gop{}".format(gop)], workdir,
                                    clips_per_video))
    cases.update(thread_cases(videos))
    return cases


def run_rounds(cases, rounds):
    """{case: {"cpu_s", "wall_s", "reference_cpu_s", "reference_wall_s"}},
    medians over ``rounds`` rounds that each run every case in turn."""
    samples = {case: {"ours": [], "reference": []} for case in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            torch.manual_seed(0)
            random.seed(0)
            samples[name]["ours"].append(measure(*case.ours))
            if case.reference:
                samples[name]["reference"].append(measure(*case.reference))
    results = {}
    for name, runs in samples.items():
        row = {}
        for side, prefix in (("ours", ""), ("reference", "reference_")):
            for k, quantity in enumerate(("cpu_s", "wall_s")):
                values = [run[k] for run in runs[side]]
                row[prefix + quantity] = statistics.median(values) if values else None
        results[name] = row
    return results


def ratio(row):
    return row["cpu_s"] / row["reference_cpu_s"] if row["reference_cpu_s"] else None


def markdown(cases, results):
    lines = [
        "| case | per | gta_slowfast CPU-s | wall-s | reference | reference CPU-s | wall-s "
        "| CPU ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, case in cases.items():
        row = results[name]
        if case.reference:
            reference_cells = "{:.4f} | {:.4f} | {:.2f}".format(
                row["reference_cpu_s"], row["reference_wall_s"], ratio(row))
        else:
            reference_cells = "- | - | -"
            notes.append("No {} reference: {}.".format(case.reference_label, case.why))
        lines.append("| {} | {} | {:.4f} | {:.4f} | {} | {} |".format(
            case.label, case.unit, row["cpu_s"], row["wall_s"], case.reference_label,
            reference_cells))
    return "\n".join(lines + [""] + sorted(set(notes)))


def machine_note(load_before, rounds):
    return ("{} rounds, medians; one process, torch threads {}, FFmpeg decoder threads {}; "
            "{} CPU cores, load average {:.2f} before, {:.2f} after; PySlowFast {}, PyAV {}, "
            "torch {}".format(rounds, torch.get_num_threads(), DECODER_THREADS, os.cpu_count(),
                              load_before, os.getloadavg()[0], compat.GENERATION,
                              av.__version__, torch.__version__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", default=os.path.join(REPO, "output", "benchmark_loader"),
                        help="where the files are written, or reused from (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clips-per-video", type=int, default=4,
                        help="training clips read per video and round")
    parser.add_argument("--quick", action="store_true",
                        help="tiny files, for a smoke test (the figures mean nothing)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    load_before = os.getloadavg()[0]
    folder = os.path.join(args.videos, "quick" if args.quick else "full")
    videos = make_videos(os.path.join(folder, "videos"),
                         SIZES["quick" if args.quick else "full"])
    cases = build_cases(videos, folder, args.clips_per_video)
    results = run_rounds(cases, args.rounds)
    if args.json:
        print(json.dumps({case: {"cpu_s": results[case]["cpu_s"],
                                 "reference_cpu_s": results[case]["reference_cpu_s"],
                                 "ratio": ratio(results[case])} for case in JSON_CASES}, indent=1))
    else:
        print(markdown(cases, results))
        print()
        print(machine_note(load_before, args.rounds))


if __name__ == "__main__":
    main()
