"""PySlowFast's ResNet and SlowFast with the block that ``GTA.BLOCK`` names.

The models are built by PySlowFast's own classes; afterwards each module
``pathway{p}_nonlocal{i}`` that ``NONLOCAL.LOCATION`` created inside stage
s2..s5 is replaced by a ``DecoupledAttentionBlock`` of the same width.
``ResStage.forward`` looks these modules up by name in both PySlowFast
generations, so nothing else changes.

Loading weights keeps each inserted block's identity start: a block loads
only from a checkpoint that holds the same block type at that position
(``keep_same_block_types``), whichever code calls ``load_state_dict``
(the plugin's checkpoint loader or PySlowFast's).
"""

import logging
import math
import re
from collections import OrderedDict

import torch

from gta_slowfast import compat
from gta_slowfast.blocks import DecoupledAttentionBlock
from gta_slowfast.config import check_gta_config, is_multi_pathway
from gta_slowfast.models.block_spec import block_terms
from gta_slowfast.models.temporal_shift import add_temporal_shift
from gta_slowfast.process_group import several_processes

STAGES = ("s2", "s3", "s4", "s5")
_BLOCK_NAME = re.compile(r"^pathway\d+_nonlocal\d+$")

logger = logging.getLogger(__name__)


def stage_num_frames(cfg, stage, pathway):
    """T of the tensors a block sees in stage ``STAGES[stage]``.

    The Slow pathway sees DATA.NUM_FRAMES / SLOWFAST.ALPHA frames, stages
    after res2 are pooled by the arch's temporal pool, and NONLOCAL.GROUP
    folds groups of frames into the batch.
    """
    frames = cfg.DATA.NUM_FRAMES
    if is_multi_pathway(cfg) and pathway == 0:
        frames //= cfg.SLOWFAST.ALPHA
    if stage > 0:
        frames //= compat.POOL1[compat.installed_arch(cfg.MODEL.ARCH)][pathway][0]
    return frames // cfg.NONLOCAL.GROUP[stage][pathway]


def stage_spatial_size(cfg, stage, pathway):
    """(H, W) at stage ``STAGES[stage]`` for a DATA.TRAIN_CROP_SIZE crop."""
    stride = 4 * math.prod(cfg.RESNET.SPATIAL_STRIDES[s][pathway] for s in range(stage + 1))
    size = cfg.DATA.TRAIN_CROP_SIZE // stride
    return (size, size)


def replace_nonlocal_blocks(model, cfg):
    """Swaps PySlowFast's Nonlocal blocks for the block GTA.BLOCK names,
    with the norm PySlowFast's own blocks use (``compat.norm_module``) and
    the replaced block's norm eps and momentum. The GTA keys become the
    block's plain arguments here.

    Args:
        model (nn.Module): a PySlowFast ResNet or SlowFast.
        cfg (CfgNode): its config, with the GTA node.
    Raises:
        ValueError: a NONLOCAL.LOCATION index past the blocks of a stage, or
            an invalid GTA key, naming the key.
    """
    terms = block_terms(cfg.GTA.BLOCK)
    norm_module = compat.norm_module(cfg)
    for stage, name in enumerate(STAGES):
        res_stage = getattr(model, name)
        for pathway in range(model.num_pathways):
            for index in cfg.NONLOCAL.LOCATION[stage][pathway]:
                attribute = "pathway{}_nonlocal{}".format(pathway, index)
                if not hasattr(res_stage, attribute):
                    raise ValueError(
                        "NONLOCAL.LOCATION[{}][{}] names block {} of stage "
                        "res{}, which has blocks 0..{}.".format(
                            stage,
                            pathway,
                            index,
                            stage + 2,
                            res_stage.num_blocks[pathway] - 1,
                        )
                    )
                if terms is None:
                    continue
                nonlocal_block = getattr(res_stage, attribute)
                block = DecoupledAttentionBlock(
                    dim=nonlocal_block.dim,
                    num_frames=stage_num_frames(cfg, stage, pathway),
                    terms=terms,
                    num_groups=cfg.GTA.NUM_GROUPS,
                    num_regions=cfg.GTA.NUM_REGIONS,
                    pool_size=nonlocal_block.pool_size,
                    region_assignment=cfg.GTA.REGION_ASSIGNMENT,
                    spatial_size=stage_spatial_size(cfg, stage, pathway),
                    temporal_adapt=cfg.GTA.TEMPORAL_ADAPT,
                    temporal_input=cfg.GTA.TA_INPUT,
                    norm_eps=nonlocal_block.norm_eps,
                    norm_momentum=nonlocal_block.norm_momentum,
                    norm_module=norm_module,
                )
                setattr(res_stage, attribute, block)
    return model


def inserted_blocks(model):
    """The modules at NONLOCAL.LOCATION, stock ``Nonlocal`` or not.

    Returns:
        OrderedDict: state-dict prefix ("s3.pathway0_nonlocal1.") -> module.
    """
    return OrderedDict(
        (stage + "." + name + ".", module)
        for stage in STAGES
        for name, module in getattr(model, stage).named_children()
        if _BLOCK_NAME.match(name)
    )


def keep_same_block_types(model, state_dict):
    """``state_dict`` without the entries of blocks of another type.

    At each position of ``inserted_blocks(model)``, the entries of
    ``state_dict`` under its prefix load only if their names are exactly
    those of the model's block there: an NL checkpoint's ``...bn.weight``
    would otherwise land in a GTA block's final norm, and the block would no
    longer be the identity at the start of fine-tuning. Entries a block
    saved before its terms were classes are renamed first
    (``DecoupledAttentionBlock.upgrade_saved_names``). The log names each
    block that starts from its initialisation and why.

    Args:
        model (nn.Module): a GTAResNet or GTASlowFast (not DDP-wrapped).
        state_dict (dict): name -> tensor.
    Returns:
        OrderedDict: the entries to load.
    """
    kept = OrderedDict(state_dict)
    for prefix, block in inserted_blocks(model).items():
        if isinstance(block, DecoupledAttentionBlock):
            block.upgrade_saved_names(kept, prefix)
        given = {key[len(prefix):] for key in kept if key.startswith(prefix)}
        own = set(block.state_dict())
        if not given or given == own:
            continue
        for name in given:
            del kept[prefix + name]
        logger.info(
            "%s starts from its initialisation: the weights loaded hold another "
            "block type there (with %s, this %s has %s).",
            prefix[:-1],
            _module_names(given),
            type(block).__name__,
            _module_names(own),
        )
    return kept


def _module_names(parameter_names):
    """"conv_g, conv_out, bn" for ["conv_g.weight", "conv_out.bias", ...]."""
    return ", ".join(dict.fromkeys(name.rpartition(".")[0] for name in sorted(parameter_names)))


class _GTAModel:
    """What the plugin adds to a PySlowFast model class (first base of
    ``GTAResNet`` and ``GTASlowFast``): the GTA keys checked, the blocks
    GTA.BLOCK names at NONLOCAL.LOCATION and, with
    GTA.TEMPORAL_SHIFT.ENABLE, TSM's residual shift; and
    ``keep_same_block_types`` applied to every ``load_state_dict``."""

    def __init__(self, cfg):
        check_gta_config(cfg)
        cfg = compat.for_installed_pyslowfast(cfg)
        super().__init__(cfg)
        replace_nonlocal_blocks(self, cfg)
        if cfg.GTA.TEMPORAL_SHIFT.ENABLE:
            add_temporal_shift(self, cfg)

    def load_state_dict(self, state_dict, *args, **kwargs):
        return super().load_state_dict(keep_same_block_types(self, state_dict), *args, **kwargs)


class GTAResNet(_GTAModel, compat.ResNet):
    """PySlowFast's single-pathway ResNet (C2D, I3D, Slow) with GTA.BLOCK
    at NONLOCAL.LOCATION and, with GTA.TEMPORAL_SHIFT.ENABLE, TSM's residual
    shift. Input: [(N, 3, T, H, W)]; output: (N, classes)."""


class GTASlowFast(_GTAModel, compat.SlowFast):
    """PySlowFast's SlowFast with GTA.BLOCK at NONLOCAL.LOCATION.
    Input: [slow (N, 3, T/alpha, H, W), fast (N, 3, T, H, W)]."""


if compat.MODEL_REGISTRY is not None:
    for _model_class in (GTAResNet, GTASlowFast):
        if _model_class.__name__ not in compat.MODEL_REGISTRY:
            compat.MODEL_REGISTRY.register(_model_class)


def build_model(cfg, gpu_id=None):
    """Builds the model for ``cfg`` on the CPU or the GPU it names.

    Args:
        cfg (CfgNode): config with the GTA node.
        gpu_id (int): GPU of this process; default the current device.
    Returns:
        nn.Module: the model, wrapped in DistributedDataParallel when a
            process group of more than one process is running, with the
            communication hook of MODEL.FP16_ALLREDUCE (GitHub main) as
            main's ``build_model`` registers it.
    Raises:
        ValueError: a GTA key cannot work (``check_gta_config``, which the
            model classes run, also where PySlowFast's own ``build_model``
            builds them from MODEL_REGISTRY).
    """
    check_gta_config(cfg)
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise ValueError(
            "NUM_GPUS is {} but {} GPU(s) are available; set NUM_GPUS: 0 to "
            "run on the CPU.".format(cfg.NUM_GPUS, torch.cuda.device_count())
        )
    model_class = GTASlowFast if is_multi_pathway(cfg) else GTAResNet
    model = model_class(cfg)
    device_ids = None
    if cfg.NUM_GPUS:
        device = torch.cuda.current_device() if gpu_id is None else gpu_id
        model = model.cuda(device=device)
        device_ids = [device]
    if several_processes():
        model = torch.nn.parallel.DistributedDataParallel(module=model, device_ids=device_ids)
        hook = compat.ddp_communication_hook(cfg)
        if hook is not None:
            model.register_comm_hook(state=None, hook=hook)
    return model
