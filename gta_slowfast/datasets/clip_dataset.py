"""The clip dataset both of the plugin's datasets build on.

Item contract (as GitHub-main PySlowFast): ``dataset[i]`` is
``(inputs, label, index, time, meta)``:

* ``inputs``: list with one float tensor (3, T, H, W) per pathway;
  ``[slow, fast]`` for SlowFast archs, slow with T // SLOWFAST.ALPHA frames.
* ``label``: int, the class of the video.
* ``index``: int, i.
* ``time``: 0.0, a placeholder.
* ``meta``: dict with ``video_index`` (int, the video read), ``valid`` (bool,
  False for a test view of an unreadable video, whose inputs are zeros),
  ``temporal_view`` and ``spatial_crop`` (ints, the test view).

Train and val give one item per video. Test gives TEST.NUM_ENSEMBLE_VIEWS x
TEST.NUM_SPATIAL_CROPS items per video: item i is view i % num_clips of
video i // num_clips, its temporal view (i % num_clips) //
NUM_SPATIAL_CROPS and its spatial crop i % NUM_SPATIAL_CROPS.

At test, a video is decoded once for all its views when they are asked for
in a row (as a sequential loader, or ``loader.VideoViewBatchSampler``, asks
each worker): the dataset keeps the last video's clips (``VideoViews``).
A view asked for out of order reads only its own clip.
"""

import logging

import numpy as np
import torch

from gta_slowfast.compat import DATASET_REGISTRY
from gta_slowfast.config import check_choice
from gta_slowfast.datasets import sampling, transforms
from gta_slowfast.datasets.video_io import ImageSequence, VideoReadError, open_video
from gta_slowfast.datasets.video_views import VideoViews
from gta_slowfast.models.video_models import is_multi_pathway

logger = logging.getLogger(__name__)

MODES = ("train", "val", "test")
SAMPLINGS = ("tsn", "dense")


def register_dataset(cls):
    """Registers ``cls`` in PySlowFast's DATASET_REGISTRY under its class
    name, unless that name is taken (a second import of the module)."""
    if cls.__name__ not in DATASET_REGISTRY:
        DATASET_REGISTRY.register(cls)
    return cls


class VideoClipDataset(torch.utils.data.Dataset):
    """Clips of a list of labelled videos, sampled and augmented as the
    config says (see the module docstring for the item contract).

    Attributes:
        mode (str): "train", "val" or "test".
        num_videos (int): items, as PySlowFast's datasets count them: each
            video once per test view (PySlowFast's ``test_net`` sizes its
            meter as ``num_videos // views``).
        num_clips (int): items per video.
        video_paths (list of str): each video's file or frame folder.
        video_labels (list of int): each video's class.
        class_names (list of str or None): name of each class.
        mirror_of (dict): class -> its mirror class, for the classes a
            training flip relabels (GTA.DATA.FLIP_LABEL_SWAP); else empty.
    """

    def __init__(
        self,
        cfg,
        mode,
        annotation_file,
        video_paths,
        video_labels,
        class_names,
        sampling_method,
        resize_to,
        frame_lists=None,
    ):
        """
        Args:
            cfg (CfgNode): config with the GTA node.
            mode (str): "train", "val" or "test".
            annotation_file (str): the file the videos were listed in, named
                when it lists none.
            video_paths (list of str): video files or frame folders.
            video_labels (list of int): their classes.
            class_names (list of str or None): for the no-flip rule.
            sampling_method (str): "tsn" or "dense".
            resize_to (list of int): [H, W] every frame is resized to, or []
                for short-side scaling.
            frame_lists (list of list of str): each video's frame images, in
                order; None to read ``video_paths`` with ``open_video``.
        Raises:
            ValueError: an unknown mode or sampling, or no video.
        """
        check_mode(mode)
        check_choice("GTA.DATA.SAMPLING", sampling_method, SAMPLINGS)
        if not video_paths:
            raise ValueError(
                "No videos in the {} split: {} lists none.".format(mode, annotation_file)
            )
        self.cfg = cfg
        self.mode = mode
        self.video_paths = list(video_paths)
        self.video_labels = list(video_labels)
        self.class_names = class_names
        self.sampling_method = sampling_method
        self.resize_to = list(resize_to)
        self.frame_lists = frame_lists
        self.num_views = cfg.TEST.NUM_ENSEMBLE_VIEWS if mode == "test" else 1
        self.num_crops = cfg.TEST.NUM_SPATIAL_CROPS if mode == "test" else 1
        self.multi_pathway = is_multi_pathway(cfg)
        self.epoch = 0
        self.mirror_of = {}
        if mode == "train" and cfg.GTA.DATA.FLIP_LABEL_SWAP and class_names:
            self.mirror_of = transforms.mirror_classes(class_names, cfg.GTA.DATA.NO_FLIP_WORDS)
        self._logged_unreadable = set()
        self._last_views = None
        self._last_test_item = None
        logger.info(
            "%s %s: %d videos x %d views from %s",
            type(self).__name__,
            mode,
            len(self.video_paths),
            self.num_clips,
            annotation_file,
        )

    @property
    def num_videos(self):
        """int: items, each video once per view (PySlowFast's count)."""
        return len(self)

    @property
    def num_clips(self):
        """int: items per video (views x crops at test, else 1)."""
        return self.num_views * self.num_crops

    def __len__(self):
        return len(self.video_paths) * self.num_clips

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError("Item {} of a dataset of {}.".format(index, len(self)))
        if self.mode == "test":
            return self._test_item(index)
        return self._replaced_item(index)

    def set_epoch(self, epoch):
        """The epoch whose random numbers training items draw."""
        self.epoch = epoch

    def item_rng(self, index):
        """The random numbers of training item ``index`` in this epoch: a
        function of (RNG_SEED, epoch, index) alone, so an item is augmented
        alike whichever process or worker reads it, and after a resume."""
        return np.random.default_rng([self.cfg.RNG_SEED, self.epoch, index])

    def open_video(self, video_index):
        """The frame source (``num_frames``, ``read(indices)``) of a video."""
        if self.frame_lists is not None:
            return ImageSequence(
                self.frame_lists[video_index], name=self.video_paths[video_index]
            )
        return open_video(self.video_paths[video_index])

    def _test_item(self, index):
        video_index, view = divmod(index, self.num_clips)
        temporal_view, spatial_crop = divmod(view, self.num_crops)
        meta = {
            "video_index": video_index,
            "valid": True,
            "temporal_view": temporal_view,
            "spatial_crop": spatial_crop,
        }
        try:
            views = self._views(index, video_index, temporal_view)
            frames = views.view(
                temporal_view, self.cfg.DATA.TEST_CROP_SIZE, spatial_crop, self.num_crops
            )
            inputs = self._inputs(frames)
        except VideoReadError as error:
            if video_index not in self._logged_unreadable:
                self._logged_unreadable.add(video_index)
                logger.warning(
                    "Cannot read %s: %s. Its test views are zeros with meta "
                    "valid=False and are not scored.",
                    error.path,
                    error.reason,
                )
            inputs = self._zero_inputs()
            meta["valid"] = False
        self._last_test_item = index
        return inputs, self.video_labels[video_index], index, 0.0, meta

    def _views(self, index, video_index, temporal_view):
        """The ``VideoViews`` holding clip ``temporal_view`` of a video: the
        last one read, else a new read of all the video's clips when its
        views come in a row (the first one, or the item after the last),
        else of this clip only.

        Raises:
            VideoReadError: the video cannot be read.
        """
        if self._last_views is not None and self._last_views.holds(video_index, temporal_view):
            return self._last_views
        first_view = index % self.num_clips == 0
        follows_last = self._last_test_item is not None and index == self._last_test_item + 1
        temporal_views = (
            range(self.num_views) if first_view or follows_last else [temporal_view]
        )
        self._last_views = None
        with self.open_video(video_index) as video:
            clip_indices = {
                view: self._frame_indices(video.num_frames, view, rng=None)
                for view in temporal_views
            }
            self._last_views = VideoViews.read(
                video, video_index, clip_indices, self._test_resize
            )
        return self._last_views

    def _replaced_item(self, index):
        """The item of video ``index``, or, while that video or its
        replacement cannot be read, of a random other one (at most
        GTA.DATA.MAX_RETRIES replacements in a row)."""
        rng = self.item_rng(index)
        max_retries = self.cfg.GTA.DATA.MAX_RETRIES
        video_index = index
        for failures in range(max_retries + 1):
            try:
                inputs, label = self._clip(video_index, rng)
            except VideoReadError as error:
                logger.warning(
                    "Cannot read %s: %s. Replacing it with a random video "
                    "(failure %d of at most %d in a row).",
                    error.path,
                    error.reason,
                    failures + 1,
                    max_retries + 1,
                )
                last_error = error
                video_index = int(rng.integers(len(self.video_paths)))
                continue
            meta = {
                "video_index": video_index,
                "valid": True,
                "temporal_view": 0,
                "spatial_crop": 0,
            }
            return inputs, label, index, 0.0, meta
        raise RuntimeError(
            "{} videos in a row could not be read (GTA.DATA.MAX_RETRIES = {}); the "
            "last was {}: {}".format(
                max_retries + 1, max_retries, last_error.path, last_error.reason
            )
        )

    def _clip(self, video_index, rng):
        """Model inputs and label of the train or val clip of a video; in
        training, cropped and perhaps flipped (which may relabel the clip,
        see ``_training_flip``).

        Returns:
            tuple: (list of torch.Tensor, one float (3, T, H, W) per
                pathway; int label).
        Raises:
            VideoReadError: the video cannot be read.
        """
        with self.open_video(video_index) as video:
            frames = video.read(self._frame_indices(video.num_frames, 0, rng))
        label = self.video_labels[video_index]
        if self.mode == "train":
            frames = self._train_transform(frames, rng)
            label, flip = self._training_flip(label, rng)
            if flip:
                frames = transforms.horizontal_flip(frames)
        else:
            frames = transforms.spatial_crop(
                self._test_resize(frames), self.cfg.DATA.TEST_CROP_SIZE, 0, 1
            )
        return self._inputs(frames), label

    def _inputs(self, frames):
        """uint8 (T, H, W, 3) -> model inputs, one float (3, T, H, W) per
        pathway, normalised with DATA.MEAN and DATA.STD (RGB); in BGR order
        with GTA.DATA.REVERSE_INPUT_CHANNEL (the channels reversed as a view
        of the uint8 frames, the mean and std with them)."""
        mean, std = self.cfg.DATA.MEAN, self.cfg.DATA.STD
        if self.cfg.GTA.DATA.REVERSE_INPUT_CHANNEL:
            frames, mean, std = frames[..., ::-1], mean[::-1], std[::-1]
        return self._pathways(transforms.to_normalized_tensor(frames, mean, std))

    def _frame_indices(self, num_video_frames, temporal_view, rng):
        """int64 (DATA.NUM_FRAMES,) indices of the frames of a view."""
        training = self.mode == "train"
        if self.sampling_method == "tsn":
            return sampling.tsn_indices(
                num_video_frames,
                self.cfg.DATA.NUM_FRAMES,
                training,
                rng,
                view_index=temporal_view,
                num_views=self.num_views,
            )
        return sampling.dense_indices(
            num_video_frames,
            self.cfg.DATA.NUM_FRAMES,
            self.cfg.DATA.SAMPLING_RATE,
            temporal_view,
            self.num_views,
            training,
            rng,
        )

    def _train_transform(self, frames, rng):
        """uint8 (T, H, W, 3) -> uint8 (T, S, S, 3), S = DATA.TRAIN_CROP_SIZE.

        With a fixed resize: the resize, then TSN's multi-scale crop
        (GTA.DATA.CROP_SCALES, GTA.DATA.MORE_FIX_CROP) resized to S, or a
        random S crop. Without: short-side scale jitter in
        DATA.TRAIN_JITTER_SCALES (GTA.DATA.INV_UNIFORM_SAMPLE) and a random S
        crop. The flip is decided after, in ``_training_flip``.
        """
        data = self.cfg.GTA.DATA
        size = self.cfg.DATA.TRAIN_CROP_SIZE
        if self.resize_to:
            frames = transforms.resize(frames, *self.resize_to)
            if data.CROP_SCALES:
                return transforms.multi_scale_crop(
                    frames, data.CROP_SCALES, size, rng, data.MORE_FIX_CROP
                )
            return transforms.random_crop(frames, size, rng)
        frames = transforms.random_short_side_scale(
            frames, *self.cfg.DATA.TRAIN_JITTER_SCALES, rng, data.INV_UNIFORM_SAMPLE
        )
        return transforms.random_crop(frames, size, rng)

    def _training_flip(self, label, rng):
        """Whether a training clip of class ``label`` is mirrored, and its
        label then: with probability 1/2 where GTA.DATA.RANDOM_FLIP allows,
        except for classes GTA.DATA.NO_FLIP_WORDS names (never flipped) or,
        with GTA.DATA.FLIP_LABEL_SWAP, flipped and given their mirror class.

        Returns:
            tuple: (label (int), flip (bool)).
        """
        data = self.cfg.GTA.DATA
        if not data.RANDOM_FLIP:
            return label, False
        class_name = self.class_names[label] if self.class_names else None
        if label not in self.mirror_of and not transforms.should_flip(
            class_name, data.NO_FLIP_WORDS
        ):
            return label, False
        if rng.random() >= 0.5:
            return label, False
        return self.mirror_of.get(label, label), True

    def _test_resize(self, frames):
        """uint8 (T, H, W, 3) -> uint8 (T, H', W', 3), what val and test
        crops are cut from: the fixed resize, or the short side scaled to
        DATA.TEST_CROP_SIZE."""
        if self.resize_to:
            return transforms.resize(frames, *self.resize_to)
        return transforms.resize_short_side(frames, self.cfg.DATA.TEST_CROP_SIZE)

    def _pathways(self, clip):
        if self.multi_pathway:
            return transforms.pack_pathways(clip, self.cfg.SLOWFAST.ALPHA)
        return [clip]

    def _zero_inputs(self):
        size = self.cfg.DATA.TEST_CROP_SIZE
        return self._pathways(torch.zeros(3, self.cfg.DATA.NUM_FRAMES, size, size))


def check_mode(mode):
    """Raises ValueError unless ``mode`` is "train", "val" or "test"."""
    if mode not in MODES:
        raise ValueError("Dataset mode '{}'; allowed: {}.".format(mode, MODES))
