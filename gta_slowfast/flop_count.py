"""FLOPs and parameters of a model for one clip, the paper's Table 1 way.

FLOPs are fvcore's: one multiply-add counts as one FLOP; convolutions,
matmul/einsum/bmm, linear layers and batch norm are counted; softmax,
additions, pooling and means count zero. fvcore 0.1.5 does not know three
ops the attention blocks use, counted here the same way:
``scaled_dot_product_attention`` as its two matrix products, Lq x Lk x
(Dk + Dv) multiply-adds per batch element; ``baddbmm`` as its ``bmm``; and
GTA's ``MixGroupsOverTime`` as G x T multiply-adds per output element.
"""

import math

import torch
from fvcore.nn import FlopCountAnalysis

from gta_slowfast.blocks.global_temporal_attention import MixGroupsOverTime
from gta_slowfast.config import is_multi_pathway


def scaled_dot_product_attention_flop_jit(inputs, outputs):
    """fvcore handle: multiply-adds of softmax(Q K^T) V."""
    query, key, value = (inputs[i].type().sizes() for i in range(3))
    batch = math.prod(query[:-2])
    return batch * query[-2] * key[-2] * (query[-1] + value[-1])


def baddbmm_flop_jit(inputs, outputs):
    """fvcore handle: multiply-adds of input + batch1 @ batch2."""
    batch, rows, inner = inputs[1].type().sizes()
    return batch * rows * inner * inputs[2].type().sizes()[-1]


def mix_groups_over_time_flop_jit(inputs, outputs):
    """fvcore handle: each output sums G groups x T frames."""
    groups, _, _, frames = inputs[0].type().sizes()
    return math.prod(outputs[0].type().sizes()) * groups * frames


def clip_inputs(cfg, crop_size=None, batch_size=1):
    """Random input for one clip per sample, as the model takes it.

    Args:
        cfg (CfgNode): the model's config.
        crop_size (int): side of the frames; default DATA.TEST_CROP_SIZE.
    Returns:
        list: one (N, 3, T, S, S) tensor per pathway (Slow first).
    """
    size = crop_size or cfg.DATA.TEST_CROP_SIZE
    frames = cfg.DATA.NUM_FRAMES
    fast = torch.randn(batch_size, 3, frames, size, size)
    if not is_multi_pathway(cfg):
        return [fast]
    slow_index = torch.linspace(0, frames - 1, frames // cfg.SLOWFAST.ALPHA).long()
    return [fast.index_select(2, slow_index), fast]


def count_gflops(model, inputs):
    """GFLOPs (multiply-adds, fvcore convention) of ``model(inputs)``."""
    analysis = FlopCountAnalysis(model, (inputs,))
    analysis.set_op_handle(
        "aten::scaled_dot_product_attention", scaled_dot_product_attention_flop_jit,
        "aten::baddbmm", baddbmm_flop_jit,
        "prim::PythonOp." + MixGroupsOverTime.__name__, mix_groups_over_time_flop_jit,
    )
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis.total() / 1e9


def count_params(model):
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
