"""The plugin's test loop honours PySlowFast's test switches as GitHub
main's tools/test_net.py does: DATA.ENSEMBLE_METHOD, TEST.NUM_TEMPORAL_CLIPS,
TEST.SAVE_RESULTS_PATH, TENSORBOARD.ENABLE, the checkpoint chosen as
``load_test_checkpoint`` chooses it and read with the type its key says,
and PySlowFast's json stats.

Most tests run the loop in-process on a fake data set and model whose
scores are written out below, so every expected number is a hand
computation."""

import glob
import pickle

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.engine import checkpoint, meters
from gta_slowfast.engine import test as engine_test

from conftest import small_cfg
from pipeline import CONFIG, json_stats, tiny_opts

# SCORES[video][view]: the class probabilities of each view; two videos,
# up to two clips (one crop). LABELS: each video's class.
SCORES = [
    [[0.45, 0.55, 0.00], [0.45, 0.15, 0.40]],
    [[0.10, 0.20, 0.70], [0.30, 0.30, 0.40]],
]
LABELS = [0, 2]
# By hand, two views per video:
# "sum": video 0 [0.90, 0.70, 0.40] -> class 0 (right), video 1 [0.40, 0.50, 1.10] -> 2 (right).
# "max": video 0 [0.45, 0.55, 0.40] -> class 1 (wrong), video 1 [0.30, 0.30, 0.70] -> 2 (right).
SUM_OF_2 = [[0.90, 0.70, 0.40], [0.40, 0.50, 1.10]]
MAX_OF_2 = [[0.45, 0.55, 0.40], [0.30, 0.30, 0.70]]


class ViewsDataset(torch.utils.data.Dataset):
    """Item i is view i % views of video i // views; its input is the pair
    (video, view), which ``TableModel`` turns into SCORES[video][view]."""

    def __init__(self, views):
        self.views = views
        self.num_videos = len(SCORES) * views  # PySlowFast's name: items
        self.video_paths = ["video{}.webm".format(v) for v in range(len(SCORES))]

    def __len__(self):
        return self.num_videos

    def __getitem__(self, index):
        video, view = divmod(index, self.views)
        return [torch.tensor([video, view])], LABELS[video], index, 0, {}


class TableModel(nn.Module):
    """(B, 2) pairs (video, view) -> (B, K) SCORES[video][view]."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.tensor(SCORES))

    def forward(self, inputs):
        video, view = inputs[0].long().unbind(1)
        return self.table[video, view]


@pytest.fixture
def fake_pipeline(monkeypatch):
    """The test loop's model and loader replaced by ``TableModel`` and a
    loader over ``ViewsDataset``; returns the TEST.NUM_ENSEMBLE_VIEWS of
    every loader built."""
    loaders = []

    def construct_loader(cfg, split):
        assert split == "test"
        loaders.append(cfg.TEST.NUM_ENSEMBLE_VIEWS)
        return torch.utils.data.DataLoader(ViewsDataset(cfg.TEST.NUM_ENSEMBLE_VIEWS),
                                           batch_size=3)

    monkeypatch.setattr(engine_test, "build_model", lambda cfg: TableModel())
    monkeypatch.setattr(engine_test, "construct_loader", construct_loader)
    return loaders


def fake_pipeline_cfg(output_dir, *opts):
    """The demo config, for the fake pipeline: 3 classes, 2 clips x 1 crop."""
    return gta_slowfast.load_config(CONFIG, [
        "NUM_GPUS", 0, "MODEL.NUM_CLASSES", 3, "OUTPUT_DIR", str(output_dir),
        "TEST.NUM_ENSEMBLE_VIEWS", 2, "TEST.NUM_SPATIAL_CROPS", 1, "LOG_PERIOD", 1,
    ] + list(opts))


@pytest.mark.parametrize("method, expected, top1", [("sum", SUM_OF_2, 100.0),
                                                    ("max", MAX_OF_2, 50.0)])
def test_ensemble_method_and_saved_results_by_hand(fake_pipeline, tmp_path, method, expected,
                                                    top1):
    cfg = fake_pipeline_cfg(tmp_path, "DATA.ENSEMBLE_METHOD", method,
                            "TEST.SAVE_RESULTS_PATH", "results/preds.pkl")
    (final,) = engine_test.test(cfg)
    assert final["split"] == "test_final" and final["top1_acc"] == pytest.approx(top1)
    assert json_stats(tmp_path, "test_final") == [pytest.approx(final)]

    # PySlowFast's pickle: [TestMeter.video_preds, video_labels].
    with open(tmp_path / "results" / "preds.pkl", "rb") as stream:
        preds, labels = pickle.load(stream)
    assert preds.dtype == torch.float32 and labels.tolist() == LABELS
    assert torch.allclose(preds, torch.tensor(expected))

    # The plugin's .npz: the views' mean ("sum") or maximum ("max").
    with np.load(tmp_path / "test_scores_random_init_2x1.npz") as saved:
        per_video = np.array(expected) / (2 if method == "sum" else 1)
        assert np.allclose(saved["scores"], per_video)
        assert saved["video_paths"].tolist() == ["video0.webm", "video1.webm"]


def test_unknown_ensemble_method_and_clip_count_are_refused_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setattr(engine_test, "build_model", pytest.fail)
    cfg = fake_pipeline_cfg(tmp_path, "DATA.ENSEMBLE_METHOD", "mean")
    with pytest.raises(ValueError, match="DATA.ENSEMBLE_METHOD is 'mean'.*'sum'.*'max'"):
        engine_test.test(cfg)
    with pytest.raises(ValueError, match="DATA.ENSEMBLE_METHOD"):
        meters.TestMeter(2, 3, "mean")
    cfg = fake_pipeline_cfg(tmp_path, "TEST.NUM_TEMPORAL_CLIPS", [2, 0])
    with pytest.raises(ValueError, match=r"TEST.NUM_TEMPORAL_CLIPS holds 0"):
        engine_test.test(cfg)


def test_max_ignores_unreadable_views_and_scores_below_zero():
    meter = meters.TestMeter(num_videos=2, num_classes=2, ensemble_method="max")
    meter.update(scores=torch.tensor([[-2.0, -1.0], [5.0, 5.0], [-3.0, -4.0]]),
                 labels=torch.tensor([1, 1, 0]), video_index=torch.tensor([0, 0, 1]),
                 valid=torch.tensor([True, False, False]))
    result = meter.finalize(torch.device("cpu"))
    assert result.scores[0].tolist() == [-2.0, -1.0]  # the readable view only
    assert result.scored.tolist() == [True, False]
    assert result.preds[1].tolist() == [0.0, 0.0] and result.labels[1] == -1


def test_num_temporal_clips_tests_once_per_value(fake_pipeline, tmp_path):
    cfg = fake_pipeline_cfg(tmp_path, "TEST.NUM_TEMPORAL_CLIPS", [1, 2])
    finals = engine_test.test(cfg)
    assert fake_pipeline == [1, 2]
    # One clip: video 0 [0.45, 0.55, 0] -> class 1 (wrong), video 1 right.
    assert [row["top1_acc"] for row in finals] == pytest.approx([50.0, 100.0])
    assert [row["views"] for row in json_stats(tmp_path, "test_final")] == [1, 2]
    for views in (1, 2):
        with np.load(tmp_path / "test_scores_random_init_{}x1.npz".format(views)) as saved:
            assert np.allclose(saved["scores"], np.mean(np.array(SCORES)[:, :views], axis=1))
    assert cfg.TEST.NUM_ENSEMBLE_VIEWS == 2  # the caller's config is left alone


def test_empty_num_temporal_clips_is_one_run_of_num_ensemble_views(fake_pipeline, tmp_path):
    engine_test.test(fake_pipeline_cfg(tmp_path))
    assert fake_pipeline == [2]


def test_json_stats_are_pyslowfast_test_records(fake_pipeline, tmp_path):
    engine_test.test(fake_pipeline_cfg(tmp_path))
    iters = json_stats(tmp_path, "test_iter")
    assert [row["cur_iter"] for row in iters] == ["1", "2"]  # 4 views, batch 3
    assert all({"split", "cur_iter", "eta", "time_diff"} <= set(row) for row in iters)
    assert iters[-1]["eta"] == "0:00:00"
    (final,) = json_stats(tmp_path, "test_final")
    assert {"split", "top1_acc", "top5_acc"} <= set(final)


class RecordingWriter:
    def __init__(self):
        self.plots, self.closed = [], False

    def plot_eval(self, preds, labels):
        self.plots.append((preds, labels))

    def close(self):
        self.closed = True


def test_tensorboard_writer_plots_the_video_predictions_and_closes(fake_pipeline, monkeypatch,
                                                                   tmp_path):
    writers = []

    def tensorboard_writer(cfg):
        writers.append(RecordingWriter())
        return writers[-1]

    monkeypatch.setattr(compat, "tensorboard_writer", tensorboard_writer)
    engine_test.test(fake_pipeline_cfg(tmp_path, "TEST.NUM_TEMPORAL_CLIPS", [1, 2]))
    assert len(writers) == 2 and all(writer.closed for writer in writers)
    ((preds, labels),) = writers[1].plots
    assert torch.allclose(preds, torch.tensor(SUM_OF_2)) and labels.tolist() == LABELS


@pytest.mark.skipif(compat.GENERATION != "main",
                    reason="TENSORBOARD keys and TensorboardWriter are GitHub-main PySlowFast's")
def test_tensorboard_enable_writes_pyslowfast_confusion_matrix(fake_pipeline, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    engine_test.test(fake_pipeline_cfg(tmp_path, "TENSORBOARD.ENABLE", True,
                                       "TENSORBOARD.CONFUSION_MATRIX.ENABLE", True))
    (events,) = glob.glob(str(tmp_path / "runs-*" / "events.out.tfevents.*"))
    accumulator = EventAccumulator(events)
    accumulator.Reload()
    assert "Confusion Matrix" in accumulator.Tags()["images"]


def test_tensorboard_keys_are_refused_where_pyslowfast_has_none(tmp_path):
    if compat.GENERATION == "main":
        assert compat.tensorboard_writer(fake_pipeline_cfg(tmp_path)) is None  # ENABLE False
        return
    with pytest.raises(KeyError, match="TENSORBOARD"):
        fake_pipeline_cfg(tmp_path, "TENSORBOARD.ENABLE", True)


def test_checkpoint_to_test_follows_load_test_checkpoint(tmp_path):
    def chosen(*opts):
        return engine_test.checkpoint_and_type_to_test(fake_pipeline_cfg(tmp_path, *opts))

    assert chosen() == (None, None)
    assert chosen("TRAIN.CHECKPOINT_FILE_PATH", "k400.pkl", "TRAIN.CHECKPOINT_TYPE", "caffe2",
                  "TEST.CHECKPOINT_TYPE", "pytorch") == ("k400.pkl", "caffe2")
    own = checkpoint.checkpoint_path(str(tmp_path), 0)
    (tmp_path / "checkpoints").mkdir()
    open(own, "wb").close()
    assert chosen("TRAIN.CHECKPOINT_FILE_PATH", "k400.pkl", "TRAIN.CHECKPOINT_TYPE", "caffe2",
                  "TEST.CHECKPOINT_TYPE", "caffe2") == (own, "pytorch")
    assert chosen("TEST.CHECKPOINT_FILE_PATH", "best.pyth", "TEST.CHECKPOINT_TYPE", "pytorch",
                  "TRAIN.CHECKPOINT_TYPE", "caffe2") == ("best.pyth", "pytorch")


def test_caffe2_train_checkpoint_reaches_pyslowfast_converter(tmp_path):
    cfg = small_cfg("SSv2/C2D_GTA_8x1_R50.yaml", "OUTPUT_DIR", str(tmp_path),
                    "TRAIN.CHECKPOINT_FILE_PATH", str(tmp_path / "model_zoo.pkl"),
                    "TRAIN.CHECKPOINT_TYPE", "caffe2", "TEST.CHECKPOINT_TYPE", "pytorch")
    model = gta_slowfast.build_model(cfg)
    weight = torch.randn_like(model.head.projection.weight)
    bias = torch.randn_like(model.head.projection.bias)
    # A Caffe2 model-zoo pickle holding the classifier, in Caffe2's names.
    with open(tmp_path / "model_zoo.pkl", "wb") as stream:
        pickle.dump({"blobs": {"pred_w": weight.numpy(), "pred_b": bias.numpy()}}, stream)
    assert engine_test.load_test_checkpoint(cfg, model) == str(tmp_path / "model_zoo.pkl")
    assert torch.equal(model.head.projection.weight, weight)
    assert torch.equal(model.head.projection.bias, bias)


def finalize_in_process(rank, init_method, updates, results):
    """One of two gloo processes: its share of the views, then finalize,
    for each ensemble method."""
    torch.distributed.init_process_group("gloo", init_method=init_method, rank=rank,
                                         world_size=2)
    for method in ("sum", "max"):
        meter = meters.TestMeter(2, 3, method)
        for view in updates[rank]:
            meter.update(*view)
        results[rank, method] = tuple(meter.finalize(torch.device("cpu")))
    torch.distributed.destroy_process_group()


def view_batch(video, view):
    return (torch.tensor([SCORES[video][view]]), torch.tensor([LABELS[video]]),
            torch.tensor([video]), torch.tensor([True]))


def test_two_processes_ensemble_every_view(tmp_path):
    # Each process sees one view of each video, as a sharded test loader gives.
    updates = [[view_batch(0, 0), view_batch(1, 1)], [view_batch(0, 1), view_batch(1, 0)]]
    results = mp.Manager().dict()
    # Forked, so that the processes need not import PySlowFast again.
    mp.start_processes(finalize_in_process, nprocs=2, start_method="fork",
                       args=("file://" + str(tmp_path / "rendezvous"), updates, results))
    for method, expected in (("sum", SUM_OF_2), ("max", MAX_OF_2)):
        for rank in (0, 1):
            result = meters.VideoScores(*results[rank, method])
            assert torch.allclose(result.preds, torch.tensor(expected, dtype=torch.float64))
            assert result.labels.tolist() == LABELS and result.scored.all()


def test_real_pipeline_max_over_two_clip_counts(tiny_ssv2, tmp_path):
    out = tmp_path / "out"
    cfg = gta_slowfast.load_config(CONFIG, tiny_opts(tiny_ssv2, out) + [
        "RESNET.WIDTH_PER_GROUP", 8, "DATA.ENSEMBLE_METHOD", "max",
        "TEST.NUM_TEMPORAL_CLIPS", [1, 2], "TEST.SAVE_RESULTS_PATH", "preds.pkl"])
    finals = engine_test.test(cfg)
    assert [row["views"] for row in finals] == [1, 2]
    assert all(row["videos"] == 8 for row in finals)
    with open(out / "preds.pkl", "rb") as stream:
        preds, labels = pickle.load(stream)
    assert (out / "test_scores_random_init_1x1.npz").is_file()
    with np.load(out / "test_scores_random_init_2x1.npz") as saved:  # the last run's
        assert np.allclose(preds.numpy(), saved["scores"], atol=1e-6)
        assert labels.tolist() == saved["labels"].tolist()
