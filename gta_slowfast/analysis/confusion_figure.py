"""The confusion matrix as a PNG, readable at 174 classes: the most confused
classes in full, the others summed into one "other classes" row and
column, the classes of each temporal pair side by side and the cells where
one is taken for the other outlined."""

import numpy as np

from gta_slowfast.analysis.temporal_pairs import partners_of

MAX_CLASSES = 30
_NAME_CHARS = 42
_ANNOTATE_UP_TO = 20


def shown_classes(report, max_classes=MAX_CLASSES):
    """The classes drawn in full, in drawing order.

    All classes when there are at most ``max_classes``; else the most
    confused: classes ranked by the wrong predictions they take part in
    (their videos taken for another class plus other classes' videos taken
    for them; ties: lower index first), each brought in with the classes
    paired with it while they fit, until ``max_classes``. In drawing order
    each class is followed by its paired classes, so pairs sit together.

    Args:
        report (ClassReport).
    Returns:
        list of int.
    """
    partners = partners_of(report.pairs)
    if report.num_classes <= max_classes:
        chosen = set(range(report.num_classes))
    else:
        wrong = report.confusion - np.diag(np.diag(report.confusion))
        involvement = wrong.sum(axis=0) + wrong.sum(axis=1)
        chosen = set()
        for k in sorted(range(report.num_classes), key=lambda k: (-involvement[k], k)):
            if len(chosen) >= max_classes:
                break
            group = {k} | set(partners.get(k, []))
            chosen |= group if len(chosen | group) <= max_classes else {k}
    order, placed = [], set()
    for start in sorted(chosen):
        queue = [start]
        while queue:
            k = queue.pop(0)
            if k in placed or k not in chosen:
                continue
            order.append(k)
            placed.add(k)
            queue.extend(partners.get(k, []))
    return order


def summarised_matrix(confusion, shown):
    """The confusion matrix restricted to ``shown``, the other classes summed
    into a last row and column (only when there are others).

    Args:
        confusion (np.ndarray): (K, K).
        shown (list of int): S classes.
    Returns:
        np.ndarray: (S, S), or (S + 1, S + 1) with the others.
    """
    rest = sorted(set(range(len(confusion))) - set(shown))
    if not rest:
        return confusion[np.ix_(shown, shown)]
    groups = [[k] for k in shown] + [rest]
    return np.array([[confusion[np.ix_(rows, columns)].sum() for columns in groups]
                     for rows in groups])


def save_confusion_figure(path, report, max_classes=MAX_CLASSES):
    """Draws the confusion matrix of ``report`` into a PNG: rows are true
    classes, columns top-1 predictions; a cell's colour is the share of its
    row's videos (on a square-root scale, so that small shares show), its
    number (up to 20 rows) the videos.

    Args:
        path (str): the PNG to write.
        report (ClassReport).
        max_classes (int): classes drawn in full (``shown_classes``).
    """
    # matplotlib is imported only when a figure is drawn: training never
    # pays for it.
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    shown = shown_classes(report, max_classes)
    matrix = summarised_matrix(report.confusion, shown)
    labels = [_short("{} {}".format(k, report.name(k)) if report.class_names else report.name(k))
              for k in shown]
    others = report.num_classes - len(shown)
    if others:
        labels.append("other {} classes".format(others))
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    size = len(labels)
    fontsize = 8 if size <= _ANNOTATE_UP_TO else 6
    # Laid out by hand in inches (cheaper than a tight bounding box, which
    # draws the figure twice): tick labels, matrix, colour bar, title.
    margin = max(len(label) for label in labels) * fontsize * 0.55 / 72 + 0.6
    side = max(3.0, size * (0.32 if size <= _ANNOTATE_UP_TO else 0.2))
    width, height = margin + side + 1.4, margin + side + 0.7
    figure = Figure(figsize=(width, height))
    axes = figure.add_axes((margin / width, margin / height, side / width, side / height))
    colour_axes = figure.add_axes(((margin + side + 0.15) / width, margin / height,
                                   0.18 / width, side / height))
    image = axes.imshow(shares, cmap="Blues", norm=PowerNorm(0.5, vmin=0.0, vmax=1.0))
    figure.colorbar(image, cax=colour_axes, label="share of the true class")
    fontsize = 8 if size <= _ANNOTATE_UP_TO else 6
    axes.set_xticks(range(size), labels, rotation=90, fontsize=fontsize)
    axes.set_yticks(range(size), labels, fontsize=fontsize)
    axes.set_xlabel("predicted class (top-1)")
    axes.set_ylabel("true class")
    if size <= _ANNOTATE_UP_TO:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                axes.text(j, i, str(count), ha="center", va="center", fontsize=fontsize,
                          color="white" if shares[i, j] > 0.5 else "black")
    position = {k: i for i, k in enumerate(shown)}
    outlined = 0
    for pair in report.pairs:
        if pair.first in position and pair.second in position:
            a, b = position[pair.first], position[pair.second]
            for i, j in ((a, b), (b, a)):
                axes.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                         edgecolor="red", linewidth=1.2))
            outlined += 1
    title = "Confusion matrix, {} test videos".format(len(report.labels))
    if outlined:
        title += "; temporal pairs' cells outlined"
    if others:
        title += "\nthe {} most confused of {} classes in full, the other {} summed".format(
            len(shown), report.num_classes, others)
    axes.set_title(title, fontsize=9)
    figure.savefig(path, dpi=120)


def _short(label):
    return label if len(label) <= _NAME_CHARS else label[:_NAME_CHARS - 3] + "..."
