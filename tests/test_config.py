"""Loading configs: every GTA key documented, unknown keys named with hints."""

import re

import pytest

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.config import add_gta_config

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
    """Every leaf of the GTA node is assigned in the package's source on a
    line of its own, under a comment line that documents it."""
    defined, undocumented = set(), []
    for path in sorted((REPO / "gta_slowfast").rglob("*.py")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            match = re.match(r"\s*cfg\.(GTA\.[A-Z0-9_.]+) = ", line)
            if match and "CfgNode()" not in line:
                defined.add(match.group(1))
                if not lines[number - 1].strip().startswith("#"):
                    undocumented.append(match.group(1))
    assert defined == gta_leaf_keys(gta_slowfast.get_cfg().GTA)
    assert undocumented == []


def test_add_gta_config_adds_one_node():
    from slowfast.config.defaults import get_cfg

    cfg = get_cfg()
    before = set(cfg.keys())
    add_gta_config(cfg)
    # Besides GTA, only GitHub main's own top-level keys that complete_config
    # gives pyslowfast 1.0 (LOG_MODEL_INFO).
    completed = {"LOG_MODEL_INFO"} if compat.GENERATION == "1.0" else set()
    assert set(cfg.keys()) - before == {"GTA"} | completed
