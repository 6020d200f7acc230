"""The paper's temporal terms (Table 3): SA, TA, TAPE, PIXEL_GTA, REGION_GTA.

Each is a ``TemporalTerm`` registered under its ``GTA.BLOCK`` name; the
block (``decoupled_attention.py``) says how they combine and where this
departs from the paper's equations.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from gta_slowfast.blocks.arguments import check_choice
from gta_slowfast.blocks.attention import (
    channels_to_tokens,
    max_pool_hw,
    sinusoidal_position_encoding,
    spatial_attention,
    temporal_attention,
)
from gta_slowfast.blocks.global_temporal_attention import GlobalTemporalMixing, RegionAssignment
from gta_slowfast.blocks.terms import TEMPORAL_TERMS, TemporalTerm

TEMPORAL_INPUTS = ("x_hat", "x")


@TEMPORAL_TERMS.register("SA")
class SpatialAttention(TemporalTerm):
    """A_s = SA(W_Qs X, W_Ks pool(X), pool(V)): softmax attention among the
    positions of each frame, keys and values max-pooled within the frame.
    A_s is also added to the values: V_hat = V + A_s."""

    updates_values = True
    saved_names = {"query_spatial": "query", "key_spatial": "key"}

    def __init__(self, settings):
        super().__init__(settings)
        self.query = nn.Linear(settings.dim, settings.dim_key)
        # Key biases shift every score of a softmax row alike: no bias.
        self.key = nn.Linear(settings.dim, settings.dim_key, bias=False)
        pool = settings.pool_size
        self.pool_size = tuple(pool) if pool is not None and max(pool) > 1 else None

    def input_layers(self):
        return {"query": self.query}

    def keys(self, x):
        """W_Ks of X max-pooled within each frame.

        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            Tensor: (N, T, h, w, Dk), (h, w) the pooled grid.
        """
        if self.pool_size is not None:
            pooled = F.max_pool2d(x.flatten(1, 2), self.pool_size, self.pool_size)
            x = pooled.view(x.shape[:3] + pooled.shape[-2:])
        key = channels_to_tokens(x.flatten(2), self.key.weight)
        return key.view(x.shape[0], x.shape[2], x.shape[3], x.shape[4], self.settings.dim_key)

    def forward(self, context, projections):
        """A_s, (N, T, H*W, D)."""
        values = context.values
        if self.pool_size is not None:
            values = max_pool_hw(values, self.pool_size, *context.spatial_size)
        keys = self.keys(context.x).flatten(2, 3)
        return spatial_attention(projections["query"], keys, values)

    def attention_maps(self, context, projections, query):
        t, y, x = query
        pixel_query = projections["query"][0, t, y * context.x.shape[-1] + x]
        keys = self.keys(context.x)[0, t]  # (h, w, Dk)
        scores = (keys @ pixel_query) * self.settings.dim_key ** -0.5
        return {"spatial": torch.softmax(scores.flatten(), 0).reshape(scores.shape)}


@TEMPORAL_TERMS.register("TA")
class TemporalAttention(TemporalTerm):
    """A_t = TA(W_Qt X_hat, W_Kt X_hat, V_hat): softmax attention along T at
    each pixel.

    With ``temporal_input`` "x_hat" and SA present, X_hat = X + W_OP A_s +
    b_OP, SA's output through the block's shared output projection (Eq. 4,
    before the final norm); W_Qt X_hat is computed as W_Qt X (from the fused
    input GEMM) plus (W_Qt W_OP) A_s + W_Qt b_OP, which costs a D-wide rather
    than a C-wide product per position. Otherwise X_hat = X.
    """

    saved_names = {"query_temporal": "query", "key_temporal": "key"}
    positional_encoding = False

    def __init__(self, settings):
        super().__init__(settings)
        check_choice("temporal_input", settings.temporal_input, TEMPORAL_INPUTS, "GTA.TA_INPUT")
        self.temporal_input = settings.temporal_input
        self.query = nn.Linear(settings.dim, settings.dim_key)
        self.key = nn.Linear(settings.dim, settings.dim_key, bias=False)

    def input_layers(self):
        return {"query": self.query, "key": self.key}

    def queries_keys(self, context, projections):
        """TA's queries W_Qt X_hat and keys W_Kt X_hat (plus the position
        encoding for TAPE), each (N, T, H*W, C/4)."""
        query, key = projections["query"], projections["key"]
        if context.value_update is not None and self.temporal_input == "x_hat":
            output = context.output_projection
            weight = torch.cat((self.query.weight, self.key.weight))
            from_update = F.linear(
                context.value_update, weight @ output.weight, F.linear(output.bias, weight)
            )
            query_part, key_part = from_update.split(self.settings.dim_key, dim=-1)
            query = query + query_part
            key = key + key_part
        if self.positional_encoding:
            encoding = sinusoidal_position_encoding(
                query.shape[1], self.settings.dim_key, dtype=query.dtype, device=query.device
            )[:, None]
            query = query + encoding
            key = key + encoding
        return query, key

    def forward(self, context, projections):
        """A_t, (N, T, H*W, D)."""
        query, key = self.queries_keys(context, projections)
        return temporal_attention(query, key, context.values_hat)

    def attention_maps(self, context, projections, query):
        t, y, x = query
        queries, keys = self.queries_keys(context, projections)
        pixel = y * context.x.shape[-1] + x
        scores = (keys[0, :, pixel] @ queries[0, t, pixel]) * self.settings.dim_key ** -0.5
        return {"temporal": torch.softmax(scores, 0)}


@TEMPORAL_TERMS.register("TAPE")
class TemporalAttentionWithPositions(TemporalAttention):
    """TA with a sinusoidal encoding of t added to its queries and keys."""

    excludes = ("TA",)
    positional_encoding = True


def check_num_groups(settings):
    """Raises ValueError naming ``num_groups`` unless it divides D = C/2."""
    if settings.num_groups < 1 or settings.dim_inner % settings.num_groups:
        raise ValueError(
            "num_groups {} (GTA.NUM_GROUPS) does not divide the inner width {} "
            "of a block with {} channels; allowed values: divisors of {}.".format(
                settings.num_groups, settings.dim_inner, settings.dim, settings.dim_inner
            )
        )


@TEMPORAL_TERMS.register("PIXEL_GTA")
class PixelGTA(TemporalTerm):
    """MH_P(V_hat): learned T x T mixing of the value groups at every pixel
    (Eq. 5-7)."""

    saved_names = {"pixel_mixing": "mixing"}

    def __init__(self, settings):
        super().__init__(settings)
        check_num_groups(settings)
        self.mixing = GlobalTemporalMixing(
            settings.num_frames, settings.num_groups, settings.temporal_adapt
        )

    def forward(self, context, projections):
        """MH_P(V_hat), (N, T, H*W, D)."""
        return self.mixing(context.values_hat)

    def attention_maps(self, context, projections, query):
        return {"pixel_mixing": self.mixing.weight}


@TEMPORAL_TERMS.register("REGION_GTA")
class RegionGTA(TemporalTerm):
    """W_R^T W_OR MH_R(W_R V_hat): the T x T mixing on R soft regions per
    frame, with its own output projection W_OR, back to the pixels."""

    output = "channels"
    saved_names = {
        "region_assignment": "assignment",
        "region_mixing": "mixing",
        "proj_out_region": "proj_out",
    }

    def __init__(self, settings):
        super().__init__(settings)
        check_num_groups(settings)
        self.assignment = RegionAssignment(
            settings.dim_inner, settings.num_regions, settings.region_assignment,
            settings.num_frames, settings.spatial_size,
        )
        self.mixing = GlobalTemporalMixing(
            settings.num_frames, settings.num_groups, settings.temporal_adapt
        )
        self.proj_out = nn.Linear(settings.dim_inner, settings.dim)

    def forward(self, context, projections):
        """(N, C, T*H*W), contiguous."""
        values_hat = context.values_hat
        assignment, shares = self.assignment(values_hat, context.spatial_size)
        regions = torch.matmul(assignment.transpose(2, 3), values_hat)
        projected = self.proj_out(self.mixing(regions))
        on_pixels = torch.matmul(projected.transpose(2, 3), shares.transpose(2, 3))  # (N, T, C, H*W)
        return on_pixels.transpose(1, 2).reshape(values_hat.shape[0], self.settings.dim, -1)

    def attention_maps(self, context, projections, query):
        h, w = context.spatial_size
        _, shares = self.assignment(context.values_hat, (h, w))
        t, _, regions = shares.shape[1:]
        return {
            "region_mixing": self.mixing.weight,
            "regions": shares[0].transpose(1, 2).reshape(t, regions, h, w),
        }
