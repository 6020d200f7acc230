"""The demo's data set: the time-reversal clips of
:mod:`~gta_slowfast.demo.scenes` written as a Something-Something-v2 release.

In training, a video of the reversed class of a pair is an independently
drawn clip played backwards; in validation it is the twin of a video of the
forward class (the same clip, reversed), so an order-blind model is at
exactly 50 % on the validation twins (up to codec noise: it scores a clip
and its reverse alike).

:func:`generate_dataset` writes the official SSv2 release layout (the file
names of :mod:`gta_slowfast.datasets.ssv2`)::

    <out>/something-something-v2-labels.json       {"Class name": "0", ...}
    <out>/something-something-v2-train.json        [{"id", "label", "template", "placeholders"}, ...]
    <out>/something-something-v2-validation.json
    <out>/videos/<id>.webm                         VP9 (libvpx-vp9), yuv420p

The class of an entry is its template with the brackets removed.
Everything is deterministic given the seed, to the byte; the clip of
(split, class, n) does not depend on ``num_pairs`` or on the sizes of the
other splits.
"""

import os
import time

import numpy as np

from gta_slowfast.datasets.ssv2 import class_name_of
from gta_slowfast.demo.annotations import ssv2_entry, write_ssv2_annotations
from gta_slowfast.demo.scenes import check_clip_size, check_num_pairs, class_templates, render_clip
from gta_slowfast.demo.video_writer import codec_available, encode_video

VIDEO_DIR = "videos"
CODEC = "libvpx-vp9"

# Seed-stream codes of the splits (part of each clip's seed).
_SPLIT_CODE = {"train": 1, "validation": 2}


def vp9_options(crf):
    """libvpx-vp9 at constant quality ``crf`` (0..63, lower is better), set
    up so that the same frames give the same bytes: one thread, no
    look-ahead, no hidden alt-ref frames."""
    return {"crf": str(int(crf)), "b": "0", "deadline": "realtime", "cpu-used": "8",
            "row-mt": "0", "threads": "1", "lag-in-frames": "0", "auto-alt-ref": "0"}


def _clip_seed(seed, split, cls, n):
    """Validation clips of a pair's two classes share their seed (twins)."""
    if split == "validation":
        cls = cls - cls % 2
    return np.random.SeedSequence([int(seed), _SPLIT_CODE[split], int(cls), int(n)])


def _check_out_dir(out_dir, overwrite):
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(
            f"{out_dir} exists and is not empty; pass overwrite=True "
            "(--overwrite) to replace the files this generator writes")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(out_dir)


def generate_dataset(out_dir, num_pairs=4, train_per_class=40, val_per_class=10,
                     num_frames=24, height=72, width=96, fps=12, seed=0,
                     overwrite=False, crf=18, verbose=True):
    """Writes the synthetic time-reversal data set in the SSv2 layout.

    Args:
        out_dir (str): output folder; must be missing or empty unless
            ``overwrite``, which replaces only the files written here (the
            json files and ``videos/<id>.webm`` of this run) and deletes
            nothing else.
        num_pairs (int): 1..len(CLASS_PAIRS) time-reversed class pairs.
        train_per_class, val_per_class (int): videos per class and split.
        num_frames, height, width (int): clip size; height, width even.
        fps (int): frame rate written to the files.
        seed (int): everything is a function of it.
        crf (int): VP9 constant quality, 0..63.
        verbose (bool): print progress lines.
    Returns:
        dict: ``classes`` (names in index order), ``templates``, ``pairs``
        ((forward index, reversed index) per pair), ``counts``
        ({split: {class: n}}), ``num_videos``, ``out_dir``, ``seconds``.
    """
    check_num_pairs(num_pairs)
    check_clip_size(num_frames, height, width)
    if int(train_per_class) < 0 or int(val_per_class) < 0:
        raise ValueError("videos per class must be >= 0")
    if not codec_available(CODEC):
        raise RuntimeError(f"PyAV has no {CODEC} encoder")
    _check_out_dir(out_dir, overwrite)
    start = time.time()
    log = (lambda msg: print(msg, flush=True)) if verbose else (lambda msg: None)

    templates = class_templates(num_pairs)
    classes = [class_name_of(t) for t in templates]
    per_split = {"train": int(train_per_class), "validation": int(val_per_class)}
    jobs = [(split, c, n) for split in ("train", "validation")
            for c in range(len(classes)) for n in range(per_split[split])]
    # unique digit ids, shuffled so that ids say nothing about the class
    perm = np.random.default_rng([int(seed), 0]).permutation(len(jobs))
    ids = [str(100001 + int(i)) for i in perm]

    video_dir = os.path.join(out_dir, VIDEO_DIR)
    os.makedirs(video_dir, exist_ok=True)
    log(f"[synthetic-ssv2] {len(classes)} classes ({num_pairs} time-reversed "
        f"pairs), {per_split['train']} train + {per_split['validation']} "
        f"validation videos per class, {num_frames} frames {height}x{width} "
        f"@ {fps} fps, seed {seed} -> {out_dir}")
    entries = {"train": [], "validation": []}
    counts = {s: {c: 0 for c in classes} for s in entries}
    every = max(1, len(jobs) // 10)
    for k, ((split, c, n), vid) in enumerate(zip(jobs, ids)):
        frames, info = render_clip(
            c // 2, reverse=bool(c % 2), num_frames=num_frames, height=height,
            width=width, seed=np.random.default_rng(_clip_seed(seed, split, c, n)),
            return_info=True)
        encode_video(os.path.join(video_dir, vid + ".webm"), frames, fps, CODEC,
                     vp9_options(crf), bitexact=True)
        entries[split].append(ssv2_entry(vid, templates[c], info["name"]))
        counts[split][classes[c]] += 1
        if (k + 1) % every == 0 or k + 1 == len(jobs):
            log(f"[synthetic-ssv2] {k + 1}/{len(jobs)} videos "
                f"({time.time() - start:.1f} s)")

    for split in entries:  # id order, as a stable, class-mixed order
        entries[split].sort(key=lambda e: int(e["id"]))
    write_ssv2_annotations(out_dir, classes, entries)
    seconds = time.time() - start
    log(f"[synthetic-ssv2] done: {len(jobs)} videos in {seconds:.1f} s")
    return {
        "classes": classes,
        "templates": templates,
        "pairs": [(2 * p, 2 * p + 1) for p in range(num_pairs)],
        "counts": counts,
        "num_videos": len(jobs),
        "out_dir": out_dir,
        "seconds": seconds,
    }
