"""Loading configs: every GTA key documented, unknown keys named with hints,
bad GTA values refused by one validator before any work."""

import inspect
import re

import pytest

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.config import add_gta_config, is_multi_pathway, nonlocal_widths

from conftest import REPO, small_cfg

CONFIG = str(REPO / "configs" / "SSv2" / "C2D_GTA_8x1_R50.yaml")


@pytest.mark.parametrize(
    "opts, key, hint",
    [(["GTA.BLOK", "GTA"], "GTA.BLOK", "GTA.BLOCK"),
     (["SOLVER.MAX_EPOCHS", 3], "SOLVER.MAX_EPOCHS", "SOLVER.MAX_EPOCH")],
)
def test_unknown_key_from_opts_names_it_and_the_closest_key(opts, key, hint):
    with pytest.raises(KeyError) as error:
        gta_slowfast.load_config(CONFIG, opts)
    assert key in str(error.value) and "did you mean " + hint in str(error.value)


def test_unknown_key_in_a_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("_BASE_: {}\nGTA:\n  NUM_GROPS: 4\n".format(CONFIG))
    with pytest.raises(KeyError, match=r"GTA.NUM_GROPS \(in .*typo.yaml.*did you mean GTA.NUM_GROUPS"):
        gta_slowfast.load_config(str(path))


def gta_leaf_keys(node, prefix="GTA"):
    """The full names of the leaf keys under ``node`` (a CfgNode)."""
    keys = set()
    for name, value in node.items():
        if isinstance(value, dict):
            keys |= gta_leaf_keys(value, prefix + "." + name)
        else:
            keys.add(prefix + "." + name)
    return keys


def test_every_gta_key_is_documented_where_defined():
    """Every leaf of the GTA node is assigned in ``add_gta_config`` on a line
    of its own, under a comment line that documents it."""
    defined, undocumented = set(), []
    lines = inspect.getsource(add_gta_config).splitlines()
    for number, line in enumerate(lines):
        match = re.match(r"\s*cfg\.(GTA\.[A-Z0-9_.]+) = ", line)
        if match and "CfgNode()" not in line:
            defined.add(match.group(1))
            if not lines[number - 1].strip().startswith("#"):
                undocumented.append(match.group(1))
    assert defined == gta_leaf_keys(gta_slowfast.get_cfg().GTA)
    assert undocumented == []


def test_add_gta_config_adds_the_gta_node_only():
    from slowfast.config.defaults import get_cfg

    cfg = get_cfg()
    before = cfg.dump()
    add_gta_config(cfg)
    gta = cfg.pop("GTA")
    assert gta.BLOCK == "NL" and cfg.dump() == before


def test_get_cfg_is_the_completed_defaults_plus_gta():
    from slowfast.config.defaults import get_cfg

    cfg = gta_slowfast.get_cfg()
    assert cfg == add_gta_config(compat.complete_config(get_cfg()))
    # complete_config's work, on both generations: the 2D arch single-pathway
    # under both names, and SOLVER.WARMUP_EPOCHS a float.
    assert {"slow_c2d", "c2d_nopool"} <= set(cfg.MODEL.SINGLE_PATHWAY_ARCH)
    assert isinstance(cfg.SOLVER.WARMUP_EPOCHS, float)


@pytest.mark.parametrize("arch", sorted(set(compat.POOL1) | {"slow_c2d", "c2d_nopool"}))
def test_is_multi_pathway_follows_the_archs_pathways(arch):
    cfg = gta_slowfast.get_cfg()
    cfg.MODEL.ARCH = arch
    # PySlowFast's temporal pool kernels list one entry per pathway.
    assert is_multi_pathway(cfg) == (len(compat.POOL1[compat.installed_arch(arch)]) == 2)


# Each bad GTA value, with the config's other keys as in CONFIG, and the text
# its error gives.
BAD_GTA_VALUES = [
    (["GTA.BLOCK", "SA+XYZ"], "terms 'SA+XYZ' (GTA.BLOCK) is not valid"),
    (["GTA.NUM_GROUPS", 3], "GTA.NUM_GROUPS 3 does not divide the inner width 256"),
    (["GTA.NUM_GROUPS", 0], "GTA.NUM_GROUPS 0 is below 1"),
    (["GTA.NUM_REGIONS", 0], "GTA.NUM_REGIONS 0 is below 1"),
    (["GTA.REGION_ASSIGNMENT", "fixed"], "GTA.REGION_ASSIGNMENT 'fixed' is not valid"),
    (["GTA.TEMPORAL_ADAPT", "resize"], "GTA.TEMPORAL_ADAPT 'resize' is not valid"),
    (["GTA.TEMPORAL_ADAPT", "none"], "GTA.TEMPORAL_ADAPT 'none' is now called 'error'"),
    (["GTA.TA_INPUT", "y"], "GTA.TA_INPUT 'y' is not valid"),
    (["GTA.LOOP", "slowfast"], "GTA.LOOP 'slowfast' is not valid"),
    (["GTA.DATA.SAMPLING", "uniform"], "GTA.DATA.SAMPLING 'uniform' is not valid"),
    (["GTA.DATA.SSV2_FORMAT", "frame"], "GTA.DATA.SSV2_FORMAT 'frame' is not valid"),
    (["GTA.DATA.RESIZE", "[240]"], "GTA.DATA.RESIZE [240] is not [] or [H, W]"),
    (["GTA.DATA.CROP_SCALES", "[1.0, 1.2]"], "GTA.DATA.CROP_SCALES [1.0, 1.2] holds scales"),
    (["GTA.DATA.MAX_RETRIES", -1], "GTA.DATA.MAX_RETRIES -1 is below 0"),
    (["GTA.DATA.FLIP_LABEL_SWAP", True, "GTA.DATA.NO_FLIP_WORDS", "['left', 'right', 'up']"],
     "GTA.DATA.NO_FLIP_WORDS ['left', 'right', 'up'] as pairs"),
    (["GTA.DATA.FLIP_LABEL_SWAP", True, "DATA.RANDOM_FLIP", False],
     "GTA.DATA.FLIP_LABEL_SWAP with DATA.RANDOM_FLIP False"),
    (["GTA.TEMPORAL_SHIFT.STAGES", "[1, 3]"], "GTA.TEMPORAL_SHIFT.STAGES [1, 3] names stages [1]"),
    (["GTA.TEMPORAL_SHIFT.FRACTION", 0.6], "GTA.TEMPORAL_SHIFT.FRACTION 0.6 is not in (0, 0.5]"),
    (["GTA.TEMPORAL_SHIFT.ENABLE", True, "MODEL.ARCH", "slowfast"],
     "GTA.TEMPORAL_SHIFT.ENABLE: the temporal shift is for single-pathway"),
    (["GTA.TRAIN.CHECKPOINT_MINUTES", -1.0], "GTA.TRAIN.CHECKPOINT_MINUTES -1.0 is below 0"),
]


@pytest.mark.parametrize("opts, message", BAD_GTA_VALUES,
                         ids=["{}={}".format(*opts[:2]) for opts, _ in BAD_GTA_VALUES])
def test_bad_gta_value_is_refused_naming_the_key_before_any_data_is_read(opts, message, tmp_path):
    """By load_config, and, for a config merged without it, by build_model
    and by a dataset, before it looks at its (absent) files."""
    from gta_slowfast.datasets.ssv2 import Gta_ssv2

    with pytest.raises(ValueError, match=re.escape(message)):
        gta_slowfast.load_config(CONFIG, opts)
    cfg = gta_slowfast.get_cfg()
    cfg.merge_from_file(CONFIG)
    cfg.merge_from_list([str(o) for o in opts] + ["NUM_GPUS", "0",
                        "DATA.PATH_TO_DATA_DIR", str(tmp_path / "absent")])
    with pytest.raises(ValueError, match=re.escape(message)):
        gta_slowfast.build_model(cfg)
    with pytest.raises(ValueError, match=re.escape(message)):
        Gta_ssv2(cfg, "train")


@pytest.mark.parametrize("config", ["SSv2/C2D_GTA_8x1_R50.yaml",
                                    "SSv2/SLOWFAST_GTA_16x8_R50.yaml"])
def test_nonlocal_widths_are_the_built_blocks_widths(config):
    from gta_slowfast.models.video_models import inserted_blocks

    cfg = small_cfg(config, "GTA.BLOCK", "NL")
    blocks = inserted_blocks(gta_slowfast.build_model(cfg))
    built = {(int(prefix[1]) - 2, int(prefix.split("pathway")[1][0])): block.dim
             for prefix, block in blocks.items()}
    assert built == nonlocal_widths(cfg) and len(set(built.values())) > 1
