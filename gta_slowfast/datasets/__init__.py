"""The plugin's datasets, registered in PySlowFast's DATASET_REGISTRY on
import (TRAIN.DATASET / TEST.DATASET ``gta_ssv2``, ``gta_ssv1`` and
``gta_kinetics``), and the DataLoader built from a config."""

from gta_slowfast.datasets import kinetics, ssv1, ssv2  # noqa: F401 (registers the datasets)
from gta_slowfast.datasets.loader import build_dataset, construct_loader, shuffle_dataset

__all__ = ["build_dataset", "construct_loader", "shuffle_dataset"]
