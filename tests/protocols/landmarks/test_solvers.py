"""score(..., solver=...): the exact default and the AutoLink/GANSeg float32 arithmetic."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lkbench.errors import UnknownNameError
from lkbench.protocols.landmarks.solvers import SOLVERS, get_solver, solve_alk
from lkbench.protocols.landmarks.score import score


def problem(rng, n=60, k=4, l=5):
    """Detections and GT in [-1, 1] related by a noisy linear map (well conditioned)."""
    ux = rng.uniform(0.1, 0.9, size=(n, k, 2))
    uy = ux.reshape(n, -1) @ rng.normal(size=(2 * k, 2 * l)) * 0.3 + 0.01 * rng.normal(
        size=(n, 2 * l))
    return 2 * ux - 1, 2 * uy.reshape(n, l, 2) - 1


def alk_by_hand(x, y, lam):
    """AutoLink's regress_kp, written out: float32 torch, inverse, ridge on failure."""
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.float32)
    try:
        return (x.T @ x).inverse() @ x.T @ y, False
    except Exception:
        return (x.T @ x + lam * torch.eye(x.shape[1])).inverse() @ x.T @ y, True


def test_alk_solver_equals_the_float32_normal_equations_bit_for_bit():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, (50, 8)), rng.uniform(0, 1, (50, 10))
    sol = solve_alk(a, b)
    beta, fell_back = alk_by_hand(a, b, 1.0)
    assert not fell_back and not sol.rank_deficient and sol.note is None
    assert np.array_equal(sol.beta, beta.double().numpy())
    # ...and differs from float64 least squares by float32 rounding only
    exact = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(sol.beta, exact, rtol=1e-3, atol=1e-3)


def test_alk_falls_back_to_ridge_on_a_singular_system():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, (40, 6))
    a[:, 2:4] = 0.0  # a keypoint stuck at the top-left corner: zero columns, XᵀX singular
    b = rng.uniform(0, 1, (40, 4))
    sol = solve_alk(a, b, ridge=1.0)
    beta, fell_back = alk_by_hand(a, b, 1.0)
    assert fell_back and sol.rank_deficient and "ridge" in sol.note
    assert np.array_equal(sol.beta, beta.double().numpy())


def test_deepfashion_uses_alks_scale_and_small_ridge():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, (30, 4))
    a[:, 0] = 0.0
    b = rng.uniform(0, 1, (30, 2))
    beta, fell_back = alk_by_hand(a * 255, b, 1e-3)
    assert fell_back
    np.testing.assert_array_equal(get_solver("alk", "deepfashion")(a, b).beta,
                                  beta.double().numpy() * 255)


def test_score_defaults_to_exact_and_records_the_solver():
    rng = np.random.default_rng(3)
    fx, fy = problem(rng)
    tx, ty = problem(np.random.default_rng(4))
    exact = score("celeba-wild", fx, fy, tx, ty)
    alk = score("celeba-wild", fx, fy, tx, ty, solver="alk")
    assert exact.solver == "exact" and alk.solver == "alk"
    assert exact == score("celeba-wild", fx, fy, tx, ty, solver="exact")
    assert alk.value == pytest.approx(exact.value, rel=1e-3) and alk.value != exact.value


def test_score_alk_with_a_collapsed_keypoint_uses_ridge_where_exact_uses_min_norm():
    rng = np.random.default_rng(5)
    fx, fy = problem(rng)
    tx, ty = problem(np.random.default_rng(6))
    fx[:, 1] = tx[:, 1] = -1.0  # keypoint 1 never moves, at the top-left edge: u = 0
    exact = score("celeba-wild", fx, fy, tx, ty)
    alk = score("celeba-wild", fx, fy, tx, ty, solver="alk")
    assert exact.min_norm and not alk.min_norm
    assert any("ridge" in n for n in alk.notes)
    assert not any("ridge" in n for n in exact.notes)


def test_unknown_solver_is_named():
    rng = np.random.default_rng(7)
    fx, fy = problem(rng)
    with pytest.raises(UnknownNameError, match="did you mean 'exact'"):
        score("celeba-wild", fx, fy, fx, fy, solver="exac")
    assert SOLVERS.names() == ["alk", "exact"]


def test_per_landmark_values_average_to_the_iod_error():
    rng = np.random.default_rng(8)
    fx, fy = problem(rng)
    tx, ty = problem(np.random.default_rng(9))
    s = score("celeba-wild", fx, fy, tx, ty)
    assert len(s.per_landmark) == 5
    assert np.mean(s.per_landmark) == pytest.approx(s.value)
