"""Checkpoints and ImageNet initialisation."""

import logging
import os
import re

import pytest
import torch

import gta_slowfast
from gta_slowfast.engine import checkpoint
from gta_slowfast.engine.imagenet import convert_torchvision_resnet
from gta_slowfast.flop_count import clip_inputs
from gta_slowfast.models.video_models import inserted_blocks

from conftest import randomize_norms, small_cfg
from pipeline import CONFIG, run_net, tiny_opts

RESNET50_LAYERS = (3, 4, 6, 3)


def torchvision_resnet50_state(width=64):
    """A state dict with torchvision's ResNet-50 names and shapes, written
    from the architecture (not from the plugin), random values."""
    state = {"conv1.weight": torch.randn(width, 3, 7, 7)}

    def bn(prefix, channels):
        state[prefix + ".weight"] = torch.rand(channels) + 0.5
        state[prefix + ".bias"] = torch.randn(channels)
        state[prefix + ".running_mean"] = torch.randn(channels)
        state[prefix + ".running_var"] = torch.rand(channels) + 0.5
        state[prefix + ".num_batches_tracked"] = torch.tensor(7)

    bn("bn1", width)
    channels_in = width
    for layer, blocks in enumerate(RESNET50_LAYERS, start=1):
        inner = width * 2 ** (layer - 1)
        out = inner * 4
        for block in range(blocks):
            prefix = "layer{}.{}".format(layer, block)
            state[prefix + ".conv1.weight"] = torch.randn(inner, channels_in, 1, 1)
            bn(prefix + ".bn1", inner)
            state[prefix + ".conv2.weight"] = torch.randn(inner, inner, 3, 3)
            bn(prefix + ".bn2", inner)
            state[prefix + ".conv3.weight"] = torch.randn(out, inner, 1, 1)
            bn(prefix + ".bn3", out)
            if block == 0:
                state[prefix + ".downsample.0.weight"] = torch.randn(out, channels_in, 1, 1)
                bn(prefix + ".downsample.1", out)
            channels_in = out
    state["fc.weight"] = torch.randn(1000, channels_in)
    state["fc.bias"] = torch.randn(1000)
    return state


def test_imagenet_resnet50_initialises_the_c2d_gta_backbone(tmp_path, caplog):
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")
    model = gta_slowfast.build_model(cfg)
    blocks_before = {
        name: tensor.clone()
        for name, tensor in model.state_dict().items()
        if "nonlocal" in name
    }
    path = tmp_path / "resnet50_imagenet.pth"
    imagenet = torchvision_resnet50_state(width=8)
    torch.save(imagenet, path)
    with caplog.at_level(logging.INFO):
        checkpoint.load_pretrained(str(path), "pytorch", model)
    loaded = model.state_dict()
    pairs = {
        "s1.pathway0_stem.conv.weight": "conv1.weight",
        "s1.pathway0_stem.bn.running_var": "bn1.running_var",
        "s2.pathway0_res0.branch1.weight": "layer1.0.downsample.0.weight",
        "s2.pathway0_res0.branch1_bn.bias": "layer1.0.downsample.1.bias",
        "s3.pathway0_res3.branch2.b.weight": "layer2.3.conv2.weight",
        "s4.pathway0_res5.branch2.c_bn.weight": "layer3.5.bn3.weight",
        "s5.pathway0_res2.branch2.a.weight": "layer4.2.conv1.weight",
    }
    for ours, theirs in pairs.items():
        expected = imagenet[theirs]
        if expected.dim() == 4:
            expected = expected.unsqueeze(2)  # C2D: temporal kernel 1
        assert torch.equal(loaded[ours], expected), ours
    for name, before in blocks_before.items():
        assert torch.equal(loaded[name], before), name
    assert "starting from their initialisation" in caplog.text
    assert "s3.pathway0_nonlocal1.terms.PIXEL_GTA.mixing.weight" in caplog.text
    assert "head.projection.weight" in caplog.text


def test_inflation_spreads_a_2d_kernel_over_time():
    model_state = {"s1.pathway0_stem.conv.weight": torch.zeros(4, 3, 5, 7, 7)}
    kernel = torch.randn(4, 3, 7, 7)
    converted = convert_torchvision_resnet({"conv1.weight": kernel}, model_state)
    inflated = converted["s1.pathway0_stem.conv.weight"]
    assert inflated.shape == (4, 3, 5, 7, 7)
    assert torch.allclose(inflated.sum(dim=2), kernel)  # same response to a static clip


def test_checkpoint_roundtrip_and_last(tmp_path):
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml")
    model = gta_slowfast.build_model(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(clip_inputs(cfg, batch_size=2)).sum().backward()
    optimizer.step()
    assert checkpoint.last_checkpoint(str(tmp_path)) is None
    for epoch in (0, 1, 9):
        checkpoint.save_checkpoint(str(tmp_path), model, optimizer, epoch, cfg)
    last = checkpoint.last_checkpoint(str(tmp_path))
    assert os.path.basename(last) == "checkpoint_epoch_00010.pyth"
    assert not [n for n in os.listdir(checkpoint.checkpoint_dir(str(tmp_path))) if n.endswith(".tmp")]
    fresh = gta_slowfast.build_model(cfg)
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    assert checkpoint.load_checkpoint(last, fresh, fresh_optimizer) == 9
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    assert fresh_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()


def test_interrupted_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "file.pyth"
    checkpoint.atomic_write(str(path), lambda stream: torch.save({"a": 1}, stream))

    def broken(stream):
        stream.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_write(str(path), broken)
    assert torch.load(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["file.pyth"]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    model = gta_slowfast.build_model(small_cfg("SSv2/C2D_GTA_8x1_R50.yaml"))
    with pytest.raises(FileNotFoundError, match="nope.pyth"):
        checkpoint.load_checkpoint(str(tmp_path / "nope.pyth"), model)


@pytest.mark.parametrize("source, target", [("NLN", "GTA"), ("NLN", "DNL"), ("GTA", "NLN"),
                                            ("DNL", "GTA")])
def test_blocks_keep_their_identity_start_across_a_checkpoint_of_another_block_type(
        source, target, tmp_path, caplog):
    """A checkpoint with other blocks initialises the backbone; every
    inserted block keeps its initialisation, its final norm at zero."""
    trained = gta_slowfast.build_model(small_cfg("SSv2/C2D_{}_8x1_R50.yaml".format(source)))
    randomize_norms(trained)
    path = tmp_path / "other.pyth"
    torch.save({"model_state": trained.state_dict(), "epoch": 3}, path)
    model = gta_slowfast.build_model(small_cfg("SSv2/C2D_{}_8x1_R50.yaml".format(target)))
    initial = {name: t.clone() for name, t in model.state_dict().items() if "nonlocal" in name}
    with caplog.at_level(logging.INFO):
        assert checkpoint.load_checkpoint(str(path), model) == 3
    loaded = model.state_dict()
    for name, tensor in initial.items():
        assert torch.equal(loaded[name], tensor), name
    assert all(torch.count_nonzero(b.bn.weight) == 0 for b in inserted_blocks(model).values())
    name = "s2.pathway0_res0.branch1_bn.running_var"
    assert torch.equal(loaded[name], trained.state_dict()[name])
    assert caplog.text.count("starts from its initialisation: the weights loaded hold "
                             "another block type") == 5


def test_one_epoch_at_zero_lr_from_an_nl_checkpoint_keeps_gta_norms_at_zero(tiny_ssv2, tmp_path):
    nl_cfg = gta_slowfast.load_config(
        CONFIG, tiny_opts(tiny_ssv2, tmp_path / "nl") + ["GTA.BLOCK", "NL"])
    nl = randomize_norms(gta_slowfast.build_model(nl_cfg))
    path = checkpoint.save_checkpoint(str(tmp_path / "nl"), nl, torch.optim.SGD(nl.parameters(), lr=1),
                                      4, nl_cfg)
    out = tmp_path / "gta"
    result = run_net(tiny_ssv2, out, "SOLVER.MAX_EPOCH", 1, "TEST.ENABLE", False,
                     "TRAIN.CHECKPOINT_FILE_PATH", path, "SOLVER.BASE_LR", 0.0,
                     "SOLVER.WARMUP_START_LR", 0.0,
                     # GitHub main's cosine schedule refuses a zero base rate
                     "SOLVER.LR_POLICY", "steps_with_relative_lrs")
    assert result.returncode == 0, result.output[-3000:]
    assert "starts from its initialisation" in result.output
    saved = torch.load(out / "checkpoints" / "checkpoint_epoch_00001.pyth", weights_only=False)
    scales = [t for name, t in saved["model_state"].items() if re.search(r"nonlocal\d+\.bn\.weight$", name)]
    assert len(scales) == 5 and all(torch.count_nonzero(scale) == 0 for scale in scales)
    name = "s3.pathway0_res2.branch2.b.weight"
    assert torch.equal(saved["model_state"][name], nl.state_dict()[name])


def test_matrices_for_another_clip_length_are_refused_or_resized(tmp_path):
    eight = gta_slowfast.build_model(small_cfg("SSv2/C2D_GTA_8x1_R50.yaml"))
    path = tmp_path / "gta8.pyth"
    torch.save({"model_state": eight.state_dict()}, path)
    sixteen = gta_slowfast.build_model(
        small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "DATA.NUM_FRAMES", 16))
    with pytest.raises(ValueError, match=r"T=8 .*T=16"):
        checkpoint.load_checkpoint(str(path), sixteen)
    adapted = gta_slowfast.build_model(small_cfg(
        "SSv2/C2D_GTA_8x1_R50.yaml", "DATA.NUM_FRAMES", 16, "GTA.TEMPORAL_ADAPT", "interpolate"))
    checkpoint.load_checkpoint(str(path), adapted)
    name = "s3.pathway0_nonlocal1.terms.PIXEL_GTA.mixing.weight"
    saved, loaded = eight.state_dict()[name], adapted.state_dict()[name]
    assert loaded.shape[-2:] == (16, 16)
    # Corners of a bilinear, align_corners resize keep their values, scaled by 8/16.
    assert torch.allclose(loaded[..., 0, 0], saved[..., 0, 0] / 2)
    assert torch.allclose(loaded[..., -1, -1], saved[..., -1, -1] / 2)
