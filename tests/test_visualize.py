"""tools/visualize.py writes the pictures of a checkpoint's attention."""


import cv2
import pytest
import torch

import gta_slowfast
from gta_slowfast.visualization import block_inputs, query_attention, read_test_clip

from pipeline import CONFIG, load_tool, tiny_opts


@pytest.fixture(scope="module")
def video(tiny_ssv2):
    """A video of the session's tiny data set (only read)."""
    return next((tiny_ssv2 / "videos").iterdir())


@pytest.mark.parametrize(
    "block, expected",
    [("GTA", ["pixel_mixing", "region_mixing", "regions", "query"]),
     ("NL", ["query"]), ("DNL", ["query"])],
)
def test_pictures_per_block(tmp_path, video, block, expected):
    # Two groups and two regions: small grids of pictures (8 x 8 and 9 x T
    # with the defaults), as cheap to draw as the NL and DNL pictures.
    opts = tiny_opts(video.parent.parent, tmp_path) + ["GTA.BLOCK", block, "GTA.NUM_GROUPS", "2",
                                                      "GTA.NUM_REGIONS", "2"]
    cfg = gta_slowfast.load_config(CONFIG, opts)
    cfg.NUM_GPUS = 0
    checkpoint = tmp_path / "model.pyth"
    torch.save({"model_state": gta_slowfast.build_model(cfg).state_dict(), "epoch": 0}, checkpoint)
    out = tmp_path / "pictures"
    load_tool("visualize").main(["--cfg", CONFIG, "--checkpoint", str(checkpoint), "--video", str(video),
                      "--out", str(out), "--opts"] + opts + ["GTA.BLOCK", block])
    names = sorted(p.name for p in out.iterdir())
    assert "frames.png" in names
    for stage, index in (("s3", 1), ("s3", 3), ("s4", 1), ("s4", 3), ("s4", 5)):
        for kind in expected:
            assert "{}_pathway0_nonlocal{}_{}.png".format(stage, index, kind) in names
    for name in names:
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 50 and image.shape[1] > 50, name


@pytest.mark.parametrize("block, keys", [("NL", {"spacetime"}), ("DNL", {"spatial", "temporal"})])
def test_query_attention_is_a_distribution(tmp_path, video, block, keys):
    cfg = gta_slowfast.load_config(CONFIG, tiny_opts(video.parent.parent, tmp_path) + ["GTA.BLOCK", block])
    cfg.NUM_GPUS = 0
    model = gta_slowfast.build_model(cfg).eval()
    inputs, frames = read_test_clip(cfg, str(video))
    assert frames.shape == (8, 32, 32, 3) and 0 <= frames.min() and frames.max() <= 1
    for module, block_input in block_inputs(model, inputs).values():
        maps = query_attention(module, block_input, (2, 1, 1))
        assert set(maps) == keys
        for weights in maps.values():
            assert torch.all(weights >= 0)
            assert weights.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_temporal_map_follows_the_blocks_query_input(tmp_path, video):
    """DNL's temporal map uses TA's queries and keys as the block forms them:
    from SA's output by default, from the input with GTA.TA_INPUT x."""
    opts = tiny_opts(video.parent.parent, tmp_path) + ["GTA.BLOCK", "DNL"]
    cfg = gta_slowfast.load_config(CONFIG, opts)
    cfg.NUM_GPUS = 0
    torch.manual_seed(0)
    model = gta_slowfast.build_model(cfg).eval()
    inputs, _ = read_test_clip(cfg, str(video))
    module, block_input = next(iter(block_inputs(model, inputs).values()))
    from_x_hat = query_attention(module, block_input, (2, 1, 1))["temporal"]
    module.terms["TA"].temporal_input = "x"
    from_x = query_attention(module, block_input, (2, 1, 1))["temporal"]
    assert (from_x_hat - from_x).abs().max() > 1e-4


def test_the_clip_is_read_as_the_test_dataset_reads_its_videos(tmp_path, video):
    """gta_kinetics samples dense clips and scales the short side whatever
    GTA.DATA says; the pictures' clip must be that one, not GTA.DATA's TSN
    segments."""
    from gta_slowfast.datasets.kinetics import Gta_kinetics

    opts = tiny_opts(video.parent.parent, tmp_path) + ["TEST.DATASET", "gta_kinetics",
                                                      "DATA.SAMPLING_RATE", "1"]
    cfg = gta_slowfast.load_config(CONFIG, opts)
    assert cfg.GTA.DATA.SAMPLING == "tsn" and list(cfg.GTA.DATA.RESIZE) == [40, 48]
    inputs, _ = read_test_clip(cfg, str(video))
    one_view = cfg.clone()
    one_view.TEST.NUM_ENSEMBLE_VIEWS, one_view.TEST.NUM_SPATIAL_CROPS = 1, 1
    expected = Gta_kinetics.of_files(one_view, [str(video)])[0][0]
    assert all(torch.equal(x[0], y) for x, y in zip(inputs, expected))
    tsn = gta_slowfast.load_config(CONFIG, tiny_opts(video.parent.parent, tmp_path))
    assert not torch.equal(read_test_clip(tsn, str(video))[0][0], inputs[0])
    cfg.TEST.DATASET = "kinetics"  # PySlowFast's own: not the plugin's reader
    with pytest.raises(ValueError, match="TEST.DATASET is kinetics"):
        read_test_clip(cfg, str(video))
