"""Something-Something-v1 in its official layout.

Under DATA.PATH_TO_DATA_DIR:

* ``something-something-v1-labels.csv``: one class name a line; line k
  (counting from 1) names class k - 1;
* ``something-something-v1-train.csv`` and ``-validation.csv``: one
  ``id;class name`` a line ("1;Holding something"). Val and test both read
  the validation split (the official test split has no labels).

Under DATA.PATH_PREFIX: one folder of JPEG frames per video,
``<id>/00001.jpg``, ``00002.jpg``, ... numbered from 1 without gaps. A
missing folder, a folder without frames or a gap in the numbering makes the
video unreadable, as does a frame image that cannot be decoded when a clip
reads it: logged and replaced in training, left out at test, as an
unreadable SSv2 video.
"""

import os
import re

from gta_slowfast.config import check_gta_config
from gta_slowfast.datasets.clip_dataset import VideoClipDataset, check_mode, register_dataset
from gta_slowfast.datasets.video_io import ImageSequence, VideoReadError

LABELS_FILE = "something-something-v1-labels.csv"
SPLIT_FILES = {
    "train": "something-something-v1-train.csv",
    "val": "something-something-v1-validation.csv",
    "test": "something-something-v1-validation.csv",
}
FRAME_NAME = re.compile(r"(\d+)\.jpe?g", re.IGNORECASE)


def _lines(path):
    """(line number, stripped line) of a text file, counted from 1.

    Raises:
        ValueError: the file does not exist, naming it.
    """
    if not os.path.isfile(path):
        raise ValueError("No Something-Something-v1 file {}.".format(path))
    with open(path, encoding="utf-8") as stream:
        return [(number, line.strip()) for number, line in enumerate(stream, start=1)]


def read_class_names(labels_file):
    """The classes of ``something-something-v1-labels.csv``.

    Args:
        labels_file (str): one class name a line; blank lines at the end
            are ignored.
    Returns:
        list of str: the name of class k at position k.
    Raises:
        ValueError: a missing file, a blank line between names or a name
            given twice, naming the file and line.
    """
    lines = _lines(labels_file)
    while lines and not lines[-1][1]:
        lines.pop()
    first_line_of = {}
    for number, name in lines:
        if not name:
            raise ValueError(
                "{}:{}: blank line; every line up to the last names a class "
                "(line k is class k - 1).".format(labels_file, number)
            )
        if name in first_line_of:
            raise ValueError(
                "{}:{}: class '{}' is already named on line {}.".format(
                    labels_file, number, name, first_line_of[name]
                )
            )
        first_line_of[name] = number
    return [name for _, name in lines]


def read_split(split_file, class_names):
    """The videos of an official split file and their classes.

    Args:
        split_file (str): ``id;class name`` lines; blank lines are skipped.
        class_names (list of str): from ``read_class_names``.
    Returns:
        tuple: (video ids (list of str), labels (list of int)), in file order.
    Raises:
        ValueError: a missing file, a line that is not ``id;class name`` or
            a class that is not in the labels file, naming the file and line.
    """
    index_of = {name: index for index, name in enumerate(class_names)}
    video_ids, labels = [], []
    for number, line in _lines(split_file):
        if not line:
            continue
        video_id, separator, name = (part.strip() for part in line.partition(";"))
        if not separator or not video_id or not name:
            raise ValueError(
                "{}:{}: expected 'id;class name', got '{}'.".format(split_file, number, line)
            )
        if name not in index_of:
            raise ValueError(
                "{}:{}: video {} has class '{}', which is not in {}.".format(
                    split_file, number, video_id, name, LABELS_FILE
                )
            )
        video_ids.append(video_id)
        labels.append(index_of[name])
    return video_ids, labels


def numbered_frames(folder):
    """The frames of a video folder, ``00001.jpg`` to the last, in order.

    Args:
        folder (str): the video's folder.
    Returns:
        ImageSequence: its frame images, read on demand.
    Raises:
        VideoReadError: no such folder, no frame images, or a gap in the
            numbering (naming the first missing frame).
    """
    if not os.path.isdir(folder):
        raise VideoReadError(folder, "no such folder")
    names = {}
    for name in os.listdir(folder):
        match = FRAME_NAME.fullmatch(name)
        if match:
            names[int(match.group(1))] = name
    if not names:
        raise VideoReadError(folder, "no frame images (<number>.jpg)")
    last = max(names)
    missing = [number for number in range(1, last + 1) if number not in names]
    if missing:
        raise VideoReadError(
            os.path.join(folder, "{:05d}.jpg".format(missing[0])),
            "missing frame {} of 1..{} ({} missing)".format(missing[0], last, len(missing)),
        )
    return ImageSequence(
        [os.path.join(folder, names[number]) for number in range(1, last + 1)], name=folder
    )


# Named so that TRAIN.DATASET "gta_ssv1".capitalize() finds it.
@register_dataset
class Gta_ssv1(VideoClipDataset):  # noqa: N801
    """Something-Something-v1 with the paper's pipeline (GTA.DATA), as
    ``gta_ssv2``: TSN segments, a 240x320 resize and TSN's multi-scale crop
    and flip (never for classes with "left" or "right") in training; centre
    crops at test."""

    @classmethod
    def class_names_file(cls, cfg):
        """``DATA.PATH_TO_DATA_DIR/something-something-v1-labels.csv``."""
        return os.path.join(cfg.DATA.PATH_TO_DATA_DIR, LABELS_FILE)

    def __init__(self, cfg, mode):
        """
        Args:
            cfg (CfgNode): config with the GTA node.
            mode (str): "train", "val" or "test".
        Raises:
            ValueError: an unknown mode, a GTA key that cannot work
                (``check_gta_config``), a missing or malformed csv file
                (naming the file and line), or an empty split.
        """
        check_mode(mode)
        check_gta_config(cfg)
        data_dir = cfg.DATA.PATH_TO_DATA_DIR
        class_names = read_class_names(self.class_names_file(cfg))
        split_file = os.path.join(data_dir, SPLIT_FILES[mode])
        video_ids, labels = read_split(split_file, class_names)
        super().__init__(
            cfg,
            mode,
            annotation_file=split_file,
            video_paths=[os.path.join(cfg.DATA.PATH_PREFIX, video_id) for video_id in video_ids],
            video_labels=labels,
            class_names=class_names,
            sampling_method=cfg.GTA.DATA.SAMPLING,
            resize_to=cfg.GTA.DATA.RESIZE,
        )

    def open_video(self, video_index):
        """The numbered frames of a video's folder (``numbered_frames``)."""
        return numbered_frames(self.video_paths[video_index])
