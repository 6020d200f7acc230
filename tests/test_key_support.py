"""Every PySlowFast key classified once; refused settings stop the plugin's
loop by name (gta_slowfast/engine/key_support.py)."""

import collections
import math

import pytest
from fvcore.common.config import CfgNode
from slowfast.config.defaults import get_cfg as pyslowfast_get_cfg
from slowfast.models.optimizer import construct_optimizer, get_epoch_lr

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.engine import key_support
from gta_slowfast.engine.key_support import HONOURED, NO_EFFECT, REFUSED
from gta_slowfast.models import build_model

from conftest import CONFIGS, REPO, small_cfg
from pipeline import run_net

main_only = pytest.mark.skipif(
    compat.GENERATION != "main", reason="the key exists on GitHub-main PySlowFast only"
)


def test_every_key_of_the_installed_defaults_matches_exactly_one_rule():
    keys = key_support.pyslowfast_keys()
    ambiguous = {key: [rule.pattern for rule in key_support.rules_for(key)] for key in keys}
    assert {key: rules for key, rules in ambiguous.items() if len(rules) != 1} == {}
    assert all(key_support.classify(key)[0] in key_support.CATEGORIES for key in keys)


def test_the_walk_covers_pyslowfasts_own_keys_and_the_completed_ones():
    raw = set(key_support.flatten(pyslowfast_get_cfg()))
    walked = set(key_support.pyslowfast_keys())
    assert raw <= walked
    if compat.GENERATION == "1.0":
        assert len(raw) == 106
    plugin_cfg = gta_slowfast.get_cfg()
    assert walked == {key for key in key_support.flatten(plugin_cfg) if not key.startswith("GTA.")}


def test_gta_keys_are_the_plugins_not_pyslowfasts_and_not_in_the_table():
    gta_keys = [key for key in key_support.flatten(gta_slowfast.get_cfg())
                if key.startswith("GTA.")]
    assert gta_keys
    assert not set(gta_keys) & set(key_support.flatten(compat.default_cfg()))
    for key in gta_keys:
        with pytest.raises(KeyError, match="plugin's own"):
            key_support.classify(key)
    assert not [rule.pattern for rule in key_support.TABLE if rule.pattern.startswith("GTA")]


def test_table_rows_are_unique_and_well_formed():
    patterns = collections.Counter(rule.pattern for rule in key_support.TABLE)
    assert [pattern for pattern, count in patterns.items() if count > 1] == []
    for rule in key_support.TABLE:
        assert rule.category in key_support.CATEGORIES and rule.note, rule
        assert set(rule.loops) <= set(key_support.LOOPS), rule
        assert rule.category != NO_EFFECT or rule.refused_if is None, rule


def test_summary_counts_every_key_once():
    counts = key_support.summary()
    keys = key_support.pyslowfast_keys()
    assert sum(counts.values()) == len(keys)
    assert counts[REFUSED] == sum(key_support.classify(key)[0] == REFUSED for key in keys)


def test_defaults_and_every_repo_config_are_accepted_in_both_loops():
    configs = [compat.default_cfg(), gta_slowfast.get_cfg()]
    configs += [gta_slowfast.load_config(str(path)) for path in CONFIGS]
    for cfg in configs:
        for loop in key_support.LOOPS:
            key_support.check_config_for_loop(cfg, loop)


def _other_value(value):
    """A value of the same type that differs from ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.0 if math.isfinite(value) else 0.0
    if isinstance(value, str):
        return value + "_other"
    if isinstance(value, (list, tuple)):
        return list(value)[:-1] if value else [1]
    raise AssertionError("no other value for {!r}".format(value))


def _set(cfg, key, value):
    *path, leaf = key.split(".")
    node = cfg
    for name in path:
        node = node[name]
    node[leaf] = value


def test_every_refused_key_set_is_named_with_its_value_in_one_error():
    cfg = gta_slowfast.get_cfg()
    refused = [key for key in key_support.pyslowfast_keys()
               if key_support.rule_for(key).category == REFUSED
               and key_support.rule_for(key).refused_if is None]
    assert refused
    for key in refused:
        _set(cfg, key, _other_value(key_support.flatten(cfg)[key]))
    with pytest.raises(ValueError) as error:
        key_support.check_config_for_loop(cfg, "plugin")
    message = str(error.value)
    for key in refused:
        assert "\n  {} = ".format(key) in message
    assert "{} setting(s) of this config".format(len(refused)) in message
    # SlowFast's own loop: only what gta_slowfast's run_net.py lacks (DEMO.ENABLE)
    # and what no PySlowFast code reads (AUG.RE_SPLIT, which the datasets refuse).
    in_both = [key for key in refused if "pyslowfast" in key_support.rule_for(key).loops]
    assert in_both == (["AUG.RE_SPLIT", "DEMO.ENABLE"] if compat.GENERATION == "main" else [])
    found = key_support.refused_settings(cfg, "pyslowfast")
    assert [key for key, _, _, _ in found] == in_both


@main_only
def test_multigrid_long_cycle_is_refused_by_name_in_the_plugins_loop_only():
    cfg = gta_slowfast.load_config(str(CONFIGS[0]), ["MULTIGRID.LONG_CYCLE", "True"])
    with pytest.raises(ValueError) as error:
        key_support.check_config_for_loop(cfg, "plugin")
    message = str(error.value)
    assert "MULTIGRID.LONG_CYCLE = True (PySlowFast's default False)" in message
    assert "GTA.LOOP pyslowfast" in message and "1 setting(s) of this config" in message
    key_support.check_config_for_loop(cfg, "pyslowfast")


def test_sub_batchnorm_is_refused_and_the_other_norms_accepted():
    cfg = gta_slowfast.get_cfg()
    for norm in ("batchnorm", "sync_batchnorm"):
        cfg.BN.NORM_TYPE = norm
        key_support.check_config_for_loop(cfg, "plugin")
    cfg.BN.NORM_TYPE = "sub_batchnorm"
    with pytest.raises(ValueError, match=r"BN.NORM_TYPE = 'sub_batchnorm'.*split statistics"):
        key_support.check_config_for_loop(cfg, "plugin")
    assert key_support.classify("BN.NORM_TYPE")[0] == HONOURED


def _config(name, *opts):
    return gta_slowfast.load_config(str(REPO / "configs" / name), list(opts))


@pytest.mark.parametrize("config, name", [
    ("SSv2/C2D_GTA_8x1_R50.yaml", "GTAResNet"),
    ("SSv2/C2D_8x1_R50.yaml", "ResNet"),
    ("SSv2/SLOWFAST_GTA_16x8_R50.yaml", "GTASlowFast"),
    ("SSv2/SLOWFAST_16x8_R50.yaml", "SlowFast"),
])
def test_the_name_of_the_model_built_is_accepted_in_both_loops(config, name):
    cfg = _config(config, "MODEL.MODEL_NAME", name)
    for loop in key_support.LOOPS:
        key_support.check_config_for_loop(cfg, loop)


@pytest.mark.parametrize("name", ["X3D", "MViT", "ContrastiveModel", "MaskMViT"])
def test_models_the_plugin_does_not_build_are_refused_in_its_loop_only(name):
    cfg = _config("SSv2/C2D_GTA_8x1_R50.yaml", "MODEL.MODEL_NAME", name)
    refusal = r"MODEL.MODEL_NAME = '{}'.*GTA.LOOP pyslowfast".format(name)
    with pytest.raises(ValueError, match=refusal):
        key_support.check_config_for_loop(cfg, "plugin")
    key_support.check_config_for_loop(cfg, "pyslowfast")


@pytest.mark.skipif(compat.MODEL_REGISTRY is None,
                    reason="pyslowfast 1.0 picks the model class from MODEL.ARCH")
@pytest.mark.parametrize("config, name, refusing_loops", [
    # PySlowFast's ResNet has neither GTA blocks nor TSM's shift: GTA.BLOCK
    # and GTA.TEMPORAL_SHIFT would be ignored in SlowFast's loop, MODEL_NAME
    # in the plugin's.
    ("SSv2/C2D_GTA_8x1_R50.yaml", "ResNet", key_support.LOOPS),
    ("SSv2/TSM_8x1_R50.yaml", "ResNet", key_support.LOOPS),
    ("SSv2/SLOWFAST_GTA_16x8_R50.yaml", "SlowFast", key_support.LOOPS),
    # The plugin's loop builds GTASlowFast for MODEL.ARCH slowfast; SlowFast's
    # builds the class named.
    ("SSv2/SLOWFAST_16x8_R50.yaml", "GTAResNet", ("plugin",)),
    ("SSv2/C2D_8x1_R50.yaml", "SlowFast", ("plugin",)),
])
def test_a_model_name_other_than_the_model_a_loop_builds_is_refused(config, name,
                                                                     refusing_loops):
    cfg = _config(config, "MODEL.MODEL_NAME", name)
    for loop in key_support.LOOPS:
        if loop in refusing_loops:
            with pytest.raises(ValueError, match=r"MODEL.MODEL_NAME = '{}'".format(name)):
                key_support.check_config_for_loop(cfg, loop)
        else:
            key_support.check_config_for_loop(cfg, loop)


@pytest.mark.skipif(compat.MODEL_REGISTRY is not None,
                    reason="GitHub main picks the model class from MODEL.MODEL_NAME")
def test_on_pyslowfast_1_0_any_name_of_the_plugins_models_is_accepted():
    for name in key_support.PLUGIN_MODEL_NAMES:
        key_support.check_config_for_loop(
            _config("SSv2/SLOWFAST_GTA_16x8_R50.yaml", "MODEL.MODEL_NAME", name), "plugin")


@pytest.mark.parametrize("loop", key_support.LOOPS)
def test_the_ensemble_view_sweep_of_pyslowfasts_run_net_is_refused_in_both_loops(loop):
    cfg = gta_slowfast.get_cfg()
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 3
    key_support.check_config_for_loop(cfg, loop)
    cfg.TEST.NUM_ENSEMBLE_VIEWS = -1
    with pytest.raises(ValueError, match=r"TEST.NUM_ENSEMBLE_VIEWS = -1 .*tools/run_net.py"):
        key_support.check_config_for_loop(cfg, loop)


@main_only
@pytest.mark.parametrize("key", ["TENSORBOARD.MODEL_VIS.ENABLE",
                                 "TENSORBOARD.WRONG_PRED_VIS.ENABLE"])
def test_visualisation_after_testing_is_refused_only_with_tensorboard(key):
    cfg = gta_slowfast.get_cfg()
    _set(cfg, key, True)
    key_support.check_config_for_loop(cfg, "plugin")  # PySlowFast's run_net ignores it too
    cfg.TENSORBOARD.ENABLE = True
    for loop in key_support.LOOPS:
        with pytest.raises(ValueError, match=key.replace(".", r"\.") + " = True"):
            key_support.check_config_for_loop(cfg, loop)


@pytest.mark.skipif(compat.GENERATION != "1.0", reason="DATA.CROP_SIZE is pyslowfast 1.0's")
def test_a_legacy_crop_size_other_than_the_training_crop_is_refused():
    cfg = gta_slowfast.get_cfg()
    cfg.DATA.TRAIN_CROP_SIZE = cfg.DATA.CROP_SIZE = 112
    key_support.check_config_for_loop(cfg, "plugin")
    cfg.DATA.CROP_SIZE = 256
    with pytest.raises(ValueError, match=r"DATA.CROP_SIZE = 256 .*DATA.TRAIN_CROP_SIZE"):
        key_support.check_config_for_loop(cfg, "plugin")


def test_a_key_the_table_does_not_know_is_refused_unless_at_its_default():
    cfg = gta_slowfast.get_cfg()
    cfg.DATA.NEW_SWITCH = True
    with pytest.raises(ValueError, match=r"DATA.NEW_SWITCH = True: gta_slowfast does not know"):
        key_support.check_config_for_loop(cfg, "plugin")
    with pytest.raises(ValueError, match="not valid"):
        key_support.check_config_for_loop(gta_slowfast.get_cfg(), "auto")


READ = set()


class RecordingCfg(CfgNode):
    """A config that records each leaf key read from it (``READ``)."""

    def __getattr__(self, name):
        value = super().__getattr__(name)
        if not isinstance(value, CfgNode):
            READ.add(self.__dict__.get("key_prefix", "") + name)
        return value


def _recording(cfg):
    recording = RecordingCfg(cfg)
    nodes = [(recording, "")]
    while nodes:
        node, prefix = nodes.pop()
        node.__dict__["key_prefix"] = prefix
        nodes += [(child, prefix + name + ".") for name, child in node.items()
                  if isinstance(child, CfgNode)]
    return recording


@pytest.mark.parametrize("config", ["SSv2/C2D_GTA_8x1_R50.yaml", "SSv2/SLOWFAST_GTA_16x8_R50.yaml"])
def test_keys_pyslowfasts_model_optimizer_and_schedule_read_are_never_of_no_effect(config):
    cfg = _recording(small_cfg(config))
    READ.clear()
    model = build_model(cfg)
    construct_optimizer(model, cfg)
    get_epoch_lr(0.5, cfg)
    read = {key for key in READ if not key.startswith("GTA.")}
    assert {"RESNET.DEPTH", "NONLOCAL.LOCATION", "SOLVER.BASE_LR"} <= read
    assert {key: key_support.classify(key) for key in read
            if key_support.classify(key)[0] == NO_EFFECT} == {}


@main_only
def test_run_net_in_the_plugins_loop_refuses_multigrid_before_any_work(tiny_ssv2, tmp_path):
    result = run_net(tiny_ssv2, tmp_path / "out", "MULTIGRID.LONG_CYCLE", "True",
                     "SOLVER.MAX_EPOCH", "1")
    assert result.returncode != 0
    assert "MULTIGRID.LONG_CYCLE = True" in result.output and "GTA.LOOP pyslowfast" in result.output
    assert not (tmp_path / "out").exists()


def test_the_plugins_training_keys_are_refused_where_slowfasts_own_loop_trains():
    cfg = gta_slowfast.get_cfg()
    cfg.GTA.TRAIN.CHECKPOINT_MINUTES = 30.0
    key_support.check_config_for_loop(cfg, "plugin")
    with pytest.raises(ValueError) as error:
        key_support.check_config_for_loop(cfg, "pyslowfast")
    message = str(error.value)
    assert "1 setting(s) of this config" in message
    assert ("GTA.TRAIN.CHECKPOINT_MINUTES = 30.0 (gta_slowfast's default 0.0): read by the "
            "plugin's training loop only" in message and "GTA.LOOP plugin" in message)


@pytest.mark.parametrize("loop", key_support.LOOPS)
def test_every_data_key_set_is_refused_where_a_phase_reads_pyslowfasts_own_dataset(loop):
    cfg = gta_slowfast.get_cfg()
    data_keys = [key for key in key_support.flatten(cfg) if key.startswith("GTA.DATA.")]
    assert len(data_keys) >= 9
    for key in data_keys:
        _set(cfg, key, _other_value(key_support.flatten(cfg)[key]))
    cfg.TRAIN.DATASET, cfg.TEST.DATASET = "gta_ssv2", "gta_ssv2"
    key_support.check_config_for_loop(cfg, loop)
    for phase in ("TRAIN", "TEST"):
        cfg[phase].DATASET = "ssv2"
        with pytest.raises(ValueError) as error:
            key_support.check_config_for_loop(cfg, loop)
        message = str(error.value)
        assert "{} setting(s) of this config".format(len(data_keys)) in message
        for key in data_keys:
            assert "\n  {} = ".format(key) in message
        assert "{}.DATASET ssv2 is PySlowFast's own".format(phase) in message
        cfg[phase].ENABLE = False  # that phase does not run: nothing reads its dataset
        key_support.check_config_for_loop(cfg, loop)
        cfg[phase].ENABLE = True
        cfg[phase].DATASET = "gta_ssv2"


def test_data_values_that_ask_for_pyslowfasts_own_pipeline_pass_with_its_dataset():
    cfg = gta_slowfast.load_config(str(REPO / "configs" / "SSv2" / "SLOWFAST_GTA_16x8_R50.yaml"),
                                   ["TRAIN.DATASET", "ssv2", "TEST.DATASET", "ssv2"])
    assert cfg.GTA.DATA.RESIZE == []
    for key in key_support.PYSLOWFAST_DATA_VALUES:
        _set(cfg, key, [])
    for loop in key_support.LOOPS:
        key_support.check_config_for_loop(cfg, loop)
    cfg.GTA.DATA.RESIZE = [128, 160]
    with pytest.raises(ValueError, match=r"GTA.DATA.RESIZE = \[128, 160\]"):
        key_support.check_config_for_loop(cfg, "pyslowfast")


@pytest.mark.parametrize("loss", ["mse", "no_such_loss"])
def test_a_loss_that_cannot_train_a_classifier_is_refused_in_the_plugins_loop(loss):
    cfg = gta_slowfast.get_cfg()
    cfg.MODEL.LOSS_FUNC = loss
    with pytest.raises(ValueError, match="MODEL.LOSS_FUNC"):
        key_support.check_config_for_loop(cfg, "plugin")
    key_support.check_config_for_loop(cfg, "pyslowfast")
