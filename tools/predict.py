#!/usr/bin/env python3
"""Top-5 classes of a trained model on video files.

    python tools/predict.py --cfg CONFIG.yaml --checkpoint CKPT VIDEO [VIDEO ...] \
        [--json] [--device cpu|cuda] [--class-names FILE] [--top 5] [--opts KEY VALUE ...]

The model is built from the config and --opts, as tools/run_net.py builds
it (give the overrides it was trained with), and loaded from CKPT as
testing loads TEST.CHECKPOINT_TYPE (the plugin's or PySlowFast's
checkpoints, or Caffe2 pickles with "caffe2"); a PyTorch checkpoint that
lacks some of the model's tensors (another model, other --opts) is refused. Each video is read as TEST.DATASET reads its test videos: its
reader, sampling and resize, TEST.NUM_ENSEMBLE_VIEWS clips x
TEST.NUM_SPATIAL_CROPS crops, whose softmax scores are ensembled as
DATA.ENSEMBLE_METHOD says (mean or maximum). Class names come from the
data set's labels file under DATA.PATH_TO_DATA_DIR (SSv2, SSv1) or from
--class-names (a something-something-v2-labels.json-style file or one name
a line; needed for Kinetics).

Prints each video's top classes with their probabilities, or, with --json,
one JSON object a line: {"video", "views", "top": [{"class", "index",
"probability"}, ...]}. A video that cannot be read gets an error line
(with --json, {"video", "error"}) and the next one goes on; the exit
status is then 1.
"""

import argparse
import json
import logging
import os
import sys

import torch

import gta_slowfast
from gta_slowfast.analysis.report_files import read_class_names
from gta_slowfast.datasets.loader import test_dataset_class
from gta_slowfast.datasets.video_io import VideoReadError
from gta_slowfast.engine.checkpoint import (
    load_pretrained,
    matching_weights,
    model_state_of,
    read_checkpoint,
)
from gta_slowfast.engine.meters import TestMeter, check_ensemble_method


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", required=True, help="YAML config of the model")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to load")
    parser.add_argument("videos", nargs="+", help="video files (or frame folders)")
    parser.add_argument("--json", action="store_true", help="one JSON object per video")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        help="where the model runs (default: cuda where available)")
    parser.add_argument("--class-names", help="class names: something-something-v2-labels.json "
                        "or one name a line (default: the data set's labels file)")
    parser.add_argument("--top", type=int, default=5, help="classes to print per video")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE pairs that override the config")
    return parser.parse_args(argv)


def class_names(cfg, dataset_class, names_file=None):
    """The MODEL.NUM_CLASSES class names: from ``names_file``, else the
    data set's labels file.

    Raises:
        ValueError: no names file, a missing one, or one of another count.
    """
    if not names_file:
        names_file = dataset_class.class_names_file(cfg)
        if names_file is None:
            raise ValueError("TEST.DATASET {} has no class-names file: give --class-names "
                             "FILE (one name a line, or a json {{name: index}}).".format(
                                 cfg.TEST.DATASET))
        if not os.path.isfile(names_file):
            raise ValueError("No class-names file {}: TEST.DATASET {} reads it under "
                             "DATA.PATH_TO_DATA_DIR ({}); set DATA.PATH_TO_DATA_DIR with --opts "
                             "or give --class-names FILE.".format(
                                 names_file, cfg.TEST.DATASET, cfg.DATA.PATH_TO_DATA_DIR))
    names = read_class_names(names_file)
    if len(names) != cfg.MODEL.NUM_CLASSES:
        raise ValueError("{} names {} classes, the model has MODEL.NUM_CLASSES = {}: class names "
                         "of another data set.".format(names_file, len(names),
                                                       cfg.MODEL.NUM_CLASSES))
    return names


def load_weights(path, checkpoint_type, model):
    """Loads a checkpoint into ``model`` with the plugin's loader; a
    PyTorch checkpoint must give every tensor of the model.

    Raises:
        ValueError: the checkpoint lacks some of the model's tensors or has
            them in other shapes (a checkpoint of another model, or of this
            config with other --opts), naming a few.
    """
    if checkpoint_type == "caffe2":
        load_pretrained(path, checkpoint_type, model)
        return
    weights = matching_weights(model, model_state_of(read_checkpoint(path), path), path)
    missing = [name for name in model.state_dict() if name not in weights]
    if missing:
        raise ValueError(
            "{} gives {} of the {} tensors of the model the config builds; {} are missing or "
            "of another shape (e.g. {}): a checkpoint of another model, or the config lacks "
            "--opts the model was trained with.".format(
                path, len(weights), len(weights) + len(missing), len(missing),
                ", ".join(missing[:3])))
    model.load_state_dict(weights)


@torch.no_grad()
def video_scores(model, dataset, video_index, device, batch_size):
    """The ensembled class probabilities of one video of a test set: its
    views through ``model``, combined by DATA.ENSEMBLE_METHOD as testing
    combines them (``TestMeter``).

    Returns:
        torch.Tensor: (K,) float64.
    Raises:
        VideoReadError: the video cannot be read.
    """
    with dataset.open_video(video_index):
        pass
    views = dataset.num_clips
    meter = TestMeter(1, dataset.cfg.MODEL.NUM_CLASSES, dataset.cfg.DATA.ENSEMBLE_METHOD)
    items = [dataset[video_index * views + view] for view in range(views)]
    for start in range(0, views, batch_size):
        batch = items[start:start + batch_size]
        if not all(meta["valid"] for _, _, _, _, meta in batch):
            raise VideoReadError(dataset.video_paths[video_index], "a view cannot be read")
        inputs = [torch.stack([item[0][p] for item in batch]).to(device)
                  for p in range(len(batch[0][0]))]
        scores = model(inputs).float().cpu()
        count = len(batch)
        meter.update(scores, torch.zeros(count), torch.zeros(count, dtype=torch.long),
                     torch.ones(count, dtype=torch.bool))
    return meter.finalize(torch.device("cpu")).scores[0]


def main(argv=None):
    """Predicts every video; returns the exit status."""
    args = parse_args(argv)
    cfg = gta_slowfast.load_config(args.cfg, args.opts)
    check_ensemble_method(cfg.DATA.ENSEMBLE_METHOD)
    dataset_class = test_dataset_class(cfg)
    names = class_names(cfg, dataset_class, args.class_names)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: this torch ({}) sees no GPU; use --device "
                         "cpu.".format(torch.__version__))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg.NUM_GPUS = 0
    model = gta_slowfast.build_model(cfg)
    load_weights(args.checkpoint, cfg.TEST.CHECKPOINT_TYPE, model)
    model.to(device).eval()
    dataset = dataset_class.of_files(cfg, list(args.videos))
    failed = 0
    for index, path in enumerate(args.videos):
        try:
            scores = video_scores(model, dataset, index, device, max(cfg.TEST.BATCH_SIZE, 1))
        except VideoReadError as error:
            failed += 1
            if args.json:
                print(json.dumps({"video": path, "error": error.reason}), flush=True)
            else:
                print("Cannot read {}: {}".format(path, error.reason), file=sys.stderr,
                      flush=True)
            continue
        probabilities, classes = scores.topk(min(args.top, len(names)))
        top = [{"class": names[k], "index": int(k), "probability": float(p)}
               for p, k in zip(probabilities.tolist(), classes.tolist())]
        if args.json:
            print(json.dumps({"video": path, "views": dataset.num_clips, "top": top}), flush=True)
        else:
            print("{} ({} view{}):".format(path, dataset.num_clips,
                                            "s" if dataset.num_clips > 1 else ""))
            for rank, entry in enumerate(top, start=1):
                print("  {}. {:6.2f}%  {}".format(rank, 100 * entry["probability"],
                                                  entry["class"]))
            sys.stdout.flush()
    if failed:
        print("{} of {} videos could not be read.".format(failed, len(args.videos)),
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(message)s")
    sys.exit(main())
