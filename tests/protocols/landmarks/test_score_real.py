"""`lkbench score` on real benchmarks read from fixture trees: a known shift of the ground truth
gives the hand-computed error.

The test splits are the fixtures' real annotation rows (tests/fixtures/<name>); the fit splits
are enlarged here with generated rows so that "predictions = ground truth" makes each
benchmark's regression unique (more fit rows than regression inputs) and exactly the identity.
Test predictions are then the ground truth plus SHIFT, so the error is the shift's, written out
below without lkbench's conversion code.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lkbench.data import get_dataset
from lkbench.protocols.landmarks.run_detect import RECORDS_FILE
from lkbench.records import RecordStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SHIFT = np.array([0.02, -0.03])   # [-1, 1] units, i.e. (0.01, -0.015) of the image side
RNG = np.random.default_rng(0)


def draw(path: Path, height: int, width: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(path)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("LKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LKBENCH_DATA", raising=False)
    out = tmp_path / "data"
    out.mkdir()
    return out


def predictions(tmp_path, benchmark, root, *options):
    """fit = ground truth, test = ground truth + SHIFT; NaN (missing) entries become 0."""
    arrays = {}
    for split in ("fit", "test"):
        kp, _ = get_dataset(benchmark, split=split, root=root, progress=False,
                            **dict(options)).landmarks(slice(None))
        kp = np.nan_to_num(kp.numpy().astype(np.float64))
        arrays[split] = kp + SHIFT if split == "test" else kp
    path = tmp_path / "preds.npz"
    np.savez(path, **arrays)
    return path


def score(cli, tmp_path, benchmark, root, preds, *args):
    from click.testing import CliRunner
    res = CliRunner().invoke(cli, ["score", "--benchmark", benchmark, "--root", str(root),
                                   "--predictions", str(preds), "--results",
                                   str(tmp_path / "res"), *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return RecordStore(tmp_path / "res" / RECORDS_FILE).read(strict=True)[-1]


def test_taichi_shift_gives_the_summed_pixel_error(cli, tmp_path, root):
    tree = root / "taichi"
    shutil.copytree(FIXTURES / "taichi", tree)
    test = pd.read_pickle(tree / "landmarks" / "taichi_test_gt.pkl")
    for name in test["file_name"]:
        draw(tree / "eval_images" / "taichi-256" / "test" / name, 256, 256)
    n = 50                                       # > 37 inputs of each R-COORD regressor
    fit = pd.DataFrame({"file_name": [f"{i:05d}.png" for i in range(n)],
                        "frame_number": np.zeros(n, int),
                        "value": list(RNG.uniform(0, 255, (n, 18, 2)))})
    fit.to_pickle(tree / "landmarks" / "taichi_train_gt.pkl")
    preds = predictions(tmp_path, "taichi", root)
    rec = score(cli, tmp_path, "taichi", root, preds, "--set", "data.image_size=32")
    # every joint is annotated in >= 1 test frame: 18 joints x (|dx| + |dy|) at 256 px,
    # a [-1, 1] shift d being d * 256 / 2 pixels
    assert rec.value == pytest.approx(18 * (0.02 + 0.03) * 128, rel=1e-6)
    assert rec.n == 3 and rec.unit == "px_mae_sum@256"
    assert rec.extra["dataset"] == {"name": "taichi", "image_size": 32, "options": {}}


def test_celeba_aligned_shift_over_the_inter_ocular_distance(cli, tmp_path, root):
    tree = root / "celeba"
    shutil.copytree(FIXTURES / "celeba", tree)
    for name in ("051636.jpg", "004509.jpg"):                 # MAFL testing.txt
        draw(tree / "Img" / "img_align_celeba" / name, 218, 178)
    names = [f"9{i:05d}.jpg" for i in range(14)]               # > 10 inputs of R-JOINT (K=5)
    (tree / "MAFL" / "training.txt").write_text("\n".join(names))
    with open(tree / "Anno" / "list_landmarks_align_celeba.txt", "a") as fh:
        for name in names:
            fh.write(name + "".join(f" {v:4d}" for v in RNG.integers(20, 160, 10)) + "\n")
    preds = predictions(tmp_path, "celeba-aligned", root)
    rec = score(cli, tmp_path, "celeba-aligned", root, preds, "--any-k")
    # both test rows: eyes (69, 109), (106, 111) px of the 178x218 image; IMM keeps the
    # centre 80 % (142.4 x 174.4 px), so the eyes are (37/142.4, 2/174.4) apart in [0, 1] units
    iod = math.hypot(37 / 142.4, 2 / 174.4)
    assert rec.value == pytest.approx(100 * math.hypot(0.01, 0.015) / iod, rel=1e-6)
    assert rec.n == 2
    # the crop option reaches the loader: the whole image (178 x 218) changes the IOD
    rec = score(cli, tmp_path, "celeba-aligned", root,
                predictions(tmp_path, "celeba-aligned", root, ("crop", "none")), "--any-k",
                "--set", "data.crop=none")
    iod = math.hypot(37 / 178, 2 / 218)
    assert rec.value == pytest.approx(100 * math.hypot(0.01, 0.015) / iod, rel=1e-6)
    assert rec.extra["dataset"]["options"] == {"crop": "none"}


def test_cub_aligned_shift_is_the_visible_l2_error(cli, tmp_path, root):
    tree = root / "cub-aligned"
    shutil.copytree(FIXTURES / "cub-aligned", tree)
    for line in (tree / "test.csv").read_text().splitlines()[1:]:
        draw(tree / line.split(",")[1], 300, 300)
    n = 40                                       # > 30 inputs of each R-VIS regressor (K=15)
    rows = [f"{i},images/train/{i:05d}.png,x/y_{i}.jpg,1" for i in range(n)]
    (tree / "train.csv").write_text("idx,fname,fname_original,category\n" + "\n".join(rows))
    kp = np.concatenate([RNG.uniform(0.05, 0.95, (n, 15, 2)), np.ones((n, 15, 1))], axis=-1)
    np.save(tree / "train_kp.npy", kp)
    preds = predictions(tmp_path, "cub-aligned", root)
    rec = score(cli, tmp_path, "cub-aligned", root, preds, "--any-k")
    # mean over the visible test pairs of the shift's length in [0, 1] units, in %
    assert rec.value == pytest.approx(100 * math.hypot(0.01, 0.015), rel=1e-6)
    assert rec.n == 3


def test_data_options_are_checked(cli, tmp_path, root):
    from click.testing import CliRunner
    shutil.copytree(FIXTURES / "taichi", root / "taichi")
    base = ["score", "--benchmark", "taichi", "--root", str(root), "--predictions",
            str(tmp_path / "p.npz")]
    res = CliRunner().invoke(cli, base + ["--set", "data.compat=alk-swap"])
    assert res.exit_code == 2 and "dataset 'taichi' does not take compat" in res.output
    res = CliRunner().invoke(cli, base + ["--set", "compat=alk-swap"])
    assert res.exit_code == 2 and "data.KEY=VALUE" in res.output
    res = CliRunner().invoke(cli, base + ["--set", "data.split=test"])
    assert res.exit_code == 2 and "cannot be set for a benchmark" in res.output


def test_h36m_activity_mean_of_raw_predictions(cli, tmp_path, root):
    tree = root / "h36m"
    shutil.copytree(FIXTURES / "h36m", tree)
    for s in (6, 7, 8, 9):
        (tree / f"S{s}" / "Landmarks").mkdir(parents=True)
    for mat in (tree / "S11" / "Landmarks").glob("*/*.mat"):
        seq = mat.parent.name
        draw(tree / "S11" / "WithBackground" / seq / f"{mat.stem}.jpg", 128, 128)
        draw(tree / "S11" / "BackgroudMask" / seq / f"{mat.stem}.png", 128, 128)
    test = get_dataset("h36m-simplified", split="test", root=root, progress=False)
    gt = test.landmarks(slice(None))[0].numpy().astype(np.float64)
    # test frames: Greeting, Greeting, Posing; shifts of 1 % and 3 % of the image side (small
    # enough that the left/right-swapped ground truth is never closer)
    shift = np.array([[0.02, 0.0], [0.02, 0.0], [0.0, 0.06]])[:, None, :]
    np.savez(tmp_path / "h.npz", test=gt + shift)
    rec = score(cli, tmp_path, "h36m-simplified", root, tmp_path / "h.npz", "--no-regression")
    # activity mean (KeypointGAN): (1 + 3) / 2 = 2 %, not the frame mean (1 + 1 + 3) / 3
    assert rec.value == pytest.approx(2.0, rel=1e-9)
    assert rec.extra["by_group"] == pytest.approx({"Greeting": 1.0, "Posing": 3.0}, rel=1e-9)
    assert rec.extra["settings"] == {"aggregation": "activity"}


def test_300w_shift_over_the_outer_corner_distance(cli, tmp_path, root):
    tree = root / "300w"
    shutil.copytree(FIXTURES / "300w", tree)
    tests = [tree / "helen/testset/296814969_3.pts", tree / "lfpw/testset/image_0002.pts",
             tree / "ibug/image_003_1.pts", tree / "ibug/image_004_1.pts"]
    for pts in sorted(tree.rglob("*.pts")):
        draw(pts.with_suffix(".png" if "lfpw" in pts.parts else ".jpg"), 160, 200)
    preds = predictions(tmp_path, "300w", root)
    rec = score(cli, tmp_path, "300w", root, preds, "--no-regression")
    # every face is cropped to a 100 px square (1.25 x its 80 px landmark extent), so the
    # outer eye corners (0-based points 36 and 45, lines 40 and 49 of the file) are
    # |p36 - p45| / 100 apart in [0, 1] units
    ratios = []
    for pts in tests:
        lines = pts.read_text().splitlines()
        p36, p45 = (np.array(lines[3 + i].split(), float) for i in (36, 45))
        ratios.append(math.hypot(0.01, 0.015) / (np.linalg.norm(p36 - p45) / 100))
    assert rec.value == pytest.approx(100 * np.mean(ratios), rel=1e-6)
    assert rec.n == 4


# ---------------------------------------------------------------- every benchmark, end to end
def _celeba(root):
    tree = root / "celeba"
    shutil.copytree(FIXTURES / "celeba", tree)
    for line in (tree / "list_imsize_celeba.txt").read_text().splitlines():
        name, h, w = line.split()
        draw(tree / "Img" / "img_celeba" / name, int(h), int(w))
        draw(tree / "Img" / "img_align_celeba" / name, 218, 178)


def _cub(root):
    tree = root / "cub"
    shutil.copytree(FIXTURES / "cub", tree)
    for line in (tree / "image_sizes.txt").read_text().splitlines():
        rel, h, w = line.split()
        draw(tree / "CUB_200_2011" / "images" / rel, int(h), int(w))


def _cub_aligned(root):
    tree = root / "cub-aligned"
    shutil.copytree(FIXTURES / "cub-aligned", tree)
    for split in ("train", "test"):
        for line in (tree / f"{split}.csv").read_text().splitlines()[1:]:
            draw(tree / line.split(",")[1], 300, 300)


def _taichi(root):
    tree = root / "taichi"
    shutil.copytree(FIXTURES / "taichi", tree)
    for split in ("train", "test"):
        for name in pd.read_pickle(tree / "landmarks" / f"taichi_{split}_gt.pkl")["file_name"]:
            draw(tree / "eval_images" / "taichi-256" / split / name, 256, 256)


def _deepfashion(root):
    tree = root / "deepfashion"
    shutil.copytree(FIXTURES / "deepfashion", tree)
    for stem in ("train", "test"):
        for line in (tree / f"data_{stem}.csv").read_text().splitlines()[1:]:
            draw(tree / "images" / line.split(",")[1], 256, 256)


def _h36m(root):
    tree = root / "h36m"
    shutil.copytree(FIXTURES / "h36m", tree)
    for s in (6, 7, 8, 9):
        (tree / f"S{s}" / "Landmarks").mkdir(parents=True)
    for mat in tree.glob("S*/Landmarks/*/*.mat"):
        subject, seq = mat.parts[-4], mat.parts[-2]
        draw(tree / subject / "WithBackground" / seq / f"{mat.stem}.jpg", 128, 128)
        draw(tree / subject / "BackgroudMask" / seq / f"{mat.stem}.png", 128, 128)


def _w300(root):
    tree = root / "300w"
    shutil.copytree(FIXTURES / "300w", tree)
    for pts in tree.rglob("*.pts"):
        draw(pts.with_suffix(".png" if "lfpw" in pts.parts else ".jpg"), 160, 200)


# benchmark -> (fixture tree builder, test images in the fixture)
EVERY = {"celeba-wild": (_celeba, 2), "celeba-aligned": (_celeba, 2),
         "cub-aligned": (_cub_aligned, 3), "cub-001": (_cub, 1), "cub-002": (_cub, 1),
         "cub-003": (_cub, 1), "cub-all": (_cub, 4), "taichi": (_taichi, 3),
         "deepfashion": (_deepfashion, 3), "h36m-simplified": (_h36m, 3), "300w": (_w300, 4)}


def test_every_benchmark_is_bound():
    from lkbench.protocols.landmarks.benchmarks import BENCHMARKS
    assert set(BENCHMARKS.names()) == set(EVERY) | {"synthetic", "synthetic-pose"}


@pytest.mark.parametrize("benchmark", list(EVERY))
def test_every_benchmark_scores_a_fixture_sized_file(cli, tmp_path, root, benchmark):
    from lkbench.protocols.landmarks.benchmarks import BENCHMARKS
    build, num_test = EVERY[benchmark]
    build(root)
    spec = BENCHMARKS.get(benchmark)
    k = spec.num_keypoints[0] if spec.num_keypoints else spec.num_landmarks
    sizes = {s: len(get_dataset(benchmark, split=s, root=root, progress=False))
             for s in ("fit", "test")}
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "p.npz", **{s: rng.uniform(-0.9, 0.9, (n, k, 2))
                                    for s, n in sizes.items()})
    rec = score(cli, tmp_path, benchmark, root, tmp_path / "p.npz", "--set",
                "data.image_size=32")
    assert sizes["test"] == num_test and rec.n == num_test
    assert rec.benchmark == benchmark and rec.unit == spec.unit and math.isfinite(rec.value)
    assert rec.extra["dataset"]["name"] == benchmark and rec.extra["test_n"] == num_test
    assert (tmp_path / "res" / rec.run_id / "detection.png").is_file()
