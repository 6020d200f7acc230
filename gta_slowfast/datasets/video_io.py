"""Reading the frames of one video: a video file (PyAV) or a folder of images.

Both sources count their frames and return the frames at given indices as a
uint8 RGB array of shape (T, H, W, 3); both are context managers (``close``
releases a file). A source that cannot be read raises ``VideoReadError``,
which names the file and the reason.
"""

import logging
import os
import re

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

# A file whose frames fall short of this fraction of the frame count its
# container declares is reported as truncated. The margin absorbs ordinary
# differences between a container's metadata and its frames (edit lists, an
# audio track that outlasts the video).
MIN_DECODED_FRACTION = 0.9

# FFmpeg threads per decoder. One thread costs the fewest CPU-seconds per
# frame for VP9 (SSv2) and H.264 (Kinetics) alike (tools/benchmark_loader.py
# measures both against FFmpeg's default); DataLoader workers, one per core,
# give the parallelism.
DECODER_THREADS = 1

# PyAV 17 converts frames with FFmpeg's threaded swscale and, unless told
# otherwise, starts a pool of one thread per core for every frame it
# converts: several times the CPU time of one thread, and milliseconds of
# wall time per frame on a busy machine.
_RGB_OPTIONS = {"format": "rgb24"}
if int(av.__version__.split(".")[0]) >= 17:
    _RGB_OPTIONS["threads"] = 1

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

# Files already logged as decoded in full, in this process.
_logged_full_decodes = set()


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


class FrameSource:
    """What both sources share: use as a context manager, or ``close``.

    Attributes:
        fps (float or None): frames a second; None where unknown (frame
            images).
        declared_frames (int): the frame count a video container declares,
            0 where it declares none (and for frame images).
    """

    fps = None
    declared_frames = 0

    def close(self):
        """Releases what the source holds open (nothing by default)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _IndexMismatch(Exception):
    """The decoder's frames do not match the packet index (internal)."""


class PacketIndex:
    """Where each frame of a video stream is, from its packets alone.

    Frame i is the packet with the i-th smallest presentation time (pts):
    the i-th frame a full decode outputs. Packets the container marks as
    discarded (edit lists) are decoded for reference but give no frame.

    Attributes:
        num_frames (int): F, the frames.
        frame_pts (np.ndarray): int64 (F,), increasing.
        frame_of_packet (np.ndarray): int64 (P,), each packet's frame in
            decode order, -1 for a discarded packet.
        packet_of_frame (np.ndarray): int64 (F,), the decode position of
            each frame's packet.
    """

    def __init__(self, packets):
        """
        Args:
            packets (list of av.Packet): one stream's packets in decode order,
                the first a keyframe, each shown one with a distinct pts
                (``usable`` checks).
        """
        shown = [p for p, packet in enumerate(packets) if not packet.is_discard]
        pts = np.array([packets[p].pts for p in shown], np.int64)
        order = np.argsort(pts, kind="stable")
        self.num_frames = len(shown)
        self.frame_pts = pts[order]
        self.packet_of_frame = np.array(shown, np.int64)[order]
        self.frame_of_packet = np.full(len(packets), -1, np.int64)
        self.frame_of_packet[self.packet_of_frame] = np.arange(self.num_frames)
        self._frame_of_pts = {int(value): i for i, value in enumerate(self.frame_pts)}
        self._keyframes = np.flatnonzero([packet.is_keyframe for packet in packets])
        self._packet_pts = [packet.pts for packet in packets]

    @staticmethod
    def usable(packets, reorders):
        """Whether the packets can be indexed: the first is a keyframe shown
        no later than any other frame, every shown packet has a pts, no two
        the same, decode times (where given) never go back (as they do
        where timestamps wrap or jump), and, for a codec that shows frames in
        another order than it decodes them, the pts are not in decode order
        (as AVI's are: decode times, not presentation times).

        Args:
            packets (list of av.Packet): in decode order.
            reorders (bool): the codec may reorder frames (B-frames).
        """
        pts = [packet.pts for packet in packets if not packet.is_discard]
        if not pts or not packets[0].is_keyframe or None in pts or packets[0].pts is None:
            return False
        distinct = len(set(pts)) == len(pts)
        keyframe_first = packets[0].pts <= min(pts)
        dts = [packet.dts for packet in packets if packet.dts is not None]
        dts_forward = all(a <= b for a, b in zip(dts, dts[1:]))
        decode_times = reorders and len(pts) > 2 and pts == sorted(pts)
        return distinct and keyframe_first and dts_forward and not decode_times

    def frame_of_pts(self, pts):
        """The frame a decoded frame of timestamp ``pts`` is.

        Raises:
            _IndexMismatch: no packet has that pts.
        """
        frame = self._frame_of_pts.get(pts)
        if frame is None:
            raise _IndexMismatch("a decoded frame has pts {}, which no packet has".format(pts))
        return frame

    def decode_start(self, frames):
        """The decode position of the keyframe to start from to get
        ``frames``: the last one that comes before all of their packets and
        is shown no later than the first of them.

        Args:
            frames (np.ndarray): int64 frame indices, sorted, unique.
        """
        first_packet = self.packet_of_frame[frames].min()
        first_pts = self.frame_pts[frames[0]]
        for keyframe in self._keyframes[::-1]:
            if keyframe <= first_packet and self._packet_pts[keyframe] <= first_pts:
                return int(keyframe)
        return 0


class VideoFile(FrameSource):
    """A video file, decoding only the frames asked for.

    Opening reads the stream's packets (compressed, a fraction of the decoded
    size) and indexes them (``PacketIndex``). ``read`` decodes from the last
    keyframe before the first frame asked for up to the last one, skips the
    non-reference frames it is not asked for (FFmpeg's ``skip_frame``) and
    converts to RGB only the frames asked for; the frames are those of a
    full decode, pixel for pixel. A file whose packets cannot be indexed
    (``PacketIndex.usable``: timestamps missing, repeated or in decode order,
    no keyframe first), or whose decoder's frames turn out not to match its
    packets, is decoded in full instead, and logged once per file (and
    process).
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
        self._container = None
        self._frames = None
        if not os.path.isfile(path):
            raise VideoReadError(path, "no such file")
        if os.path.getsize(path) == 0:
            raise VideoReadError(path, "empty file (0 bytes)")
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self):
        try:
            self._container = av.open(self.path)
            if not self._container.streams.video:
                raise VideoReadError(self.path, "no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.codec_context.thread_count = DECODER_THREADS
            declared = _declared_frame_count(self._container, self._stream)
            self._packets = [
                packet for packet in self._container.demux(self._stream) if packet.size
            ]
            if not self._packets:
                raise VideoReadError(self.path, "no decodable frame")
            if PacketIndex.usable(self._packets, self._stream.codec_context.has_b_frames):
                self._index = PacketIndex(self._packets)
                num_frames = self._index.num_frames
            else:
                self._index = None
                self._log_full_decode(
                    "its packets' timestamps do not locate its frames (missing, "
                    "repeated, decode times, or frames shown before the first keyframe)"
                )
                self._frames = self._decode_all()
                num_frames = len(self._frames)
        except VideoReadError:
            raise
        except Exception as error:  # PyAV raises many types on bad input.
            raise _decoding_failed(self.path, error) from error
        if num_frames == 0:
            raise VideoReadError(self.path, "no decodable frame")
        if num_frames < MIN_DECODED_FRACTION * declared:
            raise VideoReadError(
                self.path,
                "truncated: {} frames of {} declared".format(num_frames, declared),
            )
        self._num_frames = num_frames
        self.declared_frames = declared

    @property
    def num_frames(self):
        """int: the frames a full decode gives."""
        return self._num_frames

    @property
    def fps(self):
        """float or None: the stream's average frame rate, None where it
        declares none."""
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else None

    def read(self, indices):
        """The frames at ``indices`` (repeats allowed), in that order.

        Args:
            indices (sequence of int): frame indices in [0, num_frames).
        Returns:
            np.ndarray: uint8 (T, H, W, 3) RGB, T = len(indices).
        Raises:
            IndexError: an index out of range.
            VideoReadError: the frames cannot be decoded.
        """
        indices = np.asarray(indices, np.int64).reshape(-1)
        wanted = np.unique(indices)
        if len(wanted) and not (0 <= wanted[0] and wanted[-1] < self._num_frames):
            raise IndexError(
                "Frames {} of a video of {}.".format(wanted.tolist(), self._num_frames)
            )
        try:
            rgb = self._decode_frames(wanted)
        except VideoReadError:
            raise
        except Exception as error:
            raise _decoding_failed(self.path, error) from error
        return np.stack([rgb[i] for i in indices.tolist()])

    def count_decoded_frames(self):
        """Decodes every frame (not converted to RGB), as a file with
        unusable timestamps is read; ``tools/check_videos.py``'s test.

        Returns:
            int: the frames a full decode gives.
        Raises:
            VideoReadError: the decoder fails on a packet.
        """
        if self._frames is not None:
            return len(self._frames)
        try:
            return sum(1 for _ in self._decode_packets(0))
        except Exception as error:
            raise _decoding_failed(self.path, error) from error

    def close(self):
        """Closes the file."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def _decode_frames(self, wanted):
        """{frame index: uint8 (H, W, 3) RGB} for the sorted ``wanted``."""
        if self._frames is None:
            try:
                return self._decode_window(wanted)
            except _IndexMismatch as mismatch:
                self._log_full_decode(
                    "its timestamps do not match its decoded frames ({})".format(mismatch)
                )
                self._frames = self._decode_all()
                if len(self._frames) != self._num_frames:
                    raise VideoReadError(
                        self.path,
                        "{} frames decoded of {} packets".format(
                            len(self._frames), self._num_frames
                        ),
                    )
        return {i: to_rgb(self._frames[i]) for i in wanted.tolist()}

    def _decode_window(self, wanted):
        """Decodes from the keyframe before ``wanted`` to its last frame.

        Raises:
            _IndexMismatch: a decoded frame is not the one the index expects,
                comes out of order, or a wanted frame never comes out.
        """
        index = self._index
        needed = np.zeros(index.num_frames, bool)
        needed[wanted] = True
        rgb = {}
        previous = -1
        for frame in self._decode_packets(index.decode_start(wanted), needed):
            i = index.frame_of_pts(frame.pts)
            if i <= previous:
                raise _IndexMismatch(
                    "the decoder showed frame {} after frame {}".format(i, previous)
                )
            previous = i
            if needed[i]:
                rgb[i] = to_rgb(frame)
                if len(rgb) == len(wanted):
                    return rgb
        missing = sorted(set(wanted.tolist()) - set(rgb))
        raise _IndexMismatch("frames {} never came out of the decoder".format(missing))

    def _decode_all(self):
        """Every frame of the stream from its first packet, in the codec's
        pixel format (YUV 4:2:0 for VP9 and H.264: 1.5 bytes per pixel)."""
        return list(self._decode_packets(0))

    def _decode_packets(self, start, needed=None):
        """Yields the frames the decoder shows when fed the packets from
        decode position ``start`` on, then drained.

        Args:
            start (int): a keyframe's decode position.
            needed (np.ndarray): bool (F,), the frames wanted; the packets of
                the others are decoded only where other frames refer to them
                (FFmpeg's ``skip_frame`` "NONREF"). None: every frame.
        """
        decoder = self._stream.codec_context
        decoder.flush_buffers()
        decoder.skip_frame = "DEFAULT"
        for position in range(start, len(self._packets)):
            if needed is not None:
                frame = self._index.frame_of_packet[position]
                wanted = frame >= 0 and needed[frame]
                decoder.skip_frame = "DEFAULT" if wanted else "NONREF"
            yield from decoder.decode(self._packets[position])
        decoder.skip_frame = "DEFAULT"
        yield from decoder.decode(None)

    def _log_full_decode(self, reason):
        if self.path not in _logged_full_decodes:
            _logged_full_decodes.add(self.path)
            logger.warning(
                "%s: %s; decoding the whole file for each clip.", self.path, reason
            )


class ImageSequence(FrameSource):
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

    def count_decoded_frames(self):
        """Reads every frame image.

        Returns:
            int: the number of frame images.
        Raises:
            VideoReadError: an image is missing or cannot be decoded.
        """
        for path in self.paths:
            self._read_image(path)
        return len(self.paths)

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
        ImageSequence or VideoFile: has ``num_frames`` and ``read(indices)``;
        a context manager.
    Raises:
        VideoReadError: see ``VideoFile`` and ``ImageSequence``.
    """
    if os.path.isdir(path):
        return ImageSequence.from_folder(path)
    return VideoFile(path)


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


def to_rgb(frame):
    """A decoded frame as uint8 (H, W, 3) RGB: PyAV's conversion, on one
    thread."""
    return frame.to_ndarray(**_RGB_OPTIONS)


def _decoding_failed(path, error):
    """The VideoReadError for an exception PyAV raised on ``path``."""
    return VideoReadError(
        path, "decoding failed ({}: {})".format(type(error).__name__, error)
    )


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
