"""The decoupled attention block: the sum of the temporal terms it is given.

One module builds every row of the paper's Table 3 from the names of its
terms (SA, TA, TAPE, PIXEL_GTA, REGION_GTA, or any term registered in
``TEMPORAL_TERMS``; see ``terms.py`` and ``paper_terms.py``).
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
Terms that update the values (SA) give A_s; the others give a summand of P
(tokens) or, as Region GTA, one in C channels.
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
full resolution (W_V and the terms' ``input_layers``: W_Qs, TA's W_Qt,
W_Kt) as one.
"""

import torch
import torch.nn as nn

from gta_slowfast.blocks import paper_terms  # noqa: F401 (registers the paper's terms)
from gta_slowfast.blocks.attention import channels_to_tokens, tokens_to_channels
from gta_slowfast.blocks.terms import TEMPORAL_TERMS, BlockContext, BlockSettings, parse_terms


def msra_fill(linear):
    """PySlowFast's (Caffe2's) MSRA fill: Kaiming normal over the fan-out for
    ReLU, zero bias."""
    nn.init.kaiming_normal_(linear.weight, mode="fan_out", nonlinearity="relu")
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)


def _accumulate(total, term):
    """total + term, where a missing total (None) counts as zero."""
    return term if total is None else total + term


class DecoupledAttentionBlock(nn.Module):
    """Residual attention block; (N, C, T, H, W) -> (N, C, T, H, W).

    Attributes:
        value (nn.Linear): W_V, C -> D.
        terms (nn.ModuleDict): name -> ``TemporalTerm``, value-updating
            terms first.
        proj_out (nn.Linear): W_OP, D -> C, shared by the token terms; None
            where every term gives channels.
        bn: the final norm, its scale and shift zero at the start.
    """

    def __init__(
        self,
        dim,
        num_frames,
        terms,
        num_groups=8,
        num_regions=8,
        pool_size=None,
        region_assignment="dynamic",
        spatial_size=None,
        temporal_adapt="error",
        temporal_input="x_hat",
        norm_eps=1e-5,
        norm_momentum=0.1,
        norm_module=nn.BatchNorm3d,
    ):
        """
        Args:
            dim (int): C, channels of the input and output; even.
            num_frames (int): T of the clips at this position.
            terms (str or sequence): the terms, e.g. "SA+TAPE", "GTA" or
                ("SA", "PIXEL_GTA"); see ``parse_terms``.
            num_groups (int): G = Nh of Pixel and Region GTA; divides C/2.
            num_regions (int): R of Region GTA.
            pool_size (list): [t, h, w] max-pool of SA's keys and values, as
                PySlowFast's ``Nonlocal``; only the spatial part is used
                (None or ones: no pooling).
            region_assignment (str): "dynamic" or "static", see
                ``RegionAssignment``.
            spatial_size (tuple): (H, W) at this position, for "static".
            temporal_adapt (str): "error" or "interpolate", see
                ``GlobalTemporalMixing``.
            temporal_input (str): where TA takes its queries and keys from:
                "x_hat", SA's output (section 3.2), or "x", the input.
            norm_eps (float), norm_momentum (float): of the final norm.
            norm_module (callable): the final norm's class, called as
                ``norm_module(num_features=C, eps=..., momentum=...)``, as
                PySlowFast's ``Nonlocal`` does (BatchNorm3d, or GitHub main's
                ``get_norm(cfg)`` for ``BN.NORM_TYPE``).
        Raises:
            ValueError: an invalid argument, naming it (and its GTA key).
        """
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError("dim {} is not valid: the block needs an even number "
                             "of channels, at least 4.".format(dim))
        self.settings = BlockSettings(
            dim=dim,
            num_frames=num_frames,
            num_groups=num_groups,
            num_regions=num_regions,
            pool_size=None if pool_size is None else tuple(pool_size[1:]),
            region_assignment=region_assignment,
            spatial_size=None if spatial_size is None else tuple(spatial_size),
            temporal_adapt=temporal_adapt,
            temporal_input=temporal_input,
        )
        self.dim = dim
        self.value = nn.Linear(dim, self.settings.dim_inner)
        self.terms = nn.ModuleDict(
            (name, TEMPORAL_TERMS.get(name)(self.settings)) for name in parse_terms(terms)
        )
        gives_tokens = any(term.output == "tokens" for term in self.terms.values())
        self.proj_out = nn.Linear(self.settings.dim_inner, dim) if gives_tokens else None
        self.bn = norm_module(num_features=dim, eps=norm_eps, momentum=norm_momentum)
        self._saved_names = {
            saved: "terms.{}.{}".format(name, own)
            for name, term in self.terms.items()
            for saved, own in term.saved_names.items()
        }
        self.reset_parameters()

    def reset_parameters(self):
        """PySlowFast's MSRA fill for the projections (as for its 1x1 convs);
        zero scale for the final norm."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                msra_fill(module)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def context(self, x):
        """The projections of X, V, and the value-updating terms (SA).

        The projections of X at full resolution (W_V and every term's
        ``input_layers``) are computed as one GEMM.

        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            BlockContext
        """
        n, _, t, h, w = x.shape
        layers = [("", "value", self.value)] + [
            (term_name, layer_name, layer)
            for term_name, term in self.terms.items()
            for layer_name, layer in term.input_layers().items()
        ]
        weight = torch.cat([layer.weight for _, _, layer in layers])
        bias = torch.cat([
            layer.weight.new_zeros(layer.out_features) if layer.bias is None else layer.bias
            for _, _, layer in layers
        ])
        fused = channels_to_tokens(x.flatten(2), weight, bias).view(n, t, h * w, -1)
        parts = fused.split([layer.out_features for _, _, layer in layers], dim=-1)
        projections = {name: {} for name in self.terms}
        for (term_name, layer_name, _), part in zip(layers[1:], parts[1:]):
            projections[term_name][layer_name] = part
        context = BlockContext(x=x, projections=projections, values=parts[0], value_update=None,
                               values_hat=parts[0], output_projection=self.proj_out)
        for name, term in self.terms.items():
            if term.updates_values:
                context.value_update = _accumulate(
                    context.value_update, term(context, projections[name]))
        if context.value_update is not None:
            context.values_hat = context.values + context.value_update
        return context

    def forward(self, x):
        """
        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            Tensor: (N, C, T, H, W).
        """
        # BatchNorm keeps its input, not its output: add X in place.
        return self.bn(self.summed_terms(x).view(x.shape)).add_(x)

    def summed_terms(self, x):
        """W_OP P + the channel terms (Region GTA's W_R^T R): what the final
        norm receives. A method of its own so that, on return, nothing but
        the sum is left alive while the norm runs (peak memory).

        Args:
            x (Tensor): (N, C, T, H, W).
        Returns:
            Tensor: (N, C, T*H*W), contiguous.
        """
        context = self.context(x)
        pixel_terms = context.value_update  # P, in D channels
        channel_terms = None  # in C channels
        # Each contribution is added as it is made, bound to no name, so
        # that it is freed before the next term runs.
        for name, term in self.terms.items():
            if term.updates_values:
                continue
            if term.output == "channels":
                channel_terms = _accumulate(channel_terms, term(context, context.projections[name]))
            else:
                pixel_terms = _accumulate(pixel_terms, term(context, context.projections[name]))
        if pixel_terms is None:
            return channel_terms
        return tokens_to_channels(pixel_terms.flatten(1, 2), self.proj_out.weight,
                                  self.proj_out.bias, addend=channel_terms)

    @torch.no_grad()
    def attention_maps(self, x, query):
        """Every term's ``attention_maps`` for input ``x`` (first sample).

        Args:
            x (Tensor): (N, C, T, H, W).
            query (tuple): (t, y, x) on the block's grid.
        Returns:
            dict: map name -> tensor, see ``TemporalTerm.attention_maps``.
        """
        context = self.context(x)
        maps = {}
        for name, term in self.terms.items():
            maps.update(term.attention_maps(context, context.projections[name], query))
        return maps

    def upgrade_saved_names(self, state_dict, prefix=""):
        """Renames, in place, the entries of ``state_dict`` under ``prefix``
        that a block saved before its terms were classes
        (``query_spatial.weight`` -> ``terms.SA.query.weight``, ...)."""
        for key in [key for key in state_dict if key.startswith(prefix)]:
            module, dot, rest = key[len(prefix):].partition(".")
            if module in self._saved_names:
                state_dict[prefix + self._saved_names[module] + dot + rest] = state_dict.pop(key)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Loads checkpoints of either naming (``upgrade_saved_names``)."""
        self.upgrade_saved_names(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
