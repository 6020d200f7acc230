"""ImageNet ResNet weights (torchvision's state-dict layout) for PySlowFast
video ResNets: the paper initialises its 2D backbones this way (Sec. 4.1).

torchvision names the stem ``conv1``/``bn1`` and the blocks
``layer{L}.{i}.conv{1,2,3}``, ``bn{1,2,3}``, ``downsample.{0,1}``; PySlowFast
names them ``s1.pathway0_stem.{conv,bn}`` and
``s{L+1}.pathway0_res{i}.branch2.{a,b,c}[_bn]``, ``branch1[_bn]``. 2D kernels
(O, I, kh, kw) become (O, I, kt, kh, kw): copied for kt = 1 and inflated
(repeated over time and divided by kt) otherwise. The classifier ``fc`` is
left out: the video model has its own classes.
"""

import re

_STEM = {"conv1": "s1.pathway0_stem.conv", "bn1": "s1.pathway0_stem.bn"}
_BLOCK = {
    "conv1": "branch2.a",
    "bn1": "branch2.a_bn",
    "conv2": "branch2.b",
    "bn2": "branch2.b_bn",
    "conv3": "branch2.c",
    "bn3": "branch2.c_bn",
    "downsample.0": "branch1",
    "downsample.1": "branch1_bn",
}
_BLOCK_KEY = re.compile(r"^layer(\d)\.(\d+)\.(.+)\.(\w+)$")


def is_torchvision_resnet(state_dict):
    """True if ``state_dict`` is laid out as torchvision's ResNet."""
    return "conv1.weight" in state_dict and any(k.startswith("layer1.") for k in state_dict)


def torchvision_to_pyslowfast_name(name):
    """PySlowFast's name for torchvision parameter ``name``, or None (fc)."""
    module, _, field = name.rpartition(".")
    if module in _STEM:
        return "{}.{}".format(_STEM[module], field)
    match = _BLOCK_KEY.match(name)
    if match is None or match.group(3) not in _BLOCK:
        return None
    layer, block, part, field = match.groups()
    return "s{}.pathway0_res{}.{}.{}".format(int(layer) + 1, block, _BLOCK[part], field)


def convert_torchvision_resnet(state_dict, model_state):
    """Converts a torchvision ResNet state dict for a PySlowFast model.

    Args:
        state_dict (dict): torchvision-style tensors.
        model_state (dict): the target model's ``state_dict()``, for names
            and kernel shapes.
    Returns:
        dict: tensors under PySlowFast names, conv kernels given a temporal
            axis; entries with no counterpart in the model are dropped.
    """
    converted = {}
    for name, tensor in state_dict.items():
        target = torchvision_to_pyslowfast_name(name)
        if target is None or target not in model_state:
            continue
        shape = model_state[target].shape
        if tensor.dim() == 4 and len(shape) == 5:
            frames = shape[2]
            tensor = tensor.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames
        converted[target] = tensor
    return converted
