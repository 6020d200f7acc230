"""Mixed precision: every block row of Tables 3 and 4 and the whole C2D and
SlowFast models under bf16 autocast on the CPU (GitHub main's train_net
trains under autocast with TRAIN.MIXED_PRECISION), the plugin's loop with
TRAIN.MIXED_PRECISION, and double backward through every block."""

import pytest
import torch

import gta_slowfast
from gta_slowfast.flop_count import clip_inputs
from gta_slowfast.models import BlockSpec, DecoupledAttentionBlock
from gta_slowfast.models.video_models import inserted_blocks

from conftest import randomize_norms, small_cfg
from pipeline import json_stats, make_tiny_dataset, run_net

TABLE3_ROWS = ["SA", "TA", "TAPE", "PIXEL_GTA", "REGION_GTA", "SA+TA", "SA+TAPE",
               "SA+PIXEL_GTA", "SA+REGION_GTA", "SA+PIXEL_GTA+REGION_GTA"]
TABLE4_GROUPS = [1, 2, 4, 16]
BLOCK_CASES = [(row, 8) for row in TABLE3_ROWS] + [("GTA", g) for g in TABLE4_GROUPS]

# bf16 keeps 8 bits of mantissa. Measured with these shapes and seeds: block
# outputs within 1.7% of the block's own contribution (Y - X), gradients
# within 7.6% (relative L2, per parameter), model logits within 1.5%.
BLOCK_OUTPUT_TOLERANCE = 0.03
GRADIENT_TOLERANCE = 0.10
MODEL_OUTPUT_TOLERANCE = 0.03


def relative_error(value, reference):
    return ((value.float() - reference).norm() / reference.norm()).item()


def block_pass(block, x, weight, autocast):
    """Output of ``block(x)`` and the gradients of (output * weight).sum()."""
    block.zero_grad()
    x.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = block(x)
    (out.float() * weight).sum().backward()
    gradients = {name: p.grad for name, p in block.named_parameters()}
    gradients["input"] = x.grad
    return out, gradients


@pytest.mark.parametrize("row, groups", BLOCK_CASES, ids=lambda v: str(v))
def test_block_trains_under_bf16_autocast_close_to_fp32(row, groups):
    block = DecoupledAttentionBlock(64, 8, BlockSpec.parse(row), num_groups=groups,
                                    pool_size=[1, 2, 2])
    randomize_norms(block).train()
    x = torch.randn(2, 64, 8, 14, 14, requires_grad=True)
    weight = torch.randn(2, 64, 8, 14, 14)
    reference, reference_gradients = block_pass(block, x, weight, autocast=False)
    out, gradients = block_pass(block, x, weight, autocast=True)

    assert out.dtype == torch.bfloat16
    assert relative_error(out - x, (reference - x).detach()) < BLOCK_OUTPUT_TOLERANCE
    for name, gradient in gradients.items():
        assert gradient is not None and torch.isfinite(gradient).all(), name
        assert gradient.dtype == torch.float32, name
    # Biases that only shift channels ahead of the final train-mode norm have
    # a true gradient of zero: compare the parameters whose gradient is not.
    scale = max(g.norm() for g in reference_gradients.values())
    for name, reference_gradient in reference_gradients.items():
        if reference_gradient.norm() > 1e-3 * scale:
            assert relative_error(gradients[name], reference_gradient) < GRADIENT_TOLERANCE, name


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
    block = DecoupledAttentionBlock(8, 4, BlockSpec.parse(row), num_groups=2,
                                    pool_size=[1, 2, 2])
    block = randomize_norms(block).double().eval()
    x = torch.randn(1, 8, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(block, (x,))


def test_plugin_loop_trains_with_mixed_precision(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    out = tmp_path / "run"
    result = run_net(data, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False,
                     "TRAIN.MIXED_PRECISION", True)
    assert result.returncode == 0, result.output[-3000:]
    assert "Mixed precision (TRAIN.MIXED_PRECISION): bf16 autocast on the CPU" in result.output
    losses = [row["loss"] for row in json_stats(out, "train_iter")]
    assert losses and all(loss == loss and abs(loss) < 1e3 for loss in losses)
