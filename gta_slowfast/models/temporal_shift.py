"""TSM's residual temporal shift in PySlowFast's single-pathway ResNet.

In PySlowFast the residual branch of a ``ResBlock`` is ``branch2`` and its
first convolution ``branch2.a``; ``add_temporal_shift`` replaces that
``nn.Conv3d`` with a ``TemporalShiftConv3d`` of the same weights, so the
state-dict names (and ImageNet or PySlowFast checkpoints) are unchanged.
"""

from gta_slowfast.blocks.temporal_shift import TemporalShiftConv3d


def add_temporal_shift(model, cfg):
    """Puts TSM's residual shift into every residual block of the stages
    GTA.TEMPORAL_SHIFT.STAGES names (before ``branch2.a``), in place.

    Args:
        model (nn.Module): a single-pathway PySlowFast ResNet.
        cfg (CfgNode): its config, with GTA.TEMPORAL_SHIFT.
    Returns:
        nn.Module: ``model``.
    The keys themselves (a single-pathway arch, stages in res2..res5, the
    fraction) are checked by ``config.check_gta_config`` before the model is
    built.

    Raises:
        ValueError: from ``TemporalShiftConv3d``, a fraction that moves no
            channel of a block.
    """
    shift = cfg.GTA.TEMPORAL_SHIFT
    for stage in shift.STAGES:
        res_stage = getattr(model, "s{}".format(stage))
        for index in range(res_stage.num_blocks[0]):
            branch = getattr(res_stage, "pathway0_res{}".format(index)).branch2
            branch.a = TemporalShiftConv3d.from_conv(branch.a, shift.FRACTION)
    return model
