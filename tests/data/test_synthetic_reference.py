"""The ``synthetic`` benchmark is the same data on every machine: a committed reference.

``tests/fixtures/synthetic/reference.npz`` holds uint8 images and float32 keypoints of every
difficulty at 32 and 64 px (train, test, the second view of frame pairs; the keypoint-only prior),
made by ``make_reference.py`` beside it. The renderer's float kernels may differ in the last bit
between CPUs and library builds; images are quantised to uint8 levels, so such a difference can
only flip a value that sits on a rounding boundary, by one level. The tolerance below admits that
and nothing else: a one-pixel move of an eye or a colour change of one percent fails it (tested).

Measured (200 test faces each, every float32 face parameter moved by up to one ulp, as another
CPU's kernels might): 0.5–2.3 · 10⁻⁵ of the uint8 values change, by exactly one level; keypoints
move by at most 1.2 · 10⁻⁷ (normalised units). See ``docs/determinism.md``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lkbench.data import cartoon
from lkbench.data.cartoon import face_keypoints, render_faces
from lkbench.data.synthetic import VERSION
from lkbench.plots import images_to_uint8

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "synthetic"
MAX_LEVELS = 1            # a value may differ by one uint8 level (a rounding-boundary flip) ...
MAX_CHANGED = 1e-3        # ... on at most this share of the values (measured: ≤ 2.3e-5)
KEYPOINT_ATOL = 1e-6      # normalised units (≈ 3·10⁻⁵ px at 64 px; measured ≤ 1.2e-7)


def _make_reference():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_reference", FIXTURE / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _make_reference()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "reference.npz") as z:
        return {k: z[k] for k in z.files}


def image_mismatch(a: np.ndarray, b: np.ndarray) -> "str | None":
    """Why uint8 images ``a`` and ``b`` are not the same data within the tolerance (or None)."""
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    changed = float((diff > 0).mean())
    if diff.max() > MAX_LEVELS:
        return f"a value differs by {diff.max()} levels (> {MAX_LEVELS})"
    if changed > MAX_CHANGED:
        return f"{changed:.2e} of the values differ (> {MAX_CHANGED:.0e})"
    return None


def compare(reference: dict, current: dict) -> list[str]:
    """Every key whose arrays differ beyond the tolerance, with the reason."""
    problems = []
    for key, ref in reference.items():
        if key == "version":
            continue
        cur = current[key]
        if key.endswith("_images"):
            why = image_mismatch(ref, cur)
        else:
            err = float(np.abs(ref - cur).max())
            why = f"keypoints move by {err:.2e}" if err > KEYPOINT_ATOL else None
        if why:
            problems.append(f"{key}: {why}")
    return problems


def test_the_renderer_reproduces_the_committed_reference(reference):
    assert str(reference["version"]) == VERSION, (
        "the dataset VERSION changed: regenerate the fixture with make_reference.py")
    assert compare(reference, MAKE.reference_arrays()) == []


def test_a_one_pixel_eye_shift_fails_the_tolerance(reference, monkeypatch):
    real_layout = cartoon.face_layout

    def shifted(p):
        lay = real_layout(p)
        one_px_at_64 = (2.0 / 64) / p.scale[:, None]     # one 64-px pixel in face units
        return cartoon.FaceLayout(**{**lay.__dict__, "eye_x": lay.eye_x + one_px_at_64})

    monkeypatch.setattr(cartoon, "face_layout", shifted)
    problems = compare(reference, MAKE.reference_arrays())
    image_keys = [k for k in reference if k.endswith("_images")]
    failing = {p.split(":")[0] for p in problems}
    assert set(image_keys) <= failing, problems       # every image set notices (keypoints too)


def test_a_one_percent_colour_change_fails_the_tolerance(reference, monkeypatch):
    r, g, b = cartoon.SKIN_LIGHT
    monkeypatch.setattr(cartoon, "SKIN_LIGHT", (r, g, b - 0.01))
    problems = compare(reference, MAKE.reference_arrays())
    assert {p.split(":")[0] for p in problems} == {k for k in reference if k.endswith("_images")}


def test_last_bit_parameter_noise_stays_within_the_tolerance():
    """Another CPU, simulated: every float32 face parameter moved by up to one ulp."""
    from lkbench.data import get_dataset
    g = torch.Generator().manual_seed(1)

    def ulp_noise(t: torch.Tensor) -> torch.Tensor:
        t = t.to(torch.float32)
        step = torch.randint(-1, 2, t.shape, generator=g).to(torch.float32)
        toward = torch.where(step > 0, torch.inf, torch.where(step < 0, -torch.inf, t))
        return torch.nextafter(t, toward)          # nextafter(t, t) == t: unchanged

    for difficulty in ("easy", "hard"):
        ds = get_dataset("synthetic", split="test", image_size=64, difficulty=difficulty,
                         seed=0, size=64)
        p = ds.params(range(64))
        noisy = p.map(ulp_noise)
        a = images_to_uint8(render_faces(p, 64, ds.style.background)).numpy()
        b = images_to_uint8(render_faces(noisy, 64, ds.style.background)).numpy()
        assert image_mismatch(a, b) is None
        kp = face_keypoints(noisy.map(lambda t: t.double())).float() - face_keypoints(p).float()
        assert kp.abs().max() <= KEYPOINT_ATOL


def test_images_are_exact_uint8_levels():
    from lkbench.data import get_dataset
    x = get_dataset("synthetic", split="fit", image_size=32, seed=0, size=8).batch(range(8)).images
    q = (x + 1) * 127.5
    assert torch.equal(q.round() / 127.5 - 1, x)       # every value is a level, exactly
    assert ((q - q.round()).abs() < 1e-4).all()
