"""Spatial transforms of a clip, and the clip's conversion to model inputs.

Geometric transforms take and return uint8 numpy clips of shape
(T, H, W, 3), RGB, so that they crop before they resize and never touch
more pixels than they keep. Crops and flips return views of their input;
resizes write one new array. ``to_normalized_tensor`` then makes the one
float copy, the (3, T, H, W) tensor a model takes, and ``pack_pathways``
its SlowFast pathways. Random choices come from a
``numpy.random.Generator``; PySlowFast's own transforms, which draw from
the global generators, run inside ``global_random_from``.
"""

import contextlib
import random
import re

import cv2
import numpy as np
import torch
from PIL import Image


def resize(frames, height, width):
    """Every frame resized to ``height`` x ``width`` (bilinear).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3).
    Returns:
        np.ndarray: uint8 (T, height, width, 3).
    """
    if frames.shape[1:3] == (height, width):
        return frames
    resized = np.empty((len(frames), height, width, 3), np.uint8)
    for frame, out in zip(frames, resized):
        cv2.resize(frame, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
    return resized


def resize_short_side(frames, size):
    """Resized so that the shorter side is ``size``, keeping the aspect ratio
    (the longer side is rounded down, as PySlowFast does).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3).
    Returns:
        np.ndarray: uint8 (T, H', W', 3) with min(H', W') = size.
    """
    height, width = frames.shape[1:3]
    if height <= width:
        return resize(frames, size, int(width * size / height))
    return resize(frames, int(height * size / width), size)


def random_short_side_scale(frames, min_size, max_size, rng, inverse_uniform=False):
    """Scale jitter: the shorter side resized to a size drawn uniformly in
    [min_size, max_size], or with ``inverse_uniform`` the size whose inverse
    is drawn uniformly in [1 / max_size, 1 / min_size] (PySlowFast's training
    augmentation, ``DATA.INV_UNIFORM_SAMPLE``).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3).
    Returns:
        np.ndarray: uint8 (T, H', W', 3).
    """
    if inverse_uniform:
        size = 1.0 / rng.uniform(1.0 / max_size, 1.0 / min_size)
    else:
        size = rng.uniform(min_size, max_size)
    return resize_short_side(frames, int(round(size)))


def crop(frames, top, left, height, width):
    """The ``height`` x ``width`` window at (``top``, ``left``) of every frame.

    Raises:
        ValueError: the window does not fit in the frames.
    """
    frame_height, frame_width = frames.shape[1:3]
    if not (
        0 <= top and top + height <= frame_height and 0 <= left and left + width <= frame_width
    ):
        raise ValueError(
            "Crop {}x{} at ({}, {}) does not fit in {}x{} frames.".format(
                height, width, top, left, frame_height, frame_width
            )
        )
    return frames[:, top : top + height, left : left + width]


def random_crop(frames, size, rng):
    """A ``size`` x ``size`` crop at a uniformly random position.

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3), H and W >= size.
    Returns:
        np.ndarray: uint8 (T, size, size, 3).
    """
    height, width = frames.shape[1:3]
    top = int(rng.integers(0, max(height - size, 0) + 1))
    left = int(rng.integers(0, max(width - size, 0) + 1))
    return crop(frames, top, left, size, size)


def uniform_crop(frames, size, position):
    """A ``size`` x ``size`` crop at ``position`` along the longer side
    (0: top or left end, 0.5: centre, 1: bottom or right end), centred along
    the shorter side (PySlowFast's ``uniform_crop``).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3), H and W >= size.
        position (float): in [0, 1].
    Returns:
        np.ndarray: uint8 (T, size, size, 3).
    """
    height, width = frames.shape[1:3]
    top = (height - size) // 2
    left = (width - size) // 2
    if height > width:
        top = int(round((height - size) * position))
    elif width > height:
        left = int(round((width - size) * position))
    return crop(frames, top, left, size, size)


def spatial_crop(frames, size, crop_index, num_crops):
    """Test crop ``crop_index`` of ``num_crops`` crops spread evenly along the
    longer side: one crop is the centre crop; three are the start, centre and
    end crops (PySlowFast's 3-crop testing).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3), H and W >= size.
    Returns:
        np.ndarray: uint8 (T, size, size, 3).
    """
    position = 0.5 if num_crops == 1 else crop_index / (num_crops - 1)
    return uniform_crop(frames, size, position)


def fixed_crop_offsets(height, width, crop_height, crop_width, more_fix_crop=True):
    """The crop positions of TSN's multi-scale crop (``fill_fix_offset``).

    With steps h = (height - crop_height) // 4 and w = (width - crop_width)
    // 4, the (top, left) corners are the four corners and the centre of a
    4 x 4 grid of steps, and with ``more_fix_crop`` also the middles of its
    four edges and its four quarter points: 13 in all.

    Args:
        height (int), width (int): frame size.
        crop_height (int), crop_width (int): crop size, at most the frame's.
        more_fix_crop (bool): 13 positions, else 5.
    Returns:
        list of (int, int): (top, left) of each position.
    """
    h_step = (height - crop_height) // 4
    w_step = (width - crop_width) // 4
    grid = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]
    if more_fix_crop:
        grid += [(2, 0), (2, 4), (4, 2), (0, 2), (1, 1), (1, 3), (3, 1), (3, 3)]
    return [(row * h_step, column * w_step) for row, column in grid]


def multi_scale_crop(frames, scales, size, rng, more_fix_crop=True):
    """TSN's multi-scale crop (``GroupMultiScaleCrop``), resized to ``size``.

    With base = the shorter side, the crop height and width are
    ``int(scales[i] * base)`` and ``int(scales[j] * base)``, each replaced
    by ``size`` when within 3 pixels of it, for a pair (i, j) drawn
    uniformly among those with |i - j| <= 1; the crop sits at one of the
    ``fixed_crop_offsets`` drawn uniformly (13 positions, or 5: the corners
    and the centre).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3).
        scales (list of float): in (0, 1].
        size (int): side of the output.
        more_fix_crop (bool): 13 positions, else 5.
    Returns:
        np.ndarray: uint8 (T, size, size, 3).
    """
    height, width = frames.shape[1:3]
    sides = [int(min(height, width) * scale) for scale in scales]
    sides = [size if abs(side - size) < 3 else side for side in sides]
    pairs = [
        (crop_height, crop_width)
        for i, crop_height in enumerate(sides)
        for j, crop_width in enumerate(sides)
        if abs(i - j) <= 1
    ]
    crop_height, crop_width = pairs[rng.integers(len(pairs))]
    offsets = fixed_crop_offsets(height, width, crop_height, crop_width, more_fix_crop)
    top, left = offsets[rng.integers(len(offsets))]
    return resize(crop(frames, top, left, crop_height, crop_width), size, size)


@contextlib.contextmanager
def global_random_from(rng):
    """Within: Python's ``random``, numpy's global generator and torch's CPU
    generator seeded from ``rng``, for PySlowFast's transforms, which draw
    from them; after: all three as they were.

    Args:
        rng (np.random.Generator): three seeds are drawn from it.
    """
    python_seed, numpy_seed, torch_seed = (int(seed) for seed in rng.integers(2**32, size=3))
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(python_seed)
        np.random.seed(numpy_seed)
        torch.manual_seed(torch_seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def apply_to_images(transform, frames):
    """A transform of a list of PIL images (PySlowFast's RandAugment) applied
    to a clip.

    Args:
        transform (callable): list of PIL RGB images -> list of as many.
        frames (np.ndarray): uint8 (T, H, W, 3).
    Returns:
        np.ndarray: uint8 (T, H', W', 3).
    """
    images = transform([Image.fromarray(np.ascontiguousarray(frame)) for frame in frames])
    return np.stack([np.asarray(image.convert("RGB")) for image in images])


def crop_as_float(frames, crop_fn, size):
    """A crop that PySlowFast computes on float clips (its
    ``random_resized_crop``) applied to a uint8 clip, rounded back to uint8
    (the crop resizes bilinearly, which commutes with PySlowFast's
    normalisation before it).

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3).
        crop_fn (callable): (float (3, T, H, W), size) -> float (3, T, size,
            size).
        size (int): side of the output.
    Returns:
        np.ndarray: uint8 (T, size, size, 3).
    """
    clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float()
    cropped = crop_fn(clip, size).round_().clamp_(0, 255).to(torch.uint8)
    return cropped.permute(1, 2, 3, 0).numpy()


def horizontal_flip(frames):
    """Every frame mirrored left to right.

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3).
    Returns:
        np.ndarray: uint8 (T, H, W, 3), a view of ``frames`` (no copy).
    """
    return frames[:, :, ::-1]


def should_flip(class_name, no_flip_words):
    """Whether clips of ``class_name`` may be flipped horizontally.

    A class is never flipped when its name contains one of ``no_flip_words``
    as a whole word, case-insensitive: "Pushing something from left to
    right" is not flipped, "Putting something upright on the table" is.

    Args:
        class_name (str or None): None (no class names) allows flipping.
        no_flip_words (list of str): e.g. ["left", "right"].
    Returns:
        bool
    """
    if class_name is None:
        return True
    words = set(re.findall(r"\w+", class_name.lower()))
    return not any(word.lower() in words for word in no_flip_words)


def mirror_classes(class_names, mirror_words):
    """The mirror class of every class whose name holds a mirror word: the
    class named with the words exchanged in pairs (MMAction2's
    ``flip_label_map``, built from the names).

    Args:
        class_names (list of str): class k at position k.
        mirror_words (list of str): pairs, e.g. ["left", "right"]: words 0
            and 1 are exchanged, 2 and 3, ...; whole words, case-insensitive.
    Returns:
        dict: class index -> its mirror's index, for the classes whose name
            holds one of the words and whose mirror name is a class. A class
            whose name holds a word but has no mirror class (SSv2's
            "Plugging something into something but pulling it right out as
            you remove your hand", where "right" is no direction) is left
            out: the loaders never flip it, the paper's rule.
    Raises:
        ValueError: an odd number of words.
    """
    if len(mirror_words) % 2:
        raise ValueError(
            "GTA.DATA.FLIP_LABEL_SWAP reads GTA.DATA.NO_FLIP_WORDS {} as pairs of "
            "mirror words; give an even number of words.".format(list(mirror_words))
        )
    exchange = {}
    for first, second in zip(mirror_words[0::2], mirror_words[1::2]):
        exchange[first.lower()] = second.lower()
        exchange[second.lower()] = first.lower()
    if not exchange:
        return {}
    pattern = re.compile(r"\b({})\b".format("|".join(map(re.escape, exchange))), re.IGNORECASE)
    index_of = {name.lower(): index for index, name in enumerate(class_names)}
    mirrors = {}
    for index, name in enumerate(class_names):
        if not pattern.search(name):
            continue
        mirror = pattern.sub(lambda match: exchange[match.group(0).lower()], name.lower())
        if mirror in index_of:
            mirrors[index] = index_of[mirror]
    return mirrors


def to_normalized_tensor(frames, mean, std):
    """The clip as a normalised float tensor, channels first, in one pass
    over the pixels plus one in place.

    Args:
        frames (np.ndarray): uint8 (T, H, W, 3), any strides (a crop or a
            flip of a larger array).
        mean, std (list of 3 float): per channel, for values in [0, 1]
            (DATA.MEAN, DATA.STD).
    Returns:
        torch.Tensor: float32 (3, T, H, W), contiguous,
        (frames / 255 - mean) / std.
    """
    std = np.asarray(std, np.float64)
    scale = (1.0 / (255.0 * std)).astype(np.float32).reshape(3, 1, 1, 1)
    shift = (np.asarray(mean, np.float64) / std).astype(np.float32).reshape(3, 1, 1, 1)
    clip = np.empty((3,) + frames.shape[:3], np.float32)
    np.multiply(frames.transpose(3, 0, 1, 2), scale, out=clip)
    clip -= shift
    return torch.from_numpy(clip)


def pack_pathways(clip, alpha):
    """The Slow and Fast inputs of a SlowFast model (PySlowFast's
    ``pack_pathway_output``): Slow takes T // alpha frames evenly spread
    over the clip, Fast takes all of them.

    Args:
        clip (torch.Tensor): (3, T, H, W).
        alpha (int): SLOWFAST.ALPHA.
    Returns:
        list of torch.Tensor: [(3, T // alpha, H, W), (3, T, H, W)].
    """
    num_frames = clip.shape[1]
    slow_frames = torch.linspace(0, num_frames - 1, num_frames // alpha).long()
    return [torch.index_select(clip, 1, slow_frames), clip]
