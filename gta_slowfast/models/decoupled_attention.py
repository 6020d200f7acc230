"""The decoupled attention block: SA, TA/TAPE, Pixel GTA and Region GTA.

One module builds every row of the paper's Table 3 from a ``BlockSpec``.
Like PySlowFast's ``Nonlocal``, it works in an inner width D = C/2 and ends
in a 1x1 projection back to C and a BatchNorm whose scale starts at zero,
so an inserted block is the identity at step 0. With input X (N, C, T, H, W):

    V      = W_V X                                   value stream, D channels
    A_s    = SA(W_Qs X, W_Ks pool(X), pool(V))       within each frame
    V_hat  = V + A_s                                 X_hat = X + SA(X), Sec. 3.2
    P      = A_s + TA(V_hat) + MH_P(V_hat)           the terms present
    R      = W_OR MH_R(W_R V_hat)                    on R regions per frame
    Y      = X + BN(W_OP P + W_R^T R)                Eq. 8

Queries and keys have width C/4 each, so DNL (SA+TA) and GTA cost exactly
the parameters of an NL block (2 C^2), as in the paper's Table 1. SA's output
reaches Y through W_OP, the same projection as the pixel terms; Region GTA
has its own projection W_OR, applied to the R regions before they are
mapped back to pixels (it commutes with W_R^T and costs R/HW as much).
W_R^T is the transposed assignment renormalised over regions, so every pixel
receives a convex combination of the regions it belongs to. TA takes its
queries and keys from X and its values from V_hat.
"""

import torch
import torch.nn as nn
from fvcore.nn.weight_init import c2_msra_fill

from gta_slowfast.models.attention import (
    sinusoidal_position_encoding,
    spatial_attention,
    temporal_attention,
)
from gta_slowfast.models.global_temporal_attention import (
    GlobalTemporalMixing,
    RegionAssignment,
)


def _conv1x1(dim_in, dim_out, bias=True):
    return nn.Conv3d(dim_in, dim_out, kernel_size=1, bias=bias)


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
        norm_eps=1e-5,
        norm_momentum=0.1,
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
            norm_eps (float), norm_momentum (float): of the final BatchNorm.
        """
        super().__init__()
        self.spec = spec
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
        self.conv_value = _conv1x1(dim, self.dim_inner)
        self.pool = None
        if spec.spatial:
            self.conv_query_spatial = _conv1x1(dim, self.dim_key)
            # Key biases shift every score of a softmax row alike: no bias.
            self.conv_key_spatial = _conv1x1(dim, self.dim_key, bias=False)
            spatial_pool = [1, 1] if pool_size is None else list(pool_size[1:])
            if any(size > 1 for size in spatial_pool):
                self.pool = nn.MaxPool3d([1] + spatial_pool, stride=[1] + spatial_pool)
        if spec.temporal_attention:
            self.conv_query_temporal = _conv1x1(dim, self.dim_key)
            self.conv_key_temporal = _conv1x1(dim, self.dim_key, bias=False)
        if spec.pixel_gta:
            self.pixel_mixing = GlobalTemporalMixing(num_frames, num_groups, temporal_adapt)
        if spec.spatial or spec.temporal_attention or spec.pixel_gta:
            self.conv_out = _conv1x1(self.dim_inner, dim)
        if spec.region_gta:
            self.region_assignment = RegionAssignment(
                self.dim_inner, num_regions, region_assignment, num_frames, spatial_size
            )
            self.region_mixing = GlobalTemporalMixing(num_frames, num_groups, temporal_adapt)
            self.conv_out_region = _conv1x1(self.dim_inner, dim)
        self.bn = nn.BatchNorm3d(dim, eps=norm_eps, momentum=norm_momentum)
        self.reset_parameters()

    def reset_parameters(self):
        """PySlowFast's MSRA fill for the convs; zero scale for the final norm."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                c2_msra_fill(module)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x):
        """
        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            Tensor: (N, C, T, H, W).
        """
        value, attended = self.spatial_stage(x)
        pixel_terms = [] if attended is None else [attended]
        if self.spec.temporal_attention:
            query = self.conv_query_temporal(x)
            key = self.conv_key_temporal(x)
            if self.spec.positional_encoding:
                encoding = sinusoidal_position_encoding(
                    x.shape[2], self.dim_key, dtype=x.dtype, device=x.device
                )[None, :, :, None, None]
                query = query + encoding
                key = key + encoding
            pixel_terms.append(temporal_attention(query, key, value))
        if self.spec.pixel_gta:
            pixel_terms.append(self.pixel_mixing(value.flatten(3)).reshape(value.shape))
        out = 0
        if pixel_terms:
            out = self.conv_out(sum(pixel_terms))
        if self.spec.region_gta:
            out = out + self.region_term(value)
        return x + self.bn(out)

    def spatial_stage(self, x):
        """The value stream after SA.

        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            tuple: V_hat (N, D, T, H, W) and A_s (N, D, T, H, W), or V and
                None for a block without SA.
        """
        value = self.conv_value(x)
        if not self.spec.spatial:
            return value, None
        pooled_x = x if self.pool is None else self.pool(x)
        pooled_value = value if self.pool is None else self.pool(value)
        attended = spatial_attention(
            self.conv_query_spatial(x), self.conv_key_spatial(pooled_x), pooled_value
        )
        return value + attended, attended

    def region_term(self, value):
        """W_R^T W_OR MH_R(W_R V_hat).

        Args:
            value (Tensor): V_hat, (N, D, T, H, W).
        Returns:
            Tensor: (N, C, T, H, W).
        """
        n, _, t, h, w = value.shape
        log_assignment = self.region_assignment(value)
        regions = torch.einsum(
            "ntrp,ndtp->ndtr", log_assignment.exp(), value.flatten(3)
        )
        mixed = self.region_mixing(regions)
        projected = self.conv_out_region(mixed.unsqueeze(-1)).squeeze(-1)
        back = torch.softmax(log_assignment, dim=2)
        pixels = torch.einsum("ntrp,nctr->nctp", back, projected)
        return pixels.reshape(n, self.dim, t, h, w)
