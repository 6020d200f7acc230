"""The PySlowFast models that carry the plugin's blocks (``gta_slowfast.blocks``)."""

from gta_slowfast.blocks import (  # noqa: F401
    DecoupledAttentionBlock,
    GlobalTemporalMixing,
    RegionAssignment,
)
from gta_slowfast.models.video_models import (  # noqa: F401
    GTAResNet,
    GTASlowFast,
    build_model,
)
