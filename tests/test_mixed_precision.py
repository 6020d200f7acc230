"""Mixed precision: every block row of Tables 3 and 4 and the whole C2D and
SlowFast models under bf16 autocast on the CPU (GitHub main's train_net
trains under autocast with TRAIN.MIXED_PRECISION), the plugin's loop with
TRAIN.MIXED_PRECISION, and double backward through every block."""

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.flop_count import clip_inputs
from gta_slowfast.blocks import DecoupledAttentionBlock
from gta_slowfast.models.video_models import inserted_blocks

from conftest import TABLE3_ROWS, randomize_norms, small_cfg
from pipeline import json_stats, run_net

TABLE4_GROUPS = [1, 2, 4, 16]
BLOCK_CASES = [("NL", 8)] + [(row, 8) for row in TABLE3_ROWS] + [("GTA", g) for g in TABLE4_GROUPS]

# Relative L2 distance to float64 of the block's output (its own term,
# Y - X) and of its gradients (all parameters together), under autocast.
# Measured with these shapes and seeds, worst block / PySlowFast's NL:
#   fp16 (what GitHub main's train_net uses on CUDA): outputs 0.6% / 1.2%,
#        gradients 3.7% / 0.8%;
#   bf16 (the CPU's autocast dtype; 8 bits of mantissa): outputs 4.7% /
#        9.9%, gradients 35% / 7.6%. The far end is SA+TA and SA+TAPE: their
#        temporal attention reads SA's output (section 3.2), so its softmax's
#        gradient passes through SA's softmax too; with TA reading X they
#        stay within 2.4%.
TOLERANCES = {torch.float16: (0.02, 0.10), torch.bfloat16: (0.12, 0.50)}
MODEL_OUTPUT_TOLERANCE = 0.03  # bf16 logits of whole models: 1.5% measured


def relative_error(value, reference):
    return ((value.double() - reference).norm() / reference.norm()).item()


def build_block(row, groups):
    if row == "NL":
        return compat.Nonlocal(64, 32, [1, 2, 2], instantiation="softmax")
    return DecoupledAttentionBlock(64, 8, row, num_groups=groups,
                                   pool_size=[1, 2, 2])


def block_pass(block, x, weight, autocast_dtype=None):
    """Output of ``block(x)`` and the gradients of (output * weight).sum()
    (every parameter, then the input), under autocast where a dtype is
    given."""
    block.zero_grad()
    x = x.detach().requires_grad_()
    with torch.autocast("cpu", dtype=autocast_dtype or torch.bfloat16,
                        enabled=autocast_dtype is not None):
        out = block(x)
    (out.to(weight.dtype) * weight).sum().backward()
    return out, [p.grad for p in block.parameters()] + [x.grad]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("row, groups", BLOCK_CASES, ids=lambda v: str(v))
def test_block_trains_under_autocast_close_to_float64(row, groups, dtype):
    block = randomize_norms(build_block(row, groups)).train()
    x = torch.randn(2, 64, 8, 14, 14)
    weight = torch.randn(2, 64, 8, 14, 14, dtype=torch.float64)
    reference, reference_gradients = block_pass(block.double(), x.double(), weight)
    out, gradients = block_pass(block.float(), x, weight, dtype)

    for gradient in gradients:
        assert gradient is not None and torch.isfinite(gradient).all()
        assert gradient.dtype == torch.float32  # parameters keep fp32 gradients
    output_tolerance, gradient_tolerance = TOLERANCES[dtype]
    assert relative_error(out - x, (reference - x.double()).detach()) < output_tolerance
    flat = torch.cat([g.flatten() for g in gradients[:-1]])
    reference_flat = torch.cat([g.flatten() for g in reference_gradients[:-1]])
    assert relative_error(flat, reference_flat) < gradient_tolerance


@pytest.mark.parametrize("config, frames", [
    ("SSv2/C2D_NLN_8x1_R50.yaml", 8), ("SSv2/C2D_DNL_8x1_R50.yaml", 8),
    ("SSv2/C2D_GTA_8x1_R50.yaml", 8), ("SSv2/SLOWFAST_GTA_16x8_R50.yaml", 16),
])
def test_model_under_bf16_autocast(config, frames):
    cfg = small_cfg(config, "MODEL.DROPOUT_RATE", 0.0, "DATA.NUM_FRAMES", frames)
    model = gta_slowfast.build_model(cfg)
    for block in inserted_blocks(model).values():
        randomize_norms(block)  # switch the blocks on, as after some training
    model.head.act = torch.nn.Identity()  # compare logits
    inputs = clip_inputs(cfg, batch_size=2)

    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(list(inputs)).float().square().mean()
    loss.backward()
    assert torch.isfinite(loss)
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name

    model.eval()
    with torch.no_grad():
        reference = model(list(inputs))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(list(inputs))
    assert relative_error(out, reference) < MODEL_OUTPUT_TOLERANCE


@pytest.mark.parametrize("row", TABLE3_ROWS)
def test_double_backward_through_every_block(row):
    block = DecoupledAttentionBlock(8, 4, row, num_groups=2,
                                    pool_size=[1, 2, 2])
    block = randomize_norms(block).double().eval()
    x = torch.randn(1, 8, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    # fast_mode: checks random projections of the Jacobians, not every entry
    assert torch.autograd.gradgradcheck(block, (x,), fast_mode=True)


def test_plugin_loop_trains_with_mixed_precision(tiny_ssv2, tmp_path):
    out = tmp_path / "run"
    result = run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False,
                     "TRAIN.MIXED_PRECISION", True)
    assert result.returncode == 0, result.output[-3000:]
    assert "Mixed precision (TRAIN.MIXED_PRECISION): bf16 autocast on the CPU" in result.output
    losses = [row["loss"] for row in json_stats(out, "train_iter_")]
    assert losses and all(loss == loss and abs(loss) < 1e3 for loss in losses)
