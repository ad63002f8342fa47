"""Per-image contributions, bootstrap intervals and the paired noise test
(``lkbench.protocols.landmarks.uncertainty``), against direct numpy computations."""
from __future__ import annotations

import numpy as np
import pytest

from lkbench.errors import DataError
from lkbench.protocols.landmarks.errors import ERRORS
from lkbench.protocols.landmarks.uncertainty import (PerImage, bootstrap_indices, bootstrap_interval,
                                           paired_difference, within_noise)


def _case(n=40, L=5, seed=0, missing=0.2):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(-0.6, 0.6, (n, L, 2))
    gt[:, 0, 0], gt[:, 1, 0] = -0.3, 0.3            # eyes apart: a valid inter-ocular distance
    pred = gt + rng.normal(0, 0.05, gt.shape)
    vis = rng.random((n, L)) > missing
    vis[:, :2] = True                                # normaliser landmarks visible
    vis[3] = False                                   # one image not scored at all
    return pred, gt, vis


@pytest.mark.parametrize("formula,kwargs", [
    ("iod_error", {}), ("visible_l2_error", {}), ("pck", {"threshold_px": 12.0}),
    ("taichi_mae_sum", {}), ("h36m_swap_error", {"flip_pairs": ((0, 1), (3, 4))}),
    ("h36m_swap_error", {"flip_pairs": ((0, 1),), "groups": np.repeat(list("abcd"), 10)}),
])
def test_per_image_terms_make_up_the_value(formula, kwargs):
    pred, gt, vis = _case()
    if formula == "taichi_mae_sum":
        vis[:, 2:] = np.random.default_rng(1).random((40, 3)) > 0.3   # missing joints
        vis[3] = False
    out = ERRORS.get(formula).fn(pred, gt, vis, **kwargs)
    assert len(out.per_image) == 40 and out.per_image.weights[3] == 0
    assert out.per_image.value == pytest.approx(out.value, rel=1e-12)


def test_pooled_terms_are_image_means_weighted_by_visible_count():
    pred, gt, vis = _case()
    out = ERRORS.get("visible_l2_error").fn(pred, gt, vis)
    dist = np.linalg.norm((pred - gt) / 2, axis=-1) * 100       # [0,1] frame, percent
    for i in (0, 7, 39):
        assert out.per_image.weights[i] == vis[i].sum()
        assert out.per_image.errors[i] == pytest.approx(dist[i][vis[i]].mean())


def test_interval_matches_a_direct_loop():
    rng = np.random.default_rng(5)
    e, w = rng.gamma(2.0, 2.0, 60), rng.integers(1, 6, 60).astype(float)
    p = PerImage(e, w)
    lo, hi = bootstrap_interval(p, replicates=500, seed=3)
    values = []
    for block in bootstrap_indices(60, 500, 3):
        for row in block:
            values.append(np.average(e[row], weights=w[row]))
    assert len(values) == 500
    assert (lo, hi) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])), rel=1e-12)
    assert lo < p.value < hi
    # reproducible, and another seed gives another (close) interval
    assert bootstrap_interval(p, replicates=500, seed=3) == (lo, hi)
    assert bootstrap_interval(p, replicates=500, seed=4) != (lo, hi)


def test_unscored_images_are_left_out_of_the_resampling():
    e = np.array([1.0, 2.0, 3.0, 99.0])
    with_gap = bootstrap_interval(PerImage(e, [1, 1, 1, 0]), replicates=300)
    assert with_gap[1] <= 3.0


def test_interval_covers_the_true_mean_95_percent_of_the_time():
    """Known variance: n = 100 per-image errors ~ N(5, 2²); the interval must cover 5 in about
    95 % of 300 independent test sets and have the normal-theory width 2·1.96·2/√100."""
    rng = np.random.default_rng(0)
    covered, widths = 0, []
    for _ in range(300):
        lo, hi = bootstrap_interval(PerImage(rng.normal(5, 2, 100), np.ones(100)),
                                    replicates=1000)
        covered += lo <= 5 <= hi
        widths.append(hi - lo)
    assert 0.90 <= covered / 300 <= 0.985
    assert np.mean(widths) == pytest.approx(2 * 1.96 * 2 / 10, rel=0.08)


def test_encode_decode_is_compact_and_float32_exact():
    rng = np.random.default_rng(1)
    p = PerImage(rng.random(500) * 10, np.ones(500))
    enc = p.encode()
    assert "weights" not in enc and len(enc["errors"]) < 3000       # 500 float32 values
    q = PerImage.decode(enc)
    np.testing.assert_array_equal(q.errors, p.errors.astype(np.float32))
    r = PerImage(p.errors, np.arange(500) % 3)
    np.testing.assert_array_equal(PerImage.decode(r.encode()).weights, r.weights)
    with pytest.raises(DataError, match="500 values where n = 499"):
        PerImage.decode({**enc, "n": 499})
    with pytest.raises(DataError, match="encoding"):
        PerImage.decode({**enc, "encoding": "pickle"})


def test_bad_per_image_input_is_refused():
    with pytest.raises(DataError, match="length"):
        PerImage(np.ones(3), np.ones(4))
    with pytest.raises(DataError, match="not all 0"):
        PerImage(np.ones(3), np.zeros(3))
    with pytest.raises(DataError, match="non-finite"):
        PerImage(np.array([1.0, np.nan]), np.ones(2))
    PerImage(np.array([1.0, np.nan]), np.array([1.0, 0.0]))          # unscored NaN is fine


def _rows(offset, seeds=1, seed_spread=0.0, n=400, noise=0.3, rng_seed=0):
    """Rows sharing per-image difficulty (as two methods on one test set do)."""
    rng = np.random.default_rng(rng_seed)
    difficulty = rng.gamma(2.0, 2.5, n)                 # large, shared between rows
    def row(delta, r):
        return [PerImage(difficulty + delta + s + r.normal(0, noise, n), np.ones(n))
                for s in r.normal(0, seed_spread, seeds)]
    return row(0.0, np.random.default_rng(rng_seed + 1)), row(offset, np.random.default_rng(
        rng_seed + 2))


def test_paired_noise_marker():
    same_a, same_b = _rows(0.0)
    assert within_noise(same_a, same_b)
    # 0.15 apart: far inside each row's own image interval (width ~1.0), yet pairing sees it
    a, b = _rows(0.15)
    lo, hi = bootstrap_interval(a[0])
    assert hi - lo > 0.5
    diff, dlo, dhi = paired_difference(a, b)
    assert diff == pytest.approx(a[0].value - b[0].value)
    assert dhi < 0 and not within_noise(a, b)


def test_seed_spread_widens_the_difference_interval():
    a1, b1 = _rows(0.15, seeds=3, seed_spread=0.0)
    a2, b2 = _rows(0.15, seeds=3, seed_spread=0.5)
    w1 = np.subtract(*paired_difference(a1, b1)[2:0:-1])
    w2 = np.subtract(*paired_difference(a2, b2)[2:0:-1])
    assert w2 > 3 * w1
    assert within_noise(a2, b2)                         # seeds disagree more than 0.15


def test_rows_on_different_test_sets_cannot_be_paired():
    a, _ = _rows(0.0, n=10)
    b, _ = _rows(0.0, n=11)
    with pytest.raises(DataError, match="different numbers of test images"):
        paired_difference(a, b)


def test_scores_and_intervals_move_by_float_noise_only_under_last_bit_input_changes():
    """The determinism contract's "scores agree within tolerance across machines": predictions
    that differ in the last float32 bit (another CPU's detector kernels) give the same score and
    interval to 1e-5 relative — far below any interval's width."""
    from lkbench.protocols.landmarks.score import score
    rng = np.random.default_rng(0)
    fit_gt, test_gt = rng.uniform(-0.5, 0.5, (300, 5, 2)), rng.uniform(-0.5, 0.5, (200, 5, 2))
    fit_gt[:, :2, 1] = test_gt[:, :2, 1] = 0.0
    fit_gt[:, 0, 0], fit_gt[:, 1, 0], test_gt[:, 0, 0], test_gt[:, 1, 0] = -0.3, 0.3, -0.3, 0.3
    mix = rng.normal(0, 1, (10, 10))
    fit = (fit_gt.reshape(300, 10) @ mix).reshape(300, 5, 2) + rng.normal(0, .03, (300, 5, 2))
    test = (test_gt.reshape(200, 10) @ mix).reshape(200, 5, 2) + rng.normal(0, .03, (200, 5, 2))
    fit, test = fit.astype(np.float32), test.astype(np.float32)
    ulp = lambda a: np.nextafter(a, np.where(rng.random(a.shape) < .5, np.inf, -np.inf))  # noqa: E731
    a = score("synthetic", fit, fit_gt, test, test_gt)
    b = score("synthetic", ulp(fit), fit_gt, ulp(test), test_gt)
    assert a.value != b.value and b.value == pytest.approx(a.value, rel=1e-5)
    ia, ib = bootstrap_interval(a.per_image), bootstrap_interval(b.per_image)
    assert ib == pytest.approx(ia, rel=1e-5) and ia[1] - ia[0] > 1e-3 * a.value
