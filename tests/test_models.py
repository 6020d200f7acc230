"""Models built from YAML: the swap, the configs, order sensitivity, errors."""

import copy
import subprocess
import sys

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.flop_count import clip_inputs
from gta_slowfast.blocks import DecoupledAttentionBlock
from gta_slowfast.models.video_models import stage_num_frames

from conftest import CONFIGS, REPO, TABLE3_ROWS, randomize_norms, small_cfg


def attention_blocks(model):
    return [m for m in model.modules() if isinstance(m, DecoupledAttentionBlock)]


def nonlocal_blocks(model):
    return [m for m in model.modules() if isinstance(m, compat.Nonlocal)]


def assert_gradients_reach_every_block_parameter(model, inputs):
    """One training step's backward gives every parameter of every inserted
    block a non-zero gradient (norms randomised, so no block is the identity)."""
    randomize_norms(model, torch.Generator().manual_seed(0)).train()
    out = model(inputs)
    (out * torch.randn_like(out)).sum().backward()
    blocks = attention_blocks(model)
    assert blocks
    for block in blocks:
        for name, parameter in block.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().max() > 0, name
    return out


def test_import_needs_no_detectron2():
    code = (
        "import importlib.util, sys; import gta_slowfast; "
        "assert importlib.util.find_spec('detectron2') is None; "
        "assert 'detectron2' not in sys.modules, 'stub left behind'; "
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.skipif(compat.DETECTRON2_AVAILABLE, reason="detectron2 is installed")
def test_detection_head_without_detectron2_says_so():
    cfg = small_cfg("SSv2/C2D_8x1_R50.yaml", "DETECTION.ENABLE", True)
    with pytest.raises(ImportError, match="detectron2"):
        gta_slowfast.build_model(cfg)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_config_builds_with_its_blocks(config):
    cfg = gta_slowfast.load_config(str(config), ["NUM_GPUS", 0])
    model = gta_slowfast.build_model(cfg)
    expected = sum(
        len(cfg.NONLOCAL.LOCATION[stage][pathway])
        for stage in range(4)
        for pathway in range(len(cfg.NONLOCAL.LOCATION[stage]))
    )
    if cfg.GTA.BLOCK == "NL":
        assert len(nonlocal_blocks(model)) == expected
        assert not attention_blocks(model)
    else:
        assert len(attention_blocks(model)) == expected
        assert not nonlocal_blocks(model)


@pytest.mark.parametrize(
    "config",
    ["SSv2/C2D_GTA_8x1_R50.yaml", "Kinetics/C2D_GTA_8x8_R50.yaml",
     "SSv2/C2D_GTA_16x1_R50.yaml"],
)
def test_c2d_gta_trains_every_block_parameter(config):
    cfg = small_cfg(config)
    model = gta_slowfast.build_model(cfg)
    inputs = clip_inputs(cfg, crop_size=cfg.DATA.TRAIN_CROP_SIZE, batch_size=2)
    assert assert_gradients_reach_every_block_parameter(model, inputs).shape == (2, 5)


@pytest.mark.parametrize(
    "config", ["SSv2/SLOWFAST_GTA_16x8_R50.yaml", "Kinetics/SLOWFAST_GTA_8x8_R101.yaml"]
)
def test_slowfast_gta_blocks_sit_in_the_slow_pathway(config):
    cfg = small_cfg(config, "DATA.NUM_FRAMES", 16, width=16)
    model = gta_slowfast.build_model(cfg).eval()
    blocks = attention_blocks(model)
    assert len(blocks) == 5
    for block in blocks:
        assert block.terms["PIXEL_GTA"].mixing.num_frames == 16 // cfg.SLOWFAST.ALPHA
    with torch.no_grad():
        out = model(clip_inputs(cfg, batch_size=1))
    assert out.shape == (1, 5)


def test_temporal_size_follows_arch_pool_and_pathway():
    kinetics = small_cfg("Kinetics/C2D_GTA_8x8_R50.yaml")  # slow_c2d: no temporal pool
    assert [stage_num_frames(kinetics, s, 0) for s in range(4)] == [8, 8, 8, 8]
    pooled = small_cfg("Kinetics/C2D_GTA_8x8_R50.yaml", "MODEL.ARCH", "c2d")  # T / 2 after res2
    assert [stage_num_frames(pooled, s, 0) for s in range(4)] == [8, 4, 4, 4]
    ssv2 = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")  # slow_c2d: no temporal pool
    assert [stage_num_frames(ssv2, s, 0) for s in range(4)] == [8, 8, 8, 8]
    slowfast = small_cfg("SSv2/SLOWFAST_GTA_16x8_R50.yaml")
    assert stage_num_frames(slowfast, 1, 0) == 64 // 4
    assert stage_num_frames(slowfast, 1, 1) == 64


@pytest.mark.parametrize("block", TABLE3_ROWS + ["DNL", "GTA"])
def test_table3_rows_are_a_yaml_change(block):
    """The blocks hold the named terms, and each term's parameters learn."""
    cfg = small_cfg("SSv2/C2D_NLN_8x1_R50.yaml", "GTA.BLOCK", block, width=4)
    model = gta_slowfast.build_model(cfg)
    assert len(attention_blocks(model)) == 5
    named = set({"DNL": "SA+TA", "GTA": "SA+PIXEL_GTA+REGION_GTA"}.get(block, block).split("+"))
    for module in attention_blocks(model):
        assert {name.split(".")[1] for name in module.state_dict() if name.startswith("terms.")} == named
    assert_gradients_reach_every_block_parameter(model, clip_inputs(cfg, batch_size=2))


@pytest.mark.parametrize(
    "location, count",
    [([[[]], [[1]], [[]], [[]]], 1), ([[[]], [[]], [[0, 2, 4]], [[]]], 3),
     ([[[]], [[]], [[]], [[1]]], 1), ([[[0]], [[1, 3]], [[1, 3, 5]], [[0]]], 7)],
)
def test_table2_positions_are_a_yaml_change(location, count):
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "NONLOCAL.LOCATION", str(location))
    assert len(attention_blocks(gta_slowfast.build_model(cfg))) == count


@pytest.mark.parametrize("groups", [1, 2, 4, 8, 16])
def test_table4_group_count_is_a_yaml_change(groups):
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "GTA.NUM_GROUPS", groups, width=16)
    blocks = attention_blocks(gta_slowfast.build_model(cfg))
    assert {b.terms["PIXEL_GTA"].mixing.weight.shape for b in blocks} == {(groups, groups, 8, 8)}


def test_gta_model_is_the_backbone_at_init():
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")
    model = gta_slowfast.build_model(cfg).eval()
    backbone = copy.deepcopy(model)
    for stage in (backbone.s3, backbone.s4):
        for name, child in list(stage.named_children()):
            if isinstance(child, DecoupledAttentionBlock):
                setattr(stage, name, torch.nn.Identity())
    clip = clip_inputs(cfg, batch_size=2)[0]
    with torch.no_grad():
        assert torch.equal(model([clip]), backbone([clip]))


@pytest.mark.parametrize(
    "config, block, order_blind",
    [("SSv2/C2D_8x1_R50.yaml", "NL", True),
     ("SSv2/C2D_NLN_8x1_R50.yaml", "NL", True),
     ("SSv2/C2D_NLN_8x1_R50.yaml", "DNL", True),
     ("SSv2/C2D_NLN_8x1_R50.yaml", "SA+TA", True),
     ("SSv2/C2D_NLN_8x1_R50.yaml", "SA+TAPE", False),
     ("SSv2/C2D_NLN_8x1_R50.yaml", "GTA", False),
     ("SSv2/C2D_NLN_8x1_R50.yaml", "PIXEL_GTA", False),
     ("SSv2/TSM_8x1_R50.yaml", "NL", False),
     ("SSv2/TSM_NLN_8x1_R50.yaml", "DNL", False),
     ("SSv2/TSM_GTA_8x1_R50.yaml", "GTA", False)],
)
def test_c2d_sees_time_reversal_only_with_positions_gta_or_shift(config, block, order_blind):
    cfg = small_cfg(config, "GTA.BLOCK", block)
    # Every norm random: inserted blocks and the residual branches (zero at
    # init with ZERO_INIT_FINAL_BN, which would hide the shift) are live.
    model = randomize_norms(gta_slowfast.build_model(cfg))
    model.head.act = torch.nn.Identity()  # compare logits, not saturated softmax
    model = model.double().eval()
    clip = torch.randn(2, 3, 8, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        forward = model([clip])
        backward = model([clip.flip(2)])
    difference = (forward - backward).abs().max().item()
    if order_blind:
        assert difference < 1e-9
    else:
        assert difference > 1e-4


def test_location_past_the_blocks_of_a_stage_is_an_error():
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "NONLOCAL.LOCATION",
                    "[[[]], [[1, 3, 4]], [[]], [[]]]")
    with pytest.raises(ValueError, match=r"NONLOCAL.LOCATION\[1\]\[0\].*0\.\.3"):
        gta_slowfast.build_model(cfg)


def test_group_count_not_dividing_channels_is_an_error():
    with pytest.raises(ValueError, match="GTA.NUM_GROUPS"):
        gta_slowfast.build_model(small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "GTA.NUM_GROUPS", 3))


def test_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="GTA.BLOCK"):
        gta_slowfast.build_model(small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "GTA.BLOCK", "SA+XYZ"))


def test_clip_of_another_length_names_both_lengths():
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")
    model = gta_slowfast.build_model(cfg).eval()
    short = torch.randn(1, 3, 4, 64, 64)
    with pytest.raises(ValueError, match=r"T=8.*T=4"):
        model([short])
    long = torch.randn(1, 3, 16, 64, 64)
    with pytest.raises(ValueError, match=r"T=8.*T=16"):
        model([long])
    cfg.GTA.TEMPORAL_ADAPT = "interpolate"
    adapted = gta_slowfast.build_model(cfg).eval()
    with torch.no_grad():  # PySlowFast's head pools over at least NUM_FRAMES
        assert adapted([long]).shape == (1, 5)


def test_former_temporal_adapt_value_names_the_new_one():
    with pytest.raises(ValueError, match="GTA.TEMPORAL_ADAPT 'none'.*set GTA.TEMPORAL_ADAPT: error"):
        gta_slowfast.load_config(str(REPO / "configs" / "SSv2" / "C2D_GTA_8x1_R50.yaml"),
                                 ["GTA.TEMPORAL_ADAPT", "none"])


@pytest.mark.parametrize("arch", ["slow_c2d", "c2d_nopool"])
def test_both_names_of_the_2d_arch_build(arch):
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "MODEL.ARCH", arch)
    assert len(attention_blocks(gta_slowfast.build_model(cfg))) == 5


def test_test_crop_shares_weights_with_training_crop():
    """A model built for 64-pixel training crops runs the blocks and backbone
    of a model built for 96-pixel crops with the same weights on a 96-pixel
    test crop: no parameter depends on the crop (the state dict loads
    strictly) and the features reaching the head are equal. (PySlowFast's
    head pools over the training crop's grid, so only it differs.)"""
    model = randomize_norms(gta_slowfast.build_model(small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")))
    built_for_test_crop = gta_slowfast.build_model(
        small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "DATA.TRAIN_CROP_SIZE", 96))
    built_for_test_crop.load_state_dict(model.state_dict(), strict=True)
    features = []
    for network in (model, built_for_test_crop):
        network.eval().head.register_forward_hook(
            lambda module, args, out: features.append(args[0][0]))
    clip = torch.randn(1, 3, 8, 96, 96)
    with torch.no_grad():
        assert model([clip.clone()]).shape == (1, 5)
        built_for_test_crop([clip.clone()])
    assert features[0].shape[-2:] == (3, 3) and features[0].abs().max() > 1e-3
    torch.testing.assert_close(features[0], features[1])


@pytest.mark.skipif(compat.MODEL_REGISTRY is None, reason="PySlowFast 1.0 has no registry")
def test_models_are_in_pyslowfast_registry():
    assert compat.MODEL_REGISTRY.get("GTAResNet") is gta_slowfast.models.GTAResNet
    assert compat.MODEL_REGISTRY.get("GTASlowFast") is gta_slowfast.models.GTASlowFast


NORM_TYPES = ["batchnorm", "sub_batchnorm", "sync_batchnorm"] if compat.GENERATION == "main" else [None]


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_inserted_blocks_use_the_norm_of_pyslowfast_blocks(norm_type):
    opts = [] if norm_type is None else ["BN.NORM_TYPE", norm_type, "BN.NUM_SPLITS", 2]
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", *opts)
    model = gta_slowfast.build_model(cfg)
    stock_norm = type(model.s3.pathway0_res0.branch2.a_bn)
    for block in attention_blocks(model):
        assert type(block.bn) is stock_norm
        assert torch.count_nonzero(block.bn.weight) == 0  # identity start
    assert model.train()(clip_inputs(cfg, batch_size=2)).shape == (2, 5)


def test_sync_batchnorm_is_plain_batchnorm_where_it_cannot_run(caplog):
    cfg = small_cfg("SSv2/SLOWFAST_GTA_16x8_R50.yaml", "DATA.NUM_FRAMES", 16, width=16)
    assert cfg.BN.NORM_TYPE == "sync_batchnorm"
    with caplog.at_level("WARNING", logger="gta_slowfast.compat"):
        model = gta_slowfast.build_model(cfg)
    norm_base = torch.nn.modules.batchnorm._NormBase
    norms = {type(m) for m in model.modules() if isinstance(m, norm_base)}
    assert norms == {torch.nn.BatchNorm3d}
    # One process cannot form groups of the config's 4 devices.
    main_reason = "1 process(es) per machine do not form groups of BN.NUM_SYNC_DEVICES = 4"
    reason = main_reason if compat.GENERATION == "main" else "has no synchronised BatchNorm"
    assert "building plain BatchNorm instead" in caplog.text and reason in caplog.text


@pytest.mark.skipif(compat.GENERATION != "main", reason="pyslowfast 1.0 has no sync BN")
def test_sync_batchnorm_needs_process_groups_of_num_sync_devices():
    cfg = small_cfg("SSv2/SLOWFAST_16x8_R50.yaml")  # NUM_GPUS 0: gloo carries it on the CPU
    cfg.BN.NUM_SYNC_DEVICES = 1
    assert compat.sync_batchnorm_unavailable(cfg) is None
    cfg.BN.NUM_SYNC_DEVICES = 4
    assert "groups of BN.NUM_SYNC_DEVICES = 4" in compat.sync_batchnorm_unavailable(cfg)
    cfg.BN.GLOBAL_SYNC = True
    assert compat.sync_batchnorm_unavailable(cfg) is None
