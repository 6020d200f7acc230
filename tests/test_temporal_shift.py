"""TSM's residual temporal shift: the shift against a direct indexing
reference, the conv that carries it, and the shift in PySlowFast's ResNet."""

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.flop_count import clip_inputs, count_gflops, count_params
from gta_slowfast.models import DecoupledAttentionBlock
from gta_slowfast.blocks import TemporalShiftConv3d, temporal_shift

from conftest import randomize_norms, small_cfg


def reference_shift(x, fold):
    """Frame by frame and channel by channel: channels [0, fold) of frame t
    are those of frame t + 1, channels [fold, 2 fold) those of frame t - 1,
    zero where that frame does not exist; the rest are frame t's."""
    n, c, t, h, w = x.shape
    out = torch.zeros_like(x)
    for frame in range(t):
        for channel in range(c):
            if channel < fold:
                source = frame + 1
            elif channel < 2 * fold:
                source = frame - 1
            else:
                source = frame
            if 0 <= source < t:
                out[:, channel, frame] = x[:, channel, source]
    return out


@pytest.mark.parametrize(
    "channels, frames, fraction, fold",
    [(16, 8, 0.125, 2), (64, 8, 0.125, 8), (20, 5, 0.125, 2), (12, 3, 0.25, 3),
     (10, 4, 0.5, 5), (8, 1, 0.125, 1)],
)
def test_shift_matches_indexing_reference(channels, frames, fraction, fold):
    x = torch.randn(2, channels, frames, 3, 4, dtype=torch.float64)
    assert torch.equal(temporal_shift(x, fraction), reference_shift(x, fold))


def test_shift_gradient_is_the_reverse_shift():
    x = torch.randn(1, 16, 6, 2, 2, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(1, 16, 6, 2, 2, dtype=torch.float64)
    temporal_shift(x, 0.125).backward(grad)
    # <shift(x), g> = <x, shift^T(g)>: shift^T moves the same channels the
    # other way, i.e. the shift of the time-reversed gradient, reversed.
    want = reference_shift(grad.flip(2), 2).flip(2)
    assert torch.equal(x.grad, want)


def test_shift_conv_is_the_conv_of_the_shifted_input():
    conv = torch.nn.Conv3d(16, 8, (3, 1, 1), padding=(1, 0, 0)).double()
    shifted = TemporalShiftConv3d.from_conv(conv, 0.25)
    assert list(dict(shifted.named_parameters())) == list(dict(conv.named_parameters()))
    assert all(torch.equal(a, b) for a, b in zip(shifted.parameters(), conv.parameters()))
    x = torch.randn(2, 16, 5, 3, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(shifted(x), conv(reference_shift(x, 4)), rtol=0, atol=1e-12)
    assert "shift_fraction=0.25" in repr(shifted)


def residual_convs(model):
    """{name: module} of every residual branch's first conv."""
    return {
        name: module for name, module in model.named_modules() if name.endswith("branch2.a")
    }


def test_tsm_shifts_every_residual_branch_of_the_chosen_stages():
    model = gta_slowfast.build_model(small_cfg("SSv2/TSM_8x1_R50.yaml"))
    convs = residual_convs(model)
    assert len(convs) == 3 + 4 + 6 + 3
    assert all(isinstance(conv, TemporalShiftConv3d) for conv in convs.values())
    assert {conv.shift_fraction for conv in convs.values()} == {0.125}
    partial = gta_slowfast.build_model(
        small_cfg("SSv2/TSM_8x1_R50.yaml", "GTA.TEMPORAL_SHIFT.STAGES", "[3, 5]")
    )
    shifted = {
        name.split(".")[0]
        for name, conv in residual_convs(partial).items()
        if isinstance(conv, TemporalShiftConv3d)
    }
    assert shifted == {"s3", "s5"}


def test_tsm_adds_no_parameter_and_no_flop_and_keeps_weight_names():
    c2d = gta_slowfast.build_model(small_cfg("SSv2/C2D_8x1_R50.yaml")).eval()
    tsm = gta_slowfast.build_model(small_cfg("SSv2/TSM_8x1_R50.yaml")).eval()
    assert list(c2d.state_dict()) == list(tsm.state_dict())
    assert count_params(tsm) == count_params(c2d)
    cfg = small_cfg("SSv2/TSM_8x1_R50.yaml")
    with torch.no_grad():
        assert count_gflops(tsm, clip_inputs(cfg)) == count_gflops(c2d, clip_inputs(cfg))
    # Same weights (residual branches live: ZERO_INIT_FINAL_BN zeroes them):
    # only the shift tells the two apart.
    tsm.load_state_dict(randomize_norms(c2d).state_dict())
    for model in (tsm, c2d):
        model.head.act = torch.nn.Identity()  # logits, not a saturated softmax
    clip = clip_inputs(cfg)[0]
    with torch.no_grad():  # PySlowFast's stem rewrites the input list: one each
        assert (tsm([clip]) - c2d([clip])).abs().max() > 1e-4


@pytest.mark.parametrize(
    "config, blocks", [("SSv2/TSM_GTA_8x1_R50.yaml", DecoupledAttentionBlock),
                       ("SSv2/TSM_NLN_8x1_R50.yaml", compat.Nonlocal)],
)
def test_attention_blocks_go_on_top_of_the_shift(config, blocks):
    model = gta_slowfast.build_model(small_cfg(config))
    assert len([m for m in model.modules() if isinstance(m, blocks)]) == 5
    assert all(isinstance(c, TemporalShiftConv3d) for c in residual_convs(model).values())
    model.train()
    out = model(clip_inputs(small_cfg(config), crop_size=64, batch_size=2))
    out.sum().backward()


@pytest.mark.parametrize(
    "opts, match",
    [(["GTA.TEMPORAL_SHIFT.STAGES", "[1, 3]"], r"GTA.TEMPORAL_SHIFT.STAGES.*\[1\]"),
     (["GTA.TEMPORAL_SHIFT.FRACTION", "0.6"],
      r"GTA.TEMPORAL_SHIFT.FRACTION 0.6 is not in \(0, 0.5\]"),
     (["GTA.TEMPORAL_SHIFT.FRACTION", "0.01"], "moves no channel")],
)
def test_bad_shift_settings_name_the_key(opts, match):
    with pytest.raises(ValueError, match=match):
        gta_slowfast.build_model(small_cfg("SSv2/TSM_8x1_R50.yaml", *opts))


def test_shift_on_slowfast_is_an_error():
    with pytest.raises(ValueError, match="GTA.TEMPORAL_SHIFT.ENABLE.*single-pathway"):
        gta_slowfast.build_model(
            small_cfg("SSv2/SLOWFAST_16x8_R50.yaml", "GTA.TEMPORAL_SHIFT.ENABLE", True))
