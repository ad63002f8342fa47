"""Numerics of lkbench.protocols.landmarks.{regressions,errors,score}: hand-worked answers, independent re-computations,
invariances and input errors (docs/protocols.md §0.1, §1)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression

from lkbench.errors import ConfigError, DataError, LkbenchError, UnknownNameError
from lkbench.keypoints import from_pixels
from lkbench.protocols.landmarks.benchmarks import H36M_FLIP_PAIRS
from lkbench.protocols.landmarks.errors import pck, taichi_mae_sum, visible_from_sentinel
from lkbench.protocols.landmarks.regressions import swap_permutation
from lkbench.protocols.landmarks.score import score


# --------------------------------------------------------------------------- helpers
# Conversions written out here rather than imported, so the checks do not reuse the code under
# test: v ∈ [-1, 1] ↔ u ∈ [0, 1] (top-left origin) and pixel centres at 256 px.
def kp(u):
    """[0,1]-frame coordinates → project convention [-1, 1]."""
    return 2.0 * np.asarray(u, dtype=np.float64) - 1.0


def unit(v):
    return (np.asarray(v, dtype=np.float64) + 1.0) / 2.0


def px256(v):
    return (np.asarray(v, dtype=np.float64) + 1.0) * 128.0 - 0.5


def linear_set(rng, n, k, m_matrix, noise=0.0, offset=0.0):
    """Detections u_x ~ U(0.1, 0.9) and GT u_y = u_x·M (+ offset, + noise), in [-1, 1]."""
    ux = rng.uniform(0.1, 0.9, size=(n, k, 2))
    uy = ux.reshape(n, -1) @ m_matrix + offset
    uy = uy + noise * rng.normal(size=uy.shape)
    return kp(ux), kp(uy.reshape(n, -1, 2))


def select_matrix(k, lms):
    """M ∈ R^{2K×2L} copying detected keypoint lms[l] to landmark l (both coordinates)."""
    m = np.zeros((2 * k, 2 * len(lms)))
    for l, j in enumerate(lms):
        m[2 * j, 2 * l] = m[2 * j + 1, 2 * l + 1] = 1.0
    return m


def shifted_test(fit_x, k, lms, test_ux, shift):
    """Test GT = (selected detections) + shift, in the [0,1] frame; returns (test_x, test_gt)."""
    test_ux = np.asarray(test_ux, dtype=np.float64)
    uy = test_ux[:, list(lms)] + np.asarray(shift)
    return kp(test_ux), kp(uy)


RNG_SEED = 1234


@pytest.fixture
def rng():
    return np.random.default_rng(RNG_SEED)


# --------------------------------------------------------------------------- R-JOINT (IOD)
def test_joint_perfect_linear_relation_scores_zero(rng):
    m = rng.normal(size=(8, 10)) * 0.3
    fx, fy = linear_set(rng, 40, 4, m)
    tx, ty = linear_set(rng, 15, 4, m)
    s = score("celeba-wild", fx, fy, tx, ty)
    assert s.value == pytest.approx(0.0, abs=1e-9)
    assert (s.n, s.unit, s.higher_is_better, s.min_norm) == (15, "pct_inter_ocular", False, False)
    assert s.formula == "iod_error" and s.regression == "joint"


def test_joint_constant_offset_gives_hand_worked_iod_error(rng):
    lms = (0, 1, 2, 3, 0)  # eyes = detected keypoints 0 and 1
    fx, fy = linear_set(rng, 20, 4, select_matrix(4, lms))
    test_ux = [[[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.5, 0.8]],
               [[0.2, 0.5], [0.6, 0.8], [0.4, 0.7], [0.4, 0.9]]]
    tx, ty = shifted_test(fx, 4, lms, test_ux, [0.02, 0.0])
    # Every landmark is off by 0.02 (the eyes move together, IOD unchanged).
    # Image 0: IOD = |0.7 - 0.3| = 0.4 → 0.02/0.4 = 5 %.
    # Image 1: IOD = sqrt(0.4² + 0.3²) = 0.5 → 0.02/0.5 = 4 %.  Mean over 10 pairs: 4.5 %.
    s = score("celeba-wild", fx, fy, tx, ty)
    assert s.value == pytest.approx(4.5, abs=1e-9)


def test_joint_agrees_with_sklearn_and_per_image_loop(rng):
    m = rng.normal(size=(16, 10)) * 0.2
    fx, fy = linear_set(rng, 60, 8, m, noise=0.03)
    tx, ty = linear_set(rng, 25, 8, m, noise=0.03)
    for center in (False, True):
        c = 0.5 if center else 0.0
        reg = LinearRegression(fit_intercept=False).fit(unit(fx).reshape(60, -1) - c,
                                                        unit(fy).reshape(60, -1) - c)
        pred = reg.predict(unit(tx).reshape(25, -1) - c).reshape(25, 5, 2) + c
        gt = unit(ty)
        total = 0.0
        for n in range(25):
            iod = np.hypot(*(gt[n, 0] - gt[n, 1]))
            for l in range(5):
                total += np.hypot(*(pred[n, l] - gt[n, l])) / iod
        expected = 100 * total / (25 * 5)
        assert score("celeba-wild", fx, fy, tx, ty, center=center).value == pytest.approx(
            expected, abs=1e-9)


def test_frame_choice_matters_for_bias_free_fit(rng):
    m = rng.normal(size=(8, 10)) * 0.3
    fx, fy = linear_set(rng, 30, 4, m, offset=0.2, noise=0.01)
    tx, ty = linear_set(rng, 10, 4, m, offset=0.2, noise=0.01)
    a = score("celeba-wild", fx, fy, tx, ty).value
    b = score("celeba-wild", fx, fy, tx, ty, center=True).value
    assert abs(a - b) > 1e-6


def test_joint_is_invariant_to_permuting_detected_keypoints(rng):
    m = rng.normal(size=(16, 10)) * 0.2
    fx, fy = linear_set(rng, 50, 8, m, noise=0.05)
    tx, ty = linear_set(rng, 20, 8, m, noise=0.05)
    perm = rng.permutation(8)
    a = score("celeba-wild", fx, fy, tx, ty).value
    b = score("celeba-wild", fx[:, perm], fy, tx[:, perm], ty).value
    assert a == pytest.approx(b, abs=1e-9)


def test_iod_error_is_invariant_to_scaling_about_the_frame_origin(rng):
    m = rng.normal(size=(16, 10)) * 0.2
    fx, fy = linear_set(rng, 50, 8, m, noise=0.05)
    tx, ty = linear_set(rng, 20, 8, m, noise=0.05)
    scale = 0.37
    # Top-left frame: scale u about 0, i.e. v' = s(v + 1) - 1.
    top_left = (lambda v: scale * (v + 1) - 1)
    a = score("celeba-wild", fx, fy, tx, ty).value
    b = score("celeba-wild", *map(top_left, (fx, fy, tx, ty))).value
    assert a == pytest.approx(b, abs=1e-9)
    # Centred frame: scale about the image centre, v' = s·v.
    a = score("celeba-wild", fx, fy, tx, ty, center=True).value
    b = score("celeba-wild", *(scale * a_ for a_ in (fx, fy, tx, ty)), center=True).value
    assert a == pytest.approx(b, abs=1e-9)


def test_torch_and_numpy_inputs_give_the_same_score(rng):
    m = rng.normal(size=(8, 10)) * 0.3
    fx, fy = linear_set(rng, 30, 4, m, noise=0.02)
    tx, ty = linear_set(rng, 10, 4, m, noise=0.02)
    a = score("celeba", fx, fy, tx, ty).value
    b = score("celeba", *(torch.from_numpy(x).float() for x in (fx, fy, tx, ty))).value
    assert a == pytest.approx(b, abs=1e-4)  # float32 inputs round at ~1e-7


def test_collapsed_keypoint_uses_minimum_norm_solution(rng):
    m = rng.normal(size=(8, 10)) * 0.3
    fx, fy = linear_set(rng, 30, 4, m, noise=0.02)
    tx, ty = linear_set(rng, 10, 4, m, noise=0.02)
    fx[:, 3] = tx[:, 3] = 0.25  # keypoint 3 never moves: two constant, collinear columns
    s = score("celeba-wild", fx, fy, tx, ty)
    assert s.min_norm and np.isfinite(s.value)
    assert any("minimum-norm" in note for note in s.notes)
    reg = LinearRegression(fit_intercept=False).fit(unit(fx).reshape(30, -1),
                                                    unit(fy).reshape(30, -1))
    pred = reg.predict(unit(tx).reshape(10, -1)).reshape(10, 5, 2)
    gt = unit(ty)
    iod = np.linalg.norm(gt[:, 0] - gt[:, 1], axis=-1)
    expected = 100 * (np.linalg.norm(pred - gt, axis=-1) / iod[:, None]).mean()
    assert s.value == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------- 300-W (none / joint)
def _face68(rng, n):
    u = rng.uniform(0.2, 0.8, size=(n, 68, 2))
    u[:, 36], u[:, 37:42] = (0.2, 0.5), (0.26, 0.5)   # left eye: corner 0.2, pupil mean 0.25
    u[:, 45], u[:, [42, 43, 44, 46, 47]] = (0.8, 0.5), (0.74, 0.5)  # right: 0.8, mean 0.75
    return u


def test_300w_no_regression_offset_with_both_normalisers(rng):
    u = _face68(rng, 6)
    gt, pred = kp(u), kp(u + [0.02, 0.0])
    # Outer corners 36/45: IOD = 0.8 - 0.2 = 0.6 → 0.02/0.6 = 3.333… %.
    s = score("300w", None, None, pred, gt, regression="none")
    assert s.value == pytest.approx(100 * 0.02 / 0.6, abs=1e-9)
    assert dict(s.settings)["normaliser"] == "outer-corners"
    # Pupils: (0.2 + 5·0.26)/6 = 0.25 and (0.8 + 5·0.74)/6 = 0.75 → IOD 0.5 → 4 %.
    s = score("300w", None, None, pred, gt, regression="none", normaliser="pupils")
    assert s.value == pytest.approx(4.0, abs=1e-9)


def test_300w_regressed_perfect_relation_scores_zero(rng):
    m = rng.normal(size=(20, 136)) * 0.1
    fx, fy = linear_set(rng, 40, 10, m)
    tx, ty = linear_set(rng, 8, 10, m)
    assert score("300w", fx, fy, tx, ty).value == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- R-VIS (CUB)
def test_vis_perfect_zero_and_offset_hand_worked(rng):
    lms = tuple(l % 4 for l in range(15))
    fx, fy = linear_set(rng, 30, 4, select_matrix(4, lms))
    tux = rng.uniform(0.1, 0.9, size=(5, 4, 2))
    tx, ty = shifted_test(fx, 4, lms, tux, [0.0, 0.0])
    assert score("cub-001", fx, fy, tx, ty).value == pytest.approx(0.0, abs=1e-9)
    # Shift (0.03, 0.04): every visible pair is off by 0.05 of the image side → 5 %.
    tx, ty = shifted_test(fx, 4, lms, tux, [0.03, 0.04])
    vis = rng.uniform(size=(5, 15)) < 0.7
    s = score("cub-001", fx, fy, tx, ty, test_visible=vis)
    assert s.value == pytest.approx(5.0, abs=1e-9)
    assert s.unit == "pct_image_size" and s.n == int(vis.any(axis=1).sum())


def test_vis_agrees_with_per_landmark_sklearn_and_pooled_mean(rng):
    m = rng.normal(size=(20, 30)) * 0.2
    fx, fy = linear_set(rng, 80, 10, m, noise=0.03)
    tx, ty = linear_set(rng, 30, 10, m, noise=0.03)
    fv = rng.uniform(size=(80, 15)) < 0.6
    tv = rng.uniform(size=(30, 15)) < 0.6
    fv[:, 6] = False  # a landmark never visible in the fit split: β = 0 (ALK)
    total, count = 0.0, 0
    for l in range(15):
        if fv[:, l].any():
            reg = LinearRegression(fit_intercept=False).fit(unit(fx)[fv[:, l]].reshape(-1, 20),
                                                            unit(fy)[fv[:, l], l])
            pred_l = reg.predict(unit(tx).reshape(30, 20))
        else:
            pred_l = np.zeros((30, 2))
        for n in range(30):
            if tv[n, l]:
                total += np.hypot(*(pred_l[n] - unit(ty)[n, l]))
                count += 1
    s = score("cub-aligned", fx, fy, tx, ty, fv, tv)
    assert s.value == pytest.approx(100 * total / count, abs=1e-9)
    assert any("[6]" in note for note in s.notes)


def test_rvis_equals_rjoint_when_everything_is_visible(rng):
    m = rng.normal(size=(8, 30)) * 0.2
    fx, fy = linear_set(rng, 40, 4, m, noise=0.03)
    tx, ty = linear_set(rng, 12, 4, m, noise=0.03)
    pred = LinearRegression(fit_intercept=False).fit(
        unit(fx).reshape(40, -1), unit(fy).reshape(40, -1)).predict(unit(tx).reshape(12, -1))
    expected = 100 * np.linalg.norm(pred.reshape(12, 15, 2) - unit(ty), axis=-1).mean()
    assert score("cub-all", fx, fy, tx, ty).value == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------- R-COORD (Taichi)
def test_coord_intercept_absorbs_offsets_and_pixel_offset_is_hand_worked(rng):
    m = rng.normal(size=(6, 36)) * 0.2
    fx, fy = linear_set(rng, 40, 3, m, offset=0.3)
    tx, ty = linear_set(rng, 10, 3, m, offset=0.3)
    assert score("taichi", fx, fy, tx, ty).value == pytest.approx(0.0, abs=1e-9)
    # Test GT moved by (+3, -4) px at 256: |dx| = 3, |dy| = 4 for all 18 joints → 18·7 = 126.
    ty_shift = kp(unit(ty) + np.array([3.0, -4.0]) / 256)
    s = score("taichi", fx, fy, tx, ty_shift)
    assert s.value == pytest.approx(126.0, abs=1e-9)
    assert s.unit == "px_mae_sum@256"


# First rows of the real taichi_test_gt.pkl (MSCS release): (x, y) pixels at 256, -1 = missing.
TAICHI_ROW = np.array([[131, 78], [163, 88], [163, 84], [155, 124], [-1, -1], [163, 91],
                       [149, 129], [123, 150], [180, 145], [147, 166], [136, 212], [189, 149],
                       [167, 180], [183, 224], [-1, -1], [132, 73], [-1, -1], [145, 69]], float)


def test_visible_from_sentinel_reads_the_pkl_convention():
    raw = np.stack([TAICHI_ROW, TAICHI_ROW])
    raw[1, 3] = (-1, -1)
    vis = visible_from_sentinel(raw)
    assert vis.shape == (2, 18) and vis.dtype == bool
    assert np.flatnonzero(~vis[0]).tolist() == [4, 14, 16]
    assert np.flatnonzero(~vis[1]).tolist() == [3, 4, 14, 16]


def test_taichi_pixels_round_trip_exactly_and_missing_entries_are_skipped():
    complete = np.where(TAICHI_ROW == -1, 100.0, TAICHI_ROW + 10)  # every joint annotated
    raw = np.stack([TAICHI_ROW, complete, np.where(TAICHI_ROW == -1, -1, TAICHI_ROW - 5)])
    vis = visible_from_sentinel(raw)
    gt = from_pixels(raw, 256)
    assert np.array_equal(px256(gt)[vis], raw[vis])  # the annotation comes back exactly
    pred_px = np.where(vis[..., None], raw + np.array([2.0, -1.0]), 500.0)  # junk where missing
    value = taichi_mae_sum(from_pixels(pred_px, 256), gt, vis).value
    # Each joint's x mean is 2 and y mean is 1 over its annotated rows (3 rows, or 1 for joints
    # 4, 14, 16); the -1 rows would add |500 - (-1)| if read. Sum over 18 joints: 18·3 = 54.
    assert value == 54.0


def test_taichi_agrees_with_mscs_style_sklearn_on_raw_pixels(rng):
    n_fit, n_test, k = 120, 40, 5
    m = rng.uniform(size=(2 * k, 36)) / (2 * k)  # GT stays inside the frame: no accidental -1
    ux = rng.uniform(0.1, 0.9, size=(n_fit + n_test, k, 2))
    raw = np.round((0.1 + 0.8 * ux.reshape(len(ux), -1) @ m) * 256).reshape(-1, 18, 2)
    raw += rng.normal(size=raw.shape).round()
    missing = rng.uniform(size=raw.shape[:2]) < 0.08
    raw[missing] = -1
    det = kp(ux)
    vis = visible_from_sentinel(raw)
    gt = from_pixels(raw, 256)
    total = 0.0
    for j in range(18):
        for c in range(2):
            rows = raw[:n_fit, j, c] != -1
            reg = LinearRegression().fit(ux[:n_fit][rows].reshape(rows.sum(), -1),
                                         raw[:n_fit][rows, j, c])
            test_rows = raw[n_fit:, j, c] != -1
            pred = reg.predict(ux[n_fit:][test_rows].reshape(test_rows.sum(), -1))
            total += np.abs(pred - raw[n_fit:][test_rows, j, c]).mean()
    s = score("taichi", det[:n_fit], gt[:n_fit], det[n_fit:], gt[n_fit:], vis[:n_fit],
              vis[n_fit:])
    assert s.value == pytest.approx(total, abs=1e-9)


# --------------------------------------------------------------------------- PCK (DeepFashion)
def test_pck_threshold_is_strict():
    gt = np.zeros((1, 3, 2))
    # Offsets in pixels at 256 → [-1, 1] units: 6 px = 12/256 (exactly representable).
    offsets_px = np.array([[[6.0, 0.0], [0.0, -6.0], [0.0, 5.999]]])
    pred = gt + offsets_px * 2 / 256
    vis = np.ones((1, 3), bool)
    # Two of three pairs lie exactly 6 px away (misses), one at 5.999 px (hit): 1/3.
    assert pck(pred, gt, vis).value == pytest.approx(100 / 3)
    assert pck(pred[:, :2], gt[:, :2], vis[:, :2]).value == 0.0
    assert pck(pred[:, :2], gt[:, :2], vis[:, :2], threshold_px=6.0001).value == 100.0


def test_pck_offset_hand_worked_and_sklearn_agreement(rng):
    lms = tuple(l % 4 for l in range(17))
    fx, fy = linear_set(rng, 30, 4, select_matrix(4, lms))
    tux = rng.uniform(0.1, 0.9, size=(6, 4, 2))
    shift = np.zeros((17, 2))
    shift[:9] = np.array([3.0, 4.0]) / 256   # 5 px: hit
    shift[9:] = np.array([6.0, 8.0]) / 256   # 10 px: miss
    tx, ty = shifted_test(fx, 4, lms, tux, shift)
    s = score("deepfashion", fx, fy, tx, ty)
    assert s.value == pytest.approx(100 * 9 / 17, abs=1e-9) and s.higher_is_better
    # Random data against sklearn + a per-pair loop at 256 px.
    m = rng.normal(size=(12, 34)) * 0.2
    fx, fy = linear_set(rng, 60, 6, m, noise=0.015)
    tx, ty = linear_set(rng, 20, 6, m, noise=0.015)
    pred = LinearRegression(fit_intercept=False).fit(
        unit(fx).reshape(60, -1), unit(fy).reshape(60, -1)).predict(unit(tx).reshape(20, -1))
    pred = kp(pred.reshape(20, 17, 2))
    hits = [np.hypot(*(px256(pred[n, j]) - px256(ty[n, j]))) < 6
            for n in range(20) for j in range(17)]
    assert score("deepfashion", fx, fy, tx, ty).value == pytest.approx(
        100 * np.mean(hits), abs=1e-9)


# --------------------------------------------------------------------------- R-H36M
PERM = swap_permutation(32, H36M_FLIP_PAIRS)


def test_flip_pairs_are_an_involution_and_alk_list_is_rejected():
    assert sorted(PERM.tolist()) == list(range(32))
    assert np.array_equal(PERM[PERM], np.arange(32))
    assert int((PERM != np.arange(32)).sum()) == 26
    alk = [(1, 6), (2, 7), (3, 8), (4, 9), (5, 10), (17, 25), (18, 26), (19, 27), (20, 28),
           (21, 28), (22, 30), (23, 31)]
    with pytest.raises(DataError, match="not a permutation.*index 28"):
        swap_permutation(32, alk)


def test_h36m_swapped_prediction_scores_zero_and_offset_is_hand_worked(rng):
    gt = kp(rng.uniform(0.1, 0.9, size=(4, 32, 2)))
    s = score("h36m", None, None, gt[:, PERM], gt, regression="none")
    assert s.value == pytest.approx(0.0, abs=1e-12)
    # Shift 0.03, 0.04 in the [0,1] frame → 0.05 per joint → 5 % (swapped GT is much farther).
    s = score("h36m", None, None, kp(unit(gt) + [0.03, 0.04]), gt, regression="none")
    assert s.value == pytest.approx(5.0, abs=1e-9)


def test_h36m_aggregations_hand_worked(rng):
    gt = kp(rng.uniform(0.1, 0.9, size=(3, 32, 2)))
    dx = np.array([0.01, 0.03, 0.08])[:, None, None] * np.array([1.0, 0.0])
    pred = kp(unit(gt) + dx)  # per-frame errors 1 %, 3 %, 8 %
    groups = ["Walking", "Walking", "Posing"]
    # Frame mean: (1 + 3 + 8)/3 = 4.  Activity mean: (mean(1, 3) + 8)/2 = (2 + 8)/2 = 5.
    s = score("h36m", None, None, pred, gt, regression="none", groups=groups)
    assert s.value == pytest.approx(5.0, abs=1e-9)
    assert dict(s.settings)["aggregation"] == "activity"
    assert dict(s.by_group) == pytest.approx({"Posing": 8.0, "Walking": 2.0})
    s = score("h36m", None, None, pred, gt, regression="none", groups=groups,
              aggregation="frame")
    assert s.value == pytest.approx(4.0, abs=1e-9)
    assert score("h36m", None, None, pred, gt, regression="none").value == pytest.approx(4.0)


def _h36m_data(rng, n, k, swap_fraction, noise=0.0):
    m = rng.normal(size=(2 * k, 64)) * 0.3
    x, y = linear_set(rng, n, k, m, noise=noise)
    flipped = rng.uniform(size=n) < swap_fraction
    y[flipped] = y[flipped][:, PERM]
    return x, y, flipped


def test_h36m_relabelling_recovers_a_perfect_fit_from_swapped_labels(rng):
    fx, fy, flipped = _h36m_data(rng, 200, 8, 0.3)
    tx, ty = fx[150:], fy[150:]  # test frames are swapped too: scored by min over GT/swapped GT
    s = score("h36m", fx[:150], fy[:150], tx, ty)
    assert s.value == pytest.approx(0.0, abs=1e-9)
    # ALK's loop stops once <= 10 frames would change, leaving those to the outlier trim.
    relabelled, flipped_fit = int(s.notes[0].split()[1]), int(flipped[:150].sum())
    assert min(abs(relabelled - flipped_fit), abs(relabelled - (150 - flipped_fit))) <= 10
    assert relabelled > 10


def _independent_h36m(fx, fy, tx, ty):
    """ALK's loop re-written with sklearn and explicit pair swaps (spec §1.7)."""
    pairs = dict(H36M_FLIP_PAIRS)
    pairs.update({b: a for a, b in H36M_FLIP_PAIRS})
    swap = lambda y: np.stack([y[:, pairs.get(j, j)] for j in range(32)], axis=1)  # noqa: E731
    X, y = unit(fx).reshape(len(fx), -1), unit(fy).copy()

    def fit_predict(Xa, ya, Xb):
        reg = LinearRegression(fit_intercept=False).fit(Xa, ya.reshape(len(ya), -1))
        return reg.predict(Xb).reshape(len(Xb), 32, 2)

    def mean_dist(p, g):
        return np.array([np.mean([np.hypot(*(p[i, j] - g[i, j])) for j in range(32)])
                         for i in range(len(p))])

    while True:
        p = fit_predict(X, y, X)
        d, ds = mean_dist(p, y), mean_dist(p, swap(y))
        change = d > ds
        if change.sum() <= 10:
            break
        y[change] = swap(y)[change]
    keep = d < d.mean() + 3 * d.std(ddof=1)
    pt = fit_predict(X[keep], y[keep], unit(tx).reshape(len(tx), -1))
    gt = unit(ty)
    return 100 * np.mean(np.minimum(mean_dist(pt, gt), mean_dist(pt, swap(gt))))


def test_h36m_agrees_with_independent_loop_on_noisy_swapped_data(rng):
    fx, fy, _ = _h36m_data(rng, 160, 6, 0.35, noise=0.02)
    fx[:4] = rng.uniform(-1, 1, size=(4, 6, 2))  # a few gross outliers for the trim
    tx, ty = fx[120:], fy[120:]
    s = score("h36m", fx[:120], fy[:120], tx, ty, aggregation="frame")
    assert s.value == pytest.approx(_independent_h36m(fx[:120], fy[:120], tx, ty), abs=1e-9)
    assert "trimmed" in s.notes[0]


# --------------------------------------------------------------------------- visibility
def _data_for(benchmark, rng):
    if benchmark == "300w":  # K = L = 68 so that regression "none" applies as well
        fy, ty = (kp(rng.uniform(0.1, 0.9, size=(n, 68, 2))) for n in (60, 20))
        return fy + 0.02 * rng.normal(size=fy.shape), fy, ty + 0.02 * rng.normal(size=ty.shape), ty
    k, l = {"celeba-wild": (4, 5), "cub-001": (4, 15), "taichi": (5, 18),
            "deepfashion": (6, 17), "h36m": (6, 32)}[benchmark]
    m = rng.normal(size=(2 * k, 2 * l)) * 0.3
    fx, fy = linear_set(rng, 60, k, m, noise=0.02)
    tx, ty = linear_set(rng, 20, k, m, noise=0.02)
    return fx, fy, tx, ty


@pytest.mark.parametrize("benchmark,options", [
    ("celeba-wild", {}), ("cub-001", {}), ("taichi", {}), ("deepfashion", {}), ("h36m", {}),
    ("300w", {"regression": "none"}), ("300w", {}),
])
def test_invisible_landmark_is_ignored_in_fit_and_test(benchmark, options, rng):
    fx, fy, tx, ty = _data_for(benchmark, rng)
    fv, tv = np.ones(fy.shape[:2], bool), np.ones(ty.shape[:2], bool)
    fv[:7, 2] = False
    tv[:5, 2] = False
    base = score(benchmark, fx, fy, tx, ty, fv, tv, **options)
    fy2, ty2 = fy.copy(), ty.copy()
    fy2[:7, 2] = (3.0, -7.0)
    ty2[:5, 2] = np.nan  # even NaN is fine where nothing is read
    again = score(benchmark, fx, fy2, tx, ty2, fv, tv, **options)
    assert again.value == base.value
    all_visible = score(benchmark, fx, fy2, tx, np.where(np.isnan(ty2), 5.0, ty2), **options)
    assert all_visible.value != base.value  # the masked values would have mattered


# --------------------------------------------------------------------------- bad input
def _ok(rng):
    m = rng.normal(size=(8, 10)) * 0.3
    fx, fy = linear_set(rng, 20, 4, m, noise=0.01)
    tx, ty = linear_set(rng, 6, 4, m, noise=0.01)
    return dict(benchmark="celeba-wild", fit_pred=fx, fit_gt=fy, test_pred=tx, test_gt=ty)


def _set(a, idx, value):
    a = np.array(a, copy=True)
    a[idx] = value
    return a


BAD_INPUTS = [
    ("unknown benchmark", lambda d: d.update(benchmark="celba-wild"), UnknownNameError,
     r"unknown benchmark 'celba-wild'; did you mean 'celeba-wild'"),
    ("flat coordinates", lambda d: d.update(fit_pred=d["fit_pred"].reshape(20, 8)), DataError,
     r"fit_pred must have shape \[N,K,2\].*ndim=2.*reshape"),
    ("visibility column", lambda d: d.update(test_gt=np.concatenate(
        [d["test_gt"], np.ones((6, 5, 1))], -1)), DataError,
     r"test_gt must have \(x, y\) in its last axis.*last dimension 3"),
    ("N mismatch", lambda d: d.update(fit_gt=d["fit_gt"][:19]), DataError,
     r"fit_pred has N=20 images but fit_gt has N=19"),
    ("wrong L", lambda d: d.update(test_gt=d["test_gt"][:, :4]), DataError,
     r"benchmark 'celeba-wild' has L=5 ground-truth landmarks but test_gt has L=4"),
    ("K not published", lambda d: d.update(fit_pred=d["fit_pred"][:, :3],
                                           test_pred=d["test_pred"][:, :3]), DataError,
     r"defined for K in \[4, 8\] detected keypoints, got K=3; pass strict_k=False"),
    ("K fit vs test", lambda d: d.update(test_pred=d["test_pred"][:, :3]), DataError,
     r"fit_pred has K=4 keypoints but test_pred has K=3"),
    ("NaN detection", lambda d: d.update(test_pred=_set(d["test_pred"], (2, 1, 0), np.nan)),
     DataError,
     r"test_pred contains 1 non-finite point\(s\) \(NaN or inf\), first at image 2, keypoint 1"),
    ("inf ground truth", lambda d: d.update(fit_gt=_set(d["fit_gt"], (3, 4, 1), np.inf)),
     DataError, r"fit_gt contains 1 non-finite point\(s\).*image 3, visible landmark 4"),
    ("no visible test landmark", lambda d: d.update(test_visible=np.zeros((6, 5), bool)),
     DataError, r"test_visible marks no landmark visible in the test split"),
    ("visible shape", lambda d: d.update(fit_visible=np.ones((20, 4), bool)), DataError,
     r"fit_visible must have shape \[N,L\] = \(20, 5\).*got \(20, 4\)"),
    ("visible values", lambda d: d.update(test_visible=np.full((6, 5), 2)), DataError,
     r"test_visible must be boolean \(True = visible\) or 0/1"),
    ("missing fit split", lambda d: d.update(fit_pred=None), DataError,
     r"fit_pred is missing \(None\)"),
    ("regression not allowed", lambda d: d.update(regression="none"), ConfigError,
     r"benchmark 'celeba-wild' does not use regression 'none'; allowed: joint"),
    ("unknown regression", lambda d: d.update(regression="ridge"), UnknownNameError,
     r"unknown regression 'ridge'"),
    ("unknown option", lambda d: d.update(normalizer="eyes"), UnknownNameError,
     r"unknown score option 'normalizer'; did you mean 'normaliser'"),
    ("option of another benchmark", lambda d: d.update(groups=["a"] * 6), UnknownNameError,
     r"unknown score option 'groups'.*benchmark 'celeba-wild'"),
    ("unknown normaliser", lambda d: d.update(normaliser="pupil"), UnknownNameError,
     r"unknown normaliser 'pupil'; did you mean 'pupils'"),
    ("normaliser needs 68 points", lambda d: d.update(normaliser="pupils"), DataError,
     r"normaliser 'pupils' uses landmark 47 but the ground truth has L=5"),
    ("eyes coincide", lambda d: d["test_gt"].__setitem__((1, 1), d["test_gt"][1, 0]), DataError,
     r"inter-ocular distance is 0 in test image 1"),
    ("eye invisible", lambda d: d.update(test_visible=_set(np.ones((6, 5), bool), (3, 0), False)),
     DataError,
     r"normaliser 'eyes' needs landmarks \[0, 1\] visible, but test image 3 lacks one"),
    ("landmark never visible in fit", lambda d: d.update(
        fit_visible=np.tile([True, True, False, True, True], (20, 1))), DataError,
     r"fit_visible marks landmark\(s\) \[2\] invisible in every fit image"),
]


@pytest.mark.parametrize("name,mutate,exc,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gives_a_clear_message(name, mutate, exc, message, rng):
    kwargs = _ok(rng)
    mutate(kwargs)
    with pytest.raises(exc, match=message) as info:
        score(**kwargs)
    assert isinstance(info.value, LkbenchError)


def test_bad_input_specific_to_other_benchmarks(rng):
    ty = kp(rng.uniform(0.1, 0.9, size=(5, 68, 2)))
    with pytest.raises(DataError, match=r"regression 'none' scores the detections directly, so "
                                        r"K must equal L=68; got K=10"):
        score("300w", None, None, ty[:, :10], ty, regression="none")
    gt = kp(rng.uniform(0.1, 0.9, size=(4, 32, 2)))
    with pytest.raises(ConfigError, match=r"aggregation 'activity' needs groups"):
        score("h36m", None, None, gt, gt, regression="none", aggregation="activity")
    with pytest.raises(DataError, match=r"groups must give one label per test image \(N=4\)"):
        score("h36m", None, None, gt, gt, regression="none", groups=["a", "b", "c"])
    with pytest.raises(UnknownNameError, match=r"unknown aggregation 'frames'; did you mean"):
        score("h36m", None, None, gt, gt, regression="none", aggregation="frames")
    fx, fy, tx, ty = _data_for("taichi", rng)
    tv = np.ones((20, 18), bool)
    tv[:, 16] = False
    with pytest.raises(DataError, match=r"joint\(s\) \[16\] are missing in every test image"):
        score("taichi", fx, fy, tx, ty, test_visible=tv)


def test_strict_k_false_scores_a_non_published_k(rng):
    kwargs = _ok(rng)
    kwargs["fit_pred"], kwargs["test_pred"] = kwargs["fit_pred"][:, :3], kwargs["test_pred"][:, :3]
    s = score(**kwargs, strict_k=False)
    assert np.isfinite(s.value)
