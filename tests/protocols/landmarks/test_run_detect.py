"""`lkbench detect` end to end on the synthetic benchmark with a smoke generator."""
from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from lkbench.data import get_dataset
from lkbench.records import RecordStore
from lkbench.protocols.landmarks.run_detect import RECORDS_FILE
from lkbench.protocols.landmarks.score import score
from lkbench.protocols.landmarks.uncertainty import PerImage

BASELINE_LABELS = ["baseline:mean-shape", "baseline:random-detector", "baseline:supervised"]


def invoke(cli, args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result


def ground_truth(split):
    kp, vis = get_dataset("synthetic", split=split, image_size=64, difficulty="easy").landmarks(
        slice(None))
    return kp.numpy(), vis.numpy()


@pytest.fixture(scope="module")
def smoke_run(cli, smoke_generator, tmp_path_factory):
    """One `lkbench detect --preset smoke --baselines` run, shared by the tests below."""
    results = tmp_path_factory.mktemp("results")
    out = results / "run"
    res = invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint", str(smoke_generator),
                       "--preset", "smoke", "--baselines", "--results", str(results),
                       "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    return results, out, res.output


def test_detect_prints_four_numbers_and_writes_readable_records(smoke_run):
    results, out, output = smoke_run
    lines = [l for l in output.splitlines() if l.startswith("synthetic ")]
    assert len(lines) == 4
    assert "latent-keypoint-gan" in lines[0]
    for line, label in zip(lines[1:], BASELINE_LABELS):
        assert label in line and "pct_inter_ocular" in line and "n=500" in line
        assert re.search(r"\d+\.\d s$", line)
    records = RecordStore(results / RECORDS_FILE).read(strict=True)
    assert [r.model for r in records] == ["latent-keypoint-gan", *BASELINE_LABELS]
    assert len({r.run_id for r in records}) == 1
    first = records[0]
    assert (first.protocol, first.benchmark, first.metric, first.n, first.published) == (
        "landmarks", "synthetic", "iod_error", 500, False)
    assert first.checkpoint_sha256 and first.extra["solver"] == "exact"
    assert first.extra["train"]["samples"] == 128
    assert set(first.extra["per_landmark"]) == {"left_eye", "right_eye", "nose", "left_mouth",
                                                "right_mouth"}
    assert all(r.value > 0 for r in records)
    for r, line in zip(records, lines):           # each number with its interval over images
        lo, hi = r.extra["ci95"]
        assert lo < r.value < hi and f"95% CI [{lo:.4g}, {hi:.4g}]" in line
        per_image = PerImage.decode(r.extra["per_image"])
        assert len(per_image) == 500 and per_image.value == pytest.approx(r.value, rel=1e-6)
        assert r.extra["bootstrap"]["replicates"] == 2000
    for name in ("detection.png", "predictions.npz", "detector.pt", "config.toml"):
        assert (out / name).is_file(), name
    with Image.open(out / "detection.png") as im:
        assert im.format == "PNG" and im.size[0] > 600


def test_recorded_value_equals_score_recomputed_from_the_saved_predictions(cli, smoke_run):
    results, out, _ = smoke_run
    record = RecordStore(results / RECORDS_FILE).read()[0]
    with np.load(out / "predictions.npz") as z:
        fit, test = z["fit"], z["test"]
    assert fit.shape == (2000, 4, 2) and test.shape == (500, 4, 2)
    (fit_gt, fit_vis), (test_gt, test_vis) = ground_truth("fit"), ground_truth("test")
    assert score("synthetic", fit, fit_gt, test, test_gt, fit_vis, test_vis).value == record.value
    # ...and `lkbench score` on the same file agrees
    res = invoke(cli, ["score", "--benchmark", "synthetic", "--predictions",
                       str(out / "predictions.npz"), "--results", str(out / "rescore")])
    assert res.exit_code == 0, res.output
    rescored = RecordStore(out / "rescore" / RECORDS_FILE).read()[0]
    assert rescored.value == record.value and rescored.extra["pipeline"] == "score"
    # re-scoring is bit-exact on one machine: the interval too
    assert rescored.extra["ci95"] == record.extra["ci95"]


def test_seeds_repeat_the_detector_and_the_report_averages_them(cli, smoke_generator, tmp_path):
    from lkbench.report import build_report

    res = invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint", str(smoke_generator),
                       "--preset", "smoke", "--seeds", "3", "--seed", "5", "--results",
                       str(tmp_path), "--out", str(tmp_path / "run"), "--no-progress"])
    assert res.exit_code == 0, res.output
    records = RecordStore(tmp_path / RECORDS_FILE).read(strict=True)
    assert [r.seed for r in records] == [5, 6, 7]
    assert len({r.value for r in records}) == 3              # the seed changes the detector
    for seed in (5, 6, 7):
        assert (tmp_path / "run" / f"seed-{seed}" / "detection.png").is_file()
    values = [r.value for r in records]
    assert f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" in res.output
    assert "over 3 seeds" in res.output
    t = next(t for t in build_report(None, records).tables if t.family == "synthetic")
    (cell,) = t.cells.values()
    assert cell.n_seeds == 3 and cell.value == pytest.approx(np.mean(values))
    assert cell.std == pytest.approx(np.std(values, ddof=1))
    bad = invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint", str(smoke_generator),
                       "--preset", "smoke", "--seeds", "2", "--direct"])
    assert bad.exit_code == 2 and "nothing to repeat" in bad.output


def test_saved_detector_is_reused_and_scores_directly(cli, smoke_generator, smoke_run, tmp_path):
    results, out, _ = smoke_run
    value = RecordStore(results / RECORDS_FILE).read()[0].value
    res = invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint", str(smoke_generator),
                       "--preset", "smoke", "--detector", str(out / "detector.pt"),
                       "--results", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    reused = RecordStore(tmp_path / RECORDS_FILE).read()[-1]
    assert reused.value == value and "train" not in reused.extra
    assert reused.extra["detector"]["checkpoint"] == str(out / "detector.pt")
    res = invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint",
                       str(out / "detector.pt"), "--direct", "--preset", "smoke",
                       "--compat", "alk", "--results", str(tmp_path), "--no-progress"])
    assert res.exit_code == 0, res.output
    direct = RecordStore(tmp_path / RECORDS_FILE).read()[-1]
    assert direct.model == "keypoint-detector" and direct.extra["pipeline"] == "direct"
    # the barely trained smoke detector's detections are nearly constant, so XᵀX is badly
    # conditioned and AutoLink's float32 inverse lands far from the exact answer
    assert direct.extra["solver"] == "alk" and direct.config["solver"] == "alk"
    assert direct.value != value


@pytest.mark.parametrize("extra,message", [
    (["--direct"], "--direct needs a checkpoint of a keypoint predictor"),
    (["--no-regression"], "K must equal L"),
    (["--benchmark", "celeba", "--root", "/nonexistent-lkbench-root"],
     "dataset folder not found: /nonexistent-lkbench-root/celeba"),
    (["--set", "train.epochs=0"], "train.epochs must be >= 1"),
    (["--set", "baselines=['mean-shap']"], "did you mean 'mean-shape'"),
])
def test_detect_mistakes_exit_2_with_one_line(cli, smoke_generator, tmp_path, extra, message):
    args = ["detect", "--benchmark", "synthetic", "--checkpoint", str(smoke_generator),
            "--preset", "smoke", "--baselines", "--results", str(tmp_path), "--no-progress"]
    res = invoke(cli, args + extra)
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / RECORDS_FILE).exists()


def test_a_detector_checkpoint_without_direct_is_explained(cli, smoke_run, tmp_path):
    _, out, _ = smoke_run
    res = invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint",
                       str(out / "detector.pt"), "--preset", "smoke", "--results",
                       str(tmp_path)])
    assert res.exit_code == 2 and "add --direct" in res.output, res.output


def test_cpu_run_with_the_full_budget_says_how_to_get_minutes(smoke_generator, tmp_path,
                                                               monkeypatch):
    import lkbench.protocols.landmarks.run_detect as det
    from lkbench.config import resolve
    from lkbench.protocols.landmarks.config import DetectConfig

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(det, "_train_on_pairs", stop)
    said: list[str] = []
    with pytest.raises(Stop):
        det.run_detect(resolve(DetectConfig, overrides=["device=cpu"]), benchmark="synthetic",
                       checkpoint=smoke_generator, results=tmp_path, progress=False,
                       say=said.append)
    assert any("640,000 pairs" in s and "--preset demo" in s for s in said)
    said.clear()
    with pytest.raises(Stop):
        det.run_detect(resolve(DetectConfig, preset="demo", overrides=["device=cpu"]),
                       benchmark="synthetic", checkpoint=smoke_generator, results=tmp_path,
                       progress=False, say=said.append)
    assert not any("--preset demo" in s for s in said)
