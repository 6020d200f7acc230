"""Per-class results of a test: per-class top-1, mean class accuracy, the
confusion matrix, the most confused classes and the temporal pairs'
figures, from per-video scores.

A video's prediction is its top-1 class (the first of equal maxima).
"""

import numpy as np

from gta_slowfast.analysis.temporal_pairs import pair_accuracy, pair_results


class ClassReport:
    """The per-class figures of one set of per-video scores.

    Attributes:
        class_names (list of str or None): class k at position k.
        labels (np.ndarray): (V,) int64, each video's class.
        predictions (np.ndarray): (V,) int64, each video's top-1 class.
        confusion (np.ndarray): (K, K) int64; [i, j] is the number of
            videos of class i whose top-1 is class j.
        videos (np.ndarray): (K,) int64, the videos of each class.
        top1 (np.ndarray): (K,) float64, each class's top-1 in percent,
            NaN for a class with no video.
        top1_acc (float): top-1 over all videos, in percent.
        mean_class_acc (float): the mean of ``top1`` over the classes that
            have videos, in percent.
        pairs (list of ClassPair): the temporal pairs.
        pair_rows (list of dict): ``temporal_pairs.pair_results``.
        pair_acc (float or None): ``temporal_pairs.pair_accuracy``; None
            without a paired video.
        paired_videos (int): the videos ``pair_acc`` is over.
    """

    def __init__(self, scores, labels, class_names=None, pairs=()):
        """
        Args:
            scores (np.ndarray): (V, K) per-video scores, V >= 1.
            labels (np.ndarray): (V,) int, in 0..K-1.
            class_names (list of str or None): K names.
            pairs (list of ClassPair): from ``temporal_pairs``.
        Raises:
            ValueError: shapes that disagree, a label outside 0..K-1, or
                class names that are not K.
        """
        scores = np.asarray(scores, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        if scores.ndim != 2 or labels.shape != scores.shape[:1] or not len(labels):
            raise ValueError("Scores of shape {} and labels of shape {}: expected (V, K) and "
                             "(V,) for V >= 1 videos.".format(scores.shape, labels.shape))
        num_classes = scores.shape[1]
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError("Labels must be in 0..{} for {} classes of scores; got {}..{}."
                             .format(num_classes - 1, num_classes, labels.min(), labels.max()))
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError("{} class names for scores of {} classes.".format(
                len(class_names), num_classes))
        self.class_names = None if class_names is None else list(class_names)
        self.labels = labels
        self.predictions = scores.argmax(axis=1)
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        np.add.at(self.confusion, (labels, self.predictions), 1)
        self.videos = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.top1 = 100.0 * np.diag(self.confusion) / self.videos
        self.top1_acc = 100.0 * float(np.trace(self.confusion)) / len(labels)
        self.mean_class_acc = float(np.mean(self.top1[self.videos > 0]))
        self.pairs = list(pairs)
        self.pair_rows = pair_results(scores, labels, self.predictions, self.pairs)
        self.pair_acc, self.paired_videos = pair_accuracy(scores, labels, self.pairs)

    @property
    def num_classes(self):
        return len(self.confusion)

    def name(self, k):
        """Class k's name, or "class k" without names."""
        return self.class_names[k] if self.class_names else "class {}".format(k)

    def most_confused(self, count=10):
        """The class pairs most often taken for each other.

        Returns:
            list of (a, b, a_as_b, b_as_a): a < b, the number of videos of
            a whose top-1 is b and the converse; at most ``count``, those
            with the most such videos first (ties: lower a, then lower b),
            only pairs with at least one.
        """
        both = self.confusion + self.confusion.T
        upper = np.triu(both, k=1)
        order = sorted(zip(*np.nonzero(upper)), key=lambda ab: (-upper[ab], ab[0], ab[1]))
        return [(int(a), int(b), int(self.confusion[a, b]), int(self.confusion[b, a]))
                for a, b in order[:count]]

    def most_taken_for(self, k):
        """(class, percentage of k's videos) of the class k's videos are
        most often wrongly predicted as, or None if none is wrong."""
        row = self.confusion[k].copy()
        row[k] = 0
        if not row.any():
            return None
        other = int(row.argmax())
        return other, 100.0 * row[other] / self.videos[k]

    def summary(self):
        """The fields of the test's json stats: ``mean_class_acc`` and,
        where classes are paired, ``pair_acc`` (both in percent)."""
        fields = {"mean_class_acc": self.mean_class_acc}
        if self.pair_acc is not None:
            fields["pair_acc"] = self.pair_acc
        return fields

    def lines(self, count=10):
        """The report as text lines: mean class accuracy, the ``count``
        most confused class pairs with names, the temporal pairs."""
        lines = ["Mean class accuracy {:.2f}% over {} classes with videos (top-1 {:.2f}% over "
                 "{} videos).".format(self.mean_class_acc, int((self.videos > 0).sum()),
                                      self.top1_acc, len(self.labels))]
        confused = self.most_confused(count)
        if confused:
            lines.append("Most confused classes (videos of each taken for the other):")
            for a, b, a_as_b, b_as_a in confused:
                lines.append("  '{}' <-> '{}': {} of {} and {} of {}".format(
                    self.name(a), self.name(b), a_as_b, self.videos[a], b_as_a, self.videos[b]))
        else:
            lines.append("No class is taken for another.")
        if not self.pairs:
            return lines
        lines.append(
            "Temporal pairs: accuracy within pairs {} over {} videos of {} pairs (own class "
            "scored above its partner's; 50% is chance).".format(
                _percent(self.pair_acc), self.paired_videos, len(self.pairs)))
        for row in self.pair_rows:
            lines.append("  {:<15} within {:>7}  '{}' {} ({} taken for the other) | '{}' {} "
                         "({} taken for the other)".format(
                             "+".join(row["kinds"]), _percent(row["within_pair"]),
                             self.name(row["first"]), _percent(row["first_top1"]),
                             _percent(row["first_as_second"]), self.name(row["second"]),
                             _percent(row["second_top1"]), _percent(row["second_as_first"])))
        return lines


def _percent(value):
    """"12.34%", or "n/a" for None."""
    return "n/a" if value is None else "{:.2f}%".format(value)
