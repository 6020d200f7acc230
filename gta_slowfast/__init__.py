"""Global Temporal Attention (GTA) for PySlowFast.

``import gta_slowfast`` adds nothing to PySlowFast but the plugin's models,
registered in PySlowFast's MODEL_REGISTRY where the installed generation has
one, and its datasets (gta_ssv2, gta_ssv1, gta_kinetics) in
DATASET_REGISTRY. Works without detectron2.

The blocks alone (``gta_slowfast.blocks``) need torch only: without
PySlowFast the package imports, and its PySlowFast names (``get_cfg``,
``build_model``, ...) raise an ImportError that says how to install one.
"""

__all__ = ["add_gta_config", "get_cfg", "load_config", "build_model"]
__version__ = "0.1.0"

try:
    from gta_slowfast import compat  # noqa: F401 (ImportError without PySlowFast)
except ImportError:
    def __getattr__(name):
        """Without PySlowFast, the PySlowFast names re-raise compat's
        ImportError (its INSTALL_HINT)."""
        if name in __all__:
            from gta_slowfast import compat  # noqa: F401, F811
        raise AttributeError("module 'gta_slowfast' has no attribute '{}'".format(name))
else:
    from gta_slowfast import datasets  # noqa: F401 (registers the datasets)
    from gta_slowfast.config import add_gta_config, get_cfg, load_config
    from gta_slowfast.models import build_model
