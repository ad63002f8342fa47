"""`lkbench score`: bring-your-own predictions in every coordinate convention, and a one-line
error with its fix for every mistake."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from lkbench.data import get_dataset
from lkbench.records import RecordStore
from lkbench.protocols.landmarks.run_detect import RECORDS_FILE

SHIFT = np.array([0.02, -0.03])  # in [-1, 1] units: 0.64 px right, 0.96 px up at 64 px


@pytest.fixture(scope="module")
def gt():
    out = {}
    for split in ("fit", "test"):
        kp, vis = get_dataset("synthetic", split=split, image_size=64).landmarks(slice(None))
        assert vis.all()
        out[split] = kp.numpy().astype(np.float64)
    return out


# Conversions written out here, independently of lkbench.keypoints / protocols.predictions:
# v in [-1, 1] with the image edges at ±1; pixel i's centre at (2i + 1)/S - 1.
def write_as(convention, v, size):
    px = (v + 1) * size / 2 - 0.5
    return {
        "lkbench": lambda: v,
        "unit": lambda: (v + 1) / 2,
        "pixels-xy": lambda: px,
        "pixels-rowcol": lambda: px[..., ::-1],
        "align-corners": lambda: 2 * px / (size - 1) - 1,
    }[convention]()


SIZES = {"lkbench": None, "unit": None, "pixels-xy": 64, "pixels-rowcol": 128,
         "align-corners": 32}


def run(cli, tmp_path, arrays, *args, name="preds.npz"):
    path = tmp_path / name
    if arrays is not None:
        np.savez(path, **arrays)
    res = CliRunner().invoke(cli, ["score", "--benchmark", "synthetic", "--predictions",
                                   str(path), "--results", str(tmp_path / "res"), *args],
                             catch_exceptions=False)
    return res


def last_record(tmp_path):
    return RecordStore(tmp_path / "res" / RECORDS_FILE).read(strict=True)[-1]


@pytest.mark.parametrize("convention", list(SIZES))
def test_known_shift_gives_the_analytic_error_in_every_convention(cli, gt, tmp_path,
                                                                  convention):
    size = SIZES[convention]
    size_args = ["--pixel-size", str(size)] if size else []
    shifted = {k: write_as(convention, v + SHIFT, size or 2) for k, v in gt.items()}
    res = run(cli, tmp_path, shifted, "--convention", convention, *size_args, "--no-regression")
    assert res.exit_code == 0, res.output
    iod = np.linalg.norm(gt["test"][:, 0] - gt["test"][:, 1], axis=-1)
    expected = 100 * np.mean(np.linalg.norm(SHIFT) / iod)
    rec = last_record(tmp_path)
    assert rec.value == pytest.approx(expected, rel=1e-9)
    assert rec.extra["regression"] == "none" and rec.config["convention"] == convention
    assert rec.extra["ignored_arrays"] == ["fit"]
    # with the benchmark's regression, detections equal to the landmarks score (almost) 0
    exact = {k: write_as(convention, v, size or 2) for k, v in gt.items()}
    res = run(cli, tmp_path, exact, "--convention", convention, *size_args, name="exact.npz")
    assert res.exit_code == 0, res.output
    assert last_record(tmp_path).value == pytest.approx(0.0, abs=1e-7)
    assert (tmp_path / "res" / last_record(tmp_path).run_id / "detection.png").is_file()


def test_visibility_masks_restrict_what_is_scored(cli, gt, tmp_path):
    test = gt["test"] + SHIFT
    test[:10] += 0.5  # ten images far off, masked out below
    mask = np.ones((500, 5), bool)
    mask[:10] = False
    res = run(cli, tmp_path, {"test": test, "test_visible": mask}, "--no-regression")
    assert res.exit_code == 0, res.output
    iod = np.linalg.norm(gt["test"][10:, 0] - gt["test"][10:, 1], axis=-1)
    rec = last_record(tmp_path)
    assert rec.value == pytest.approx(100 * np.mean(np.linalg.norm(SHIFT) / iod), rel=1e-9)
    assert rec.n == 490 and rec.extra["user_masks"] == ["test_visible"]


def _mutations(gt):
    fit, test = gt["fit"], gt["test"]
    nan = test.copy()
    nan[3, 1, 0] = np.nan
    return {
        "wrong N": ({"fit": fit, "test": test[:-1]}, (), "has N=499 rows but benchmark "
                    "'synthetic' has 500 test images"),
        "wrong K": ({"fit": fit, "test": test[:, :4]}, (), "'fit' has K=5 keypoints but 'test' "
                    "has K=4"),
        "NaN": ({"fit": fit, "test": nan}, (), "first at image 3, keypoint 1"),
        "missing": ({"test": test}, (), "has no array 'fit'"),
        "flat": ({"fit": fit.reshape(2000, 10), "test": test}, (), "expected [N,K,2]"),
        "pixels read as lkbench": ({"fit": (fit + 1) * 32, "test": (test + 1) * 32}, (),
                                   "look like pixel coordinates"),
        "pixel size missing": ({"fit": fit, "test": test}, ("--convention", "pixels-xy"),
                               "needs --pixel-size S"),
        "pixel size not needed": ({"fit": fit, "test": test}, ("--pixel-size", "64"),
                                  "applies only to pixel conventions"),
        "bad mask": ({"fit": fit, "test": test, "test_visible": np.ones((500, 4), bool)}, (),
                     "expected [N,L] = (500, 5)"),
        "any K without regression": ({"fit": fit[:, :4], "test": test[:, :4]},
                                     ("--no-regression",), "K must equal L"),
    }


@pytest.mark.parametrize("case", ["wrong N", "wrong K", "NaN", "missing", "flat",
                                  "pixels read as lkbench", "pixel size missing",
                                  "pixel size not needed", "bad mask",
                                  "any K without regression"])
def test_each_mistake_gives_its_one_line_message(cli, gt, tmp_path, case):
    arrays, args, message = _mutations(gt)[case]
    res = run(cli, tmp_path, arrays, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and res.output.count("\n") == 1, res.output
    assert not (tmp_path / "res" / RECORDS_FILE).exists()


def test_a_file_that_is_not_an_npz_or_is_missing(cli, tmp_path):
    (tmp_path / "preds.npz").write_text("x,y\n1,2\n")
    res = run(cli, tmp_path, None)
    assert res.exit_code == 2 and "is not an .npz archive" in res.output
    res = run(cli, tmp_path, None, name="nothing.npz")
    assert res.exit_code == 2 and "predictions file not found" in res.output


def test_export_order_lists_every_image_in_npz_order(cli, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["score", "--benchmark", "synthetic", "--export-order",
                              str(tmp_path / "order.csv")])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "order.csv").read_text().splitlines()
    assert lines[0] == "array,index,image_id" and len(lines) == 2501
    assert lines[1] == "fit,0,fit/000000" and lines[2001] == "test,0,test/000000"
    res = runner.invoke(cli, ["score", "--benchmark", "synthetic"])
    assert res.exit_code == 2 and "exactly one of --predictions" in res.output
