"""Global Temporal Attention (GTA) for PySlowFast.

``import gta_slowfast`` adds nothing to PySlowFast but the plugin's models,
registered in PySlowFast's MODEL_REGISTRY where the installed generation has
one, and its datasets (gta_ssv2, gta_ssv1, gta_kinetics) in
DATASET_REGISTRY. Works without detectron2.
"""

from gta_slowfast import datasets  # noqa: F401 (registers the datasets)
from gta_slowfast.config import add_gta_config, get_cfg, load_config
from gta_slowfast.models import build_model

__all__ = ["add_gta_config", "get_cfg", "load_config", "build_model"]
__version__ = "0.1.0"
