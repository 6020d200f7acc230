"""The class pairs that only temporal order, or left and right, tells apart,
and how well a model tells the two classes of each pair apart.

Pairs are found from the class names, so they exist for the data sets that
have names (SSv2, SSv1, the demo) and not for Kinetics:

* mirror pairs: the left/right pairs that GTA.DATA.FLIP_LABEL_SWAP builds
  (``datasets.transforms.mirror_classes`` with GTA.DATA.NO_FLIP_WORDS read
  as pairs of words), e.g. "Pushing something from left to right" and
  "Pushing something from right to left"; a class that names a word but has
  no mirror class is left out;
* opposite pairs: the demo's time-reversed pairs
  (``gta_slowfast.demo.scenes.CLASS_PAIRS``) and the opposite actions of
  Something-Something listed in ``opposite_actions.txt`` (which says how it
  was built), each used when both its names are classes (case-insensitive).

A pair can be both (the demo's "Moving something from left to right" and
"... from right to left").
"""

import os
from typing import NamedTuple

from gta_slowfast.datasets.ssv2 import class_name_of
from gta_slowfast.datasets.transforms import mirror_classes
from gta_slowfast.demo.scenes import CLASS_PAIRS

OPPOSITE_ACTIONS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "opposite_actions.txt")


class ClassPair(NamedTuple):
    """Two classes, ``first`` < ``second``, and why they are a pair:
    ``kinds`` holds "mirror", "opposite" or both."""

    first: int
    second: int
    kinds: tuple


def read_opposite_actions(path=OPPOSITE_ACTIONS_FILE):
    """The pairs of a list of opposite actions: one pair a line, ``first |
    second``; blank lines and text after ``#`` are ignored.

    Returns:
        list of (str, str): class names.
    Raises:
        ValueError: a line that is not two names joined by "|", naming it.
    """
    pairs = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            names = [name.strip() for name in line.split("|")]
            if len(names) != 2 or not all(names):
                raise ValueError("{}:{}: expected 'first class | second class', got '{}'."
                                 .format(path, number, line))
            pairs.append(tuple(names))
    return pairs


def mirror_pairs(class_names, mirror_words):
    """The pairs of classes that are each other's mirror, as
    GTA.DATA.FLIP_LABEL_SWAP pairs them (``mirror_classes``), among the
    classes whose name holds a mirror word; classes without a mirror are
    left out. GTA.DATA.NO_FLIP_WORDS may hold an odd number of words where
    no label is swapped: its last word then has no partner and makes no
    pair.

    Args:
        class_names (list of str): class k at position k.
        mirror_words (list of str): pairs, e.g. ["left", "right"].
    Returns:
        list of (int, int): (a, b), a < b.
    """
    paired_words = list(mirror_words)[:len(mirror_words) // 2 * 2]
    mirrors = mirror_classes(class_names, paired_words)
    return sorted({tuple(sorted(pair)) for pair in mirrors.items()})


def opposite_pairs(class_names, listed=None):
    """The opposite-action pairs whose two names are classes.

    Args:
        class_names (list of str): class k at position k.
        listed (list of (str, str)): candidate pairs; None: the demo's
            ``CLASS_PAIRS`` and ``read_opposite_actions()``.
    Returns:
        list of (int, int): (a, b), a < b, each once, in the order listed.
    """
    if listed is None:
        listed = [(class_name_of(a), class_name_of(b)) for a, b in CLASS_PAIRS]
        listed += read_opposite_actions()
    index_of = {name.lower(): k for k, name in enumerate(class_names)}
    pairs = []
    for first, second in listed:
        if first.lower() in index_of and second.lower() in index_of:
            pair = tuple(sorted((index_of[first.lower()], index_of[second.lower()])))
            if pair[0] != pair[1] and pair not in pairs:
                pairs.append(pair)
    return pairs


def temporal_pairs(class_names, mirror_words=("left", "right")):
    """The mirror and opposite pairs of a data set's classes.

    Args:
        class_names (list of str or None): None (no names): no pair.
        mirror_words (list of str): GTA.DATA.NO_FLIP_WORDS.
    Returns:
        list of ClassPair: sorted by (first, second).
    """
    if not class_names:
        return []
    kinds = {}
    for pair in mirror_pairs(class_names, list(mirror_words)):
        kinds.setdefault(pair, []).append("mirror")
    for pair in opposite_pairs(class_names):
        kinds.setdefault(pair, []).append("opposite")
    return [ClassPair(a, b, tuple(k)) for (a, b), k in sorted(kinds.items())]


def partners_of(pairs):
    """{class: sorted list of the classes paired with it}."""
    partners = {}
    for pair in pairs:
        partners.setdefault(pair.first, set()).add(pair.second)
        partners.setdefault(pair.second, set()).add(pair.first)
    return {k: sorted(v) for k, v in partners.items()}


def pair_accuracy(scores, labels, pairs):
    """Accuracy within pairs, in percent: over the videos whose class is in
    at least one pair, the fraction whose score for their own class is
    higher than their score for every class paired with it (the prediction
    restricted to the class and its partners is right; a tie counts as
    wrong). A class with one partner makes this the top-1 of a two-way
    choice, where a model blind to order scores 50%.

    Args:
        scores (np.ndarray): (V, K) per-video scores.
        labels (np.ndarray): (V,) int, in 0..K-1.
        pairs (list of ClassPair).
    Returns:
        tuple: (accuracy (float, or None when no video's class is paired),
            number of such videos (int)).
    """
    partners = partners_of(pairs)
    right, videos = 0, 0
    for video_scores, label in zip(scores, labels):
        others = partners.get(int(label))
        if others is None:
            continue
        videos += 1
        right += bool(video_scores[label] > video_scores[others].max())
    return (100.0 * right / videos if videos else None), videos


def pair_results(scores, labels, predictions, pairs):
    """Each pair's figures.

    Args:
        scores (np.ndarray): (V, K) per-video scores.
        labels (np.ndarray): (V,) int, in 0..K-1.
        predictions (np.ndarray): (V,) int, each video's top-1 class.
        pairs (list of ClassPair).
    Returns:
        list of dict: per pair, ``first``, ``second``, ``kinds``;
        ``first_videos``, ``second_videos``: the videos of each class;
        ``first_top1``, ``second_top1``: each class's top-1 (percent);
        ``first_as_second``: the percentage of ``first``'s videos whose
        top-1 is ``second``, ``second_as_first`` the converse;
        ``within_pair``: the percentage of the two classes' videos scored
        higher for their own class than for the other. Percentages are None
        where a class has no video.
    """
    def percent(count, total):
        return 100.0 * count / total if total else None

    rows = []
    for pair in pairs:
        row = {"first": pair.first, "second": pair.second, "kinds": pair.kinds}
        within, total = 0, 0
        for name, own, other in (("first", pair.first, pair.second),
                                 ("second", pair.second, pair.first)):
            mine = labels == own
            videos = int(mine.sum())
            row[name + "_videos"] = videos
            row[name + "_top1"] = percent(int((predictions[mine] == own).sum()), videos)
            taken = int((predictions[mine] == other).sum())
            row["{}_as_{}".format(name, "second" if name == "first" else "first")] = percent(
                taken, videos)
            within += int((scores[mine, own] > scores[mine, other]).sum())
            total += videos
        row["within_pair"] = percent(within, total)
        rows.append(row)
    return rows

