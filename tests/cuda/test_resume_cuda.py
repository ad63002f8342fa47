"""``--resume auto`` on CUDA continues like an uninterrupted run (with AMP, as users train).

A fresh process (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, ``torch.use_deterministic_algorithms(True,
warn_only=True)``) trains each model at its ``smoke`` preset through ``lkbench train``'s code
path: 4 steps straight, the same 4 steps again, and 2 steps followed by ``--resume auto`` to 4.

* Where no operation of the run lacks a deterministic CUDA kernel (torch warns for each one
  that does), the resumed run must equal the straight one **bit for bit**: models, EMA,
  optimiser states, and the logged losses of the resumed steps.
* Where one does (bilinear upsampling's backward, the default of LatentKeypointGAN's generator,
  has none), bit equality is not to be had even between two straight runs; the stated
  tolerance is then: the mean ``|Δ|`` over every floating state tensor between the resumed and
  the straight run is at most 4× that between the two straight runs (+1e-6). A resume that
  lost the optimiser state, the step or the data order differs by far more than the noise.
  LatentKeypointGAN with ``model.upsample=nearest`` is included to show the exact case.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from lkbench.checkpoint import load_checkpoint

pytestmark = pytest.mark.cuda

MODELS = {
    "latent-keypoint-gan": ["latent-keypoint-gan", []],
    "latent-keypoint-gan+nearest": ["latent-keypoint-gan", ["model.upsample=nearest"]],
    "keypoint-gan-full": ["keypoint-gan", ["model.variant=full", "data.size=8",
                                           "data.prior_size=16",
                                           "optim.regressor_pretrain_steps=1"]],
    "l2m-gan": ["l2m-gan", ["data.size=16"]],
}

_DRIVER = """
    import json, sys, warnings
    from pathlib import Path

    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    from lkbench.trainers.run import resolve_run_config, run_training

    root, device, models = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    alerts = {}
    for name, (model, overrides) in models.items():
        def run(folder, steps, resume=None):
            trainer_cls, cfg = resolve_run_config(model, "smoke", [], [
                *overrides, f"loop.device={device}", "loop.amp=true", f"loop.steps={steps}",
                "loop.ckpt_every=100", "loop.sample_every=100", "loop.keep_ckpts=0"])
            run_training(trainer_cls, cfg, str(root / name / folder), resume=resume,
                         progress=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run("straight", 4)
            run("again", 4)
            run("split", 2)
            run("split", 4, resume="auto")
        alerts[name] = sorted({str(w.message).split(",")[0][:160] for w in caught
                               if "deterministic" in str(w.message)})
    (root / "alerts.json").write_text(json.dumps(alerts, indent=1))
"""


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, device, helpers):
    root = tmp_path_factory.mktemp("resume")
    script = root / "driver.py"
    script.write_text(textwrap.dedent(_DRIVER))
    env = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run([sys.executable, str(script), str(root), device.type,
                           json.dumps(MODELS)], env=env, cwd=root, capture_output=True,
                          text=True, timeout=1800 if helpers.on_cpu else 150)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, json.loads((root / "alerts.json").read_text())


def _floats(obj, prefix=""):
    """``{path: floating tensor}`` of a nested state."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj} if obj.is_floating_point() else {}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, (list, tuple)) else ()
    out = {}
    for k, v in items:
        out.update(_floats(v, f"{prefix}/{k}"))
    return out


def _mean_abs_diff(a: dict, b: dict) -> float:
    total = sum(float((a[k].double() - b[k].double()).abs().sum()) for k in a)
    return total / sum(t.numel() for t in a.values())


def _losses(run_dir, steps):
    lines = [json.loads(ln) for ln in (run_dir / "stats.jsonl").read_text().splitlines()]
    skip = {"step", "wall_time_s", "images_per_s"}
    return {ln["step"]: {k: v for k, v in ln.items() if k not in skip and isinstance(v, float)}
            for ln in lines if ln["step"] in steps}


@pytest.mark.parametrize("name", list(MODELS))
def test_resume_auto_continues_like_an_uninterrupted_run(name, resumed):
    root, alerts = resumed
    runs = {r: load_checkpoint(root / name / r / "ckpt" / "step-0000004.pt")
            for r in ("straight", "again", "split")}
    assert runs["split"].step == 4
    assert set(runs["split"].state) == set(runs["straight"].state)
    states = {r: _floats(c.state) for r, c in runs.items()}
    assert states["split"].keys() == states["straight"].keys()
    exact = all(torch.equal(states["split"][k], states["straight"][k])
                for k in states["straight"])
    if exact:
        split, straight = (_losses(root / name / r, {3, 4}) for r in ("split", "straight"))
        assert split.keys() == straight.keys() == {3, 4}
        for step in (3, 4):
            common = split[step].keys() & straight[step].keys()
            assert {k: split[step][k] for k in common} == \
                {k: straight[step][k] for k in common}, f"step {step}"
        return
    resumed_diff = _mean_abs_diff(states["split"], states["straight"])
    noise = _mean_abs_diff(states["again"], states["straight"])
    worst = max(states["straight"], key=lambda k: float(
        (states["split"][k].double() - states["straight"][k].double()).abs().max()))
    assert alerts[name], (
        f"{name}: the resumed run differs from the straight one (mean |diff| "
        f"{resumed_diff:.3g}, largest in {worst}) although every operation had a "
        f"deterministic kernel (two straight runs differ by {noise:.3g})")
    print(f"{name}: not bit-exact because of {alerts[name]}; mean |diff| resumed "
          f"{resumed_diff:.3g} vs between two straight runs {noise:.3g}")
    assert resumed_diff <= 4 * noise + 1e-6, (
        f"{name}: the resumed run differs from the straight one by mean |diff| "
        f"{resumed_diff:.3g} (largest in {worst}), more than 4x two straight runs "
        f"({noise:.3g}); non-deterministic operations: {alerts[name]}")
