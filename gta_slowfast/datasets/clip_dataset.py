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

In training with several clips per video (GitHub main's ``AUG.NUM_SAMPLE``
x ``DATA.TRAIN_CROP_NUM_SPATIAL`` > 1, ``compat.training_clips_per_video``),
an item holds that many clips of one read of the video, each augmented on
its own, as PySlowFast's Kinetics gives them: ``inputs`` a list of clips
(each a list per pathway), ``label``, ``index`` and ``time`` lists of as
many entries; the training loader collates them with PySlowFast's
``multiple_samples_collate``.

Train and val give one item per video. Test gives TEST.NUM_ENSEMBLE_VIEWS x
TEST.NUM_SPATIAL_CROPS items per video: item i is view i % num_clips of
video i // num_clips, its temporal view (i % num_clips) //
NUM_SPATIAL_CROPS and its spatial crop i % NUM_SPATIAL_CROPS.

At test, a video is decoded once for all its views when they are asked for
in a row (as a sequential loader, or ``loader.VideoViewBatchSampler``, asks
each worker): the dataset keeps the last video's clips (``VideoViews``).
A view asked for out of order reads only its own clip.
"""

import contextlib
import logging

import numpy as np
import torch

from gta_slowfast import compat
from gta_slowfast.compat import DATASET_REGISTRY
from gta_slowfast.config import SAMPLINGS, is_multi_pathway
from gta_slowfast.datasets import frame_indices, transforms
from gta_slowfast.datasets.exclude_list import excluded_indices, read_exclude_list
from gta_slowfast.datasets.video_io import ImageSequence, VideoReadError, open_video
from gta_slowfast.datasets.video_views import VideoViews

logger = logging.getLogger(__name__)

MODES = ("train", "val", "test")

# PySlowFast keys the plugin's datasets do not offer, with why; each
# stops the dataset's construction when set to another value than the
# installed PySlowFast's default (a key the installed generation lacks is
# not checked).
REFUSED_KEYS = {
    "DATA.MULTI_LABEL": "the plugin's datasets give one class per video",
    "DATA.SSL_COLOR_JITTER": "self-supervised colour augmentation (PySlowFast's Kinetics)",
    "DATA.SSL_COLOR_BRI_CON_SAT": "self-supervised colour augmentation",
    "DATA.SSL_COLOR_HUE": "self-supervised colour augmentation",
    "DATA.SSL_MOCOV2_AUG": "self-supervised colour augmentation",
    "DATA.SSL_BLUR_SIGMA_MIN": "self-supervised blur augmentation",
    "DATA.SSL_BLUR_SIGMA_MAX": "self-supervised blur augmentation",
    "DATA.COLOR_RND_GRAYSCALE": "self-supervised grayscale augmentation",
    "DATA.TIME_DIFF_PROB": "temporal-difference inputs (self-supervised)",
    "DATA.TRAIN_CROP_NUM_TEMPORAL": "several temporal clips per item (contrastive training)",
    "DATA.LOADER_CHUNK_SIZE": "chunked reading of the video list (PySlowFast's Kinetics)",
    "DATA.LOADER_CHUNK_OVERALL_SIZE": "chunked reading of the video list",
    "DATA.SKIP_ROWS": "chunked reading of the video list",
    "DATA.DUMMY_LOAD": "PySlowFast's benchmark mode, which repeats the first item",
    "AUG.GEN_MASK_LOADER": "masks for masked-feature pre-training (MaskFeat)",
    "AUG.RE_SPLIT": "PySlowFast itself reads it nowhere (its datasets pass AUG.RE_COUNT "
    "as RandomErasing's num_splits)",
    "MULTIGRID.LONG_CYCLE": "multigrid clip shapes and sampling rates, drawn per "
    "iteration by PySlowFast's datasets",
    "MULTIGRID.SHORT_CYCLE": "multigrid crop sizes, drawn per iteration by PySlowFast's "
    "datasets",
}


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

    @classmethod
    def pipeline(cls, cfg):
        """How this data set samples and resizes its clips:
        (GTA.DATA.SAMPLING, GTA.DATA.RESIZE) unless the data set fixes
        them."""
        return cfg.GTA.DATA.SAMPLING, list(cfg.GTA.DATA.RESIZE)

    @classmethod
    def class_names_file(cls, cfg):
        """The file naming this data set's classes under the config's
        DATA.PATH_TO_DATA_DIR, or None where it has none."""
        return None

    @classmethod
    def of_files(cls, cfg, paths):
        """A test set of the given videos (label 0), read, sampled and
        cropped as this data set reads its own test videos (its reader,
        ``pipeline`` and TEST views); no annotation file is read, and
        GTA.DATA.EXCLUDE_LIST leaves none of them out.

        Args:
            cfg (CfgNode): config with the GTA node.
            paths (list of str): video files (or frame folders).
        """
        cfg = cfg.clone()
        cfg.defrost()
        cfg.GTA.DATA.EXCLUDE_LIST = ""
        dataset = cls.__new__(cls)
        sampling_method, resize_to = cls.pipeline(cfg)
        VideoClipDataset.__init__(
            dataset, cfg, "test", annotation_file="the files given", video_paths=paths,
            video_labels=[0] * len(paths), class_names=None,
            sampling_method=sampling_method, resize_to=resize_to,
        )
        return dataset

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
            sampling_method (str): "tsn" or "dense" (GTA.DATA.SAMPLING's
                values).
            resize_to (list of int): [H, W] every frame is resized to, or []
                for short-side scaling.
            frame_lists (list of list of str): each video's frame images, in
                order; None to read ``video_paths`` with ``open_video``.
        Raises:
            ValueError: an unknown mode or sampling, or no video.
        """
        check_mode(mode)
        if sampling_method not in SAMPLINGS:
            raise ValueError("sampling_method '{}'; allowed: {}.".format(sampling_method,
                                                                         SAMPLINGS))
        check_data_keys(cfg, resize_to)
        if mode == "train" and resize_to and (
            list(cfg.DATA.TRAIN_JITTER_SCALES) != compat.installed_default("DATA.TRAIN_JITTER_SCALES")
        ):
            logger.warning(
                "DATA.TRAIN_JITTER_SCALES %s is not used: GTA.DATA.RESIZE %s gives every frame "
                "a fixed size (set GTA.DATA.RESIZE [] for PySlowFast's short-side jitter).",
                list(cfg.DATA.TRAIN_JITTER_SCALES), list(resize_to))
        if cfg.GTA.DATA.EXCLUDE_LIST:
            video_paths, video_labels, frame_lists = self._without_excluded(
                cfg, mode, annotation_file, video_paths, video_labels, frame_lists)
        if not video_paths:
            raise ValueError(
                "No videos in the {} split: {} lists none{}.".format(
                    mode, annotation_file,
                    " that GTA.DATA.EXCLUDE_LIST leaves in" if cfg.GTA.DATA.EXCLUDE_LIST else "")
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
        self.clips_per_item = compat.training_clips_per_video(cfg) if mode == "train" else 1
        self._relative_crop = compat.relative_resized_crop(cfg) if mode == "train" else None
        self._random_erasing = compat.random_erasing(cfg) if mode == "train" else None
        self.epoch = 0
        self.mirror_of = {}
        if mode == "train" and cfg.GTA.DATA.FLIP_LABEL_SWAP and class_names:
            self.mirror_of = self._mirror_classes(class_names, cfg.GTA.DATA.NO_FLIP_WORDS)
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

    @staticmethod
    def _without_excluded(cfg, mode, annotation_file, video_paths, video_labels, frame_lists):
        """The videos, labels and frame lists without the videos
        GTA.DATA.EXCLUDE_LIST names, logging how many are left out."""
        excluded = excluded_indices(video_paths, read_exclude_list(cfg.GTA.DATA.EXCLUDE_LIST),
                                    cfg.DATA.PATH_PREFIX)
        logger.info("GTA.DATA.EXCLUDE_LIST %s: %d of the %d videos of the %s split (%s) are "
                    "left out.", cfg.GTA.DATA.EXCLUDE_LIST, len(excluded), len(video_paths),
                    mode, annotation_file)
        kept = [i for i in range(len(video_paths)) if i not in excluded]
        return ([video_paths[i] for i in kept], [video_labels[i] for i in kept],
                None if frame_lists is None else [frame_lists[i] for i in kept])

    @staticmethod
    def _mirror_classes(class_names, mirror_words):
        """``transforms.mirror_classes``, logging the classes whose name
        holds a mirror word but that have no mirror class: they are never
        flipped."""
        mirrors = transforms.mirror_classes(class_names, mirror_words)
        unpaired = [
            "{} '{}'".format(index, name) for index, name in enumerate(class_names)
            if index not in mirrors and not transforms.should_flip(name, mirror_words)
        ]
        logger.info(
            "GTA.DATA.FLIP_LABEL_SWAP: %d classes are flipped and relabelled with their mirror "
            "class%s", len(mirrors),
            "; these name {} but have no mirror class, so they are never flipped: {}".format(
                "/".join(mirror_words), "; ".join(unpaired)) if unpaired else "")
        return mirrors

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

    def clip_span(self, fps=None):
        """Frames a video needs for clips of distinct frames: DATA.NUM_FRAMES
        for TSN segments; for dense clips, the frames their window spans in
        a video of ``fps`` frames a second (DATA.SAMPLING_RATE counted at
        DATA.TARGET_FPS, without DATA.TRAIN_JITTER_FPS). A shorter video
        gives clips that repeat frames (``frame_indices``)."""
        if self.sampling_method == "tsn":
            return self.cfg.DATA.NUM_FRAMES
        offsets = frame_indices.dense_offsets(
            self.cfg.DATA.NUM_FRAMES, self.cfg.DATA.SAMPLING_RATE,
            fps / self.cfg.DATA.TARGET_FPS if fps else 1.0)
        return int(offsets[-1]) + 1

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
                view: self._frame_indices(video.num_frames, view, None, video.fps)
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
                clips = self._clips(video_index, rng)
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
            if len(clips) == 1:
                inputs, label = clips[0]
                return inputs, label, index, 0.0, meta
            inputs, labels = (list(values) for values in zip(*clips))
            return inputs, labels, [index] * len(clips), [0.0] * len(clips), meta
        raise RuntimeError(
            "{} videos in a row could not be read (GTA.DATA.MAX_RETRIES = {}); the "
            "last was {}: {}".format(
                max_retries + 1, max_retries, last_error.path, last_error.reason
            )
        )

    def _clips(self, video_index, rng):
        """The train or val clips of one read of a video with their labels:
        ``clips_per_item`` training clips, each augmented on its own
        (``_training_clip``), or the val clip.

        Returns:
            list of tuple: (list of torch.Tensor, one float (3, T, H, W) per
                pathway; int label) per clip.
        Raises:
            VideoReadError: the video cannot be read.
        """
        with self.open_video(video_index) as video:
            frames = video.read(self._frame_indices(video.num_frames, 0, rng, video.fps))
        label = self.video_labels[video_index]
        if self.mode == "train":
            return [self._training_clip(frames, label, rng) for _ in range(self.clips_per_item)]
        frames = transforms.spatial_crop(
            self._test_resize(frames), self.cfg.DATA.TEST_CROP_SIZE, 0, 1
        )
        return [(self._inputs(frames), label)]

    def _training_clip(self, frames, label, rng):
        """One training clip of a video's frames, augmented in PySlowFast's
        order: RandAugment (AUG.ENABLE, AUG.AA_TYPE) on the frames as read;
        the crop (``_train_transform``); the flip (``_training_flip``, which
        may relabel the clip); normalisation (``_normalized``); random
        erasing (AUG.ENABLE, AUG.RE_PROB). PySlowFast's own transforms
        (RandAugment, random erasing, the relative crop) draw from Python's,
        numpy's and torch's global generators: they are seeded from ``rng``
        for the clip, and restored after, so that an item stays a function
        of (RNG_SEED, epoch, index).

        Args:
            frames (np.ndarray): uint8 (T, H, W, 3), as read.
            label (int): the video's class.
            rng (np.random.Generator): the item's random numbers.
        Returns:
            tuple: (list of torch.Tensor, one float (3, T, S, S) per pathway,
                S = DATA.TRAIN_CROP_SIZE; int label).
        """
        augment = compat.random_augment(self.cfg, *frames.shape[1:3])
        uses_global_random = any(
            transform is not None
            for transform in (augment, self._random_erasing, self._relative_crop)
        )
        global_random = (
            transforms.global_random_from(rng) if uses_global_random else contextlib.nullcontext()
        )
        with global_random:
            if augment is not None:
                frames = transforms.apply_to_images(augment, frames)
            frames = self._train_transform(frames, rng)
            label, flip = self._training_flip(label, rng)
            if flip:
                frames = transforms.horizontal_flip(frames)
            clip = self._normalized(frames)
            if self._random_erasing is not None:
                clip = self._random_erasing(clip.transpose(0, 1)).transpose(0, 1)
        return self._pathways(clip), label

    def _inputs(self, frames):
        """uint8 (T, H, W, 3) -> model inputs, one float (3, T, H, W) per
        pathway (``_normalized``)."""
        return self._pathways(self._normalized(frames))

    def _normalized(self, frames):
        """uint8 (T, H, W, 3) -> float (3, T, H, W), normalised with
        DATA.MEAN and DATA.STD (RGB); in BGR order with
        DATA.REVERSE_INPUT_CHANNEL (the channels reversed as a view of the
        uint8 frames, the mean and std with them, as PySlowFast reverses the
        normalised channels)."""
        mean, std = self.cfg.DATA.MEAN, self.cfg.DATA.STD
        if self.cfg.DATA.REVERSE_INPUT_CHANNEL:
            frames, mean, std = frames[..., ::-1], mean[::-1], std[::-1]
        return transforms.to_normalized_tensor(frames, mean, std)

    def _frame_indices(self, num_video_frames, temporal_view, rng, fps=None):
        """int64 (DATA.NUM_FRAMES,) indices of the frames of a view.

        Dense clips take DATA.SAMPLING_RATE as counted at DATA.TARGET_FPS
        (plus a draw in [0, DATA.TRAIN_JITTER_FPS] in training), as
        PySlowFast's decoder does, for a video of ``fps`` frames a second;
        frame images, of no known rate (``fps`` None), count as at
        DATA.TARGET_FPS. Dense test clips are placed as
        DATA.USE_OFFSET_SAMPLING says (``frame_indices.dense_indices``); the
        val clip is the middle one (PySlowFast's val draws it at random, as
        in training). TSN segments span the video whatever its rate.
        """
        training = self.mode == "train"
        if self.sampling_method == "tsn":
            return frame_indices.tsn_indices(
                num_video_frames,
                self.cfg.DATA.NUM_FRAMES,
                training,
                rng,
                view_index=temporal_view,
                num_views=self.num_views,
            )
        rate_ratio = 1.0
        if fps:
            target_fps = self.cfg.DATA.TARGET_FPS
            jitter_fps = compat.config_value(self.cfg, "DATA.TRAIN_JITTER_FPS", 0.0)
            if training and jitter_fps > 0:
                target_fps += rng.uniform(0.0, jitter_fps)
            rate_ratio = fps / target_fps
        return frame_indices.dense_indices(
            num_video_frames,
            self.cfg.DATA.NUM_FRAMES,
            self.cfg.DATA.SAMPLING_RATE,
            temporal_view,
            self.num_views,
            training,
            rng,
            rate_ratio=rate_ratio,
            use_offset=self.mode != "test"
            or compat.config_value(self.cfg, "DATA.USE_OFFSET_SAMPLING", False),
        )

    def _train_transform(self, frames, rng):
        """uint8 (T, H, W, 3) -> uint8 (T, S, S, 3), S = DATA.TRAIN_CROP_SIZE.

        With a fixed resize (GTA.DATA.RESIZE): the resize, then TSN's
        multi-scale crop (GTA.DATA.CROP_SCALES, GTA.DATA.MORE_FIX_CROP)
        resized to S, PySlowFast's relative crop (below), or a random S crop.
        Without: as PySlowFast's ``spatial_sampling``, its relative crop
        where DATA.TRAIN_JITTER_SCALES_RELATIVE and
        DATA.TRAIN_JITTER_ASPECT_RELATIVE are set (GitHub main's
        ``random_resized_crop``, with DATA.TRAIN_JITTER_MOTION_SHIFT its
        ``random_resized_crop_with_shift``), else short-side scale jitter in
        DATA.TRAIN_JITTER_SCALES (DATA.INV_UNIFORM_SAMPLE) and a random S
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
        if self._relative_crop is not None:
            return transforms.crop_as_float(frames, self._relative_crop, size)
        if self.resize_to:
            return transforms.random_crop(frames, size, rng)
        frames = transforms.random_short_side_scale(
            frames, *self.cfg.DATA.TRAIN_JITTER_SCALES, rng, self.cfg.DATA.INV_UNIFORM_SAMPLE
        )
        return transforms.random_crop(frames, size, rng)

    def _training_flip(self, label, rng):
        """Whether a training clip of class ``label`` is mirrored, and its
        label then: with probability 1/2 where DATA.RANDOM_FLIP allows,
        except for classes GTA.DATA.NO_FLIP_WORDS names (never flipped) or,
        with GTA.DATA.FLIP_LABEL_SWAP, flipped and given their mirror class.

        Returns:
            tuple: (label (int), flip (bool)).
        """
        data = self.cfg.GTA.DATA
        if not self.cfg.DATA.RANDOM_FLIP:
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


def check_data_keys(cfg, resize_to):
    """Raises ValueError, before any work, for a PySlowFast data key the
    plugin's datasets do not offer (``REFUSED_KEYS``) set to another value
    than its default, and for keys that cannot mean anything together.

    Args:
        cfg (CfgNode): the config.
        resize_to (list of int): the dataset's fixed resize, [] for none.
    Raises:
        ValueError: naming every such key, its value and what to do.
    """
    problems = [
        "{} = {} ({}): leave it at its default {}".format(
            key, compat.config_value(cfg, key), why, compat.installed_default(key)
        )
        for key, why in REFUSED_KEYS.items()
        if compat.installed_default(key) is not None
        and compat.config_value(cfg, key) != compat.installed_default(key)
    ]
    scales = compat.config_value(cfg, "DATA.TRAIN_JITTER_SCALES_RELATIVE", [])
    aspect = compat.config_value(cfg, "DATA.TRAIN_JITTER_ASPECT_RELATIVE", [])
    if bool(scales) != bool(aspect):
        problems.append(
            "DATA.TRAIN_JITTER_SCALES_RELATIVE = {} with DATA.TRAIN_JITTER_ASPECT_RELATIVE "
            "= {}: PySlowFast's relative crop needs both; set both or neither".format(
                scales, aspect
            )
        )
    if scales and resize_to and cfg.GTA.DATA.CROP_SCALES:
        problems.append(
            "DATA.TRAIN_JITTER_SCALES_RELATIVE with GTA.DATA.CROP_SCALES = {}: two training "
            "crops; set GTA.DATA.CROP_SCALES [] for PySlowFast's relative crop, or "
            "DATA.TRAIN_JITTER_SCALES_RELATIVE [] and DATA.TRAIN_JITTER_ASPECT_RELATIVE "
            "[] for TSN's".format(cfg.GTA.DATA.CROP_SCALES)
        )
    if scales and cfg.DATA.INV_UNIFORM_SAMPLE:
        problems.append(
            "DATA.INV_UNIFORM_SAMPLE with DATA.TRAIN_JITTER_SCALES_RELATIVE: the relative "
            "crop replaces the short-side jitter that DATA.INV_UNIFORM_SAMPLE draws; "
            "set one of them off"
        )
    if compat.config_value(cfg, "DATA.TRAIN_JITTER_MOTION_SHIFT", False) and not scales:
        problems.append(
            "DATA.TRAIN_JITTER_MOTION_SHIFT without DATA.TRAIN_JITTER_SCALES_RELATIVE: "
            "the shift moves PySlowFast's relative crop; set the relative jitter too"
        )
    if resize_to and cfg.DATA.INV_UNIFORM_SAMPLE:
        problems.append(
            "DATA.INV_UNIFORM_SAMPLE with GTA.DATA.RESIZE = {}: frames get a fixed size, "
            "with no short-side jitter to draw; set GTA.DATA.RESIZE [] for PySlowFast's "
            "jitter".format(list(resize_to))
        )
    if problems:
        raise ValueError(
            "The plugin's datasets cannot honour these data keys:\n  "
            + "\n  ".join(problems)
        )


def check_mode(mode):
    """Raises ValueError unless ``mode`` is "train", "val" or "test"."""
    if mode not in MODES:
        raise ValueError("Dataset mode '{}'; allowed: {}.".format(mode, MODES))
