"""Lists of videos a data set leaves out (GTA.DATA.EXCLUDE_LIST), as
``tools/check_videos.py`` writes them.

One video a line, named as the data set names it (its file, or its frame
folder for frame data sets), or relative to DATA.PATH_PREFIX; lines that
start with ``#`` are comments (``check_videos.py`` puts each video's reason
on the line before it) and blank lines are skipped. A relative path is
taken from the current directory, as the data set's own paths are.
"""

import os


def read_exclude_list(path):
    """The entries of an exclusion list.

    Args:
        path (str): the list file.
    Returns:
        list of str: its video paths, in file order.
    Raises:
        ValueError: no such file, naming GTA.DATA.EXCLUDE_LIST.
    """
    if not os.path.isfile(path):
        raise ValueError("GTA.DATA.EXCLUDE_LIST names no file: {} (working directory {}). "
                         "Give the list tools/check_videos.py wrote, or '' to read every "
                         "video.".format(path, os.getcwd()))
    with open(path, encoding="utf-8") as stream:
        lines = (line.strip() for line in stream)
        return [line for line in lines if line and not line.startswith("#")]


def write_exclude_list(path, problems, header=()):
    """Writes an exclusion list: each video's reason as a comment line,
    then its path. Written to a temporary name and renamed.

    Args:
        path (str): the list file; its folder is made where missing.
        problems (list of tuple): (video path, reason) pairs.
        header (sequence of str): comment lines at the top.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as stream:
        for line in header:
            stream.write("# {}\n".format(line))
        for video, reason in problems:
            stream.write("# {}\n{}\n".format(reason.replace("\n", " "), video))
    os.replace(tmp, path)


def excluded_indices(video_paths, entries, prefix=""):
    """The positions of ``video_paths`` that an exclusion list names.

    Args:
        video_paths (list of str): a data set's videos.
        entries (list of str): ``read_exclude_list``'s paths.
        prefix (str): DATA.PATH_PREFIX, for entries relative to it.
    Returns:
        set of int
    """
    listed = set()
    for entry in entries:
        listed.add(_normalized(entry))
        if prefix and not os.path.isabs(entry):
            listed.add(_normalized(os.path.join(prefix, entry)))
    return {i for i, video in enumerate(video_paths) if _normalized(video) in listed}


def _normalized(path):
    return os.path.normcase(os.path.abspath(path))
