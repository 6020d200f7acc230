"""Global temporal attention (paper section 3.3): the learned T x T mixing
and the projection of pixels to regions."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from gta_slowfast.blocks.arguments import check_choice

TEMPORAL_ADAPT_MODES = ("error", "interpolate")
REGION_ASSIGNMENT_MODES = ("dynamic", "static")


def resize_matrices(weight, num_frames):
    """Bilinearly resizes (G, G, T, T) matrices to (G, G, T', T'), scaled by
    T / T' so each output keeps the magnitude of an average over time."""
    g, _, frames, _ = weight.shape
    resized = F.interpolate(
        weight.reshape(g * g, 1, frames, frames),
        size=(num_frames, num_frames),
        mode="bilinear",
        align_corners=True,
    )
    return (frames / num_frames) * resized.reshape(g, g, num_frames, num_frames)


class MixGroupsOverTime(torch.autograd.Function):
    """``einsum("gkts,nspgc->ntpkc", M, V)`` that saves V itself for
    backward rather than the permuted copy einsum makes of it (V is kept
    alive by the block anyway).

    Mixed precision: the forward einsum runs under the caller's autocast
    (so in bf16 or fp16 there), and the backward computes in the dtype of
    the incoming gradient, which autograd gives in the forward output's
    dtype; each gradient is returned in its input's dtype (fp32 for the
    matrices). The backward is made of differentiable ops, so double
    backward works.
    """

    @staticmethod
    def forward(ctx, matrices, groups):
        ctx.save_for_backward(matrices, groups)
        return torch.einsum("gkts,nspgc->ntpkc", matrices, groups)

    @staticmethod
    def backward(ctx, grad):
        matrices, groups = ctx.saved_tensors
        grad_matrices = grad_groups = None
        if ctx.needs_input_grad[0]:
            grad_matrices = torch.einsum(
                "ntpkc,nspgc->gkts", grad, groups.to(grad.dtype)
            ).to(matrices.dtype)
        if ctx.needs_input_grad[1]:
            grad_groups = torch.einsum(
                "gkts,ntpkc->nspgc", matrices.to(grad.dtype), grad
            ).to(groups.dtype)
        return grad_matrices, grad_groups


class GlobalTemporalMixing(nn.Module):
    """Cross-channel multi-head global temporal attention (Eq. 5-7).

    The D value channels are split into G groups V_g of D/G channels. With
    Nh = G heads, head k is ``sum_g M[g, k] V_g`` where each M[g, k] is a
    learned T x T matrix, Kaiming-initialised, with no softmax and independent
    of the input; the heads are concatenated back to D channels.
    """

    def __init__(self, num_frames, num_groups, temporal_adapt="error"):
        """
        Args:
            num_frames (int): T, the clip length the matrices are built for.
            num_groups (int): G = Nh.
            temporal_adapt (str): "error" (another length raises an error)
                or "interpolate" (resize the matrices to the clip's length).
        """
        super().__init__()
        check_choice("temporal_adapt", temporal_adapt, TEMPORAL_ADAPT_MODES, "GTA.TEMPORAL_ADAPT")
        self.num_frames = num_frames
        self.num_groups = num_groups
        self.temporal_adapt = temporal_adapt
        self.weight = nn.Parameter(
            torch.empty(num_groups, num_groups, num_frames, num_frames)
        )
        self.reset_parameters()

    def reset_parameters(self):
        """Kaiming normal: each output sums G x T inputs."""
        fan_in = self.num_groups * self.num_frames
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / fan_in))

    def matrices(self, num_frames):
        """The (G, G, T', T') matrices for a clip of ``num_frames`` frames."""
        if num_frames == self.num_frames:
            return self.weight
        if self.temporal_adapt == "error":
            raise ValueError(
                "A global temporal attention block was built for clips of "
                "T={} frames at this position but received T={}. Use clips "
                "of the length it was built for (num_frames; DATA.NUM_FRAMES), "
                "or temporal_adapt='interpolate' (GTA.TEMPORAL_ADAPT: "
                "interpolate).".format(
                    self.num_frames, num_frames
                )
            )
        return resize_matrices(self.weight, num_frames)

    def adapt_saved_weight(self, saved, name="weight"):
        """Matrices saved for any clip length, as this module loads them.

        Args:
            saved (Tensor): (G, G, T', T').
            name (str): the entry's name, for the error.
        Returns:
            Tensor: (G, G, T, T); ``saved`` itself where T' = T, else resized
                (temporal_adapt "interpolate").
        Raises:
            ValueError: T' != T with temporal_adapt "error", naming both.
        """
        if saved.shape[-1] == self.num_frames:
            return saved
        if self.temporal_adapt == "error":
            raise ValueError(
                "{} holds T x T matrices for T={} frames but this model is "
                "built for T={} (num_frames; DATA.NUM_FRAMES). Use the "
                "checkpoint's clip length, or temporal_adapt='interpolate' "
                "(GTA.TEMPORAL_ADAPT: interpolate).".format(
                    name, saved.shape[-1], self.num_frames
                )
            )
        return resize_matrices(saved, self.num_frames)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Loads matrices saved for another clip length as
        ``adapt_saved_weight`` says."""
        name = prefix + "weight"
        if name in state_dict:
            state_dict[name] = self.adapt_saved_weight(state_dict[name], name)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, value):
        """
        Args:
            value (Tensor): (N, T, P, D), P positions (pixels or regions)
                treated as independent samples.
        Returns:
            Tensor: (N, T, P, D).
        """
        n, t, positions, dim = value.shape
        groups = value.reshape(n, t, positions, self.num_groups, dim // self.num_groups)
        heads = MixGroupsOverTime.apply(self.matrices(t), groups)
        return heads.reshape(n, t, positions, dim)

    def extra_repr(self):
        return "num_frames={}, num_groups={}, temporal_adapt={}".format(
            self.num_frames, self.num_groups, self.temporal_adapt
        )


class RegionAssignment(nn.Module):
    """W_R: a soft assignment of the H*W pixels of each frame to R regions.

    Region r of frame t is the average of the pixels weighted by
    ``softmax_HW(logits[t, :, r])``. "dynamic" logits are a 1x1 projection
    of the input, so regions follow each clip's content and any H, W works;
    "static" logits are the paper's literal parameter of shape T x R x HW.
    """

    def __init__(self, dim, num_regions, mode="dynamic", num_frames=None, spatial_size=None):
        """
        Args:
            dim (int): input channels.
            num_regions (int): R.
            mode (str): "dynamic" or "static".
            num_frames (int): T, for "static".
            spatial_size (tuple): (H, W), for "static".
        """
        super().__init__()
        check_choice("region_assignment", mode, REGION_ASSIGNMENT_MODES, "GTA.REGION_ASSIGNMENT")
        self.mode = mode
        self.num_regions = num_regions
        if mode == "dynamic":
            # No bias: a per-region constant cancels in the softmax over HW.
            self.proj = nn.Linear(dim, num_regions, bias=False)
        else:
            if num_frames is None or spatial_size is None:
                raise ValueError(
                    "region_assignment 'static' (GTA.REGION_ASSIGNMENT) needs "
                    "num_frames and spatial_size (H, W) of the block's position.")
            self.spatial_size = tuple(spatial_size)
            h, w = self.spatial_size
            self.logits = nn.Parameter(torch.zeros(num_frames, num_regions, h * w))
            nn.init.normal_(self.logits, std=0.01)

    def forward(self, tokens, spatial_size):
        """
        Args:
            tokens (Tensor): (N, T, H*W, D).
            spatial_size (tuple): (H, W).
        Returns:
            tuple: W_R and W_R^T, both (N, T, H*W, R). W_R sums to 1 over
                the H*W pixels (dim 2); W_R^T is W_R renormalised over the
                R regions (dim 3), each pixel's shares of the regions.
        """
        n, t = tokens.shape[:2]
        if self.mode == "dynamic":
            logits = self.proj(tokens)
        else:
            expected = (self.logits.shape[0],) + self.spatial_size
            if (t,) + tuple(spatial_size) != expected:
                raise ValueError(
                    "Static region assignment (region_assignment 'static'; "
                    "GTA.REGION_ASSIGNMENT: static) was built for T x H x W = "
                    "{} x {} x {} at this position but received {} x {} x {}; "
                    "use 'dynamic' for other sizes.".format(*expected, t, *spatial_size)
                )
            logits = self.logits.transpose(1, 2).expand(n, -1, -1, -1)
        log_assignment = F.log_softmax(logits, dim=2)
        return log_assignment.exp(), F.softmax(log_assignment, dim=3)
