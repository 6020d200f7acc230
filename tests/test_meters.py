"""Multi-view aggregation and top-k errors."""

import torch

from gta_slowfast.engine import meters
from gta_slowfast.engine.meters import topk_errors


def test_views_are_averaged_per_video_and_unreadable_views_left_out():
    meter = meters.TestMeter(num_videos=3, num_classes=3)
    # Video 0: two views that disagree; their mean favours class 2.
    # Video 1: one readable view (class 1) and one unreadable view whose
    # zero-clip scores would otherwise flip the answer.
    # Video 2: unreadable in every view.
    meter.update(
        scores=torch.tensor([[0.6, 0.0, 0.4], [0.0, 0.1, 0.9], [0.2, 0.7, 0.1]]),
        labels=torch.tensor([2, 2, 1]),
        video_index=torch.tensor([0, 0, 1]),
        valid=torch.tensor([True, True, True]),
    )
    meter.update(
        scores=torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),
        labels=torch.tensor([1, 0, 0]),
        video_index=torch.tensor([1, 2, 2]),
        valid=torch.tensor([False, False, False]),
    )
    _, scores, labels, scored = meter.finalize(torch.device("cpu"))
    assert scored.tolist() == [True, True, False]
    assert labels.tolist()[:2] == [2, 1]
    assert torch.allclose(scores[0], torch.tensor([0.3, 0.05, 0.65], dtype=torch.float64))
    assert torch.allclose(scores[1], torch.tensor([0.2, 0.7, 0.1], dtype=torch.float64))
    assert topk_errors(scores[scored], labels[scored], ks=(1,)) == [0.0]


def test_topk_errors_by_hand():
    scores = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = torch.tensor([1, 1, 0, 2])
    top1, top2 = topk_errors(scores, labels, ks=(1, 2))
    assert top1 == 75.0  # only the first is right
    assert top2 == 50.0  # first and second within the top 2
    assert topk_errors(scores, labels, ks=(5,)) == [0.0]  # k above 3 classes
