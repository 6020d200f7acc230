"""DecoupledAttentionBlock against a direct float64 computation of its equations.

The reference below re-derives every term (SA, TA, TAPE, Pixel GTA, Region
GTA, Eq. 8) with explicit matrices, loops, exp/sum softmax and reshape+amax
pooling; it reads only parameters from the block, never its helpers.
"""

import math
from types import SimpleNamespace

import pytest
import torch

from gta_slowfast.blocks import DecoupledAttentionBlock, GlobalTemporalMixing, parse_terms

C = 32
N = 2
R = 3


# ----------------------------------------------------------------------------
# Independent reference
# ----------------------------------------------------------------------------


def spec_of(name):
    """Which of the paper's terms a Table 3 name holds, read from the name."""
    parts = set({"DNL": "SA+TA", "GTA": "SA+PIXEL_GTA+REGION_GTA"}.get(name, name).split("+"))
    return SimpleNamespace(
        spatial="SA" in parts,
        temporal_attention=bool(parts & {"TA", "TAPE"}),
        positional_encoding="TAPE" in parts,
        pixel_gta="PIXEL_GTA" in parts,
        region_gta="REGION_GTA" in parts,
    )


def _temporal_term(block):
    return block.terms["TA"] if "TA" in block.terms else block.terms["TAPE"]


def _conv(layer, x):
    """1x1x1 conv by hand: W @ x + b over the channel axis of (N, C, ...)."""
    weight = layer.weight
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    out = torch.matmul(weight, flat)
    if layer.bias is not None:
        out = out + layer.bias[None, :, None]
    return out.reshape((x.shape[0], weight.shape[0]) + tuple(x.shape[2:]))


def _softmax_rows(scores):
    """Softmax over the last axis via exp / sum."""
    e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def _maxpool_hw(x, kh, kw):
    """Floor-mode spatial max-pool with kernel = stride = (kh, kw)."""
    n, c, t, h, w = x.shape
    ho, wo = h // kh, w // kw
    x = x[..., : ho * kh, : wo * kw]
    return x.reshape(n, c, t, ho, kh, wo, kw).amax(dim=(4, 6))


def _position_encoding(dim, length):
    """(dim, T): row 2i sin(t / 10000^(2i/dim)), row 2i+1 the cos."""
    pe = torch.zeros(dim, length, dtype=torch.float64)
    for i in range(dim // 2):
        denom = 10000.0 ** (2.0 * i / dim)
        for t in range(length):
            pe[2 * i, t] = math.sin(t / denom)
            pe[2 * i + 1, t] = math.cos(t / denom)
    return pe


def _bilinear_resize(m, size):
    """align_corners=True bilinear resize of a (T, T) matrix, by hand."""
    t_in = m.shape[0]
    if size == t_in:
        return m

    def weights(i):
        src = i * (t_in - 1) / (size - 1)
        lo = min(int(math.floor(src)), t_in - 2)
        return lo, src - lo

    out = torch.zeros(size, size, dtype=m.dtype)
    for i in range(size):
        i0, a = weights(i)
        for j in range(size):
            j0, b = weights(j)
            out[i, j] = (
                (1 - a) * (1 - b) * m[i0, j0]
                + (1 - a) * b * m[i0, j0 + 1]
                + a * (1 - b) * m[i0 + 1, j0]
                + a * b * m[i0 + 1, j0 + 1]
            )
    return out


def _mix(mats, v, groups):
    """Cross-channel multi-head mixing along time, explicit matmuls.

    mats: (G, G, T, T); v: (N, D, T, P). Head k = sum_g M[g, k] @ V_g.
    """
    n, d, t, p = v.shape
    dg = d // groups
    heads = []
    for k in range(groups):
        head = torch.zeros(n, dg, t, p, dtype=v.dtype)
        for g in range(groups):
            vg = v[:, g * dg : (g + 1) * dg]  # (N, Dg, T, P)
            # out[t] = sum_s M[g,k,t,s] vg[s]
            vg_t = vg.permute(2, 0, 1, 3).reshape(t, -1)  # (T, N*Dg*P)
            mixed = mats[g, k] @ vg_t
            head = head + mixed.reshape(t, n, dg, p).permute(1, 2, 0, 3)
        heads.append(head)
    return torch.cat(heads, dim=1)


def _mixing_matrices(module, t):
    weight = module.weight.detach()
    if t == weight.shape[-1]:
        return weight
    g = weight.shape[0]
    out = torch.empty(g, g, t, t, dtype=weight.dtype)
    for a in range(g):
        for b in range(g):
            out[a, b] = _bilinear_resize(weight[a, b], t) * (weight.shape[-1] / t)
    return out


def reference_residual(block, spec, x, pool=None, groups=4, temporal_input="x_hat"):
    """Y - X, computed directly from the equations (float64, eval-mode BN).

    TA's queries and keys come from X_hat = X + W_OP A_s (SA's output through
    the shared output projection, section 3.2) or, with ``temporal_input``
    "x", from X.
    """
    with torch.no_grad():
        n, c, t, h, w = x.shape
        dk = c // 4
        value = _conv(block.value, x)  # (N, D, T, H, W)
        d = value.shape[1]
        terms = []
        v_hat = value
        if spec.spatial:
            q = _conv(block.terms["SA"].query, x)
            px = x if pool is None else _maxpool_hw(x, *pool)
            pv = value if pool is None else _maxpool_hw(value, *pool)
            k = _conv(block.terms["SA"].key, px)
            a_s = torch.zeros_like(value)
            for i in range(n):
                for f in range(t):
                    qm = q[i, :, f].reshape(dk, -1).T  # (HW, Dk)
                    km = k[i, :, f].reshape(dk, -1).T  # (hw, Dk)
                    vm = pv[i, :, f].reshape(d, -1).T  # (hw, D)
                    att = _softmax_rows(qm @ km.T / math.sqrt(dk))
                    a_s[i, :, f] = (att @ vm).T.reshape(d, h, w)
            terms.append(a_s)
            v_hat = value + a_s
        if spec.temporal_attention:
            x_hat = x
            if spec.spatial and temporal_input == "x_hat":
                x_hat = x + _conv(block.proj_out, a_s)
            q = _conv(_temporal_term(block).query, x_hat)
            k = _conv(_temporal_term(block).key, x_hat)
            if spec.positional_encoding:
                pe = _position_encoding(dk, t)[None, :, :, None, None]
                q = q + pe
                k = k + pe
            a_t = torch.zeros_like(value)
            for i in range(n):
                for y in range(h):
                    for z in range(w):
                        qm = q[i, :, :, y, z].T  # (T, Dk)
                        km = k[i, :, :, y, z].T
                        vm = v_hat[i, :, :, y, z].T  # (T, D)
                        att = _softmax_rows(qm @ km.T / math.sqrt(dk))
                        a_t[i, :, :, y, z] = (att @ vm).T
            terms.append(a_t)
        if spec.pixel_gta:
            mats = _mixing_matrices(block.terms["PIXEL_GTA"].mixing, t)
            mixed = _mix(mats, v_hat.reshape(n, d, t, h * w), groups)
            terms.append(mixed.reshape(n, d, t, h, w))
        out = torch.zeros(n, c, t, h, w, dtype=x.dtype)
        if terms:
            out = out + _conv(block.proj_out, sum(terms))
        if spec.region_gta:
            ra = block.terms["REGION_GTA"].assignment
            vf = v_hat.reshape(n, d, t, h * w)
            if ra.mode == "dynamic":
                logits = _conv(ra.proj, vf)  # (N, R, T, HW)
            else:
                logits = ra.logits.detach().permute(1, 0, 2)[None].expand(n, -1, -1, -1)
            r = logits.shape[1]
            assign = _softmax_rows(logits.permute(0, 2, 1, 3))  # (N, T, R, HW)
            regions = torch.zeros(n, d, t, r, dtype=x.dtype)
            for i in range(n):
                for f in range(t):
                    # (D, HW) @ (HW, R)
                    regions[i, :, f] = vf[i, :, f] @ assign[i, f].T
            mats = _mixing_matrices(block.terms["REGION_GTA"].mixing, t)
            mixed = _mix(mats, regions, groups)
            projected = _conv(block.terms["REGION_GTA"].proj_out, mixed)  # (N, C, T, R)
            back = assign / assign.sum(dim=2, keepdim=True)  # over regions
            region_term = torch.zeros(n, c, t, h * w, dtype=x.dtype)
            for i in range(n):
                for f in range(t):
                    # (C, R) @ (R, HW)
                    region_term[i, :, f] = projected[i, :, f] @ back[i, f]
            out = out + region_term.reshape(n, c, t, h, w)
        bn = block.bn
        shape = (1, c, 1, 1, 1)
        y = (out - bn.running_mean.reshape(shape)) / torch.sqrt(
            bn.running_var.reshape(shape) + bn.eps
        )
        return y * bn.weight.reshape(shape) + bn.bias.reshape(shape)


def randomize(block):
    """Random conv biases, logits and BN affine/statistics; eval mode."""
    with torch.no_grad():
        for name, p in block.named_parameters():
            if name.endswith("bias") and not name.startswith("bn."):
                p.copy_(torch.randn_like(p) * 0.5)
            if name.endswith("logits"):
                p.copy_(torch.randn_like(p))
        bn = block.bn
        bn.weight.copy_(torch.rand_like(bn.weight) + 0.5)
        bn.bias.copy_(torch.randn_like(bn.bias))
        bn.running_mean.copy_(torch.randn_like(bn.running_mean))
        bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.5)
    return block.eval()


def make_block(name, t, groups=4, pool=(1, 2, 2), **kwargs):
    """A block of ``C`` channels and ``R`` regions for clips of T = ``t``."""
    return DecoupledAttentionBlock(
        C,
        t,
        name,
        num_groups=groups,
        num_regions=R,
        pool_size=None if pool is None else list(pool),
        **kwargs,
    )


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


# ----------------------------------------------------------------------------
# 1. every variant against the reference
# ----------------------------------------------------------------------------

CASES = [
    # name, T, H, W, G, pool
    ("SA", 4, 6, 6, 4, (1, 2, 2)),
    ("SA", 4, 5, 7, 4, None),
    ("TA", 6, 6, 6, 4, None),
    ("TAPE", 6, 8, 6, 4, None),
    ("PIXEL_GTA", 8, 6, 6, 8, None),
    ("REGION_GTA", 5, 8, 6, 4, None),
    ("DNL", 4, 8, 6, 4, (1, 2, 2)),
    ("SA+TAPE", 6, 6, 6, 4, (1, 2, 2)),
    ("SA+PIXEL_GTA", 4, 7, 6, 8, (1, 2, 2)),
    ("SA+REGION_GTA", 4, 6, 6, 4, (1, 2, 2)),
    ("GTA", 8, 8, 6, 8, (1, 2, 2)),
    ("GTA", 4, 6, 6, 4, None),
    ("TAPE+PIXEL_GTA+REGION_GTA", 4, 6, 5, 4, None),
]


@pytest.mark.parametrize("name,t,h,w,groups,pool", CASES)
def test_block_matches_reference(name, t, h, w, groups, pool):
    """Block output equals the direct float64 computation."""
    spec = spec_of(name)
    block = randomize(make_block(name, t, groups=groups, pool=pool).double())
    x = torch.randn(N, C, t, h, w, dtype=torch.float64)
    with torch.no_grad():
        got = block(x) - x
    want = reference_residual(
        block, spec, x, pool=None if pool is None else pool[1:], groups=groups
    )
    assert got.shape == x.shape
    assert want.abs().max() > 1e-3
    assert rel_err(got, want) < 1e-6


@pytest.mark.parametrize("name", ["DNL", "SA+TAPE", "SA+TA+PIXEL_GTA"])
def test_temporal_attention_on_block_input_matches_reference(name):
    """GTA.TA_INPUT "x": TA's queries and keys from X, against the reference;
    the two placements give different outputs."""
    block = randomize(make_block(name, 4, temporal_input="x").double())
    x = torch.randn(N, C, 4, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        got = block(x) - x
    spec = spec_of(name)
    want = reference_residual(block, spec, x, pool=(2, 2), temporal_input="x")
    assert rel_err(got, want) < 1e-6
    other = reference_residual(block, spec, x, pool=(2, 2), temporal_input="x_hat")
    assert rel_err(got, other) > 1e-3


def test_reference_detects_each_term():
    """Sanity: dropping any term of GTA changes the reference a lot."""
    block = randomize(make_block("SA+TAPE+PIXEL_GTA+REGION_GTA", 4).double())
    x = torch.randn(N, C, 4, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        got = block(x) - x
    full = spec_of("SA+TAPE+PIXEL_GTA+REGION_GTA")
    assert rel_err(got, reference_residual(block, full, x, pool=(2, 2))) < 1e-6
    for smaller in ("TAPE+PIXEL_GTA+REGION_GTA", "SA+TA+PIXEL_GTA+REGION_GTA",
                    "SA+TAPE+REGION_GTA", "SA+TAPE+PIXEL_GTA"):
        spec = spec_of(smaller)
        if not spec.spatial:
            ref = reference_residual(block, spec, x)
        else:
            ref = reference_residual(block, spec, x, pool=(2, 2))
        assert rel_err(got, ref) > 1e-3, smaller


# ----------------------------------------------------------------------------
# 2. static region assignment
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["REGION_GTA", "GTA"])
def test_static_region_assignment_matches_reference(name):
    t, h, w = 4, 6, 5
    block = make_block(
        name, t, region_assignment="static", spatial_size=(h, w)
    ).double()
    assert tuple(block.terms["REGION_GTA"].assignment.logits.shape) == (t, R, h * w)
    randomize(block)
    x = torch.randn(N, C, t, h, w, dtype=torch.float64)
    with torch.no_grad():
        got = block(x) - x
    want = reference_residual(block, spec_of(name), x, pool=(2, 2))
    assert rel_err(got, want) < 1e-6


def test_static_region_assignment_rejects_other_size():
    block = make_block("REGION_GTA", 4, region_assignment="static", spatial_size=(6, 6))
    x = torch.randn(1, C, 4, 10, 7)
    with pytest.raises(ValueError) as info:
        block(x)
    msg = str(info.value)
    assert "6" in msg and "10" in msg and "7" in msg


# ----------------------------------------------------------------------------
# 3. identity at init
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SA", "TAPE", "DNL", "PIXEL_GTA", "REGION_GTA", "GTA"])
@pytest.mark.parametrize("train", [True, False])
def test_identity_at_init(name, train):
    block = make_block(name, 4)
    block.train(train)
    x = torch.randn(N, C, 4, 6, 5)
    with torch.no_grad():
        y = block(x)
    assert torch.equal(y, x)


# ----------------------------------------------------------------------------
# 4. gradients
# ----------------------------------------------------------------------------

# Biases that would add the same constant to every logit of one softmax row
# (the softmax is invariant to them) must not exist.
SHIFT_INVARIANT = ("terms.SA.key.bias", "terms.TA.key.bias", "terms.TAPE.key.bias",
                   "terms.REGION_GTA.assignment.proj.bias")


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SA+TAPE+PIXEL_GTA+REGION_GTA", {}),
        ("GTA", {}),
        ("DNL", {}),
        ("GTA", {"region_assignment": "static", "spatial_size": (6, 5)}),
    ],
)
def test_gradients_reach_every_parameter(name, kwargs):
    block = make_block(name, 4, **kwargs).double().eval()
    with torch.no_grad():
        block.bn.weight.copy_(torch.rand_like(block.bn.weight) + 0.5)
    x = torch.randn(N, C, 4, 6, 5, dtype=torch.float64)
    (block(x) * torch.randn_like(x)).sum().backward()
    for pname, p in block.named_parameters():
        assert pname not in SHIFT_INVARIANT, pname
        assert p.grad is not None, pname
        assert p.grad.abs().max().item() > 1e-8, pname


@pytest.mark.parametrize("name", ["GTA", "TAPE+PIXEL_GTA+REGION_GTA"])
def test_input_gradient_matches_finite_differences(name):
    """Autograd w.r.t. the input agrees with numerical differentiation."""
    block = DecoupledAttentionBlock(
        8, 3, name, num_groups=2, num_regions=2, pool_size=[1, 2, 2]
    )
    block = randomize(block.double())
    x = torch.randn(1, 8, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,), eps=1e-6, atol=1e-6)


def test_mixing_gradients_match_finite_differences():
    """The mixing's hand-written backward, for the matrices and the values."""
    mixing = GlobalTemporalMixing(3, 2).double()
    weight = torch.randn_like(mixing.weight, requires_grad=True)
    value = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)

    def mix(weight, value):
        return torch.func.functional_call(mixing, {"weight": weight}, (value,))

    assert torch.autograd.gradcheck(mix, (weight, value), eps=1e-6, atol=1e-6)
    want = _mix(weight.detach(), value.detach().permute(0, 3, 1, 2), 2)
    assert rel_err(mix(weight, value).detach(), want.permute(0, 2, 3, 1)) < 1e-12


# ----------------------------------------------------------------------------
# 5. shapes
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("h,w", [(7, 7), (14, 14), (5, 9)])
def test_gta_shapes(h, w):
    block = randomize(make_block("GTA", 8, groups=8))
    x = torch.randn(1, C, 8, h, w)
    with torch.no_grad():
        y = block(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


# ----------------------------------------------------------------------------
# 6. temporal length
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["GTA", "PIXEL_GTA", "REGION_GTA"])
def test_t_mismatch_raises(name):
    block = make_block(name, 8)
    with pytest.raises(ValueError) as info:
        block(torch.randn(1, C, 4, 6, 6))
    msg = str(info.value)
    assert "8" in msg and "4" in msg


def test_t_interpolate():
    fixed = make_block("GTA", 8)
    adapt = make_block("GTA", 8, temporal_adapt="interpolate").double().eval()
    randomize(fixed.double())
    adapt.load_state_dict(fixed.state_dict())
    # Same T: matrices are the originals, output identical to the strict block.
    for mixing in (adapt.terms["PIXEL_GTA"].mixing, adapt.terms["REGION_GTA"].mixing):
        assert torch.equal(mixing.matrices(8), mixing.weight)
    x8 = torch.randn(N, C, 8, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(adapt(x8), fixed(x8))
    # Another T: corners of bilinear align_corners resizing are kept (x 8/4).
    m4 = adapt.terms["PIXEL_GTA"].mixing.matrices(4)
    w = adapt.terms["PIXEL_GTA"].mixing.weight
    assert m4.shape == (4, 4, 4, 4)
    for i, j in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        assert torch.allclose(m4[..., i, j], 2.0 * w[..., i, j], rtol=0, atol=1e-12)
    x4 = torch.randn(N, C, 4, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        got = adapt(x4) - x4
    assert got.shape == x4.shape
    want = reference_residual(adapt, spec_of("GTA"), x4, pool=(2, 2))
    assert rel_err(got, want) < 1e-6


# ----------------------------------------------------------------------------
# 7. order sensitivity
# ----------------------------------------------------------------------------


def _flip_gap(name):
    block = randomize(make_block(name, 6).double())
    x = torch.randn(N, C, 6, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        return (block(x.flip(2)) - block(x).flip(2)).abs().max().item()


@pytest.mark.parametrize("name", ["TA", "DNL"])
def test_time_reversal_equivariant(name):
    assert _flip_gap(name) < 1e-10


@pytest.mark.parametrize("name", ["TAPE", "PIXEL_GTA", "GTA"])
def test_time_reversal_sensitive(name):
    assert _flip_gap(name) > 1e-3


# ----------------------------------------------------------------------------
# 8. configuration errors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["FOO", "SA+XYZ", "SA+SA", "TA+TAPE", "SA+TAPE+TA", "NL+SA"])
def test_parse_rejects(text):
    with pytest.raises(ValueError, match="GTA.BLOCK"):
        parse_terms(text)


def test_parse_aliases():
    assert parse_terms("DNL") == ("SA", "TA")
    assert parse_terms("GTA") == ("SA", "PIXEL_GTA", "REGION_GTA")
    assert parse_terms("TAPE+sa") == ("SA", "TAPE")


@pytest.mark.parametrize("name", ["GTA", "PIXEL_GTA", "REGION_GTA"])
@pytest.mark.parametrize("groups", [3, 5, 32])
def test_num_groups_must_divide(name, groups):
    with pytest.raises(ValueError, match="GTA.NUM_GROUPS"):
        DecoupledAttentionBlock(C, 4, name, num_groups=groups)
