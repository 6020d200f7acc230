"""Kinetics (or any video classification set) from PySlowFast's csv files.

``DATA.PATH_TO_DATA_DIR/{train,val,test}.csv`` hold one ``path label`` line
per video, separated by DATA.PATH_LABEL_SEPARATOR (GitHub main; a space by
default, then any whitespace); a relative path is relative to
DATA.PATH_PREFIX. A path may also be a folder of frame images.
"""

import os

from gta_slowfast import compat
from gta_slowfast.config import check_gta_config
from gta_slowfast.datasets.clip_dataset import VideoClipDataset, check_mode, register_dataset


def read_video_list(list_file, prefix, separator=" "):
    """The videos and labels of a ``path label`` csv.

    Args:
        list_file (str): the csv; blank lines are skipped and the label is
            the last field, so paths may contain the separator.
        prefix (str): directory relative paths are joined to.
        separator (str): between path and label (DATA.PATH_LABEL_SEPARATOR);
            a space stands for any whitespace.
    Returns:
        tuple: (paths (list of str), labels (list of int)), in file order.
    Raises:
        ValueError: the file is missing, or a line is not ``path label``,
            naming the line.
    """
    if not os.path.isfile(list_file):
        raise ValueError("No video list {}.".format(list_file))
    paths, labels = [], []
    with open(list_file) as stream:
        for line_number, line in enumerate(stream, start=1):
            if separator == " ":
                fields = line.strip().rsplit(maxsplit=1)
            else:
                fields = [field.strip() for field in line.strip().rsplit(separator, 1)]
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise ValueError(
                    "{}:{}: expected 'path{}label', got '{}'.".format(
                        list_file, line_number, separator, line.strip()
                    )
                )
            paths.append(os.path.join(prefix, fields[0]))
            labels.append(int(fields[1]))
    return paths, labels


# Named so that TRAIN.DATASET "gta_kinetics".capitalize() finds it.
@register_dataset
class Gta_kinetics(VideoClipDataset):  # noqa: N801
    """Kinetics with PySlowFast's pipeline, whatever GTA.DATA.SAMPLING and
    GTA.DATA.RESIZE say: dense clips (DATA.NUM_FRAMES frames
    DATA.SAMPLING_RATE apart), short-side scale jitter, a random crop and a
    flip (DATA.RANDOM_FLIP; no class is exempt) in training;
    TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops with the
    short side at DATA.TEST_CROP_SIZE at test."""

    @classmethod
    def pipeline(cls, cfg):
        """Dense clips, short-side scaling: ("dense", [])."""
        return "dense", []

    def __init__(self, cfg, mode):
        """
        Args:
            cfg (CfgNode): config with the GTA node.
            mode (str): "train", "val" or "test".
        Raises:
            ValueError: an unknown mode, a GTA key that cannot work
                (``check_gta_config``), a missing or malformed csv, or an
                empty one.
        """
        check_mode(mode)
        check_gta_config(cfg)
        list_file = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "{}.csv".format(mode))
        paths, labels = read_video_list(
            list_file,
            cfg.DATA.PATH_PREFIX,
            compat.config_value(cfg, "DATA.PATH_LABEL_SEPARATOR", " "),
        )
        sampling_method, resize_to = self.pipeline(cfg)
        super().__init__(
            cfg,
            mode,
            annotation_file=list_file,
            video_paths=paths,
            video_labels=labels,
            class_names=None,
            sampling_method=sampling_method,
            resize_to=resize_to,
        )
