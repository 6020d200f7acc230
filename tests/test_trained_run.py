"""A tiny trained run of tools/run_net.py: a second run of the same config
gives the same numbers, bit for bit, and tools/predict.py on its checkpoint
gives testing's own scores."""

import json
import os
import numpy as np
import pytest
import torch

import gta_slowfast
from gta_slowfast.datasets import loader

from pipeline import (
    CONFIG,
    json_stats,
    load_tool,
    plugin_loop_env,
    run_command,
    run_net_command,
    tiny_opts,
)

# One epoch, validated and tested, read by two worker processes. Runs agree
# exactly with the same torch thread count (one here, and the fastest on a
# shared machine).
RUN_OPTS = ("SOLVER.MAX_EPOCH", 1, "TRAIN.EVAL_PERIOD", 1, "TRAIN.CHECKPOINT_PERIOD", 1,
            "TEST.ENABLE", True, "DATA_LOADER.NUM_WORKERS", 2)
CHECKPOINT = os.path.join("checkpoints", "checkpoint_epoch_00001.pyth")
STATS = {"train_iter_": ("loss", "top1_err", "top5_err", "lr", "grad_norm"),
         "train_epoch": ("loss", "top1_err", "top5_err"),
         "val_epoch": ("top1_err", "top5_err"),
         "test_final": ("top1_acc", "top5_acc", "mean_class_acc", "pair_acc")}


def one_thread_env():
    return dict(plugin_loop_env(), OMP_NUM_THREADS="1")


def train(data_dir, out):
    result = run_command(run_net_command(data_dir, out, *RUN_OPTS), one_thread_env())
    assert result.returncode == 0, result.output[-3000:]
    return out


@pytest.fixture(scope="module")
def data_dir(tiny_ssv2):
    """The session's tiny data set (only read)."""
    return tiny_ssv2


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    return train(data_dir, tmp_path_factory.mktemp("trained_run") / "first")


def test_two_runs_of_a_config_give_the_same_stats_and_weights(data_dir, trained, tmp_path):
    second = train(data_dir, tmp_path / "second")
    for kind, keys in STATS.items():
        first_rows = [[row[key] for key in keys] for row in json_stats(trained, kind)]
        second_rows = [[row[key] for key in keys] for row in json_stats(second, kind)]
        assert first_rows and first_rows == second_rows, kind
    states = [torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)["model_state"]
              for out in (trained, second)]
    assert states[0].keys() == states[1].keys()
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]), name


def predict(trained, data_dir, videos, capsys, *args, opts=()):
    """Runs tools/predict.py's main in this process: (exit status, stdout,
    stderr)."""
    argv = ["--cfg", CONFIG, "--checkpoint", str(trained / CHECKPOINT), "--device", "cpu",
            *args, *[str(video) for video in videos], "--opts", *tiny_opts(data_dir, trained),
            *opts]
    status = load_tool("predict").main(argv)
    output = capsys.readouterr()
    return status, output.out, output.err


def test_predict_prints_top_names_and_goes_on_after_a_missing_video(trained, data_dir, capsys):
    with np.load(next(trained.glob("test_scores_*.npz"))) as saved:
        videos = [str(path) for path in saved["video_paths"][:2]]
        names = [str(name) for name in saved["class_names"]]
    missing = data_dir / "videos" / "no_such_video.webm"
    status, out, err = predict(trained, data_dir, [videos[0], missing, videos[1]], capsys)
    assert status == 1, out + err
    assert "Cannot read {}: no such file".format(missing) in err
    lines = out.splitlines()
    for video in videos:
        start = lines.index("{} (1 view):".format(video))
        listed = [line.split("%  ", 1)[1] for line in lines[start + 1:start + 5]]
        assert sorted(listed) == sorted(names)  # 4 classes: the top 5 is all of them


def test_predict_json_gives_the_test_loops_scores(trained, data_dir, capsys):
    with np.load(next(trained.glob("test_scores_*.npz"))) as saved:
        videos = [str(path) for path in saved["video_paths"][:2]]
        scores = saved["scores"][:2]
        names = [str(name) for name in saved["class_names"]]
    status, out, err = predict(trained, data_dir, videos, capsys, "--json", "--top", "3")
    assert status == 0, out + err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["video"] for row in rows] == videos
    for row, expected in zip(rows, scores):
        order = np.argsort(-expected)[:3]
        assert [entry["index"] for entry in row["top"]] == order.tolist()
        assert [entry["class"] for entry in row["top"]] == [names[k] for k in order]
        np.testing.assert_allclose([entry["probability"] for entry in row["top"]],
                                   expected[order], rtol=1e-5)


def test_predict_without_class_names_says_what_to_give(tmp_path):
    predict_tool = load_tool("predict")
    cfg = gta_slowfast.load_config(CONFIG, ["DATA.PATH_TO_DATA_DIR", str(tmp_path)])
    with pytest.raises(ValueError, match="No class-names file .*DATA.PATH_TO_DATA_DIR"):
        predict_tool.class_names(cfg, loader.test_dataset_class(cfg))
    cfg.TEST.DATASET = "gta_kinetics"
    with pytest.raises(ValueError, match="has no class-names file: give --class-names"):
        predict_tool.class_names(cfg, loader.test_dataset_class(cfg))
    cfg.TEST.DATASET = "kinetics"
    with pytest.raises(ValueError, match="TEST.DATASET is kinetics"):
        loader.test_dataset_class(cfg)


def test_predict_refuses_a_checkpoint_of_another_model(trained, data_dir, capsys):
    # Trained at RESNET.WIDTH_PER_GROUP 8 (the demo config's): the layers of
    # width 4 find no weights of their shape.
    with pytest.raises(ValueError, match="the config builds; .* missing or of another shape"):
        predict(trained, data_dir, [data_dir / "videos" / "100001.webm"], capsys,
                opts=("RESNET.WIDTH_PER_GROUP", "4"))


def test_videos_are_read_as_the_test_set_reads_them(tmp_path):
    """predict.py's test set of files (``of_files``): Kinetics' dense
    clips and short-side scaling whatever GTA.DATA says, the config's test
    views, and no GTA.DATA.EXCLUDE_LIST."""
    from gta_slowfast.datasets.kinetics import Gta_kinetics
    from video_files import make_cfg, write_video

    video = write_video(str(tmp_path / "clip.mp4"), 30, 40, 56)
    exclude = tmp_path / "bad.txt"
    exclude.write_text(video + "\n")
    cfg = make_cfg(tmp_path, tmp_path, dataset="gta_kinetics",
                   **{"GTA.DATA.SAMPLING": "tsn", "TEST.NUM_ENSEMBLE_VIEWS": 2,
                      "TEST.NUM_SPATIAL_CROPS": 3, "GTA.DATA.EXCLUDE_LIST": str(exclude)})
    dataset = Gta_kinetics.of_files(cfg, [video])
    assert (dataset.sampling_method, dataset.resize_to) == ("dense", [])
    assert dataset.video_paths == [video] and len(dataset) == 6
    inputs, _, _, _, meta = dataset[5]
    assert meta["valid"] and inputs[0].shape == (3, 8, 48, 48)
