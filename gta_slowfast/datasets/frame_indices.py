"""Which frames of a video make a clip: TSN segments or a dense window.

Pure functions of the video length; randomness only through the ``rng``
(a ``numpy.random.Generator``) passed in, so test-time clips are
deterministic.
"""

import numpy as np


def tsn_indices(num_video_frames, num_segments, training, rng=None, view_index=0, num_views=1):
    """One frame from each of ``num_segments`` consecutive segments (TSN).

    The L frames are split into n segments of nearly equal length: segment i
    holds frames floor(i * L / n) .. floor((i + 1) * L / n) - 1. In training
    the frame is drawn uniformly from its segment; at test it is the frame
    at fraction (view_index + 0.5) / num_views of the segment, the centre
    for one view. When L < n some segments hold no frame: they take frame
    floor(i * L / n), so frames repeat, in order.

    Args:
        num_video_frames (int): L > 0.
        num_segments (int): n > 0, the clip length.
        training (bool): random frame per segment, else fixed.
        rng (np.random.Generator): required in training.
        view_index (int): at test, which of ``num_views`` offsets.
        num_views (int): at test, how many clips share the segments.
    Returns:
        np.ndarray: int64 (n,) non-decreasing frame indices in [0, L).
    """
    segment = np.arange(num_segments)
    first = segment * num_video_frames // num_segments
    length = (segment + 1) * num_video_frames // num_segments - first
    if training:
        offset = rng.integers(0, np.maximum(length, 1))
    else:
        offset = length * (2 * view_index + 1) // (2 * num_views)
    return (first + offset).astype(np.int64)


def dense_indices(
    num_video_frames,
    num_frames,
    sampling_rate,
    clip_index,
    num_clips,
    training,
    rng=None,
    rate_ratio=1.0,
    use_offset=False,
):
    """``num_frames`` frames ``sampling_rate`` apart (PySlowFast).

    ``sampling_rate`` counts frames at the target rate (DATA.TARGET_FPS):
    in the video, sampled frames are ``sampling_rate * rate_ratio`` frames
    apart, ``rate_ratio`` being the video's rate over the target rate (as
    PySlowFast's decoder converts), and indices are rounded. The window
    spans (num_frames - 1) * step + 1 frames. In training it starts at a
    random frame. At test, as PySlowFast's ``get_start_end_idx`` with
    DATA.USE_OFFSET_SAMPLING (``use_offset``), of the D + 1 possible starts
    0..D, clip k of n starts at floor(k D / n) (the video cut in n equal
    parts, the last window left out; one clip starts at 0); with
    ``use_offset`` at k floor(D / (n - 1)) (the first and the last window
    included), or at floor(D / 2) for one clip. A video shorter than the
    window starts at 0 and repeats its last frame (as PySlowFast clamps).

    Args:
        num_video_frames (int): L > 0.
        num_frames (int): clip length.
        sampling_rate (int): step between sampled frames, at the target rate.
        clip_index (int): at test, which clip in [0, num_clips).
        num_clips (int): at test, how many clips cover the video.
        training (bool): random start, else ``clip_index``'s start.
        rng (np.random.Generator): required in training.
        rate_ratio (float): the video's frame rate / the target rate.
        use_offset (bool): DATA.USE_OFFSET_SAMPLING's test placement.
    Returns:
        np.ndarray: int64 (num_frames,) non-decreasing frame indices in [0, L).
    """
    offsets = dense_offsets(num_frames, sampling_rate, rate_ratio)
    latest_start = max(num_video_frames - 1 - int(offsets[-1]), 0)
    if training:
        start = int(rng.integers(0, latest_start + 1))
    elif not use_offset:
        start = (latest_start * clip_index) // num_clips
    elif num_clips == 1:
        start = latest_start // 2
    else:
        start = clip_index * (latest_start // (num_clips - 1))
    return np.minimum(start + offsets, num_video_frames - 1).astype(np.int64)


def dense_offsets(num_frames, sampling_rate, rate_ratio=1.0):
    """int64 (num_frames,) positions of a dense clip's frames from its first,
    ``sampling_rate * rate_ratio`` frames apart, rounded (see
    ``dense_indices``); the window spans ``offsets[-1] + 1`` frames."""
    return np.round(sampling_rate * rate_ratio * np.arange(num_frames)).astype(np.int64)
