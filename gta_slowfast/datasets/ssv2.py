"""Something-Something-v2, from the official webm release or from frames.

Under DATA.PATH_TO_DATA_DIR:

* ``something-something-v2-labels.json``: {"Approaching something with
  your camera": "0", ...}, class names without brackets;
* ``something-something-v2-train.json`` and ``-validation.json``: lists of
  {"id", "label", "template", "placeholders"}; a video's class is its
  "template" ("Approaching [something] with your camera") with the brackets
  removed. Val and test both read the validation split.

GTA.DATA.SSV2_FORMAT "video" reads ``DATA.PATH_PREFIX/<id>.webm``;
"frames" reads PySlowFast's frame lists (``train.csv``, ``val.csv``:
``original_vido_id video_id frame_id path labels``, a header line, image
paths relative to DATA.PATH_PREFIX) from ``frame_lists/`` or, as
PySlowFast's own SSv2 loader, from DATA.PATH_TO_DATA_DIR itself; the labels
still come from the json files, as in PySlowFast.
"""

import json
import logging
import os
from collections import OrderedDict

from gta_slowfast.config import check_gta_config
from gta_slowfast.datasets.clip_dataset import VideoClipDataset, check_mode, register_dataset

logger = logging.getLogger(__name__)

LABELS_FILE = "something-something-v2-labels.json"
SPLIT_FILES = {
    "train": "something-something-v2-train.json",
    "val": "something-something-v2-validation.json",
    "test": "something-something-v2-validation.json",
}
FRAME_LIST_FILES = {"train": "train.csv", "val": "val.csv", "test": "val.csv"}


def class_name_of(template):
    """The class of a video: its template without brackets ("Pushing
    [something] from left to right" -> "Pushing something from left to
    right")."""
    return template.replace("[", "").replace("]", "")


def read_class_names(labels_file):
    """The class names of ``something-something-v2-labels.json``.

    Args:
        labels_file (str): path of the json {name: "index"}.
    Returns:
        list of str: the name of class k at position k.
    Raises:
        ValueError: the indices are not 0..K-1.
    """
    with open(labels_file) as stream:
        index_of = {name: int(index) for name, index in json.load(stream).items()}
    names = sorted(index_of, key=index_of.get)
    if sorted(index_of.values()) != list(range(len(names))):
        raise ValueError(
            "{}: class indices are not 0..{}.".format(labels_file, len(names) - 1)
        )
    return names


def read_split(split_file, class_names):
    """The videos of an official split file and their classes.

    Args:
        split_file (str): ``something-something-v2-{train,validation}.json``.
        class_names (list of str): from ``read_class_names``.
    Returns:
        tuple: (video ids (list of str), labels (list of int)), in file order.
    Raises:
        ValueError: a video whose template is not a class, naming both.
    """
    index_of = {name: index for index, name in enumerate(class_names)}
    with open(split_file) as stream:
        entries = json.load(stream)
    video_ids, labels = [], []
    for entry in entries:
        name = class_name_of(entry["template"])
        if name not in index_of:
            raise ValueError(
                "{}: video {} has template '{}', whose class '{}' is not in {}.".format(
                    split_file, entry["id"], entry["template"], name, LABELS_FILE
                )
            )
        video_ids.append(str(entry["id"]))
        labels.append(index_of[name])
    return video_ids, labels


def read_frame_list(frame_list_file, prefix):
    """PySlowFast's frame list: each video's frame images, in listed order.

    Args:
        frame_list_file (str): space separated, a header line, then rows
            ``original_vido_id video_id frame_id path labels``.
        prefix (str): directory the paths are relative to.
    Returns:
        OrderedDict: original_vido_id (str) -> list of image paths (str).
    Raises:
        ValueError: a row without 5 columns, naming the line.
    """
    frames = OrderedDict()
    with open(frame_list_file) as stream:
        stream.readline()
        for line_number, line in enumerate(stream, start=2):
            row = line.split()
            if not row:
                continue
            if len(row) != 5:
                raise ValueError(
                    "{}:{}: expected 'original_vido_id video_id frame_id path labels', "
                    "got '{}'.".format(frame_list_file, line_number, line.strip())
                )
            frames.setdefault(row[0], []).append(os.path.join(prefix, row[3]))
    return frames


def find_frame_list(data_dir, mode):
    """``frame_lists/<split>.csv`` under ``data_dir``, else ``<split>.csv``
    (where PySlowFast's SSv2 loader looks).

    Raises:
        ValueError: neither exists, naming both.
    """
    name = FRAME_LIST_FILES[mode]
    candidates = [os.path.join(data_dir, "frame_lists", name), os.path.join(data_dir, name)]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise ValueError("No SSv2 frame list: neither {} nor {} exists.".format(*candidates))


# Named so that TRAIN.DATASET "gta_ssv2".capitalize() finds it.
@register_dataset
class Gta_ssv2(VideoClipDataset):  # noqa: N801
    """Something-Something-v2 with the paper's pipeline (GTA.DATA): TSN
    segments, a 240x320 resize and TSN's multi-scale crop and flip (never
    for classes with "left" or "right") in training; centre crops at test."""

    @classmethod
    def class_names_file(cls, cfg):
        """``DATA.PATH_TO_DATA_DIR/something-something-v2-labels.json``."""
        return os.path.join(cfg.DATA.PATH_TO_DATA_DIR, LABELS_FILE)

    def __init__(self, cfg, mode):
        """
        Args:
            cfg (CfgNode): config with the GTA node.
            mode (str): "train", "val" or "test".
        Raises:
            ValueError: an unknown mode, a GTA key that cannot work
                (``check_gta_config``), a video whose
                template is not a class, or an empty split.
        """
        check_mode(mode)
        check_gta_config(cfg)
        data_format = cfg.GTA.DATA.SSV2_FORMAT
        data_dir = cfg.DATA.PATH_TO_DATA_DIR
        class_names = read_class_names(self.class_names_file(cfg))
        split_file = os.path.join(data_dir, SPLIT_FILES[mode])
        video_ids, labels = read_split(split_file, class_names)
        if data_format == "video":
            annotation_file = split_file
            paths = [
                os.path.join(cfg.DATA.PATH_PREFIX, video_id + ".webm")
                for video_id in video_ids
            ]
            frame_lists = None
        else:
            annotation_file = find_frame_list(data_dir, mode)
            listed = read_frame_list(annotation_file, cfg.DATA.PATH_PREFIX)
            kept = [i for i, video_id in enumerate(video_ids) if video_id in listed]
            if len(kept) < len(video_ids):
                logger.warning(
                    "%d of the %d videos of %s are not in %s and are left out.",
                    len(video_ids) - len(kept),
                    len(video_ids),
                    split_file,
                    annotation_file,
                )
            frame_lists = [listed[video_ids[i]] for i in kept]
            paths = [os.path.dirname(frames[0]) for frames in frame_lists]
            labels = [labels[i] for i in kept]
        super().__init__(
            cfg,
            mode,
            annotation_file=annotation_file,
            video_paths=paths,
            video_labels=labels,
            class_names=class_names,
            sampling_method=cfg.GTA.DATA.SAMPLING,
            resize_to=cfg.GTA.DATA.RESIZE,
            frame_lists=frame_lists,
        )
