"""The plugin's blocks with torch alone: no PySlowFast, no config.

``DecoupledAttentionBlock`` replaces a non-local block in any video network
of (N, C, T, H, W) features; its terms (SA, TA, TAPE, PIXEL_GTA, REGION_GTA,
and any term registered in ``TEMPORAL_TERMS``) are ``TemporalTerm`` classes;
``TemporalShiftConv3d`` is TSM's residual shift. The README shows them in a
plain PyTorch model.
"""

from gta_slowfast.blocks.decoupled_attention import DecoupledAttentionBlock
from gta_slowfast.blocks.global_temporal_attention import GlobalTemporalMixing, RegionAssignment
from gta_slowfast.blocks.registry import Registry
from gta_slowfast.blocks.temporal_shift import TemporalShiftConv3d, temporal_shift
from gta_slowfast.blocks.terms import (
    ALIASES,
    TEMPORAL_TERMS,
    BlockContext,
    BlockSettings,
    TemporalTerm,
    parse_terms,
)

__all__ = [
    "ALIASES",
    "TEMPORAL_TERMS",
    "BlockContext",
    "BlockSettings",
    "DecoupledAttentionBlock",
    "GlobalTemporalMixing",
    "RegionAssignment",
    "Registry",
    "TemporalShiftConv3d",
    "TemporalTerm",
    "parse_terms",
    "temporal_shift",
]
