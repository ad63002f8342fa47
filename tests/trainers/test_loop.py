"""The shared training loop with LatentKeypointGAN at smoke scale: bit-for-bit resume,
``torchrun`` data parallelism on CPU, divergence, Ctrl-C, bad input through the CLI, the data
order."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import lkbench
from lkbench.checkpoint import checkpoint_path, latest_checkpoint, load_checkpoint, save_checkpoint
from lkbench.cli import cli
from lkbench.config import PRESETS, DataConfig, register_preset, resolve, to_dict, write_config
from lkbench.models import MODELS
from lkbench.trainers.images import TrainDataConfig, TrainImages
from lkbench.trainers.latent_keypoint_gan import LKGRunConfig, LKGTrainer
from lkbench.trainers.loop import TrainingDiverged, TrainingInterrupted, train

MODEL = "latent-keypoint-gan"
STATE_KEYS = {"G", "D", "G_ema", "opt_G", "opt_D"}
TIMING_KEYS = {"wall_time_s", "images_per_s"}


def smoke(*overrides: str) -> LKGRunConfig:
    return resolve(LKGRunConfig, preset="smoke", overrides=["loop.steps=4", *overrides])


def assert_same(a, b, where: str = "state") -> None:
    """Every tensor equal bit for bit, every other leaf equal, same structure."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where} differs (max |diff| "\
            f"{(a.double() - b.double()).abs().max().item():.3g})"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def stats(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """Reference: 4 steps in one go, a checkpoint after every step (kept)."""
    out = tmp_path_factory.mktemp("straight") / "run"
    res = train(LKGTrainer, smoke("loop.ckpt_every=1", "loop.keep_ckpts=0"), out, progress=False)
    assert res.step == 4 and res.checkpoint == checkpoint_path(out, 4)
    return out


def reference_state(straight: Path, step: int) -> dict:
    return load_checkpoint(checkpoint_path(straight, step)).state


# -- resume -----------------------------------------------------------------------------------

def test_resume_continues_bit_for_bit(straight, tmp_path):
    out = tmp_path / "run"
    first = train(LKGTrainer, smoke("loop.steps=2"), out, progress=False)
    assert first.step == 2 and latest_checkpoint(out) == checkpoint_path(out, 2)
    second = train(LKGTrainer, smoke(), out, resume="auto", progress=False)
    assert second.step == 4
    a, b = load_checkpoint(checkpoint_path(straight, 4)), load_checkpoint(second.checkpoint)
    assert a.step == b.step == 4
    assert set(a.state) == set(b.state) == STATE_KEYS
    for key in sorted(STATE_KEYS):
        assert_same(a.state[key], b.state[key], key)
    assert b.extra["images_seen"] == 16 and b.extra["generator_key"] == "G_ema"
    assert b.extra["run_config"]["loop"]["steps"] == 4
    lines_a, lines_b = stats(straight), stats(out)
    assert [ln["step"] for ln in lines_a] == [ln["step"] for ln in lines_b] == [1, 2, 3, 4]
    for la, lb in zip(lines_a, lines_b):
        assert {k: v for k, v in la.items() if k not in TIMING_KEYS} == \
               {k: v for k, v in lb.items() if k not in TIMING_KEYS}
        assert all(k in la for k in ("loss_d", "loss_g", "d_real", "d_fake", "kp_spread"))
    assert [("gp" in ln) for ln in lines_a] == [True, False, True, False]  # d_reg_every = 2
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == \
        ["step-0000002.png", "step-0000004.png"]
    assert (out / "curves.png").stat().st_size > 1000


def test_resume_past_the_end_is_refused(straight, tmp_path):
    with pytest.raises(lkbench.LkbenchError, match="past loop.steps"):
        train(LKGTrainer, smoke("loop.steps=3"), straight, resume="auto", progress=False)


# -- torchrun ---------------------------------------------------------------------------------

_DDP_SCRIPT = """
import os, sys
from pathlib import Path

import torch

from lkbench.config import resolve
from lkbench.trainers.latent_keypoint_gan import LKGRunConfig, LKGTrainer
from lkbench.trainers.loop import train

out = Path(sys.argv[1])
rank = int(os.environ["RANK"])


def states(t):
    return {k: {n: v.detach().clone() for n, v in m.state_dict().items()}
            for k, m in t.modules().items()}


class Capturing(LKGTrainer):
    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        Capturing.instance = self
        torch.save(states(self), out / f"init{rank}.pt")


cfg = resolve(LKGRunConfig, preset="smoke",
              overrides=["loop.steps=3", "loop.threads=1", "loop.device=cpu"])
train(Capturing, cfg, out / "run", progress=False)
torch.save(states(Capturing.instance), out / f"rank{rank}.pt")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes_stay_in_sync(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(_DDP_SCRIPT))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(script),
         str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"torchrun 2 x 3 steps: {elapsed:.1f} s")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    i0, i1 = (torch.load(tmp_path / f"init{r}.pt", weights_only=True) for r in (0, 1))
    assert set(r0) == {"G", "D", "G_ema"}
    assert_same(i0, i1, "initial state")
    assert_same(r0, r1, "final state")               # parameters and BatchNorm buffers
    for key in ("G", "D"):
        assert any(not torch.equal(r0[key][n], i0[key][n]) for n in r0[key]), key
    # only rank 0 wrote: one stats line per step, checkpoints as a single process would
    run = tmp_path / "run"
    assert [ln["step"] for ln in stats(run)] == [1, 2, 3]
    assert sorted(p.name for p in (run / "ckpt").iterdir()) == \
        ["step-0000002.pt", "step-0000003.pt"]
    ck = load_checkpoint(checkpoint_path(run, 3))
    assert ck.extra["images_seen"] == 3 * 4 * 2
    assert_same(ck.state["G"], r0["G"], "checkpoint G")
    assert_same(ck.state["D"], r0["D"], "checkpoint D")


# -- divergence and Ctrl-C --------------------------------------------------------------------

def _patch_step(monkeypatch, replacement):
    original = LKGTrainer.train_step

    def patched(self, real, gen, step):
        return replacement(original, self, real, gen, step)
    monkeypatch.setattr(LKGTrainer, "train_step", patched)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    def nan_from_step_3(original, self, real, gen, step):
        if step >= 2:                                  # 0-based: the third step
            return {"loss_g": torch.tensor(float("nan"))}
        return original(self, real, gen, step)
    _patch_step(monkeypatch, nan_from_step_3)
    out = tmp_path / "run"
    good = checkpoint_path(out, 2)
    with pytest.raises(TrainingDiverged) as info:
        train(LKGTrainer, smoke("loop.ckpt_every=2"), out, progress=False)
    msg = str(info.value)
    assert "step 3" in msg and "loss_g" in msg and str(good) in msg, msg
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == [good.name]
    assert latest_checkpoint(out) == good
    assert load_checkpoint(good).step == 2
    g = lkbench.load_generator(good)
    with torch.no_grad():
        assert torch.isfinite(g(*g.sample_noise(2, torch.Generator().manual_seed(0)))).all()
    assert [ln["step"] for ln in stats(out)] == [1, 2]


def test_infinite_loss_on_the_first_step_says_no_checkpoint(tmp_path, monkeypatch):
    _patch_step(monkeypatch, lambda original, self, real, gen, step:
                {"loss_d": torch.tensor(1.0), "loss_g": torch.tensor(float("inf"))})
    with pytest.raises(TrainingDiverged, match=r"step 1: loss loss_g = inf; no checkpoint"):
        train(LKGTrainer, smoke(), tmp_path / "run", progress=False)


def test_ctrl_c_saves_finished_steps_and_resumes(straight, tmp_path, monkeypatch):
    def interrupt_step_3(original, self, real, gen, step):
        if step == 2:
            raise KeyboardInterrupt
        return original(self, real, gen, step)
    _patch_step(monkeypatch, interrupt_step_3)
    out = tmp_path / "run"
    cfg = smoke("loop.ckpt_every=3")                   # so step 2 is saved only by the Ctrl-C
    with pytest.raises(TrainingInterrupted) as info:
        train(LKGTrainer, cfg, out, progress=False)
    saved = checkpoint_path(out, 2)
    assert "interrupted at step 2" in str(info.value) and str(saved) in str(info.value)
    assert "--resume auto" in str(info.value)
    assert latest_checkpoint(out) == saved and load_checkpoint(saved).step == 2
    assert_same(load_checkpoint(saved).state, reference_state(straight, 2), "step 2")
    monkeypatch.undo()
    res = train(LKGTrainer, cfg, out, resume="auto", progress=False)
    assert res.step == 4
    assert_same(load_checkpoint(res.checkpoint).state, reference_state(straight, 4), "step 4")
    assert [ln["step"] for ln in stats(out)] == [1, 2, 3, 4]


def test_ctrl_c_during_a_step_never_saves_a_half_updated_state(straight, tmp_path, monkeypatch):
    """A real SIGINT lands while train_step runs (where nearly all the time goes). Whatever
    checkpoint the loop then keeps must hold exactly the state of the step it is labelled with,
    or ``--resume`` silently repeats part of a step."""
    def sigint_after_updating(original, self, real, gen, step):
        out = original(self, real, gen, step)          # G and D of step 3 already updated
        if step == 2:
            signal.raise_signal(signal.SIGINT)
        return out
    _patch_step(monkeypatch, sigint_after_updating)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(LKGTrainer, smoke("loop.ckpt_every=1", "loop.keep_ckpts=0"), out, progress=False)
    ck = load_checkpoint(latest_checkpoint(out))
    assert 2 <= ck.step <= 3
    assert_same(ck.state, reference_state(straight, ck.step), f"checkpoint of step {ck.step}")


# -- bad input through the CLI ----------------------------------------------------------------

def invoke(*args: str):
    return CliRunner().invoke(cli, ["train", *args])


def assert_usage_error(res, *needles: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_cli_unknown_model_suggests(tmp_path):
    res = invoke("--model", "latent-keypoint-ga", "--preset", "smoke", "--out", str(tmp_path / "r"))
    assert_usage_error(res, "'latent-keypoint-ga'", "did you mean 'latent-keypoint-gan'")
    assert not (tmp_path / "r").exists()


def test_cli_unknown_preset(tmp_path):
    res = invoke("--model", MODEL, "--preset", "smok", "--out", str(tmp_path / "r"))
    assert_usage_error(res, "unknown preset", "'smok'", "did you mean 'smoke'")


def test_cli_preset_of_another_kind(tmp_path):
    register_preset("_test_data_only", DataConfig, {"image_size": 48})
    try:
        res = invoke("--model", MODEL, "--preset", "_test_data_only", "--out", str(tmp_path / "r"))
        line = assert_usage_error(res, "unknown preset for latent-keypoint-gan",
                                  "'_test_data_only'")
        assert "smoke" in line  # lists the presets that do exist for this model
    finally:
        PRESETS._items.pop("_test_data_only", None)
    assert not (tmp_path / "r").exists()


def test_cli_unknown_dataset(tmp_path):
    res = invoke("--model", MODEL, "--preset", "smoke", "--dataset", "nosuch", "--no-progress",
                 "--out", str(tmp_path / "r"))
    assert_usage_error(res, "unknown dataset 'nosuch'", "synthetic")
    assert not (tmp_path / "r").exists()


def test_cli_keypoint_count_the_benchmark_does_not_use(tmp_path):
    res = invoke("--model", MODEL, "--preset", "smoke", "--set", "data.name=celeba-wild",
                 "--set", "model.num_keypoints=5", "--out", str(tmp_path / "r"))
    assert_usage_error(res, "'celeba-wild'", "K = 4 or 8", "not 5", "model.num_keypoints=4")


def test_cli_resume_from_another_models_checkpoint(tmp_path):
    name = "_test_other_model"
    MODELS.add(name, lambda config: torch.nn.Linear(2, 2))
    try:
        other = save_checkpoint(tmp_path / "other.pt", model=name, config={},
                                state={"G": torch.nn.Linear(2, 2).state_dict()}, step=3,
                                extra={"run_config": {}})
        res = invoke("--model", MODEL, "--preset", "smoke", "--out", str(tmp_path / "r"),
                     "--resume", str(other))
        assert_usage_error(res, str(other), f"model '{name}'", f"--model {name}")
    finally:
        MODELS._items.pop(name, None)
    assert not (tmp_path / "r").exists()


def test_cli_out_dir_holding_another_run(tmp_path):
    out = tmp_path / "run"
    res = invoke("--model", MODEL, "--preset", "smoke", "--set", "loop.steps=2", "--no-progress",
                 "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "trained latent-keypoint-gan to step 2" in res.output
    assert (out / "config.toml").is_file() and latest_checkpoint(out) == checkpoint_path(out, 2)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    res = invoke("--model", MODEL, "--preset", "smoke", "--out", str(out), "--resume", "auto",
                 "--set", "model.num_keypoints=3")
    assert_usage_error(res, "belongs to a different run", "model.num_keypoints: 4 (run) vs 3")
    res = invoke("--model", MODEL, "--preset", "smoke", "--out", str(out))
    assert_usage_error(res, "already holds a run", "--resume auto")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    # a folder with only the config of another run is refused as well
    other = tmp_path / "config-only"
    write_config(smoke("model.num_keypoints=3"), other)
    res = invoke("--model", MODEL, "--preset", "smoke", "--out", str(other), "--resume", "auto")
    assert_usage_error(res, "config.toml belongs to a different run", "model.num_keypoints")


def test_cli_dry_run_prints_config_and_writes_nothing(tmp_path):
    out = tmp_path / "r"
    res = invoke("--model", MODEL, "--preset", "smoke", "--out", str(out), "--dry-run",
                 "--seed", "3", "--set", "model.num_keypoints=5", "--device", "cpu")
    assert res.exit_code == 0, res.output
    printed = tomllib.loads(res.output)
    expected = to_dict(smoke("model.num_keypoints=5", "loop.seed=3", "loop.device=cpu",
                             "loop.steps=4"))
    assert printed == expected
    assert printed["model"]["num_keypoints"] == 5 and printed["loop"]["seed"] == 3
    assert not out.exists()


def test_cli_train_help_lists_every_preset():
    res = CliRunner().invoke(cli, ["train", "--help"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert set(LKGTrainer.presets) >= {"smoke", "demo", "paper-celeba-wild"}
    for name, doc in LKGTrainer.presets.items():
        assert any(ln.split() and ln.split()[0] == name and doc in ln for ln in lines), name
    for opt in ("--model", "--preset", "--out", "--set", "--resume", "--dry-run", "--config"):
        assert opt in res.output


# -- data order -------------------------------------------------------------------------------

def _images(batch_size: int = 4, seed: int = 0, cache: bool = False) -> TrainImages:
    cfg = TrainDataConfig(difficulty="easy", size=64, cache_mb=2048 if cache else 0)
    data = TrainImages(cfg, 32, batch_size, seed)
    assert (data.cache is not None) == cache
    return data


def test_data_order_is_a_function_of_step_only():
    a, b = _images(), _images()
    order = [7, 0, 31, 3, 16, 7]
    first = {s: a.indices(s) for s in order}
    for s in reversed(order):                          # another object, another call order
        assert torch.equal(b.indices(s), first[s]), s
    assert all(t.shape == (4,) and t.dtype == torch.int64 for t in first.values())
    assert not torch.equal(_images(seed=1).indices(0), a.indices(0))
    cached = _images(cache=True)
    assert torch.equal(cached.batch(5), _images(cache=True).batch(5))
    assert cached.batch(5).shape == (4, 3, 32, 32)


def test_data_order_visits_every_image_once_per_epoch():
    data = _images()
    epochs = [torch.cat([data.indices(s) for s in range(e * 16, (e + 1) * 16)]) for e in (0, 1)]
    for e in epochs:
        assert torch.equal(e.sort().values, torch.arange(64))
    assert not torch.equal(epochs[0], epochs[1])       # a fresh permutation each epoch
    # a batch size that does not divide the dataset: batches straddle the epoch boundary
    odd = _images(batch_size=6)
    stream = torch.cat([odd.indices(s) for s in range(22)])       # 132 = 2 epochs + 4
    for e in range(2):
        assert torch.equal(stream[e * 64:(e + 1) * 64].sort().values, torch.arange(64))


def test_data_order_differs_across_ranks_and_ranks_share_an_epoch():
    data = _images()
    for step in range(8):
        r0, r1 = data.indices(step, 0, 2), data.indices(step, 1, 2)
        assert not set(r0.tolist()) & set(r1.tolist())
    both = torch.cat([data.indices(s, r, 2) for s in range(8) for r in (0, 1)])
    assert torch.equal(both.sort().values, torch.arange(64))
    # rank r of w at step s sees stream positions (s·w + r)·B …
    assert torch.equal(data.indices(3, 1, 2), data.indices(7, 0, 1))


def test_data_options_reach_the_dataset_loader_and_unknown_ones_are_named():
    cfg = TrainDataConfig(difficulty="easy", options={"size": 24, "seed": 3})
    assert cfg.dataset_options() == {"difficulty": "easy", "size": 24, "seed": 3}
    assert TrainImages(cfg, 32, 4, 0).size == 24
    with pytest.raises(lkbench.LkbenchError, match="does not take crop"):
        TrainImages(TrainDataConfig(options={"crop": "none"}), 32, 4, 0)
