"""The interface of a temporal term: one summand of the decoupled attention
block, registered under the name ``GTA.BLOCK`` (the block's ``terms``) uses.

A term is an ``nn.Module`` that

* declares the 1x1 projections of the block input X it reads at full
  resolution (``input_layers``), which the block computes for all its terms
  in one fused GEMM with its value projection W_V;
* computes its contribution from a ``BlockContext`` (``forward``): tokens
  (N, T, H*W, D) that the block sums into P and projects with its shared
  W_OP, or channels (N, C, T*H*W) added after W_OP (``output``);
* can say what it attends to, for the pictures (``attention_maps``).

A new term is one subclass registered in ``TEMPORAL_TERMS``; see the README
("Adding a temporal term").
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import torch.nn as nn
from torch import Tensor

from gta_slowfast.blocks.registry import Registry

TEMPORAL_TERMS = Registry("temporal term")
ALIASES = {"DNL": "SA+TA", "GTA": "SA+PIXEL_GTA+REGION_GTA"}


@dataclass(frozen=True)
class BlockSettings:
    """What a block is built with, as its terms read it.

    Attributes:
        dim (int): C, channels of the block's input and output.
        num_frames (int): T of the clips at the block's position.
        num_groups (int): G = Nh of the global temporal terms.
        num_regions (int): R of Region GTA.
        pool_size (tuple): (h, w) max-pool of SA's keys and values, or None.
        region_assignment (str): "dynamic" or "static".
        spatial_size (tuple): (H, W) at the block's position, or None.
        temporal_adapt (str): "error" or "interpolate".
        temporal_input (str): "x_hat" or "x", where TA's queries and keys
            come from.
    """

    dim: int
    num_frames: int
    num_groups: int = 8
    num_regions: int = 8
    pool_size: Optional[Tuple[int, int]] = None
    region_assignment: str = "dynamic"
    spatial_size: Optional[Tuple[int, int]] = None
    temporal_adapt: str = "error"
    temporal_input: str = "x_hat"

    @property
    def dim_inner(self):
        """D = C/2, the width of the value stream."""
        return self.dim // 2

    @property
    def dim_key(self):
        """C/4, the width of queries and keys."""
        return self.dim // 4


@dataclass
class BlockContext:
    """What the terms of one forward pass read.

    Attributes:
        x (Tensor): X, the block input, (N, C, T, H, W).
        projections (dict): term name -> {layer name: (N, T, H*W, width)},
            W X for each of the term's ``input_layers``.
        values (Tensor): V = W_V X, (N, T, H*W, D).
        value_update (Tensor): A_s, the sum of the outputs of the terms that
            update the values (SA), (N, T, H*W, D); None without such terms.
        values_hat (Tensor): V_hat = V + A_s (V without such terms).
        output_projection (nn.Linear): W_OP, D -> C, shared by the token
            terms; None where no term gives tokens.
    """

    x: Tensor
    projections: dict
    values: Tensor
    value_update: Optional[Tensor]
    values_hat: Tensor
    output_projection: Optional[nn.Module]

    @property
    def spatial_size(self):
        """(H, W) of the input."""
        return tuple(self.x.shape[-2:])


class TemporalTerm(nn.Module):
    """One term of the block's sum (base class).

    Class attributes a subclass may set:
        updates_values (bool): its output (SA's A_s) is also added to the
            values, V_hat = V + A_s, and runs before the other terms.
        output (str): "tokens", (N, T, H*W, D) summed into P and projected by
            the block's W_OP; or "channels", (N, C, T*H*W) added as it is.
        excludes (tuple): names of terms it cannot be combined with.
        saved_names (dict): for checkpoints written before terms were
            classes, {former module name in the block: its name in the term}.
    """

    updates_values = False
    output = "tokens"
    excludes = ()
    saved_names = {}

    def __init__(self, settings):
        """
        Args:
            settings (BlockSettings): of the block that holds the term.
        """
        super().__init__()
        self.settings = settings

    def input_layers(self):
        """The term's 1x1 projections of X at full resolution.

        Returns:
            dict: name -> ``nn.Linear`` (C -> width); the block passes W X,
                (N, T, H*W, width), under the same names to ``forward``.
        """
        return {}

    def forward(self, context, projections):
        """
        Args:
            context (BlockContext): the forward pass so far.
            projections (dict): name -> W X for ``input_layers``.
        Returns:
            Tensor: (N, T, H*W, D) for "tokens", (N, C, T*H*W) for "channels".
        """
        raise NotImplementedError

    def attention_maps(self, context, projections, query):
        """What the term attends to, for the pictures (first sample only).

        Args:
            context, projections: as for ``forward``.
            query (tuple): (t, y, x), a pixel of the block's grid.
        Returns:
            dict: name -> map; names the pictures know are "spatial" (h, w)
                and "temporal" (T,), the query's attention weights; "*_mixing"
                (G, G, T, T) matrices; "regions" (T, R, H, W), each pixel's
                share of each region. Empty where there is nothing to show.
        """
        return {}


def parse_terms(text):
    """The term names of a block: its ``terms`` argument, or a ``GTA.BLOCK``
    value other than "NL".

    Args:
        text (str or sequence): registered names joined by "+", e.g.
            "SA+TAPE", or an alias of ``ALIASES`` ("DNL", "GTA"); or a
            sequence of names.
    Returns:
        tuple: the names, value-updating terms (SA) first.
    Raises:
        ValueError: an unknown or repeated name, or two names that exclude
            each other, naming ``terms`` (GTA.BLOCK) and the allowed values.
    """
    if not isinstance(text, str):
        text = "+".join(text)
    names = ALIASES.get(text.strip().upper(), text.strip().upper())
    parts = [part.strip() for part in names.split("+")]
    unknown = [part for part in parts if part not in TEMPORAL_TERMS]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(
            "terms '{}' (GTA.BLOCK) is not valid: give one of {} or terms from "
            "{} joined by '+', each at most once.".format(
                text, sorted(ALIASES), list(TEMPORAL_TERMS))
        )
    for part in parts:
        clashes = [other for other in TEMPORAL_TERMS.get(part).excludes if other in parts]
        if clashes:
            raise ValueError(
                "terms '{}' (GTA.BLOCK): {} and {} are alternatives, use one of "
                "them.".format(text, clashes[0], part)
            )
    return tuple(sorted(parts, key=lambda part: not TEMPORAL_TERMS.get(part).updates_values))
