"""Small real videos, data set layouts and configs for the data-loading tests.

Every frame of ``write_video`` says which frame it is and which way round
it is:

* red is flat over the frame and encodes the frame index,
  ``RED_BASE + RED_STEP * index``; ``frame_indices_of`` reads it back, so a
  test can check which frames a clip holds and in which order;
* green is 255 on the left ``split`` columns and 0 on the rest, so a
  horizontal flip or a shifted crop shows in the pixels.

``write_textured_video`` writes moving noise instead, with B-frames and
keyframes where asked, so that decoders do real inter prediction; tests
compare its frames with a full decode, pixel for pixel.
"""

import os

import av
import cv2
import numpy as np
import torch

import gta_slowfast
from gta_slowfast.demo import annotations
from gta_slowfast.demo.annotations import write_frame_list
from gta_slowfast.demo.video_writer import codec_available, encode_video

RED_BASE = 16
RED_STEP = 8
MAX_FRAMES = (255 - RED_BASE) // RED_STEP + 1
# Frames a second of the videos written here.
VIDEO_FPS = 12
MP4_CODEC = "libx264" if codec_available("libx264") else "mpeg4"
CODECS = {".webm": "libvpx-vp9", ".mp4": MP4_CODEC}
# Near-lossless settings, so that the red level survives compression.
CODEC_OPTIONS = {
    "libvpx-vp9": {"crf": "4", "b": "0", "deadline": "realtime", "cpu-used": "8"},
    "libx264": {"crf": "4", "preset": "ultrafast"},
    "mpeg4": {"qscale": "2"},
}


def frame_image(index, height=64, width=80, split=None):
    """Frame ``index``: uint8 (height, width, 3) RGB, see the module docstring.

    ``split`` (default: half the width) is where green ends.
    """
    if not 0 <= index < MAX_FRAMES:
        raise ValueError("frame_image encodes indices 0..{}".format(MAX_FRAMES - 1))
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = RED_BASE + RED_STEP * index
    image[:, : width // 2 if split is None else split, 1] = 255
    image[..., 2] = 128
    return image


def write_video(path, num_frames, height=64, width=80, fps=VIDEO_FPS):
    """Writes frames 0..num_frames-1 (``frame_image``) as a real video file:
    WebM/VP9 for ``.webm``, MP4/H.264 (MPEG-4 part 2 where this PyAV lacks
    libx264) for ``.mp4``. Returns ``path``."""
    codec = CODECS[os.path.splitext(path)[1]]
    frames = (frame_image(index, height, width) for index in range(num_frames))
    return encode_video(path, frames, fps, codec, CODEC_OPTIONS[codec])


# Textured videos: the codec by extension (encode_video picks the container).
# The H.264 ones use B-frames; AVI stores decode times, not presentation
# times, and raw H.264 stores no timestamps and no index at all.
TEXTURED_CODECS = {
    ".webm": "libvpx-vp9",
    ".mp4": MP4_CODEC,
    ".mkv": MP4_CODEC,
    ".avi": MP4_CODEC,
    ".h264": "libx264",
}


def write_textured_video(path, num_frames, keyframe_interval=None, height=72, width=96,
                         fps=VIDEO_FPS, seed=0):
    """Writes ``num_frames`` frames of smooth random texture drifting a
    pixel or two per frame, every frame different (``TEXTURED_CODECS``
    gives the codec). H.264 (and MPEG-4) get 3 B-frames and a keyframe every
    ``keyframe_interval`` frames (None: the first frame only); VP9 gets its
    hidden alt-ref frames and one keyframe. Returns ``path``."""
    codec = TEXTURED_CODECS[os.path.splitext(path)[1]]
    interval = str(keyframe_interval or 10 * num_frames)
    if codec == "libvpx-vp9":
        options = {"crf": "30", "b": "0", "g": interval, "deadline": "realtime",
                   "cpu-used": "8", "auto-alt-ref": "1", "lag-in-frames": "8"}
    else:
        options = {"bf": "3", "g": interval, "keyint_min": interval, "sc_threshold": "0"}
        options.update({"crf": "20", "preset": "veryfast"} if codec == "libx264" else
                       {"qscale": "4"})
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(
        rng.integers(0, 256, (2 * height, 2 * width, 3), dtype=np.uint8), (0, 0), 2.0)
    offsets = (((index * 2) % height, (index * 3) % width) for index in range(num_frames))
    frames = (texture[top:top + height, left:left + width] for top, left in offsets)
    return encode_video(path, frames, fps, codec, options)


def full_decode(path):
    """Every frame of ``path`` as plain PyAV decodes it: a list of uint8
    (H, W, 3) RGB arrays, in the order the decoder shows them."""
    with av.open(path) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def write_frame_images(folder, num_frames, height=64, width=80, name="{}.png"):
    """Writes frames 0..num_frames-1 as lossless PNG files named
    ``name.format(index + 1)`` (unpadded by default: "10.png" sorts before
    "2.png" as text). Returns their paths in frame order."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index in range(num_frames):
        path = os.path.join(folder, name.format(index + 1))
        cv2.imwrite(path, cv2.cvtColor(frame_image(index, height, width), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def frame_indices_of(frames):
    """The frame index each frame encodes (the median of its red channel).

    Args:
        frames (np.ndarray): (T, H, W, 3) RGB in [0, 255], uint8 or float.
    Returns:
        list of int
    """
    red = np.median(
        np.asarray(frames, dtype=np.float64)[..., 0].reshape(len(frames), -1), axis=1
    )
    return [int(round((value - RED_BASE) / RED_STEP)) for value in red]


def write_ssv2_annotations(data_dir, classes, splits):
    """Writes the official SSv2 json files.

    Args:
        data_dir (str): where to write them.
        classes (list of str): class names (brackets removed), class k at k.
        splits (dict): "train" / "validation" -> list of (video id, template)
            (template with brackets, as in the official files).
    """
    annotations.write_ssv2_annotations(data_dir, classes, {
        split: [annotations.ssv2_entry(video_id, template, "thing")
                for video_id, template in videos]
        for split, videos in splits.items()})


def write_kinetics_sample(data_dir, num_classes, per_class, num_frames=30):
    """A Kinetics-style sample: ``videos/<split>_<class>_<n>.mp4`` (H.264)
    and PySlowFast's ``{train,val,test}.csv`` (``path label``, paths
    relative to ``data_dir/videos``); ``per_class`` training videos and one
    val/test video per class. Returns ``data_dir``."""
    videos = os.path.join(data_dir, "videos")
    os.makedirs(videos, exist_ok=True)
    counts = {"train": per_class, "val": 1}
    lines = {}
    for split, count in counts.items():
        lines[split] = []
        for label in range(num_classes):
            for number in range(count):
                name = "{}_{}_{}.mp4".format(split, label, number)
                write_video(os.path.join(videos, name), num_frames)
                lines[split].append((name, label))
    lines["test"] = lines["val"]
    annotations.write_kinetics_lists(data_dir, lines)
    return data_dir


def write_ssv2_frames_sample(data_dir, classes, num_frames=12):
    """PySlowFast's own SSv2 layout: the official json files, frames
    ``frames/<id>/<n>.png`` and frame lists ``train.csv``/``val.csv`` in
    ``data_dir``, one training and one validation video per class (ids
    ``1<k>`` and ``2<k>``). Returns ``data_dir``."""
    frames_dir = os.path.join(data_dir, "frames")
    splits = {"train": {}, "validation": {}}
    for label, name in enumerate(classes):
        for split, first in (("train", 1), ("validation", 2)):
            video_id = "{}{}".format(first, label)
            splits[split][video_id] = write_frame_images(
                os.path.join(frames_dir, video_id), num_frames
            )
    write_ssv2_annotations(
        data_dir,
        classes,
        {split: [(i, classes[int(i[1:])]) for i in videos] for split, videos in splits.items()},
    )
    write_frame_list(os.path.join(data_dir, "train.csv"), splits["train"], frames_dir)
    write_frame_list(os.path.join(data_dir, "val.csv"), splits["validation"], frames_dir)
    return data_dir


def make_cfg(data_dir, prefix, dataset="gta_ssv2", arch="slow_c2d", **overrides):
    """A small CPU config: 8 frames, 48-pixel crops, 1 test view."""
    cfg = gta_slowfast.get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.ARCH = arch
    cfg.TRAIN.DATASET = dataset
    cfg.TEST.DATASET = dataset
    cfg.TRAIN.BATCH_SIZE = 3
    cfg.TEST.BATCH_SIZE = 4
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 1
    cfg.TEST.NUM_SPATIAL_CROPS = 1
    cfg.DATA.PATH_TO_DATA_DIR = str(data_dir)
    cfg.DATA.PATH_PREFIX = str(prefix)
    cfg.DATA.NUM_FRAMES = 8
    cfg.DATA.SAMPLING_RATE = 1
    # DATA.SAMPLING_RATE counts frames at the videos' own rate.
    cfg.DATA.TARGET_FPS = VIDEO_FPS
    cfg.DATA.TRAIN_CROP_SIZE = 48
    cfg.DATA.TEST_CROP_SIZE = 48
    cfg.DATA.TRAIN_JITTER_SCALES = [48, 64]
    cfg.DATA_LOADER.NUM_WORKERS = 0
    cfg.DATA_LOADER.PIN_MEMORY = False
    cfg.GTA.DATA.RESIZE = [56, 72]
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return cfg


def pixels(clip, cfg):
    """A normalised (3, T, H, W) clip back as (T, H, W, 3) values in [0, 255]."""
    mean = torch.tensor(cfg.DATA.MEAN)
    std = torch.tensor(cfg.DATA.STD)
    return ((clip.permute(1, 2, 3, 0) * std + mean) * 255).numpy()
