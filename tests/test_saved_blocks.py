"""Weights saved before the temporal terms became plug-in classes load into
today's blocks and models and give the outputs they gave then.

``tests/data/blocks_before_plugin_terms.pt`` was written at commit 2c705bd
(the generating script is in the message of the commit that added it): a
block of every Table 3 row (C = 16, T = 4, 4 x 4, G = 2, R = 3, SA pooled
2 x 2; plus static regions and GTA.TA_INPUT x), with random biases and norm
statistics, its input and its output in eval mode; and a C2D GTA model
(RESNET.WIDTH_PER_GROUP 1, 32-pixel crops, random norms, the head's softmax
removed) with its inputs and logits. State dicts are packed as one flat
float32 tensor with the names, shapes and dtypes to unpack it.
"""

from collections import OrderedDict
from pathlib import Path

import pytest
import torch

import gta_slowfast
from gta_slowfast.blocks import DecoupledAttentionBlock

from conftest import small_cfg

SAVED = torch.load(Path(__file__).parent / "data" / "blocks_before_plugin_terms.pt")


def unpack(packed):
    """The state dict that ``packed`` holds."""
    state = OrderedDict()
    offset = 0
    for name, shape, dtype in zip(packed["names"], packed["shapes"], packed["dtypes"]):
        size = torch.Size(shape).numel()
        flat = packed["flat"][offset:offset + size]
        state[name] = flat.reshape(shape).to(getattr(torch, dtype.split(".")[1]))
        offset += size
    return state


def make_block(row, kwargs):
    return DecoupledAttentionBlock(16, 4, row, num_groups=2, num_regions=3,
                                   pool_size=[1, 2, 2], **kwargs)


@pytest.mark.parametrize("saved", SAVED["blocks"],
                         ids=lambda s: s["row"] + "".join("-" + str(v) for v in s["kwargs"].values()))
def test_block_saved_before_loads_with_the_same_output(saved):
    block = make_block(saved["row"], saved["kwargs"])
    block.load_state_dict(unpack(saved["state"]))
    with torch.no_grad():
        out = block.eval()(SAVED["input"].clone())
    torch.testing.assert_close(out, saved["output"], rtol=1e-5, atol=1e-5)


def test_model_saved_before_loads_with_the_same_logits():
    saved = SAVED["model"]
    cfg = small_cfg(saved["config"], *saved["opts"], width=saved["width"], crop=saved["crop"])
    model = gta_slowfast.build_model(cfg).eval()
    model.head.act = torch.nn.Identity()
    model.load_state_dict(unpack(saved["state"]))
    with torch.no_grad():
        logits = model([x.float() for x in saved["inputs"]])
    torch.testing.assert_close(logits, saved["logits"], rtol=1e-5, atol=1e-4)


def test_plugin_loader_takes_every_entry_saved_before():
    """The plugin's checkpoint loader (TRAIN/TEST.CHECKPOINT_FILE_PATH) keeps
    every entry of the model saved before, under today's names."""
    from gta_slowfast.engine.checkpoint import matching_weights

    saved = SAVED["model"]
    cfg = small_cfg(saved["config"], *saved["opts"], width=saved["width"], crop=saved["crop"])
    model = gta_slowfast.build_model(cfg)
    weights = matching_weights(model, unpack(saved["state"]), "the saved model")
    assert set(weights) == set(model.state_dict())
    assert any(".terms.PIXEL_GTA.mixing." in name for name in weights)
