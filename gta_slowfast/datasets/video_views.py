"""The test views of one video, cut from one read of it.

Multi-view testing (TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS
crops) gives each view its own item. ``VideoViews`` reads the frames of
several clips of a video in one pass (each distinct frame decoded and
resized once) and cuts every view of those clips from them, so a dataset
that keeps the last ``VideoViews`` decodes a video once for all its views
when they are asked for in a row.
"""

import numpy as np

from gta_slowfast.datasets import transforms


class VideoViews:
    """Clips of one video, resized for testing, waiting to be cropped.

    Attributes:
        video_index (int): the video.
        frames (np.ndarray): uint8 (U, H, W, 3), the U distinct frames of
            the clips, in frame order, resized.
        positions (dict): temporal view (int) -> int64 (T,) positions in
            ``frames`` of that clip's frames, in clip order.
    """

    def __init__(self, video_index, frames, positions):
        self.video_index = video_index
        self.frames = frames
        self.positions = positions

    @classmethod
    def read(cls, video, video_index, clip_indices, resize):
        """Reads the clips' frames from ``video`` in one call.

        Args:
            video: a frame source (``read(indices)``, see ``video_io``).
            video_index (int): the video's index in its dataset.
            clip_indices (dict): temporal view (int) -> int64 (T,) frame
                indices of that clip.
            resize (callable): uint8 (U, H, W, 3) -> uint8 (U, H', W', 3),
                the test resize, applied once per distinct frame.
        Returns:
            VideoViews
        Raises:
            VideoReadError: from ``video.read``.
        """
        views = list(clip_indices)
        lengths = [len(clip_indices[view]) for view in views]
        distinct, positions = np.unique(
            np.concatenate([clip_indices[view] for view in views]), return_inverse=True
        )
        frames = resize(video.read(distinct))
        split = np.split(positions.astype(np.int64), np.cumsum(lengths)[:-1])
        return cls(video_index, frames, dict(zip(views, split)))

    def holds(self, video_index, temporal_view):
        """Whether this holds clip ``temporal_view`` of video ``video_index``."""
        return self.video_index == video_index and temporal_view in self.positions

    def view(self, temporal_view, size, spatial_crop, num_crops):
        """One view: a clip's frames, crop ``spatial_crop`` of ``num_crops``
        (``transforms.spatial_crop``).

        Returns:
            np.ndarray: uint8 (T, size, size, 3), a new array holding only
            the crop.
        """
        cropped = transforms.spatial_crop(self.frames, size, spatial_crop, num_crops)
        return cropped[self.positions[temporal_view]]
