"""What a training step minimises: MODEL.LOSS_FUNC on the labels, mixed by
MIXUP.* where enabled, as GitHub-main PySlowFast's ``train_net`` does it.

The loss is PySlowFast's own ``losses.get_loss_func(MODEL.LOSS_FUNC)``
with ``reduction="mean"``; the mixing is PySlowFast's own ``MixUp`` (MixUp
or CutMix on the first pathway's clips, soft targets with
MIXUP.LABEL_SMOOTH_VALUE), see ``compat.mixup``.
"""

import torch
from slowfast.models import losses

from gta_slowfast import compat

# The losses of PySlowFast's table that take a classifier's logits (N, K)
# and class indices (N,) or soft targets (N, K), and whether they take class
# indices. The others (bce, which wants probabilities; mse, multi_mse;
# contrastive_loss, for ContrastiveModel) fail on a classifier's batch.
_CLASSIFICATION_LOSSES = {
    "cross_entropy": True,
    "soft_cross_entropy": True,
    "bce_logit": False,
}


def loss_function(cfg):
    """PySlowFast's loss for MODEL.LOSS_FUNC, ``reduction="mean"``.

    Raises:
        ValueError: PySlowFast has no loss of that name, or it cannot train
            a classifier on the targets this loop gives it (class indices,
            or soft targets with MIXUP.ENABLE), naming MODEL.LOSS_FUNC.
    """
    name = cfg.MODEL.LOSS_FUNC
    try:
        loss_class = losses.get_loss_func(name)
    except NotImplementedError as error:
        raise ValueError(
            "MODEL.LOSS_FUNC '{}': {} by the installed PySlowFast ({}); use one of {}.".format(
                name, error, compat.GENERATION, sorted(losses._LOSSES))
        ) from error
    soft_targets = compat.mixup(cfg) is not None
    if name not in _CLASSIFICATION_LOSSES or not (soft_targets or _CLASSIFICATION_LOSSES[name]):
        usable = [loss for loss, indices in _CLASSIFICATION_LOSSES.items()
                  if loss in losses._LOSSES and (soft_targets or indices)]
        hint = ""
        if not soft_targets and "bce_logit" in losses._LOSSES:
            hint = " (bce_logit needs the soft targets of MIXUP.ENABLE: True)"
        raise ValueError(
            "MODEL.LOSS_FUNC '{}' cannot train a classifier on {} in the plugin's loop; use "
            "one of {}{}.".format(
                name, "soft targets" if soft_targets else "class indices", usable, hint)
        )
    return loss_class(reduction="mean")


class Objective:
    """MODEL.LOSS_FUNC and MIXUP.* for one training process.

    Attributes:
        loss (nn.Module): PySlowFast's loss, mean over the batch.
        mixup (MixUp or None): PySlowFast's MixUp where MIXUP.ENABLE.
    """

    def __init__(self, cfg):
        self.loss = loss_function(cfg)
        self.mixup = compat.mixup(cfg)

    def targets(self, inputs, labels):
        """Mixes the batch in place where MIXUP.ENABLE, as PySlowFast does:
        ``inputs[0]`` (the first pathway, (N, C, T, H, W)) and the labels.

        Args:
            inputs (list[Tensor]): one (N, C, T, H, W) clip batch per pathway.
            labels (Tensor): (N,) class indices.
        Returns:
            Tensor: the targets, (N,) class indices or (N, K) soft targets.
        """
        if self.mixup is None:
            return labels
        inputs[0], targets = self.mixup(inputs[0], labels)
        return targets

    @staticmethod
    def scored_against(preds, targets):
        """The scores and class indices that top-1/top-5 errors are taken
        on. Soft (N, K) targets count, as in PySlowFast's ``train_net``, the
        two classes with the largest target weight as one: their scores are
        summed under the first, the second's set to zero.

        Args:
            preds (Tensor): (N, K) scores.
            targets (Tensor): (N,) class indices or (N, K) soft targets.
        Returns:
            tuple: (scores (N, K), labels (N,)).
        """
        if targets.dim() == 1:
            return preds, targets
        top2 = targets.topk(2, dim=1).indices
        rows = torch.arange(targets.shape[0], device=targets.device)
        scores = preds.detach().clone()
        scores[rows, top2[:, 0]] += scores[rows, top2[:, 1]]
        scores[rows, top2[:, 1]] = 0.0
        return scores, top2[:, 0]
