"""Loading configs: every GTA key documented, unknown keys named with hints."""

import re

import pytest

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.config import add_gta_config, is_multi_pathway

from conftest import REPO

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


def test_every_gta_key_is_documented_where_defined():
    source = (REPO / "gta_slowfast" / "config.py").read_text()
    lines = source.splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\s*cfg\.GTA\.[A-Z_.]+ = ", line) and "CfgNode()" not in line:
            assert lines[number - 1].strip().startswith("#"), line


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
