"""The blocks with torch alone, and a new temporal term as one class plus
its registration (the README's worked example, "Adding a temporal term")."""

import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import gta_slowfast
from gta_slowfast.blocks import TEMPORAL_TERMS, DecoupledAttentionBlock, TemporalTerm, parse_terms
from gta_slowfast.flop_count import clip_inputs

from conftest import small_cfg


@TEMPORAL_TERMS.register("SHIFT")
class LearnedShift(TemporalTerm):
    """Each of the G channel groups of V_hat mixes frames t-1, t and t+1
    with three learned weights (zero at the start), (N, T, H*W, D)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.weight = nn.Parameter(torch.zeros(settings.num_groups, 3))

    def forward(self, context, projections):
        values = context.values_hat  # (N, T, H*W, D)
        padded = F.pad(values, (0, 0, 0, 0, 1, 1))  # a zero frame at each end
        frames = torch.stack((padded[:, :-2], padded[:, 1:-1], padded[:, 2:]), dim=-1)
        weight = self.weight.repeat_interleave(values.shape[-1] // self.settings.num_groups, 0)
        return (frames * weight).sum(-1)


def test_new_term_is_one_class_and_its_registration():
    assert parse_terms("SA+SHIFT") == ("SA", "SHIFT")
    block = DecoupledAttentionBlock(16, 4, "SA+SHIFT", num_groups=2, pool_size=[1, 2, 2])
    shift = block.terms["SHIFT"]
    with torch.no_grad():  # the group 0 takes frame t-1, group 1 frame t+1
        shift.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    values_hat = torch.randn(1, 4, 9, 8)
    got = shift(SimpleNamespace(values_hat=values_hat), {})
    assert torch.equal(got[:, 1:, :, :4], values_hat[:, :-1, :, :4])
    assert torch.equal(got[:, :-1, :, 4:], values_hat[:, 1:, :, 4:])
    assert got[:, 0, :, :4].abs().max() == 0 and got[:, -1, :, 4:].abs().max() == 0


def test_new_term_trains_in_a_block():
    torch.manual_seed(0)
    block = DecoupledAttentionBlock(16, 4, "SA+SHIFT", num_groups=2, pool_size=[1, 2, 2])
    nn.init.ones_(block.bn.weight)  # past the identity start
    x, target = torch.randn(2, 16, 4, 4, 4), torch.randn(2, 16, 4, 4, 4)
    optimizer = torch.optim.SGD(block.parameters(), lr=0.05)
    losses = []
    for _ in range(2):
        optimizer.zero_grad()
        loss = F.mse_loss(block(x.clone()), target)
        loss.backward()
        losses.append(loss.item())
        assert block.terms["SHIFT"].weight.grad.abs().min() > 0
        optimizer.step()
    assert losses[1] < losses[0]


def test_new_term_is_a_gta_block_value():
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "GTA.BLOCK", "SA+SHIFT", width=4)
    model = gta_slowfast.build_model(cfg)
    blocks = [m for m in model.modules() if isinstance(m, DecoupledAttentionBlock)]
    assert len(blocks) == 5 and all(list(b.terms) == ["SA", "SHIFT"] for b in blocks)
    for block in blocks:
        nn.init.ones_(block.bn.weight)
    model.train()(clip_inputs(cfg, batch_size=2)).sum().backward()
    assert all(b.terms["SHIFT"].weight.grad.abs().max() > 0 for b in blocks)


@pytest.mark.parametrize("text", ["TA+TAPE", "SA+NOPE"])
def test_term_names_are_checked_where_the_block_is_built(text):
    with pytest.raises(ValueError, match=r"terms .*\(GTA.BLOCK\)"):
        DecoupledAttentionBlock(16, 4, text)


def test_blocks_run_without_pyslowfast_or_fvcore():
    """In a process where slowfast and fvcore cannot be imported, the GTA
    block (every paper term) and TSM's shift build, run forward and backward,
    and no PySlowFast or config module is loaded."""
    code = textwrap.dedent("""
        import sys
        for name in ("slowfast", "fvcore", "yacs"):
            sys.modules[name] = None
        import torch
        from gta_slowfast.blocks import DecoupledAttentionBlock, TemporalShiftConv3d

        block = DecoupledAttentionBlock(16, 4, "SA+TAPE+PIXEL_GTA+REGION_GTA", num_groups=2,
                                        num_regions=3, pool_size=[1, 2, 2])
        torch.nn.init.ones_(block.bn.weight)
        shift = TemporalShiftConv3d(16, 16, 1, shift_fraction=0.25)
        x = torch.randn(2, 16, 4, 4, 4, requires_grad=True)
        y = block(shift(x))
        assert y.shape == x.shape
        y.square().sum().backward()
        for name, p in list(block.named_parameters()) + list(shift.named_parameters()):
            assert p.grad is not None and p.grad.abs().max() > 0, name
        loaded = [m for m in sys.modules
                  if m.split(".")[0] in ("slowfast", "fvcore", "yacs") and sys.modules[m]]
        assert not loaded, loaded
        assert "gta_slowfast.config" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
