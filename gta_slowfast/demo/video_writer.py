"""Encoding frames into a video file with PyAV: the one video writer of the
demo, the tests and the benchmarks."""

import os

import av
import numpy as np

# The container PyAV writes, by file extension.
CONTAINER_FORMATS = {
    ".webm": "webm",
    ".mp4": "mp4",
    ".mkv": "matroska",
    ".avi": "avi",
    ".h264": "h264",
}


def codec_available(codec):
    """Whether this PyAV can encode with ``codec`` (e.g. "libvpx-vp9")."""
    return codec in av.codecs_available


def encode_video(path, frames, fps, codec, options=None, pix_fmt="yuv420p", bitexact=False):
    """Encodes RGB frames into ``path``, the container chosen by its extension
    (:data:`CONTAINER_FORMATS`).

    The file is written under ``path + ".tmp"`` and renamed when complete, so
    an interrupted run leaves no truncated video behind.

    Args:
        path (str): output file; its extension names the container.
        frames (iterable of numpy.ndarray): uint8 (H, W, 3) RGB frames, all of
            one size, e.g. an array (T, H, W, 3) or a generator.
        fps (int): frame rate; frame t has presentation time t / fps.
        codec (str): PyAV encoder name ("libvpx-vp9", "libx264", "mpeg4", ...).
        options (dict): encoder options, strings to strings (FFmpeg's names).
        pix_fmt (str): pixel format of the stream.
        bitexact (bool): no encoder or muxer version and no random ids in the
            file, so that the same frames give the same bytes.
    Returns:
        str: ``path``.
    Raises:
        ValueError: an extension with no container, or no frames.
        RuntimeError: this PyAV has no ``codec`` encoder.
    """
    extension = os.path.splitext(path)[1]
    if extension not in CONTAINER_FORMATS:
        raise ValueError("No container for {} (known: {}).".format(
            path, ", ".join(sorted(CONTAINER_FORMATS))))
    if not codec_available(codec):
        raise RuntimeError(
            "PyAV has no {} encoder (av.codecs_available lacks it); install a PyAV "
            "wheel built with it".format(codec))
    tmp = path + ".tmp"
    try:
        _encode(tmp, frames, fps, codec, options, pix_fmt, bitexact,
                CONTAINER_FORMATS[extension])
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, path)
    return path


def _encode(path, frames, fps, codec, options, pix_fmt, bitexact, container_format):
    """:func:`encode_video`'s encoding loop, into ``path`` as it is."""
    container_options = {"fflags": "+bitexact"} if bitexact else {}
    stream = None
    with av.open(path, "w", format=container_format,
                 container_options=container_options) as container:
        for index, image in enumerate(frames):
            image = np.ascontiguousarray(image)
            if stream is None:
                stream = container.add_stream(codec, rate=int(fps), options=dict(options or {}))
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = pix_fmt
                if bitexact:
                    stream.codec_context.flags |= av.codec.context.Flags.bitexact
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            frame.pts = index
            container.mux(stream.encode(frame))
        if stream is None:
            raise ValueError("No frames to write to {}.".format(path))
        container.mux(stream.encode())
