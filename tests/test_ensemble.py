"""tools/ensemble.py on hand-made score files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO


def write(path, paths, scores, labels, scored):
    np.savez(path, scores=np.array(scores, dtype=float), labels=np.array(labels),
             scored=np.array(scored), video_paths=np.array(paths))


def test_ensemble_matches_videos_by_path_and_averages(tmp_path):
    # Run A: right on v1 only. Run B (videos in another order): right on v2
    # only, confidently wrong on v1 but less so than A is right there.
    write(tmp_path / "a.npz", ["v1", "v2", "v3"],
          [[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.2, 0.3, 0.5]], [0, 1, 2], [True, True, False])
    write(tmp_path / "b.npz", ["v2", "v1", "v3"],
          [[0.1, 0.9, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]], [1, 0, 2], [True, True, True])
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "ensemble.py"), "--json",
         str(tmp_path / "a.npz"), str(tmp_path / "b.npz")],
        capture_output=True, text=True, check=True,
    )
    rows = {row["run"]: row for row in json.loads(result.stdout)}
    assert rows[str(tmp_path / "a.npz")]["top1_acc"] == 50.0
    assert rows[str(tmp_path / "b.npz")]["top1_acc"] == pytest.approx(100.0 * 2 / 3)
    # v3 is unscored in A, so the ensemble covers v1, v2: both right on average.
    assert rows["ensemble"]["videos"] == 2
    assert rows["ensemble"]["top1_acc"] == 100.0
