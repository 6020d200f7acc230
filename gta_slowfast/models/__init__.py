"""Attention blocks and the PySlowFast models that carry them."""

from gta_slowfast.models.block_spec import BlockSpec  # noqa: F401
from gta_slowfast.models.decoupled_attention import DecoupledAttentionBlock  # noqa: F401
from gta_slowfast.models.global_temporal_attention import (  # noqa: F401
    GlobalTemporalMixing,
    RegionAssignment,
)
from gta_slowfast.models.video_models import (  # noqa: F401
    GTAResNet,
    GTASlowFast,
    build_model,
)
