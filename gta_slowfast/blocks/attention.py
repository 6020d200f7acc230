"""Token-layout primitives of the decoupled attention block.

Inside the block a clip is a ``(N, T, P, D)`` tensor of tokens: P = H*W
positions per frame, channels last. In that layout
``torch.nn.functional.scaled_dot_product_attention`` (SDPA) takes frames, or
pixels, as its batch without any copy. The 1x1 projections into and out of
the block are batched GEMMs against the backbone's ``(N, C, T*H*W)``
layout, which is what the backbone gets back, gradients included.
"""

import math

import torch
import torch.nn.functional as F


def channels_to_tokens(x, weight, bias=None):
    """A 1x1 projection of channels-first features to tokens.

    The GEMM runs channels-first, so the gradient that flows back into the
    backbone is contiguous in its (N, C, ...) layout; only the (narrower)
    output is transposed.

    Args:
        x (Tensor): (N, C_in, L), contiguous.
        weight (Tensor): (C_out, C_in).
        bias (Tensor): (C_out,) or None.
    Returns:
        Tensor: (N, L, C_out), contiguous.
    """
    weight = weight.expand(x.shape[0], -1, -1)
    out = torch.bmm(weight, x) if bias is None else torch.baddbmm(bias[:, None], weight, x)
    return out.transpose(1, 2).contiguous()


def tokens_to_channels(tokens, weight, bias=None, addend=None):
    """A 1x1 projection of tokens to channels-first features.

    Args:
        tokens (Tensor): (N, L, C_in), channels last.
        weight (Tensor): (C_out, C_in).
        bias (Tensor): (C_out,) or None.
        addend (Tensor): (N, C_out, L) added to the result by the GEMM
            itself, so that no third tensor of that size is needed; or None.
    Returns:
        Tensor: (N, C_out, L), contiguous.
    """
    weight = weight.expand(tokens.shape[0], -1, -1)
    tokens = tokens.transpose(1, 2)
    if addend is None:
        if bias is None:
            return torch.bmm(weight, tokens)
        return torch.baddbmm(bias[:, None], weight, tokens)
    out = torch.baddbmm(addend, weight, tokens)
    return out if bias is None else out.add_(bias[:, None])


def max_pool_hw(tokens, size, height, width):
    """Max over non-overlapping size[0] x size[1] windows of each frame.

    Args:
        tokens (Tensor): (N, T, H*W, D), channels last.
        size (tuple): (h, w) window; floor mode, as ``MaxPool3d`` with
            kernel = stride = [1, h, w].
        height (int), width (int): H and W.
    Returns:
        Tensor: (N, T, (H // h) * (W // w), D), contiguous.
    """
    n, t, _, dim = tokens.shape
    frames = tokens.reshape(n * t, height, width, dim).permute(0, 3, 1, 2)
    pooled = F.max_pool2d(frames, size, size)
    return pooled.permute(0, 2, 3, 1).reshape(n, t, -1, dim)


def spatial_attention(query, key, value):
    """Softmax attention among the positions of each frame.

    Args:
        query (Tensor): (N, T, P, Dk).
        key (Tensor): (N, T, p, Dk), e.g. max-pooled keys.
        value (Tensor): (N, T, p, Dv).
    Returns:
        Tensor: (N, T, P, Dv).
    """
    return F.scaled_dot_product_attention(query, key, value)


def temporal_attention(query, key, value):
    """Softmax attention along time at each position.

    Args:
        query (Tensor): (N, T, P, Dk).
        key (Tensor): (N, T, P, Dk).
        value (Tensor): (N, T, P, Dv).
    Returns:
        Tensor: (N, T, P, Dv), a transposed view.
    """
    out = F.scaled_dot_product_attention(
        query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)
    )
    return out.transpose(1, 2)


def sinusoidal_position_encoding(length, dim, dtype=None, device=None):
    """The sinusoidal position encoding of "Attention is all you need".

    Args:
        length (int): number of positions T.
        dim (int): even encoding width.
    Returns:
        Tensor: (T, dim); column 2i is sin(t / 10000^(2i/dim)), column
            2i+1 the cos.
    """
    position = torch.arange(length, dtype=torch.float64)
    frequency = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim)
    )
    angle = position[:, None] * frequency[None, :]
    encoding = torch.stack((angle.sin(), angle.cos()), dim=2).reshape(length, dim)
    return encoding.to(dtype=dtype or torch.get_default_dtype(), device=device)
