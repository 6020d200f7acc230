"""tools/submit_slurm.py runs the real job through submitit (debug cluster)."""

import importlib.util
import os

import pytest

from gta_slowfast.datasets.synthetic import generate_dataset

from conftest import REPO

pytest.importorskip("submitit")


def load_tool():
    spec = importlib.util.spec_from_file_location("submit_slurm", REPO / "tools" / "submit_slurm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_submitted_job_trains_as_shard_0_of_1(tmp_path):
    data = tmp_path / "data"
    generate_dataset(str(data), num_pairs=2, train_per_class=4, val_per_class=1,
                     num_frames=12, height=40, width=48, verbose=False)
    out = tmp_path / "out"
    job = load_tool().main([
        "--cfg", str(REPO / "configs/SSv2/synthetic/C2D_GTA_8x1_R50.yaml"),
        "--cluster", "debug", "--gpus-per-node", "0", "--opts",
        "DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data / "videos"),
        "OUTPUT_DIR", str(out), "MODEL.NUM_CLASSES", "4", "GTA.DATA.RESIZE", "[40, 48]",
        "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "4",
        "TEST.BATCH_SIZE", "4", "DATA_LOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "1",
    ])
    job.result()
    assert os.listdir(out / "checkpoints") == ["checkpoint_epoch_00001.pyth"]
    assert os.path.isfile(out / "test_scores_checkpoint_epoch_00001_1x1.npz")
    assert os.path.isdir(out / "slurm")
