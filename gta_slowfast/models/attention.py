"""Dot-product self-attention within a frame (SA) and along time (TA).

Both use ``torch.nn.functional.scaled_dot_product_attention``, which never
materialises the full attention matrix where a fused kernel is available.
"""

import math

import torch
import torch.nn.functional as F


def spatial_attention(query, key, value):
    """Softmax attention among the pixels of each frame, frames independent.

    Args:
        query (Tensor): (N, Dk, T, H, W).
        key (Tensor): (N, Dk, T, h, w), e.g. max-pooled keys.
        value (Tensor): (N, Dv, T, h, w).
    Returns:
        Tensor: (N, Dv, T, H, W).
    """
    n, dim_key, t, h, w = query.shape
    dim_value = value.shape[1]
    q = query.permute(0, 2, 3, 4, 1).reshape(n * t, h * w, dim_key)
    k = key.permute(0, 2, 3, 4, 1).reshape(n * t, -1, dim_key)
    v = value.permute(0, 2, 3, 4, 1).reshape(n * t, -1, dim_value)
    out = F.scaled_dot_product_attention(q, k, v)
    return out.reshape(n, t, h, w, dim_value).permute(0, 4, 1, 2, 3)


def temporal_attention(query, key, value):
    """Softmax attention along time at each pixel, pixels independent.

    Args:
        query (Tensor): (N, Dk, T, H, W).
        key (Tensor): (N, Dk, T, H, W).
        value (Tensor): (N, Dv, T, H, W).
    Returns:
        Tensor: (N, Dv, T, H, W).
    """
    n, dim_key, t, h, w = query.shape
    dim_value = value.shape[1]
    q = query.permute(0, 3, 4, 2, 1).reshape(n * h * w, t, dim_key)
    k = key.permute(0, 3, 4, 2, 1).reshape(n * h * w, t, dim_key)
    v = value.permute(0, 3, 4, 2, 1).reshape(n * h * w, t, dim_value)
    out = F.scaled_dot_product_attention(q, k, v)
    return out.reshape(n, h, w, t, dim_value).permute(0, 4, 3, 1, 2)


def sinusoidal_position_encoding(length, dim, dtype=None, device=None):
    """The sinusoidal position encoding of "Attention is all you need".

    Args:
        length (int): number of positions T.
        dim (int): even encoding width.
    Returns:
        Tensor: (dim, T); row 2i is sin(t / 10000^(2i/dim)), row 2i+1 the cos.
    """
    position = torch.arange(length, dtype=torch.float64)
    frequency = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim)
    )
    angle = frequency[:, None] * position[None, :]
    encoding = torch.stack((angle.sin(), angle.cos()), dim=1).reshape(dim, length)
    return encoding.to(dtype=dtype or torch.get_default_dtype(), device=device)
