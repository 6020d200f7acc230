"""The clips of a synthetic Something-Something-v2 look-alike where only
temporal order tells classes apart.

Classes come in time-reversed pairs (:data:`CLASS_PAIRS`). A clip of the
second class of a pair is a clip of the first class played backwards.
Every frame of either class is drawn from the same distribution, so a
model that pools per-frame features without regard to order (average
pooling) is at chance within each pair, while a model that sees the order
of frames can reach 100 %.

Each clip: a static background (random colour, smooth random texture), an
optional static distractor shape, one object (a rectangle or an ellipse of
random size, colour and tilt) that follows the pair's trajectory from a
random start with a random amplitude, mild per-pixel noise in every frame.
The motion eases in and out between two random times, so a clip may hold
still for a few frames at either end.

Flip safety: training flips videos horizontally except for classes whose
name contains "left" or "right" (``GTA.DATA.NO_FLIP_WORDS``). The pairs
whose meaning changes under a horizontal flip name "left" or "right" in
both classes; the others draw every horizontal quantity (drift, tilt) from
a distribution symmetric under the flip.

Class indices keep the pairs together: pair ``p`` is classes ``2p``
(forward) and ``2p + 1`` (reversed).
"""

import numpy as np

from gta_slowfast.datasets.ssv2 import class_name_of

# (forward template, reversed template); a clip of the reversed class is a
# forward clip played backwards. Templates follow SSv2 ("[something]" is the
# object; "[Something]" at the start of a sentence).
CLASS_PAIRS = [
    ("Moving [something] from left to right",
     "Moving [something] from right to left"),
    ("Moving [something] up",
     "Moving [something] down"),
    ("Moving [something] towards the camera",
     "Moving [something] away from the camera"),
    ("[Something] appearing",
     "[Something] disappearing"),
    ("Unfolding [something]",
     "Folding [something]"),
    ("Turning the camera left while filming [something]",
     "Turning the camera right while filming [something]"),
]

# The trajectory each pair's forward clip follows (same order as CLASS_PAIRS).
_MOTIONS = ["right", "up", "grow", "fade_in", "unfold", "pan_right"]

MAX_PAIRS = len(CLASS_PAIRS)

# Object names for the "label" and "placeholders" fields, by shape.
_NAMES = {
    "rect": ["box", "book", "phone", "card", "brick", "remote control"],
    "ellipse": ["ball", "apple", "orange", "coin", "plate", "egg"],
}


def class_templates(num_pairs=4):
    """Templates of the first ``num_pairs`` pairs, in class-index order."""
    check_num_pairs(num_pairs)
    return [t for pair in CLASS_PAIRS[:num_pairs] for t in pair]


def class_names(num_pairs=4):
    """Class names (labels.json keys) in class-index order: pair ``p`` is
    classes ``2p`` (forward) and ``2p + 1`` (reversed)."""
    return [class_name_of(t) for t in class_templates(num_pairs)]


def check_num_pairs(num_pairs):
    """Raises ValueError unless 1 <= num_pairs <= MAX_PAIRS."""
    if not 1 <= int(num_pairs) <= MAX_PAIRS:
        raise ValueError(f"num_pairs must be in 1..{MAX_PAIRS}, got {num_pairs}")


def check_clip_size(num_frames, height, width):
    """Raises ValueError unless a clip has >= 2 frames and an even height
    and width of at least 32 pixels."""
    if int(num_frames) < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    for name, v in (("height", height), ("width", width)):
        if int(v) < 32 or int(v) % 2:
            # yuv420p halves the chroma planes: odd sizes would be rounded.
            raise ValueError(f"{name} must be an even number >= 32, got {v}")


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _ease(num_frames, rng):
    """Progress 0 -> 1 per frame: still, smooth motion, still. The motion
    starts in the first fifth and ends in the last fifth of the clip; the
    distribution of the curve is symmetric under time reversal
    (p(t) -> 1 - p(T-1-t))."""
    last = num_frames - 1
    t0 = rng.uniform(0.0, 0.2) * last
    t1 = rng.uniform(0.8, 1.0) * last
    u = np.clip((np.arange(num_frames) - t0) / max(t1 - t0, 1e-6), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _colour_far_from(rng, others, min_dist=90.0):
    """A random RGB colour at least ``min_dist`` away from every colour in
    ``others`` (best of a few tries)."""
    best, best_d = None, -1.0
    for _ in range(64):
        c = rng.uniform(0, 255, size=3)
        d = min(np.linalg.norm(c - o) for o in others) if others else 1e9
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _texture(rng, height, width, cells=6, amplitude=22.0):
    """A smooth random texture, zero mean, about ``amplitude`` peak, shape
    (height, width, 3): a bicubically upsampled coarse noise grid, mostly
    shared by the channels."""
    import cv2

    gh = cells
    gw = max(2, int(round(cells * width / height)))
    grey = rng.standard_normal((gh, gw))
    tint = rng.standard_normal((gh, gw, 3)) * 0.35
    grid = (grey[..., None] + tint).astype(np.float32)
    tex = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return tex * (amplitude / 1.5)


def _shape_mask(height, width, shape, cx, cy, w, h, angle):
    """Anti-aliased mask in [0, 1] of a filled rectangle or ellipse of full
    size (w, h) centred at (cx, cy), tilted by ``angle`` degrees; sub-pixel
    positions (1/16 px)."""
    import cv2

    mask = np.zeros((height, width), np.uint8)
    if w < 0.5 or h < 0.5:
        return mask.astype(np.float32)
    s = 16  # 4 fractional bits
    if shape == "ellipse":
        cv2.ellipse(mask, (int(round(cx * s)), int(round(cy * s))),
                    (max(1, int(round(w / 2 * s))), max(1, int(round(h / 2 * s)))),
                    float(angle), 0.0, 360.0, 255, -1, cv2.LINE_AA, 4)
    else:
        a = np.deg2rad(angle)
        ca, sa = np.cos(a), np.sin(a)
        corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], np.float64) / 2
        rot = corners @ np.array([[ca, sa], [-sa, ca]])
        pts = np.round((rot + [cx, cy]) * s).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255.0


def _forward_states(motion, num_frames, height, width, rng):
    """Per-frame object states of a forward clip.

    Returns:
        dict of arrays of length num_frames: cx, cy, w, h, alpha, pan
        (horizontal shift of the whole scene, pixels, positive = content
        moves right), plus the static ``shape`` and ``angle``.
    """
    H, W, T = float(height), float(width), num_frames
    p = _ease(T, rng)
    shape = "rect" if rng.random() < 0.5 else "ellipse"
    angle = rng.uniform(-20.0, 20.0)
    size = lambda lo, hi: rng.uniform(lo, hi) * H  # noqa: E731
    w, h = size(0.16, 0.30), size(0.16, 0.30)
    jitter = lambda s: rng.normal(0.0, s, T)  # noqa: E731  symmetric, per frame
    ones = np.ones(T)
    st = dict(shape=shape, angle=angle, w=w * ones, h=h * ones,
              alpha=ones.copy(), pan=np.zeros(T))
    margin = 2.0

    def free(extent, total):
        # range of centre positions that keep an object of this extent inside
        return extent / 2 + margin, total - extent / 2 - margin

    if motion == "right":
        d = rng.uniform(0.35, 0.55) * W
        lo, hi = free(max(w, h), W)
        x0 = rng.uniform(lo, hi - d)
        ylo, yhi = free(max(w, h), H)
        y0 = rng.uniform(ylo, yhi)
        dy = rng.uniform(-0.06, 0.06) * H
        st["cx"] = x0 + d * p + jitter(0.3)
        st["cy"] = np.clip(y0 + dy * p, ylo, yhi) + jitter(0.3)
    elif motion == "up":
        d = rng.uniform(0.35, 0.55) * H
        lo, hi = free(max(w, h), H)
        y0 = rng.uniform(lo + d, hi)
        xlo, xhi = free(max(w, h), W)
        x0 = rng.uniform(xlo, xhi)
        dx = rng.uniform(-0.06, 0.06) * H
        st["cy"] = y0 - d * p + jitter(0.3)
        st["cx"] = np.clip(x0 + dx * p, xlo, xhi) + jitter(0.3)
    elif motion == "grow":
        factor = rng.uniform(2.0, 2.8)
        end = rng.uniform(0.38, 0.55) * H
        aspect = rng.uniform(0.7, 1.4)
        w_end, h_end = end * np.sqrt(aspect), end / np.sqrt(aspect)
        scale = (1.0 + (factor - 1.0) * p) / factor
        st["w"], st["h"] = w_end * scale, h_end * scale
        xlo, xhi = free(max(w_end, h_end), W)
        ylo, yhi = free(max(w_end, h_end), H)
        st["cx"] = rng.uniform(xlo, xhi) + jitter(0.3)
        st["cy"] = rng.uniform(ylo, yhi) + jitter(0.3)
    elif motion == "fade_in":
        xlo, xhi = free(max(w, h), W)
        ylo, yhi = free(max(w, h), H)
        st["cx"] = rng.uniform(xlo, xhi) + jitter(0.3)
        st["cy"] = rng.uniform(ylo, yhi) + jitter(0.3)
        st["alpha"] = p
    elif motion == "unfold":
        # full width at the end, folded to about half of it at the start
        w_full = size(0.30, 0.48)
        folded = rng.uniform(0.4, 0.5)
        st["w"] = w_full * (folded + (1.0 - folded) * p)
        xlo, xhi = free(max(w_full, h), W)
        ylo, yhi = free(max(w_full, h), H)
        st["cx"] = rng.uniform(xlo, xhi) + jitter(0.3)
        st["cy"] = rng.uniform(ylo, yhi) + jitter(0.3)
        st["angle"] = rng.uniform(-8.0, 8.0)
    elif motion == "pan_right":
        # the camera turns left: the whole scene moves right in the image
        d = rng.uniform(0.30, 0.45) * W
        lo, hi = free(max(w, h), W)
        x0 = rng.uniform(lo, hi - d)
        ylo, yhi = free(max(w, h), H)
        st["pan"] = d * p
        st["cx"] = x0 + st["pan"] + jitter(0.2)
        st["cy"] = rng.uniform(ylo, yhi) + jitter(0.2)
    else:  # pragma: no cover
        raise ValueError(motion)
    return st


def render_clip(pair, reverse=False, num_frames=16, height=72, width=96,
                seed=0, return_info=False):
    """Renders one clip of a class.

    Args:
        pair (int): index into :data:`CLASS_PAIRS`.
        reverse (bool): False: the pair's forward class (first template);
            True: the reversed class, i.e. a forward clip drawn from the
            same distribution and played backwards.
        num_frames, height, width (int): clip size (height, width even).
        seed (int or numpy.random.Generator): randomness of the clip.
        return_info (bool): also return a dict describing the clip
            (``shape``, ``name``, ``colour`` (RGB), ``distractor`` (bool),
            per-frame ``cx``, ``cy``, ``w``, ``h``, ``alpha``, ``pan`` in the
            frame order of the returned clip).
    Returns:
        numpy.ndarray: uint8 RGB frames, shape (num_frames, height, width, 3)
        (and the info dict with ``return_info``).
    """
    if not 0 <= int(pair) < MAX_PAIRS:
        raise ValueError(f"pair must be in 0..{MAX_PAIRS - 1}, got {pair}")
    check_clip_size(num_frames, height, width)
    import cv2

    T, H, W = int(num_frames), int(height), int(width)
    rng = _rng(seed)

    # scene: background colour and texture (wide enough for the pan), an
    # optional static distractor, the object's colour
    bg_colour = rng.uniform(30, 225, size=3)
    pad = W // 2
    texture = _texture(rng, H, W + 2 * pad)
    has_distractor = rng.random() < 0.5
    obj_colour = _colour_far_from(rng, [bg_colour])
    st = _forward_states(_MOTIONS[pair], T, H, W, rng)
    dist = None
    if has_distractor:
        dshape = "ellipse" if st["shape"] == "rect" else "rect"
        dsz = rng.uniform(0.12, 0.22, size=2) * H
        dist = dict(
            shape=dshape, w=dsz[0], h=dsz[1], angle=rng.uniform(-20, 20),
            cx=rng.uniform(dsz.max() / 2, W - dsz.max() / 2),
            cy=rng.uniform(dsz.max() / 2, H - dsz.max() / 2),
            colour=_colour_far_from(rng, [bg_colour, obj_colour], 60.0),
        )
    noise_sigma = rng.uniform(2.0, 5.0)
    name = _NAMES[st["shape"]][rng.integers(len(_NAMES[st["shape"]]))]

    base = (bg_colour[None, None, :] + texture).astype(np.float32)
    frames = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        shift = float(st["pan"][t])
        # dst(x) = base(x + pad - shift): the scene moves right by `shift`
        m = np.float32([[1, 0, shift - pad], [0, 1, 0]])
        img = cv2.warpAffine(base, m, (W, H), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        if dist is not None:
            dm = _shape_mask(H, W, dist["shape"], dist["cx"] + shift, dist["cy"],
                             dist["w"], dist["h"], dist["angle"])[..., None]
            img = img * (1 - dm) + dist["colour"].astype(np.float32) * dm
        om = _shape_mask(H, W, st["shape"], st["cx"][t], st["cy"][t],
                         st["w"][t], st["h"][t], st["angle"])[..., None]
        om = om * np.float32(st["alpha"][t])
        img = img * (1 - om) + obj_colour.astype(np.float32) * om
        img = img + rng.normal(0.0, noise_sigma, img.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    order = slice(None, None, -1) if reverse else slice(None)
    frames = np.ascontiguousarray(frames[order])
    if not return_info:
        return frames
    info = dict(shape=st["shape"], name=name, colour=obj_colour.copy(),
                distractor=has_distractor)
    for k in ("cx", "cy", "w", "h", "alpha", "pan"):
        info[k] = np.asarray(st[k], np.float64)[order].copy()
    return frames, info

