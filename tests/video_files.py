"""Small real videos and data set layouts for the data-loading tests.

Every frame says which frame it is and which way round it is:

* red is flat over the frame and encodes the frame index,
  ``RED_BASE + RED_STEP * index``; ``frame_indices_of`` reads it back, so a
  test can check which frames a clip holds and in which order;
* green is 255 on the left ``split`` columns and 0 on the rest, so a
  horizontal flip or a shifted crop shows in the pixels.
"""

import json
import os

import av
import cv2
import numpy as np

RED_BASE = 16
RED_STEP = 8
MAX_FRAMES = (255 - RED_BASE) // RED_STEP + 1
MP4_CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg4"
CODECS = {".webm": ("webm", "libvpx-vp9"), ".mp4": ("mp4", MP4_CODEC)}
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


def write_video(path, num_frames, height=64, width=80, fps=12):
    """Writes frames 0..num_frames-1 (``frame_image``) as a real video file:
    WebM/VP9 for ``.webm``, MP4/H.264 (MPEG-4 part 2 where this PyAV lacks
    libx264) for ``.mp4``. Returns ``path``."""
    container_format, codec = CODECS[os.path.splitext(path)[1]]
    with av.open(path, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps, options=CODEC_OPTIONS[codec])
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(
                frame_image(index, height, width), format="rgb24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


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
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "something-something-v2-labels.json"), "w") as stream:
        json.dump({name: str(index) for index, name in enumerate(classes)}, stream)
    for split, videos in splits.items():
        entries = [
            {
                "id": video_id,
                "label": template,
                "template": template,
                "placeholders": ["thing"],
            }
            for video_id, template in videos
        ]
        with open(
            os.path.join(data_dir, "something-something-v2-{}.json".format(split)), "w"
        ) as stream:
            json.dump(entries, stream)


def write_frame_list(path, videos, prefix):
    """Writes PySlowFast's frame list ``original_vido_id video_id frame_id
    path labels`` for ``videos`` ({video id: [image path, ...]}), paths
    relative to ``prefix``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as stream:
        stream.write("original_vido_id video_id frame_id path labels\n")
        for number, (video_id, frames) in enumerate(videos.items()):
            for frame_id, frame in enumerate(frames):
                stream.write(
                    '{} {} {} {} ""\n'.format(
                        video_id, number, frame_id, os.path.relpath(frame, prefix)
                    )
                )


def write_ssv1_annotations(data_dir, classes, splits):
    """Writes the official Something-Something-v1 csv files.

    Args:
        data_dir (str): where to write them.
        classes (list of str): class names, class k on line k + 1.
        splits (dict): "train" / "validation" -> list of (video id, class
            name), written as ``id;class name`` lines.
    """
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "something-something-v1-labels.csv"), "w") as stream:
        stream.write("".join(name + "\n" for name in classes))
    for split, videos in splits.items():
        with open(
            os.path.join(data_dir, "something-something-v1-{}.csv".format(split)), "w"
        ) as stream:
            stream.write("".join("{};{}\n".format(i, name) for i, name in videos))
