"""Writing annotation files in the layouts the plugin's data sets read: the
official Something-Something-v2 json files and PySlowFast's frame lists,
the official Something-Something-v1 csv files, and PySlowFast's Kinetics
``path label`` lists. The file names are the data sets' own."""

import json
import os

from gta_slowfast.datasets import ssv1, ssv2

# The validation split's file is the one the data sets read in val and test.
_SPLIT_MODES = {"train": "train", "validation": "val"}


def ssv2_entry(video_id, template, placeholder="something"):
    """One entry of an SSv2 split file.

    Args:
        video_id (str): the video's id (its file is ``<id>.webm``).
        template (str): the class's template, brackets kept ("Moving
            [something] up"); the class is the template without them.
        placeholder (str): the object that fills "[something]".
    Returns:
        dict: {"id", "label", "template", "placeholders"}, the "label" the
        template filled in and in lower case, as in the official files.
    """
    label = template.replace("[something]", placeholder).replace("[Something]", placeholder)
    return {"id": video_id, "label": label.lower(), "template": template,
            "placeholders": [placeholder]}


def write_ssv2_annotations(data_dir, class_names, splits):
    """Writes ``something-something-v2-labels.json`` and the split files.

    Args:
        data_dir (str): where to write them (made if missing).
        class_names (list of str): class names (templates without brackets),
            class k at position k.
        splits (dict): "train" / "validation" -> list of entries
            (:func:`ssv2_entry`), in file order.
    """
    os.makedirs(data_dir, exist_ok=True)
    for split, entries in splits.items():
        _write_json(os.path.join(data_dir, ssv2.SPLIT_FILES[_SPLIT_MODES[split]]), entries)
    _write_json(os.path.join(data_dir, ssv2.LABELS_FILE),
                {name: str(index) for index, name in enumerate(class_names)})


def write_frame_list(path, videos, prefix):
    """Writes PySlowFast's frame list (``train.csv``/``val.csv`` of its SSv2
    frames layout): a header ``original_vido_id video_id frame_id path
    labels``, then a line per frame.

    Args:
        path (str): the csv to write (its folder is made if missing).
        videos (dict): video id -> list of image paths, in frame order.
        prefix (str): the folder the written paths are relative to
            (DATA.PATH_PREFIX).
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as stream:
        stream.write("original_vido_id video_id frame_id path labels\n")
        for number, (video_id, frames) in enumerate(videos.items()):
            for frame_id, frame in enumerate(frames):
                stream.write('{} {} {} {} ""\n'.format(
                    video_id, number, frame_id, os.path.relpath(frame, prefix)))


def write_ssv1_annotations(data_dir, class_names, splits):
    """Writes ``something-something-v1-labels.csv`` (class k on line k + 1)
    and the split files (``id;class name`` lines).

    Args:
        data_dir (str): where to write them (made if missing).
        class_names (list of str): class k at position k.
        splits (dict): "train" / "validation" -> list of (video id, class
            name), in file order.
    """
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, ssv1.LABELS_FILE), "w") as stream:
        stream.writelines(name + "\n" for name in class_names)
    for split, videos in splits.items():
        with open(os.path.join(data_dir, ssv1.SPLIT_FILES[_SPLIT_MODES[split]]), "w") as stream:
            stream.writelines("{};{}\n".format(video_id, name) for video_id, name in videos)


def write_kinetics_lists(data_dir, splits, separator=" "):
    """Writes PySlowFast's Kinetics lists ``<split>.csv``, one ``path label``
    line per video.

    Args:
        data_dir (str): where to write them (made if missing).
        splits (dict): "train" / "val" / "test" -> list of (path, label);
            a relative path is relative to DATA.PATH_PREFIX.
        separator (str): between path and label (DATA.PATH_LABEL_SEPARATOR).
    """
    os.makedirs(data_dir, exist_ok=True)
    for split, videos in splits.items():
        with open(os.path.join(data_dir, split + ".csv"), "w") as stream:
            stream.writelines("{}{}{}\n".format(path, separator, label)
                              for path, label in videos)


def _write_json(path, content):
    """Writes ``content`` as indented json, through a temporary file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as stream:
        json.dump(content, stream, indent=1)
        stream.write("\n")
    os.replace(tmp, path)
