"""TSM's residual temporal shift in PySlowFast's single-pathway ResNet.

In PySlowFast the residual branch of a ``ResBlock`` is ``branch2`` and its
first convolution ``branch2.a``; ``add_temporal_shift`` replaces that
``nn.Conv3d`` with a ``TemporalShiftConv3d`` of the same weights, so the
state-dict names (and ImageNet or PySlowFast checkpoints) are unchanged.
"""

from gta_slowfast.blocks.temporal_shift import TemporalShiftConv3d

STAGE_INDICES = (2, 3, 4, 5)


def add_temporal_shift(model, cfg):
    """Puts TSM's residual shift into every residual block of the stages
    GTA.TEMPORAL_SHIFT.STAGES names (before ``branch2.a``), in place.

    Args:
        model (nn.Module): a single-pathway PySlowFast ResNet.
        cfg (CfgNode): its config, with GTA.TEMPORAL_SHIFT.
    Returns:
        nn.Module: ``model``.
    Raises:
        ValueError: a multi-pathway model or a stage outside res2..res5,
            naming the key; from ``TemporalShiftConv3d``, a fraction outside
            (0, 0.5] or one that moves no channel of a block.
    """
    shift = cfg.GTA.TEMPORAL_SHIFT
    if model.num_pathways != 1:
        raise ValueError(
            "GTA.TEMPORAL_SHIFT.ENABLE: the temporal shift is for "
            "single-pathway ResNets (C2D, Slow); MODEL.ARCH {} has {} "
            "pathways.".format(cfg.MODEL.ARCH, model.num_pathways)
        )
    unknown = [stage for stage in shift.STAGES if stage not in STAGE_INDICES]
    if unknown:
        raise ValueError(
            "GTA.TEMPORAL_SHIFT.STAGES {} names stages {}; allowed: {} "
            "(res2..res5).".format(list(shift.STAGES), unknown, list(STAGE_INDICES))
        )
    for stage in shift.STAGES:
        res_stage = getattr(model, "s{}".format(stage))
        for index in range(res_stage.num_blocks[0]):
            branch = getattr(res_stage, "pathway0_res{}".format(index)).branch2
            branch.a = TemporalShiftConv3d.from_conv(branch.a, shift.FRACTION)
    return model
