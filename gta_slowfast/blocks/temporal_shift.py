"""TSM's residual temporal shift, with torch alone.

TSM (Lin et al., ICCV 2019) gives a 2D ResNet temporal modelling at no
cost in parameters or FLOPs: inside the residual branch of each bottleneck,
before its first convolution, a fraction of the channels is moved one frame
along time ("residual shift"); the shortcut keeps the unshifted features.
The paper's Table 6 models (2D R50+TSM, with GTA on top) use it with 1/8 of
the channels moved each way.

``TemporalShiftConv3d`` is an ``nn.Conv3d`` that shifts its input first:
put it in place of the first convolution of any residual branch
(``gta_slowfast.models.temporal_shift`` does so in PySlowFast's ResNet).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def shifted_channels(num_channels, fraction):
    """Channels moved in each direction: floor(C * fraction), as TSM's
    ``C // fold_div``."""
    return int(num_channels * fraction)


def temporal_shift(x, fraction):
    """Moves two groups of channels one frame along time, zero-filled.

    With F = ``shifted_channels(C, fraction)``, output frame t holds, in
    channels [0, F), input frame t + 1 (shifted backward in time; the last
    frame gets zeros); in channels [F, 2F), input frame t - 1 (shifted
    forward; the first frame gets zeros); in the other channels, frame t.

    Args:
        x (Tensor): (N, C, T, H, W).
        fraction (float): share of the channels moved in each direction.
    Returns:
        Tensor: (N, C, T, H, W).
    """
    fold = shifted_channels(x.shape[1], fraction)
    backward = F.pad(x[:, :fold, 1:], (0, 0, 0, 0, 0, 1))
    forward = F.pad(x[:, fold : 2 * fold, :-1], (0, 0, 0, 0, 1, 0))
    return torch.cat((backward, forward, x[:, 2 * fold :]), dim=1)


class TemporalShiftConv3d(nn.Conv3d):
    """An ``nn.Conv3d`` that applies ``temporal_shift`` to its input first.
    Same parameters, names and FLOPs as the convolution it replaces."""

    def __init__(self, *args, shift_fraction=0.125, **kwargs):
        """
        Args:
            *args, **kwargs: those of ``nn.Conv3d``.
            shift_fraction (float): share of the input channels moved in
                each direction, in (0, 0.5].
        Raises:
            ValueError: ``shift_fraction`` outside (0, 0.5] or moving no
                channel, naming it (and GTA.TEMPORAL_SHIFT.FRACTION).
        """
        super().__init__(*args, **kwargs)
        if not 0 < shift_fraction <= 0.5:
            raise ValueError(
                "shift_fraction {} (GTA.TEMPORAL_SHIFT.FRACTION) is not in (0, 0.5]: "
                "it is the share of channels moved in each of the two "
                "directions.".format(shift_fraction))
        if shifted_channels(self.in_channels, shift_fraction) < 1:
            raise ValueError(
                "shift_fraction {} (GTA.TEMPORAL_SHIFT.FRACTION) moves no channel of "
                "the {} input channels.".format(shift_fraction, self.in_channels))
        self.shift_fraction = shift_fraction

    @classmethod
    def from_conv(cls, conv, shift_fraction):
        """A copy of ``conv`` (hyper-parameters and weights) that shifts."""
        shifted = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
            shift_fraction=shift_fraction,
        )
        shifted.load_state_dict(conv.state_dict())
        return shifted

    def forward(self, x):
        """
        Args:
            x (Tensor): (N, C_in, T, H, W).
        Returns:
            Tensor: the convolution of the shifted input.
        """
        return super().forward(temporal_shift(x, self.shift_fraction))

    def extra_repr(self):
        return super().extra_repr() + ", shift_fraction={}".format(self.shift_fraction)
