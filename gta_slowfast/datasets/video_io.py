"""Reading the frames of one video: a video file (PyAV) or a folder of images.

Both sources count their frames and return the frames at given indices as a
uint8 RGB array of shape (T, H, W, 3). A source that cannot be read raises
``VideoReadError``, which names the file and the reason.
"""

import os
import re

import av
import cv2
import numpy as np

# A file whose decoded frames fall short of this fraction of the frame count
# its container declares is reported as truncated. The margin absorbs
# ordinary differences between a container's metadata and its decodable
# frames (edit lists, an audio track that outlasts the video).
MIN_DECODED_FRACTION = 0.9

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class VideoReadError(Exception):
    """A video (file or frame) that cannot be read.

    Attributes:
        path (str): the file or folder.
        reason (str): what is wrong with it.
    """

    def __init__(self, path, reason):
        super().__init__("cannot read {}: {}".format(path, reason))
        self.path = path
        self.reason = reason


class DecodedVideo:
    """Every frame of a video file, decoded once on construction.

    Frames stay in the codec's pixel format (YUV 4:2:0 for VP9 and H.264: 1.5
    bytes per pixel) until ``read`` converts the requested ones to RGB. The
    whole file is decoded because WebM declares no frame count and because
    TSN sampling spans the whole video anyway.
    """

    def __init__(self, path):
        """
        Args:
            path (str): a video file PyAV can open.
        Raises:
            VideoReadError: the file is missing, empty, not a video, has no
                decodable frame, or is truncated.
        """
        self.path = path
        if not os.path.isfile(path):
            raise VideoReadError(path, "no such file")
        if os.path.getsize(path) == 0:
            raise VideoReadError(path, "empty file (0 bytes)")
        try:
            with av.open(path) as container:
                if not container.streams.video:
                    raise VideoReadError(path, "no video stream")
                stream = container.streams.video[0]
                declared = _declared_frame_count(container, stream)
                self._frames = list(container.decode(stream))
        except VideoReadError:
            raise
        except Exception as error:  # PyAV raises many types on bad input.
            raise VideoReadError(
                path, "decoding failed ({}: {})".format(type(error).__name__, error)
            ) from error
        if not self._frames:
            raise VideoReadError(path, "no decodable frame")
        if len(self._frames) < MIN_DECODED_FRACTION * declared:
            raise VideoReadError(
                path,
                "truncated: {} frames decoded of {} declared".format(
                    len(self._frames), declared
                ),
            )

    @property
    def num_frames(self):
        """int: the number of decoded frames."""
        return len(self._frames)

    def read(self, indices):
        """The frames at ``indices`` (repeats allowed), in that order.

        Args:
            indices (sequence of int): frame indices in [0, num_frames).
        Returns:
            np.ndarray: uint8 (T, H, W, 3) RGB, T = len(indices).
        """
        rgb = {i: self._frames[i].to_ndarray(format="rgb24") for i in set(indices)}
        return np.stack([rgb[i] for i in indices])


class ImageSequence:
    """A video stored as one image file per frame, read on demand."""

    def __init__(self, paths, name=None):
        """
        Args:
            paths (list of str): the frames' image files, in frame order.
            name (str): how errors name the video; default: the folder of the
                first frame.
        Raises:
            VideoReadError: ``paths`` is empty.
        """
        if not paths:
            raise VideoReadError(name or "<no frames>", "no frame images")
        self.name = name or os.path.dirname(paths[0])
        self.paths = list(paths)

    @classmethod
    def from_folder(cls, folder):
        """The images in ``folder`` (``IMAGE_EXTENSIONS``), in natural order
        of their names ("frame_2.jpg" before "frame_10.jpg")."""
        names = [
            name for name in os.listdir(folder) if name.lower().endswith(IMAGE_EXTENSIONS)
        ]
        names.sort(key=_natural_key)
        return cls([os.path.join(folder, name) for name in names], name=folder)

    @property
    def num_frames(self):
        """int: the number of frame images."""
        return len(self.paths)

    def read(self, indices):
        """The frames at ``indices`` (repeats allowed), in that order.

        Args:
            indices (sequence of int): frame indices in [0, num_frames).
        Returns:
            np.ndarray: uint8 (T, H, W, 3) RGB, T = len(indices).
        Raises:
            VideoReadError: an image is missing or cannot be decoded.
        """
        rgb = {i: self._read_image(self.paths[i]) for i in set(indices)}
        return np.stack([rgb[i] for i in indices])

    @staticmethod
    def _read_image(path):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            reason = "no such file" if not os.path.exists(path) else "not a readable image"
            raise VideoReadError(path, reason)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def open_video(path):
    """A frame source for ``path``: a folder of images or a video file.

    Args:
        path (str): a video file, or a folder of frame images.
    Returns:
        ImageSequence or DecodedVideo: has ``num_frames`` and ``read(indices)``.
    Raises:
        VideoReadError: see ``DecodedVideo`` and ``ImageSequence``.
    """
    if os.path.isdir(path):
        return ImageSequence.from_folder(path)
    return DecodedVideo(path)


def _declared_frame_count(container, stream):
    """The frame count the container declares, or 0 where it declares none.

    MP4 stores it (``stream.frames``); WebM stores only a duration, which
    times the frame rate gives the count.
    """
    if stream.frames > 0:
        return stream.frames
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return 0
    rate = stream.average_rate or stream.guessed_rate
    return int(round(seconds * float(rate))) if rate else 0


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
