"""The plugin's config keys, all under the ``GTA`` node."""

import difflib
import os

from fvcore.common.config import CfgNode

from gta_slowfast import compat
from gta_slowfast.blocks.global_temporal_attention import (
    REGION_ASSIGNMENT_MODES,
    TEMPORAL_ADAPT_MODES,
)
from gta_slowfast.blocks.paper_terms import TEMPORAL_INPUTS


def add_gta_config(cfg):
    """Adds the ``GTA`` node to a PySlowFast config, in place; nothing else
    changes. A config of one's own needs ``compat.complete_config`` too
    (``get_cfg`` does both) for one YAML file to mean the same on both
    PySlowFast generations.

    Args:
        cfg (CfgNode): a PySlowFast config.
    Returns:
        CfgNode: ``cfg``.
    """
    cfg.GTA = CfgNode()
    # Only what PySlowFast has no key for: each key below says why.

    # The block placed after each res block that NONLOCAL.LOCATION names.
    #   "NL": PySlowFast's own Nonlocal block, untouched (the default, so a
    #         stock PySlowFast config builds the stock model).
    #   "DNL": decoupled non-local, alias of "SA+TA".
    #   "GTA": global temporal attention (Eq. 8), alias of
    #          "SA+PIXEL_GTA+REGION_GTA".
    #   or components joined by "+" (paper Table 3):
    #     SA          self-attention within each frame (keys/values max-pooled
    #                 by the spatial part of NONLOCAL.POOL);
    #     TA          dot-product self-attention along time at each pixel;
    #     TAPE        TA with a sinusoidal temporal position encoding;
    #     PIXEL_GTA   cross-channel multi-head global temporal attention on
    #                 pixels (Eq. 5-7);
    #     REGION_GTA  the same on R learned regions per frame.
    #   SA, if present, runs first; the temporal components run on its output
    #   and their outputs are summed (Eq. 8).
    # PySlowFast's NONLOCAL keys place blocks and configure NL only; it has
    # no other attention block.
    cfg.GTA.BLOCK = "NL"

    # G, the number of channel groups, and the number of heads Nh = G, of
    # Pixel and Region GTA (paper Table 4; 8 is the paper's best). Must divide
    # the block's inner width (half the channels at that position). A GTA
    # parameter: PySlowFast has no GTA block.
    cfg.GTA.NUM_GROUPS = 8

    # R, the number of regions per frame of Region GTA (not given in the
    # paper). A GTA parameter, as GTA.NUM_GROUPS.
    cfg.GTA.NUM_REGIONS = 8

    # How Region GTA maps the HW pixels of a frame to R regions (W_R):
    #   "dynamic": a 1x1 conv gives R logits per pixel, softmax over HW; the
    #              regions follow the content of each clip and any H, W works.
    #   "static":  the paper's literal parameter W_R of shape T x R x HW, the
    #              same for every clip; H, W are fixed by DATA.TRAIN_CROP_SIZE.
    # A GTA parameter, as GTA.NUM_GROUPS.
    cfg.GTA.REGION_ASSIGNMENT = "dynamic"

    # What a GTA block does with a clip whose length T' differs from the T
    # its T x T matrices were built for:
    #   "error":       raise an error that names both lengths;
    #   "interpolate": resize the matrices to T' x T' bilinearly and scale
    #                  them by T / T', so each output stays an average of the
    #                  same magnitude.
    # A GTA parameter (NL's attention takes any T and needs no such key).
    cfg.GTA.TEMPORAL_ADAPT = "error"

    # Where TA and TAPE take their queries and keys from:
    #   "x_hat": SA's output X_hat = X + W_OP SA(X) (paper section 3.2 and
    #            Figure 2(b): temporal attention after spatial attention);
    #            X itself in a block without SA.
    #   "x":     the block's input X, as SA does.
    # Values are SA's output in both cases. A parameter of TA and TAPE,
    # which PySlowFast lacks.
    cfg.GTA.TA_INPUT = "x_hat"

    # TSM's residual temporal shift (paper Table 6, "2D R50+TSM"): inside the
    # residual branch of every block of the stages below, before its first
    # conv, FRACTION of the channels move one frame back in time and as many
    # one frame forward (zero-filled at the clip's ends). No parameters, no
    # FLOPs; single-pathway ResNets only; the attention blocks go on top.
    # PySlowFast has no temporal shift.
    cfg.GTA.TEMPORAL_SHIFT = CfgNode()

    # Shift the residual branches.
    cfg.GTA.TEMPORAL_SHIFT.ENABLE = False

    # Share of a block's input channels moved in each direction (TSM: 1/8).
    cfg.GTA.TEMPORAL_SHIFT.FRACTION = 0.125

    # The stages whose blocks shift, by number: 2..5 for res2..res5 (TSM:
    # all).
    cfg.GTA.TEMPORAL_SHIFT.STAGES = [2, 3, 4, 5]

    # Data: the paper's pipelines (section 4.1, supplementary B). Datasets are
    # named TRAIN.DATASET / TEST.DATASET: gta_ssv2, gta_ssv1 or gta_kinetics.
    # PySlowFast's own data keys mean what they mean in PySlowFast
    # (DATA.RANDOM_FLIP, DATA.INV_UNIFORM_SAMPLE, DATA.REVERSE_INPUT_CHANNEL,
    # DATA.TARGET_FPS, AUG.*, ...; see the README's "Data"); the keys below
    # are the paper's pipeline, which PySlowFast has no key for.
    cfg.GTA.DATA = CfgNode()

    # Which frames make a clip:
    #   "tsn":   DATA.NUM_FRAMES segments over the whole video, one frame each:
    #            a random frame of each segment in training, the centre one
    #            at test (TSN; SSv2). DATA.SAMPLING_RATE and DATA.TARGET_FPS
    #            play no part: the segments span the video whatever its frame
    #            rate, as in PySlowFast's Ssv2, which has no key to choose
    #            this (it always samples SSv2 so, and Kinetics densely).
    #   "dense": DATA.NUM_FRAMES frames DATA.SAMPLING_RATE apart at
    #            DATA.TARGET_FPS from a random start in training,
    #            TEST.NUM_ENSEMBLE_VIEWS evenly spaced clips at test
    #            (PySlowFast's Kinetics).
    cfg.GTA.DATA.SAMPLING = "tsn"

    # [H, W] every frame is resized to before cropping (TSN: [240, 320]);
    # PySlowFast only scales the short side. Empty: PySlowFast's scale
    # jitter, the short side drawn from DATA.TRAIN_JITTER_SCALES (with
    # DATA.INV_UNIFORM_SAMPLE) in training and DATA.TEST_CROP_SIZE at test.
    cfg.GTA.DATA.RESIZE = [240, 320]

    # TSN multi-scale crop, training only, with GTA.DATA.RESIZE: crop height
    # and width are each a scale times the short side (at most one step
    # apart in this list), at a random corner or the centre; the crop is
    # resized to DATA.TRAIN_CROP_SIZE. PySlowFast has no such crop (its
    # nearest, DATA.TRAIN_JITTER_SCALES_RELATIVE, draws an area and an
    # aspect ratio at any position; the two cannot be combined). Empty: a
    # random DATA.TRAIN_CROP_SIZE crop, or PySlowFast's relative one.
    cfg.GTA.DATA.CROP_SCALES = [1.0, 0.875, 0.75, 0.66]

    # Positions of the TSN multi-scale crop: True, TSN's and TSM's 13
    # (``more_fix_crop``: corners, centre, edge middles and quarter points of
    # a 4 x 4 grid of steps); False, the 5 corners and centre. A detail of
    # GTA.DATA.CROP_SCALES, which PySlowFast lacks.
    cfg.GTA.DATA.MORE_FIX_CROP = True

    # Classes whose name contains one of these words (whole words,
    # case-insensitive) are never flipped where DATA.RANDOM_FLIP flips:
    # flipping "from left to right" would make it another class. PySlowFast
    # flips every class or none (DATA.RANDOM_FLIP; its SSv2 recipe: none).
    cfg.GTA.DATA.NO_FLIP_WORDS = ["left", "right"]

    # Flip the classes NO_FLIP_WORDS names too (where DATA.RANDOM_FLIP
    # flips), and give a flipped video its mirror class: the class whose
    # name has the words exchanged in pairs (NO_FLIP_WORDS[0] <-> [1],
    # [2] <-> [3], ...), as MMAction2's flip_label_map; PySlowFast never
    # relabels. A class without a mirror is an error that names it.
    # False: the paper's rule, never flip them.
    cfg.GTA.DATA.FLIP_LABEL_SWAP = False

    # Something-Something-v2 layout under DATA.PATH_TO_DATA_DIR:
    #   "video":  the official something-something-v2-{labels,train,
    #             validation}.json; videos DATA.PATH_PREFIX/<id>.webm,
    #             decoded with PyAV (PySlowFast's Ssv2 reads frames only).
    #   "frames": PySlowFast's frame lists frame_lists/{train,val}.csv
    #             ("original_vido_id video_id frame_id path labels") of
    #             images under DATA.PATH_PREFIX, with the labels json.
    cfg.GTA.DATA.SSV2_FORMAT = "video"

    # A video that cannot be read is logged and replaced by another one, at
    # most this many times in a row before the loader gives up (PySlowFast
    # fixes its own count in code, 10 or 100 tries by dataset).
    cfg.GTA.DATA.MAX_RETRIES = 10

    # A file listing videos the plugin's datasets leave out, every split
    # (one path a line, '#' comments: what tools/check_videos.py writes for
    # the videos that cannot be read, are truncated or are too short); the
    # log says how many. "": none. PySlowFast has no such key: its datasets
    # read every listed video and retry unreadable ones at every epoch.
    cfg.GTA.DATA.EXCLUDE_LIST = ""

    # Which training and test loop tools/run_net.py runs:
    #   "auto":       PySlowFast's own tools/train_net.py and test_net.py
    #                 where they can be imported (GitHub main), else the
    #                 plugin's loop (pyslowfast 1.0, which ships no tools;
    #                 PYSLOWFAST_ROOT set empty);
    #   "pyslowfast": PySlowFast's tools; where they cannot be used, an
    #                 error before any work that says why;
    #   "plugin":     the plugin's loop (gta_slowfast/engine/).
    # PySlowFast has no such key: its run_net.py only has its own tools to
    # run. The first log line of a run names the loop and why.
    cfg.GTA.LOOP = "auto"

    # The plugin's training loop (used where PySlowFast's own tools are not).
    cfg.GTA.TRAIN = CfgNode()

    # Minutes between mid-epoch checkpoints, so that a job killed without
    # warning (SIGKILL, a lost node) loses at most this much; 0: only at
    # epoch ends (TRAIN.CHECKPOINT_PERIOD) and on SIGTERM or SIGUSR1.
    # PySlowFast checkpoints only every TRAIN.CHECKPOINT_PERIOD epochs.
    cfg.GTA.TRAIN.CHECKPOINT_MINUTES = 0.0

    # The autocast dtype of TRAIN.MIXED_PRECISION in the plugin's loop:
    #   "":         PySlowFast's: float16 with a GradScaler on CUDA, as
    #               GitHub main's train_net (bfloat16 on the CPU, where
    #               float16 matrix products are slow);
    #   "float16":  float16 with a GradScaler, on either device;
    #   "bfloat16": bfloat16, no loss scaling (it has float32's exponent
    #               range): the usual choice on A100/H100/H200.
    # PySlowFast has no such key: its train_net always uses float16.
    cfg.GTA.TRAIN.MIXED_PRECISION_DTYPE = ""
    return cfg


# The values of the GTA keys that name one of a few choices, besides the
# blocks' own (GTA.BLOCK, GTA.TA_INPUT, GTA.TEMPORAL_ADAPT,
# GTA.REGION_ASSIGNMENT, GTA.TEMPORAL_SHIFT.STAGES), which the blocks define.
LOOPS = ("auto", "pyslowfast", "plugin")
MIXED_PRECISION_DTYPES = ("", "float16", "bfloat16")
# The plugin's datasets (TRAIN.DATASET / TEST.DATASET), the only readers of
# GTA.DATA.*.
PLUGIN_DATASETS = ("gta_ssv2", "gta_ssv1", "gta_kinetics")
SAMPLINGS = ("tsn", "dense")
SSV2_FORMATS = ("video", "frames")
# The stages GTA.TEMPORAL_SHIFT.STAGES may name: res2..res5.
STAGE_INDICES = (2, 3, 4, 5)
# The terms whose T x T matrices mix GTA.NUM_GROUPS groups of the values.
GROUPED_TERMS = ("PIXEL_GTA", "REGION_GTA")


def check_gta_config(cfg):
    """Checks every GTA key's value, and the GTA keys against the PySlowFast
    keys they go with, before any model is built or any data read:
    ``load_config``, ``build_model`` and the plugin's datasets call it. The
    blocks validate their plain arguments again where they are built.

    Args:
        cfg (CfgNode): a config with the GTA node.
    Raises:
        ValueError: naming every key whose value cannot work, the value and
            what is allowed.
    """
    # Imported when called: the gta_slowfast.models package imports this module.
    from gta_slowfast.models.block_spec import block_terms

    gta = cfg.GTA
    problems = [
        _choice_problem(key, value, allowed)
        for key, value, allowed in (
            ("GTA.TA_INPUT", gta.TA_INPUT, TEMPORAL_INPUTS),
            ("GTA.REGION_ASSIGNMENT", gta.REGION_ASSIGNMENT, REGION_ASSIGNMENT_MODES),
            ("GTA.LOOP", gta.LOOP, LOOPS),
            ("GTA.DATA.SAMPLING", gta.DATA.SAMPLING, SAMPLINGS),
            ("GTA.DATA.SSV2_FORMAT", gta.DATA.SSV2_FORMAT, SSV2_FORMATS),
            ("GTA.TRAIN.MIXED_PRECISION_DTYPE", gta.TRAIN.MIXED_PRECISION_DTYPE,
             MIXED_PRECISION_DTYPES),
        )
    ]
    if gta.TRAIN.MIXED_PRECISION_DTYPE and not cfg.TRAIN.MIXED_PRECISION:
        problems.append("GTA.TRAIN.MIXED_PRECISION_DTYPE '{}' chooses the dtype of "
                        "TRAIN.MIXED_PRECISION, which is False: set TRAIN.MIXED_PRECISION True, "
                        "or the dtype back to ''".format(gta.TRAIN.MIXED_PRECISION_DTYPE))
    for key, value, least in (("GTA.NUM_GROUPS", gta.NUM_GROUPS, 1),
                              ("GTA.NUM_REGIONS", gta.NUM_REGIONS, 1),
                              ("GTA.DATA.MAX_RETRIES", gta.DATA.MAX_RETRIES, 0),
                              ("GTA.TRAIN.CHECKPOINT_MINUTES", gta.TRAIN.CHECKPOINT_MINUTES, 0)):
        if value < least:
            problems.append("{} {} is below {}".format(key, value, least))
    if gta.TEMPORAL_ADAPT == "none":
        problems.append("GTA.TEMPORAL_ADAPT 'none' is now called 'error': set "
                        "GTA.TEMPORAL_ADAPT: error")
    else:
        problems.append(_choice_problem("GTA.TEMPORAL_ADAPT", gta.TEMPORAL_ADAPT,
                                        TEMPORAL_ADAPT_MODES))
    try:
        terms = block_terms(gta.BLOCK)
    except ValueError as error:
        problems.append(str(error))
    else:
        if set(terms or ()) & set(GROUPED_TERMS) and gta.NUM_GROUPS >= 1:
            problems += _group_problems(cfg)
    resize = list(gta.DATA.RESIZE)
    if resize and (len(resize) != 2 or min(resize) < 1):
        problems.append("GTA.DATA.RESIZE {} is not [] or [H, W] in pixels".format(resize))
    if any(not 0 < scale <= 1 for scale in gta.DATA.CROP_SCALES):
        problems.append("GTA.DATA.CROP_SCALES {} holds scales outside (0, 1]: each is a share "
                        "of the short side".format(list(gta.DATA.CROP_SCALES)))
    if gta.DATA.FLIP_LABEL_SWAP and len(gta.DATA.NO_FLIP_WORDS) % 2:
        problems.append(
            "GTA.DATA.FLIP_LABEL_SWAP reads GTA.DATA.NO_FLIP_WORDS {} as pairs of mirror words; "
            "give an even number of words".format(list(gta.DATA.NO_FLIP_WORDS)))
    if gta.DATA.FLIP_LABEL_SWAP and not cfg.DATA.RANDOM_FLIP:
        problems.append(
            "GTA.DATA.FLIP_LABEL_SWAP with DATA.RANDOM_FLIP False: no clip is flipped, so "
            "none is relabelled; set one of them the other way")
    if gta.DATA.EXCLUDE_LIST and not os.path.isfile(gta.DATA.EXCLUDE_LIST):
        problems.append("GTA.DATA.EXCLUDE_LIST names no file: {} (working directory {}); give "
                        "the list tools/check_videos.py wrote, or '' to read every "
                        "video".format(gta.DATA.EXCLUDE_LIST, os.getcwd()))
    shift = gta.TEMPORAL_SHIFT
    unknown = [stage for stage in shift.STAGES if stage not in STAGE_INDICES]
    if unknown:
        problems.append("GTA.TEMPORAL_SHIFT.STAGES {} names stages {}; allowed: {} "
                        "(res2..res5)".format(list(shift.STAGES), unknown, list(STAGE_INDICES)))
    if not 0 < shift.FRACTION <= 0.5:
        problems.append("GTA.TEMPORAL_SHIFT.FRACTION {} is not in (0, 0.5]: it is the share of "
                        "channels moved in each of the two directions".format(shift.FRACTION))
    if shift.ENABLE and is_multi_pathway(cfg):
        problems.append("GTA.TEMPORAL_SHIFT.ENABLE: the temporal shift is for single-pathway "
                        "ResNets (C2D, Slow), not MODEL.ARCH {}".format(cfg.MODEL.ARCH))
    problems = [problem for problem in problems if problem]
    if problems:
        raise ValueError("These GTA keys cannot work (in the YAML or --opts):\n  "
                         + "\n  ".join(problems))


def _choice_problem(key, value, allowed):
    """``check_choice``'s message for ``value`` of ``key``, or None where allowed."""
    try:
        check_choice(key, value, allowed)
    except ValueError as error:
        return str(error)
    return None


def _group_problems(cfg):
    """Where GTA.NUM_GROUPS does not divide the inner width (half the
    channels) of a block at NONLOCAL.LOCATION."""
    groups = cfg.GTA.NUM_GROUPS
    return [
        "GTA.NUM_GROUPS {} does not divide the inner width {} of the blocks of res{} "
        "(pathway {}, {} channels); allowed: divisors of {}".format(
            groups, width // 2, stage + 2, pathway, width, width // 2)
        for (stage, pathway), width in nonlocal_widths(cfg).items()
        if (width // 2) % groups
    ]


def nonlocal_widths(cfg):
    """The channels of the blocks at NONLOCAL.LOCATION: PySlowFast's ResNet
    and SlowFast have RESNET.WIDTH_PER_GROUP x 4, 8, 16, 32 channels in
    res2..res5, the Fast pathway of SlowFast SLOWFAST.BETA_INV times fewer.

    Returns:
        dict: (stage index 0..3, pathway) -> channels, for the stages and
        pathways that NONLOCAL.LOCATION gives a block.
    """
    widths = {}
    for stage, pathways in enumerate(cfg.NONLOCAL.LOCATION):
        for pathway, indices in enumerate(pathways):
            if indices:
                width = cfg.RESNET.WIDTH_PER_GROUP * 4 * 2 ** stage
                widths[stage, pathway] = width // cfg.SLOWFAST.BETA_INV if pathway else width
    return widths


# Former plugin keys that copied a PySlowFast key, and the key to set instead.
REPLACED_KEYS = {
    "GTA.DATA.RANDOM_FLIP": "DATA.RANDOM_FLIP",
    "GTA.DATA.INV_UNIFORM_SAMPLE": "DATA.INV_UNIFORM_SAMPLE",
    "GTA.DATA.REVERSE_INPUT_CHANNEL": "DATA.REVERSE_INPUT_CHANNEL",
}


def check_choice(key, value, allowed):
    """Raises ValueError naming config ``key`` unless ``value`` is allowed."""
    if value not in allowed:
        raise ValueError(
            "{} '{}' is not valid; allowed values: {}".format(key, value, list(allowed))
        )


def is_multi_pathway(cfg):
    """True where MODEL.ARCH is a SlowFast-like arch, with a Slow and a Fast
    pathway (listed in MODEL.MULTI_PATHWAY_ARCH under either generation's
    name)."""
    return compat.installed_arch(cfg.MODEL.ARCH) in cfg.MODEL.MULTI_PATHWAY_ARCH


def get_cfg():
    """PySlowFast's default config, completed for the installed generation
    (``compat.default_cfg``: ``compat.complete_config``), plus the plugin's
    ``GTA`` node.

    Returns:
        CfgNode: a fresh config; merge YAML into it with ``merge_from_file``.
    """
    return add_gta_config(compat.default_cfg())


def load_config(path, opts=None):
    """A config from a YAML file (``_BASE_`` allowed) and KEY VALUE overrides.

    Args:
        path (str): YAML file.
        opts (list): ``[KEY, VALUE, ...]`` as given to ``--opts``.
    Returns:
        CfgNode
    Raises:
        KeyError: an unknown key, named with the closest known keys, or a
            former GTA.DATA copy of a PySlowFast key, named with the key to
            set instead.
        ValueError: a GTA key's value cannot work (``check_gta_config``).
    """
    cfg = get_cfg()
    try:
        cfg.merge_from_file(path)
        if opts:
            cfg.merge_from_list(list(opts))
    except (KeyError, AssertionError) as error:  # yacs: KeyError from files, assert from lists
        if "Non-existent" not in str(error):
            raise
        raise KeyError(_unknown_key_message(cfg, str(error), path)) from None
    check_gta_config(cfg)
    return cfg


def _full_keys(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, CfgNode):
            yield from _full_keys(value, prefix + key + ".")
        else:
            yield prefix + key


def _unknown_key_message(cfg, message, path):
    key = message.strip("'\"").rpartition(": ")[2]
    if key in REPLACED_KEYS:
        return (
            "{} (in {} or --opts) is no longer a key: set PySlowFast's own {}, "
            "which the plugin's datasets read as PySlowFast does.".format(
                key, path, REPLACED_KEYS[key]
            )
        )
    close = difflib.get_close_matches(key, list(_full_keys(cfg)), n=3, cutoff=0.6)
    hint = "; did you mean {}?".format(" or ".join(close)) if close else "."
    return "Unknown config key {} (in {} or --opts){}".format(key, path, hint)
