"""Whether each video of a data set can be used as its config reads it:
what ``tools/check_videos.py`` runs, in DataLoader worker processes."""

import torch

from gta_slowfast.datasets.video_io import MIN_DECODED_FRACTION, VideoReadError


def video_problem(dataset, video_index):
    """Why video ``video_index`` of ``dataset`` cannot be used, or None.

    The video is opened with the data set's own reader (``open_video``)
    and every frame decoded. A problem is a video that cannot be read
    (missing, empty, not a video, a frame that does not decode), one that
    decodes to fewer frames than its container declares (truncated), or
    one shorter than a clip (``dataset.clip_span``), whose clips would
    repeat frames.

    Args:
        dataset (VideoClipDataset): one of the plugin's data sets.
        video_index (int): position in ``dataset.video_paths``.
    Returns:
        str or None: the reason.
    """
    try:
        with dataset.open_video(video_index) as video:
            indexed = video.num_frames
            decoded = video.count_decoded_frames()
            declared = video.declared_frames
            fps = video.fps
    except VideoReadError as error:
        where = "" if error.path == dataset.video_paths[video_index] else " ({})".format(
            error.path)
        return "cannot be read: {}{}".format(error.reason, where)
    if decoded < indexed:
        return "truncated: decodes to {} frames of the {} its packets hold".format(
            decoded, indexed)
    if declared and decoded < MIN_DECODED_FRACTION * declared:
        return "truncated: decodes to {} frames of {} declared".format(decoded, declared)
    needed = dataset.clip_span(fps)
    if decoded < needed:
        if dataset.sampling_method == "tsn":
            clip = "DATA.NUM_FRAMES = {} TSN segments".format(dataset.cfg.DATA.NUM_FRAMES)
        else:
            clip = ("a dense clip of DATA.NUM_FRAMES = {} frames DATA.SAMPLING_RATE = {} apart "
                    "(at DATA.TARGET_FPS = {}{})".format(
                        dataset.cfg.DATA.NUM_FRAMES, dataset.cfg.DATA.SAMPLING_RATE,
                        dataset.cfg.DATA.TARGET_FPS,
                        "; the video has {:g} fps".format(fps) if fps else ""))
        return "too short: {} frames, {} needs {}; its clips would repeat frames".format(
            decoded, clip, needed)
    return None


class VideoChecks(torch.utils.data.Dataset):
    """``video_problem`` of each video of a data set, as a map-style
    dataset: item i is (i, reason or None), so that a DataLoader checks the
    videos in its worker processes."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset.video_paths)

    def __getitem__(self, index):
        return index, video_problem(self.dataset, index)
