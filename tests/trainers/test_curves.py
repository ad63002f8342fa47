"""Training-curve PNGs from stats.jsonl."""
import json

import numpy as np
import pytest
from PIL import Image

from lkbench.errors import DataError
from lkbench.trainers.curves import curve_keys, plot_training_curves, read_stats, smooth


def _write(path, rows, torn=False):
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_text(text + ('{"step": 9, "loss_d"' if torn else ""))


def test_panels_group_losses_and_skip_bookkeeping_and_lists():
    rows = [{"step": 1, "wall_time_s": 1.0, "images_per_s": 3.0, "loss_d": 1.0, "loss_g": 2.0,
             "kp_spread": 0.3, "kp_mean": [[0, 0]]}, {"step": 2, "gp": 0.1, "flag": True}]
    assert curve_keys(rows) == (["loss_d", "loss_g"], ["kp_spread", "gp"])


def test_smooth_is_a_centred_moving_average_with_shorter_ends():
    vals = [1.0, 2.0, 6.0, 3.0, float("nan"), 5.0]
    got = smooth(vals, 3)
    want = [np.mean([1, 2]), np.mean([1, 2, 6]), np.mean([2, 6, 3]), np.mean([6, 3]),
            np.mean([3, 5]), 5.0]
    assert np.allclose(got, want)


def test_curves_png_is_written_from_a_torn_file_and_has_one_panel_per_curve(tmp_path):
    rows = [{"step": s, "wall_time_s": s * 0.5, "loss_d": 1 / s, "loss_g": s % 3,
             "kp_spread": 0.1 * s, **({"gp": 0.01} if s % 4 == 0 else {})} for s in range(1, 41)]
    _write(tmp_path / "stats.jsonl", rows, torn=True)
    assert len(read_stats(tmp_path / "stats.jsonl")) == 40
    out = plot_training_curves(tmp_path / "stats.jsonl", tmp_path / "c.png", title="t")
    img = np.asarray(Image.open(out).convert("L"))
    # three panels (losses, kp_spread, gp) side by side: wider than tall, not blank
    assert img.shape[1] > 2 * img.shape[0] and img.std() > 10


def test_no_logged_step_is_a_clear_error(tmp_path):
    (tmp_path / "stats.jsonl").write_text("")
    with pytest.raises(DataError, match="no logged steps"):
        plot_training_curves(tmp_path / "stats.jsonl", tmp_path / "c.png")
