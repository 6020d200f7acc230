"""The decoupled attention block: SA, TA/TAPE, Pixel GTA and Region GTA.

One module builds every row of the paper's Table 3 from a ``BlockSpec``.
Like PySlowFast's ``Nonlocal``, it works in an inner width D = C/2 and ends
in a projection back to C and a norm (BatchNorm, or the one BN.NORM_TYPE
names) whose scale starts at zero, so an inserted block is the identity at
step 0. With input X (N, C, T, H, W), what it computes is:

    V      = W_V X                                   value stream, D channels
    A_s    = SA(W_Qs X, W_Ks pool(X), pool(V))       within each frame
    X_hat  = X + W_OP A_s                            SA's output, Sec. 3.2
    V_hat  = V + A_s                                 values after SA
    A_t    = TA(W_Qt X_hat, W_Kt X_hat, V_hat)       along T at each pixel
    P      = A_s + A_t + MH_P(V_hat)                 the terms present
    R      = W_OR MH_R(W_R V_hat)                    on R regions per frame
    Y      = X + BN(W_OP P + W_R^T R)                Eq. 8

(TAPE adds a sinusoidal encoding of t to TA's queries and keys;
``temporal_input="x"`` takes them from X instead of X_hat, GTA.TA_INPUT.)
Where this departs from the paper's equations:

* Shared W_OP: SA's output reaches X_hat and Y through W_OP, the same
  projection as the temporal pixel terms (the paper gives each attention its
  own W_O, Eq. 4), so X_hat = X + W_OP A_s + b_OP, before the final norm.
* C/4 queries and keys: W_Qs, W_Ks, W_Qt, W_Kt are C -> C/4 (the paper's
  W_Q, W_K are C x C, Eq. 1), so DNL (SA+TA) and GTA cost exactly the
  parameters of an NL block (2 C^2), as in the paper's Table 1.
* Values after SA: TA and GTA read V_hat = V + A_s, the value stream with
  SA's output added in value space, rather than W_V X_hat (which would be
  V + W_V W_OP A_s).
* Dynamic W_R: Region GTA's assignment is a softmax over HW of a 1x1
  projection of V_hat, so regions follow each clip's content (the paper's
  Figures 4 and 6) and any H, W works; the literal T x R x HW parameter is
  ``region_assignment="static"``. W_R^T is the transposed assignment
  renormalised over regions, so every pixel receives a convex combination
  of its regions. W_OR, Region GTA's own projection, is applied to the R
  regions before they go back to pixels (it commutes with W_R^T and costs
  R/HW as much).
* One residual: Y = X + BN(...) with the zero-initialised norm around every
  term; X_hat's SA term enters Y through it too.

Inside, features are (N, T, HW, D) tokens (see ``attention.py``). The 1x1
projections are ``nn.Linear`` layers, run as batched GEMMs; those of X at
full resolution (W_V, W_Qs and TA's W_Qt, W_Kt) as one.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from fvcore.nn.weight_init import c2_msra_fill

from gta_slowfast.config import check_choice
from gta_slowfast.models.attention import (
    channels_to_tokens,
    max_pool_hw,
    sinusoidal_position_encoding,
    spatial_attention,
    temporal_attention,
    tokens_to_channels,
)
from gta_slowfast.models.global_temporal_attention import (
    GlobalTemporalMixing,
    RegionAssignment,
)

TEMPORAL_INPUTS = ("x_hat", "x")


def _accumulate(total, term):
    """total + term, where a missing total (None) counts as zero."""
    return term if total is None else total + term


class DecoupledAttentionBlock(nn.Module):
    """Residual attention block; (N, C, T, H, W) -> (N, C, T, H, W)."""

    def __init__(
        self,
        dim,
        num_frames,
        spec,
        num_groups=8,
        num_regions=8,
        pool_size=None,
        region_assignment="dynamic",
        spatial_size=None,
        temporal_adapt="none",
        temporal_input="x_hat",
        norm_eps=1e-5,
        norm_momentum=0.1,
        norm_module=nn.BatchNorm3d,
    ):
        """
        Args:
            dim (int): C, channels of the input and output.
            num_frames (int): T of the clips at this position.
            spec (BlockSpec): the components.
            num_groups (int): G = Nh of Pixel and Region GTA; divides C/2.
            num_regions (int): R of Region GTA.
            pool_size (list): [t, h, w] max-pool of SA's keys and values;
                only the spatial part is used (None or ones: no pooling).
            region_assignment (str): "dynamic" or "static", see
                ``RegionAssignment``.
            spatial_size (tuple): (H, W) at this position, for "static".
            temporal_adapt (str): "none" or "interpolate", see
                ``GlobalTemporalMixing``.
            temporal_input (str): where TA takes its queries and keys from:
                "x_hat", SA's output (section 3.2), or "x", the input.
            norm_eps (float), norm_momentum (float): of the final norm.
            norm_module (callable): the final norm's class, called as
                ``norm_module(num_features=C, eps=..., momentum=...)``, as
                PySlowFast's ``Nonlocal`` does (BatchNorm3d, or GitHub main's
                ``get_norm(cfg)`` for ``BN.NORM_TYPE``).
        """
        super().__init__()
        check_choice("GTA.TA_INPUT", temporal_input, TEMPORAL_INPUTS)
        self.spec = spec
        self.temporal_input = temporal_input
        self.dim = dim
        self.dim_inner = dim // 2
        self.dim_key = dim // 4
        if spec.has_global_temporal_attention and (
            num_groups < 1 or self.dim_inner % num_groups
        ):
            raise ValueError(
                "GTA.NUM_GROUPS {} does not divide the inner width {} of a "
                "block with {} channels; allowed values: divisors of {}.".format(
                    num_groups, self.dim_inner, dim, self.dim_inner
                )
            )
        self.value = nn.Linear(dim, self.dim_inner)
        self.pool_size = None
        if spec.spatial:
            self.query_spatial = nn.Linear(dim, self.dim_key)
            # Key biases shift every score of a softmax row alike: no bias.
            self.key_spatial = nn.Linear(dim, self.dim_key, bias=False)
            spatial_pool = (1, 1) if pool_size is None else tuple(pool_size[1:])
            if any(size > 1 for size in spatial_pool):
                self.pool_size = spatial_pool
        if spec.temporal_attention:
            self.query_temporal = nn.Linear(dim, self.dim_key)
            self.key_temporal = nn.Linear(dim, self.dim_key, bias=False)
        if spec.pixel_gta:
            self.pixel_mixing = GlobalTemporalMixing(num_frames, num_groups, temporal_adapt)
        if spec.spatial or spec.temporal_attention or spec.pixel_gta:
            self.proj_out = nn.Linear(self.dim_inner, dim)
        if spec.region_gta:
            self.region_assignment = RegionAssignment(
                self.dim_inner, num_regions, region_assignment, num_frames, spatial_size
            )
            self.region_mixing = GlobalTemporalMixing(num_frames, num_groups, temporal_adapt)
            self.proj_out_region = nn.Linear(self.dim_inner, dim)
        self.bn = norm_module(num_features=dim, eps=norm_eps, momentum=norm_momentum)
        self.reset_parameters()

    def reset_parameters(self):
        """PySlowFast's MSRA fill for the projections (as for its 1x1 convs);
        zero scale for the final norm."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                c2_msra_fill(module)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def input_projections(self, x):
        """The projections of X at full resolution, computed as one GEMM.

        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            dict: name -> (N, T, H*W, width) view; "value" always, then
                "query_spatial", "query_temporal" and "key_temporal" where
                the block has them.
        """
        n, _, t, h, w = x.shape
        names = ["value"]
        if self.spec.spatial:
            names.append("query_spatial")
        if self.spec.temporal_attention:
            names += ["query_temporal", "key_temporal"]
        layers = [getattr(self, name) for name in names]
        weight = torch.cat([layer.weight for layer in layers])
        bias = torch.cat([
            layer.weight.new_zeros(layer.out_features) if layer.bias is None else layer.bias
            for layer in layers
        ])
        fused = channels_to_tokens(x.flatten(2), weight, bias).view(n, t, h * w, -1)
        widths = [layer.out_features for layer in layers]
        return dict(zip(names, fused.split(widths, dim=-1)))

    def spatial_stage(self, x, projections):
        """The value stream after SA.

        Args:
            x (Tensor): (N, C, T, H, W).
            projections (dict): from ``input_projections(x)``.
        Returns:
            tuple: V_hat (N, T, H*W, D) and A_s (N, T, H*W, D), or V and
                None for a block without SA.
        """
        value = projections["value"]
        if not self.spec.spatial:
            return value, None
        pooled_value = value
        if self.pool_size is not None:
            pooled_value = max_pool_hw(value, self.pool_size, *x.shape[-2:])
        key = self.spatial_keys(x).flatten(2, 3)
        attended = spatial_attention(projections["query_spatial"], key, pooled_value)
        return value + attended, attended

    def spatial_keys(self, x):
        """SA's keys, W_Ks of X max-pooled within each frame.

        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            Tensor: (N, T, h, w, Dk), (h, w) the pooled grid.
        """
        if self.pool_size is not None:
            pooled = F.max_pool2d(x.flatten(1, 2), self.pool_size, self.pool_size)
            x = pooled.view(x.shape[:3] + pooled.shape[-2:])
        key = channels_to_tokens(x.flatten(2), self.key_spatial.weight)
        return key.view(x.shape[0], x.shape[2], x.shape[3], x.shape[4], self.dim_key)

    def temporal_queries_keys(self, projections, attended):
        """TA's queries W_Qt X_hat and keys W_Kt X_hat, plus the position
        encoding for TAPE.

        With ``temporal_input`` "x_hat" and SA present, X_hat = X + W_OP A_s
        + b_OP, SA's output through the block's shared output projection
        (Eq. 4, before the final norm); W_Qt X_hat is computed as W_Qt X
        (from the fused input GEMM) plus (W_Qt W_OP) A_s + W_Qt b_OP, which
        costs a D-wide rather than a C-wide product per position. Otherwise
        X_hat = X.

        Args:
            projections (dict): from ``input_projections(x)``.
            attended (Tensor): A_s, (N, T, H*W, D), or None without SA.
        Returns:
            tuple: queries and keys, each (N, T, H*W, C/4).
        """
        query = projections["query_temporal"]
        key = projections["key_temporal"]
        if attended is not None and self.temporal_input == "x_hat":
            weight = torch.cat((self.query_temporal.weight, self.key_temporal.weight))
            from_attended = F.linear(
                attended, weight @ self.proj_out.weight, F.linear(self.proj_out.bias, weight)
            )
            query_part, key_part = from_attended.split(self.dim_key, dim=-1)
            query = query + query_part
            key = key + key_part
        if self.spec.positional_encoding:
            t = query.shape[1]
            encoding = sinusoidal_position_encoding(
                t, self.dim_key, dtype=query.dtype, device=query.device
            )[:, None]
            query = query + encoding
            key = key + encoding
        return query, key

    def forward(self, x):
        """
        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            Tensor: (N, C, T, H, W).
        """
        n, c, t, h, w = x.shape
        projections = self.input_projections(x)
        value, attended = self.spatial_stage(x, projections)
        pixels = attended
        if self.spec.temporal_attention:
            query, key = self.temporal_queries_keys(projections, attended)
            pixels = _accumulate(pixels, temporal_attention(query, key, value))
        if self.spec.pixel_gta:
            pixels = _accumulate(pixels, self.pixel_mixing(value))
        out = self.region_term(value, (h, w)) if self.spec.region_gta else None
        if pixels is not None:
            out = tokens_to_channels(pixels.flatten(1, 2), self.proj_out.weight,
                                     self.proj_out.bias, addend=out)
        # BatchNorm keeps its input, not its output: add X in place.
        return self.bn(out.view(n, c, t, h, w)).add_(x)

    def region_term(self, value, spatial_size):
        """W_R^T W_OR MH_R(W_R V_hat).

        Args:
            value (Tensor): V_hat, (N, T, H*W, D).
            spatial_size (tuple): (H, W).
        Returns:
            Tensor: (N, C, T*H*W), contiguous.
        """
        n = value.shape[0]
        assignment, shares = self.region_assignment(value, spatial_size)
        regions = torch.matmul(assignment.transpose(2, 3), value)
        projected = self.proj_out_region(self.region_mixing(regions))
        pixels = torch.matmul(projected.transpose(2, 3), shares.transpose(2, 3))
        return pixels.transpose(1, 2).reshape(n, self.dim, -1)
