"""The training loop every lkbench trainer shares.

A model plugs in by subclassing :class:`Trainer` (its modules, optimisers and one optimisation
step) and registering the class in :data:`TRAINERS`. :func:`train` does the rest: run directory,
resolved config, device and ``torchrun`` data parallelism, cached or streamed data in a
step-determined order, a progress bar, ``stats.jsonl``, sample grids, checkpoints, ``--resume``,
a clear stop on a non-finite loss and a checkpoint on Ctrl-C.
One concept (about 400 lines): the loop itself; run folders, curves, images and DDP live in
:mod:`.rundir`, :mod:`.curves`, :mod:`.images` and :mod:`.distributed`.

Run directory::

    <out>/config.toml             the resolved run config (written before the first step)
    <out>/stats.jsonl             one JSON line per logged step: losses, images/s, trainer monitors
    <out>/samples/step-NNNNNNN.png  fixed-noise samples with their keypoints
    <out>/curves.png              the stats.jsonl scalars against the step (redrawn with samples)
    <out>/ckpt/step-NNNNNNN.pt    checkpoints (lkbench.checkpoint); the newest ``keep_ckpts`` kept

Resuming restores models, optimisers, EMA and the step; the data order and all per-step noise
are functions of (seed, step, rank), so a resumed CPU run continues bit for bit. Before it
continues, ``stats.jsonl`` is cut back to the checkpoint's step (a run killed after its last
checkpoint logged steps that are now trained again) and temporary files of saves that a killed
process left behind are removed.

Ctrl-C asks the loop to stop after the step in progress and save it; pressing it again while
that step finishes or its checkpoint is written only says so (the save is never skipped).
"""
from __future__ import annotations

import abc
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lkbench import checkpoint as ckpt_io
from lkbench.atomic import FileWriteError, atomic_write, remove_stale_temps, writing
from lkbench.config import to_dict, write_config
from lkbench.errors import CheckpointError, LkbenchError
from lkbench.registry import Registry

from .curves import plot_training_curves
from .distributed import RunContext
from .images import TrainImages

TRAINERS: Registry[type["Trainer"]] = Registry("trainers")
"""Model registry name → :class:`Trainer` subclass (entry-point group ``lkbench.trainers``)."""


class TrainingDiverged(LkbenchError):
    """A loss became NaN or infinite; training stopped without saving the broken state."""


class TrainingInterrupted(LkbenchError):
    """Ctrl-C: a checkpoint was saved and the run can be resumed."""


@dataclass(frozen=True)
class LoopConfig:
    """Settings of the shared loop.

    Attributes:
        steps: total optimisation steps (G and D once each for GANs).
        batch_size: images per step and process (under torchrun each rank takes its own batch).
        log_every: steps between ``stats.jsonl`` lines and progress-bar updates.
        sample_every: steps between sample grids (``samples/``).
        ckpt_every: steps between checkpoints (one is always written at the end).
        keep_ckpts: how many newest checkpoints to keep (0 keeps all).
        seed: root seed: model init, noise, data order.
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        amp: bfloat16 autocast on CUDA (ignored on CPU).
        num_samples: images in each sample grid.
        threads: torch CPU threads (0 = torch's default).
    """
    steps: int = 30_000
    batch_size: int = 64
    log_every: int = 50
    sample_every: int = 1000
    ckpt_every: int = 1000
    keep_ckpts: int = 3
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_samples: int = 16
    threads: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "sample_every", "ckpt_every",
                     "num_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"loop.{name} must be >= 1, got {getattr(self, name)}")
        if self.keep_ckpts < 0 or self.threads < 0 or self.seed < 0:
            raise ValueError("loop.keep_ckpts, loop.threads and loop.seed must be >= 0")


class Trainer(abc.ABC):
    """The model-specific half of a training run.

    Subclasses set :attr:`model_name` (a :data:`lkbench.models.MODELS` name) and :attr:`config_class`
    (a frozen dataclass with ``loop: LoopConfig`` and ``data: TrainDataConfig`` fields), build
    their modules in ``__init__`` (on ``ctx.device``, through ``ctx.prepare``) and implement the
    abstract methods. Under ``torchrun`` they call ``ctx.average_gradients(module)`` before each
    optimiser step.
    """
    model_name: ClassVar[str]
    config_class: ClassVar[type]
    generator_key: str = "G"
    """The state entry :func:`lkbench.load_generator` should evaluate (``G_ema`` when kept)."""

    def __init__(self, cfg: Any, ctx: RunContext):
        self.cfg, self.ctx = cfg, ctx

    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Name → module saved in checkpoints (e.g. ``G``, ``D``, ``G_ema``)."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Name → optimiser saved in checkpoints (e.g. ``opt_G``)."""

    @abc.abstractmethod
    def model_config(self) -> dict[str, Any]:
        """Plain-data config the ``MODELS`` factory rebuilds the generator from."""

    @abc.abstractmethod
    def train_step(self, real: Tensor, gen: torch.Generator, step: int) -> dict[str, Tensor]:
        """One optimisation step on ``real`` (``[B,3,R,R]`` in [-1,1]) drawing all randomness
        from ``gen``; returns the detached scalar losses to log."""

    @abc.abstractmethod
    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        """``n`` images ``[n,3,R,R]`` and keypoints ``[n,K,2]`` from fixed noise, for grids."""

    def monitor(self) -> dict[str, Any]:
        """Extra plain-data statistics for ``stats.jsonl`` (e.g. keypoint spread)."""
        return {}

    @classmethod
    def training_data(cls, cfg: Any, progress: bool) -> Any:
        """The batch source: an object with ``batch(step, rank, world)`` returning what
        :meth:`train_step` takes (a tensor, or a dict of tensors), in a step-determined order.
        Default: :class:`TrainImages` (``[B,3,R,R]`` images of ``cfg.data``)."""
        return TrainImages(cfg.data, _image_size(cfg), cfg.loop.batch_size, cfg.loop.seed,
                           progress)

    def attach_data(self, data: TrainImages) -> None:
        """Called once with the run's training images before the first step; trainers that
        need more than the images (e.g. attribute labels via ``data.indices(step, …)``) keep
        ``data`` here. The default ignores it."""

    # -- checkpoint state ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _unwrap_state(m) for k, m in self.modules().items()}
        out.update({k: o.state_dict() for k, o in self.optimizers().items()})
        return out

    def load_state(self, ckpt: ckpt_io.Checkpoint) -> None:
        for k, m in self.modules().items():
            if k not in ckpt.state:
                raise CheckpointError(f"{ckpt.path} has no {k!r} state to resume from")
            m.load_state_dict(ckpt.state[k])
        for k, o in self.optimizers().items():
            if k not in ckpt.state:
                raise CheckpointError(f"{ckpt.path} has no {k!r} optimiser state to resume from")
            o.load_state_dict(ckpt.state[k])


class GDTrainer(Trainer):
    """A :class:`Trainer` of one generator ``G`` (with an optional EMA copy ``G_ema``, ``None``
    when off) and one discriminator ``D``, with optimisers ``opt_G`` and ``opt_D``: those are
    the names its checkpoints hold."""

    G: nn.Module
    D: nn.Module
    G_ema: "nn.Module | None"
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer

    def modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}


def _unwrap_state(module: nn.Module) -> dict[str, Tensor]:
    # SyncBatchNorm keeps BatchNorm's state names, so states load into either as they are.
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator all randomness of one step on one rank is drawn from (stateless in step)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(((seed * 1_000_003 + step) * 1_009 + rank) % (2 ** 63))
    return gen


@dataclass
class TrainResult:
    """What :func:`train` leaves behind."""
    out_dir: Path
    step: int
    checkpoint: Path | None
    wall_time_s: float


def train(trainer_cls: type[Trainer], cfg: Any, out_dir: "str | Path", *,
          resume: "str | None" = None, progress: bool = True) -> TrainResult:
    """Train ``trainer_cls`` with run config ``cfg`` into ``out_dir``.

    Args:
        trainer_cls: a registered :class:`Trainer` subclass.
        cfg: an instance of ``trainer_cls.config_class``.
        out_dir: the run directory (created).
        resume: ``None`` (fresh run; the directory must not hold another run), ``"auto"`` (the
            newest checkpoint in ``out_dir``, or a fresh start if there is none) or a checkpoint
            path.
        progress: show progress bars (rank 0 only).

    Raises:
        ConfigError: ``out_dir`` holds another run, or a resume changes the run's settings.
        CheckpointError: the checkpoint to resume is unreadable or from another model.
        TrainingDiverged: a loss became non-finite (the last good checkpoint is kept).
        TrainingInterrupted: Ctrl-C (a checkpoint of the last finished step was saved).
    """
    from .rundir import check_run_dir, checkpoint_to_resume

    out = Path(out_dir)
    loop: LoopConfig = cfg.loop
    ckpt = checkpoint_to_resume(out, resume, trainer_cls.model_name, cfg)
    check_run_dir(out, cfg, ckpt, resume)
    if loop.threads:
        torch.set_num_threads(loop.threads)
    ctx = RunContext.create(loop.device, loop.amp)
    try:
        return _run(trainer_cls, cfg, out, ckpt, ctx, progress and ctx.is_main)
    finally:
        ctx.close()


def _run(trainer_cls: type[Trainer], cfg: Any, out: Path, ckpt: "ckpt_io.Checkpoint | None",
         ctx: RunContext, progress: bool) -> TrainResult:
    from tqdm import tqdm

    from lkbench.plots import save_keypoint_grid, upscale

    loop: LoopConfig = cfg.loop
    with torch.random.fork_rng(devices=[]):      # model init is seeded without touching the
        torch.manual_seed(loop.seed)             # caller's global RNG
        trainer = trainer_cls(cfg, ctx)
    data = trainer_cls.training_data(cfg, progress)
    trainer.attach_data(data)
    start, wall_before = 0, 0.0
    if ckpt is not None:
        trainer.load_state(ckpt)
        start = ckpt.step
        wall_before = float(ckpt.extra.get("wall_time_s", 0.0))
    if ctx.is_main:
        with writing(out, verb="create the run folder"):
            out.mkdir(parents=True, exist_ok=True)
        write_config(cfg, out)
        tidy_run_dir(out, start)
    started = time.perf_counter()
    last_ckpt = ckpt.path if ckpt is not None else None
    step = start

    saved_step = start

    def save(done: int) -> Path:
        nonlocal last_ckpt, saved_step
        saved_step = done
        if ctx.is_main:
            last_ckpt = _save(trainer, cfg, out, done, wall_before + time.perf_counter() - started)
        ctx.barrier()
        return last_ckpt

    bar = tqdm(total=loop.steps, initial=start, disable=not progress, unit="step",
               dynamic_ncols=True, desc=f"train {trainer_cls.model_name}")
    window_start, window_images = time.perf_counter(), 0
    # Ctrl-C lands inside train_step nearly always; stopping there would save a half-updated
    # state under the previous step's name. The first Ctrl-C only asks to stop after the step
    # and save it; later ones wait for that save (interrupting it would lose every step since
    # the last checkpoint) and say so once. Ctrl-\ (SIGQUIT) still ends the process at once.
    stop = {"asked": False, "told": False}

    def on_sigint(signum, frame):
        if stop["asked"]:
            if not stop["told"]:
                stop["told"] = True
                print("\nstill finishing the current step and saving its checkpoint; lkbench "
                      "stops by itself in a moment (Ctrl-\\ quits at once without saving)",
                      file=sys.stderr, flush=True)
            return
        stop["asked"] = True

    previous_handler = (signal.signal(signal.SIGINT, on_sigint)
                        if threading.current_thread() is threading.main_thread() else None)
    try:
        for step in range(start, loop.steps):
            real = _to_device(data.batch(step, ctx.rank, ctx.world), ctx.device)
            gen = step_generator(loop.seed, step, ctx.rank, ctx.device)
            losses = trainer.train_step(real, gen, step)
            names = list(losses)
            # the stop request travels with the losses so every rank stops after the same step
            values = ctx.mean(torch.stack([losses[k].detach().float().reshape(())
                                           for k in names]
                                          + [torch.tensor(float(stop["asked"]),
                                                          device=ctx.device)])).tolist()
            stop_now = values.pop() > 0
            bad = [(k, v) for k, v in zip(names, values) if not math.isfinite(v)]
            if bad:
                where = (f"the last good checkpoint is {last_ckpt}" if last_ckpt else
                         "no checkpoint was written before it")
                # Resuming restores the optimisers' learning rates and refuses changed settings,
                # so the fix that works is a new run.
                raise TrainingDiverged(
                    f"training diverged at step {step + 1}: loss {bad[0][0]} = {bad[0][1]}; "
                    f"{where}. Start a new run (another --out) with lower learning rates "
                    f"(the optim.lr* settings) or a stronger gradient penalty")
            done = step + 1
            window_images += loop.batch_size * ctx.world
            bar.update(1)
            if done % loop.log_every == 0 or done == loop.steps:
                now = time.perf_counter()
                rate = window_images / max(now - window_start, 1e-9)
                window_start, window_images = now, 0
                line = {"step": done, "wall_time_s": round(wall_before + now - started, 3),
                        "images_per_s": round(rate, 2),
                        **{k: round(v, 6) for k, v in zip(names, values)}, **trainer.monitor()}
                bar.set_postfix({**{k: f"{v:.3f}" for k, v in zip(names, values)},
                                 "img/s": f"{rate:.1f}"}, refresh=False)
                if ctx.is_main:
                    _append_line(out / "stats.jsonl", line)
            if ctx.is_main and (done % loop.sample_every == 0 or done == loop.steps):
                images, kp = trainer.samples(loop.num_samples)
                save_keypoint_grid(out / "samples" / f"step-{done:07d}.png", upscale(images), kp,
                                   nrow=min(8, loop.num_samples))
                if (out / "stats.jsonl").exists():
                    plot_training_curves(out / "stats.jsonl", out / "curves.png")
            if done % loop.ckpt_every == 0 or done == loop.steps or stop_now:
                save(done)
            if stop_now:
                step = done
                raise KeyboardInterrupt
        step = loop.steps
    except FileWriteError as exc:   # disk full, read-only, ...: say how the run continues
        bar.close()
        then = (f"once that is fixed, continue from {last_ckpt} with --resume auto"
                if last_ckpt else "no checkpoint was written yet, so start the run again once "
                "that is fixed")
        raise FileWriteError(f"{exc}. Training stopped; {then}") from None
    except KeyboardInterrupt:
        path = last_ckpt if step == saved_step else save(step)
        bar.close()
        raise TrainingInterrupted(
            f"interrupted at step {step}; "
            + (f"the latest checkpoint is {path}. " if path else "nothing to save yet. ")
            + f"Continue with: lkbench train ... --out {out} --resume auto") from None
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
    bar.close()
    return TrainResult(out, step, last_ckpt, wall_before + time.perf_counter() - started)


def _to_device(batch: Any, device: torch.device) -> Any:
    """A tensor, or a dict of tensors, on ``device``."""
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    return batch.to(device, non_blocking=True)


def _image_size(cfg: Any) -> int:
    return cfg.model.image_size


def _save(trainer: Trainer, cfg: Any, out: Path, step: int, wall: float) -> Path:
    loop: LoopConfig = cfg.loop
    path = ckpt_io.checkpoint_path(out, step)
    ckpt_io.save_checkpoint(
        path, model=trainer.model_name, config=trainer.model_config(), state=trainer.state(),
        step=step, rng=ckpt_io.rng_state({}, include_global=True),
        extra={"run_config": to_dict(cfg), "trainer": trainer.model_name,
               "generator_key": trainer.generator_key, "wall_time_s": round(wall, 3),
               "images_seen": step * loop.batch_size * trainer.ctx.world})
    if loop.keep_ckpts:
        olds = sorted((out / "ckpt").glob("step-*.pt"))
        for old in olds[:-loop.keep_ckpts]:
            if old != path:
                old.unlink(missing_ok=True)
    return path


def _append_line(path: Path, data: dict[str, Any]) -> None:
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(data) + "\n")


def tidy_run_dir(out: Path, step: int) -> None:
    """Make a run folder agree with the checkpoint the run (re)starts from at ``step``.

    * ``stats.jsonl`` keeps only lines with ``step <= step`` (and drops a line torn by a kill),
      so steps logged after the last checkpoint are not counted twice when they are trained
      again; rewritten atomically, and only when something has to go.
    * temporary files of interrupted saves (``ckpt/.step-*.pt.<pid>-<hex>.tmp`` and the like)
      whose process is gone are removed.
    """
    for folder in (out, out / "ckpt", out / "samples"):
        remove_stale_temps(folder)
    stats = out / "stats.jsonl"
    if not stats.is_file():
        return
    keep, dropped = [], 0
    for line in stats.read_text(encoding="utf-8").splitlines():
        try:
            logged = json.loads(line).get("step")
        except (ValueError, AttributeError):
            logged = None
        if isinstance(logged, int) and logged <= step:
            keep.append(line)
        else:
            dropped += 1
    if dropped:
        with atomic_write(stats) as fh:
            fh.write("".join(f"{line}\n" for line in keep).encode("utf-8"))
