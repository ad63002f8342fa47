"""The parts of ``benchmarks/gpu_check.sh``: environment, CUDA-test summary, timings, report.

Each part is one command (``python benchmarks/gpu_check.py PART --out DIR``) that the shell
script runs in its own process under its own timeout. Every part merges its results into
``DIR/gpu-check.json`` as soon as it has them (a timed-out part keeps what it finished);
``report`` turns that file into ``DIR/gpu-check.md`` and prints it. ``mark`` and ``report``
need only the standard library, so they work even when the environment could not be set up.
One script (about 900 lines): its parts share the result file's format and helpers, and
``gpu_check.sh`` runs each by this one path.

Timing parts (``lkg``, ``kg``, ``l2m``, ``detect``, ``fid``) use random inputs of the paper
shapes — no dataset is needed — and, where pretrained weights are absent, networks of the same
architecture with random weights (same cost; every such stand-in is named in the output).
``--dry-run`` runs the same code on the CPU at the ``smoke`` sizes. Times are medians of
individually synchronised steps after warm-up; peak memory is
``torch.cuda.max_memory_allocated`` since the variant was built (models, optimiser states,
activations).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
JSON_NAME, MD_NAME = "gpu-check.json", "gpu-check.md"
PARTS = ("setup", "env", "tests", "lkg", "kg", "l2m", "detect", "fid")
SCHEMA = 1


# ==================== the results file

def _path(out: Path) -> Path:
    return Path(out) / JSON_NAME


def load(out: Path) -> dict[str, Any]:
    try:
        return json.loads(_path(out).read_text())
    except (OSError, ValueError):
        return {"schema": SCHEMA, "parts": {}}


def update(out: Path, part: str, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into ``parts[part]`` of the results file (atomic write)."""
    data = load(out)
    data.setdefault("parts", {}).setdefault(part, {}).update(fields)
    path = _path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)
    return data


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Part:
    """Results of one part, written to the file after every change."""

    def __init__(self, out: Path, name: str, dry_run: bool, budget_s: float):
        self.out, self.name, self.dry_run = out, name, dry_run
        self.started = time.perf_counter()
        self.deadline = self.started + budget_s
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.margin_s = 0.5 if dry_run else 6.0
        """Time a measurement needs left to be started."""
        update(out, name, status="running", started_at=_now(), rows=[], notes=[],
               budget_s=round(budget_s, 1))

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
        self.flush()

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.flush()

    def flush(self, **extra: Any) -> None:
        update(self.out, self.name, rows=self.rows, notes=self.notes,
               wall_time_s=round(time.perf_counter() - self.started, 2), **extra)

    def done(self, **extra: Any) -> None:
        failed = [r for r in self.rows if "error" in r]
        status = "ok" if not failed else ("failed" if len(failed) == len(self.rows) else
                                          "partial")
        self.flush(status=status, **extra)


# ==================== shared helpers for the timing parts

def _torch():
    import torch
    return torch


def device_for(dry_run: bool):
    torch = _torch()
    if dry_run:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry-run for the CPU check")
    return torch.device("cuda")


def sync(device) -> None:
    if device.type == "cuda":
        _torch().cuda.synchronize(device)


def timed(fn: Callable[[], Any], device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def reset_memory(device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch = _torch()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device) -> "float | None":
    if device.type != "cuda":
        return None
    return round(_torch().cuda.max_memory_allocated(device) / 2 ** 30, 3)


def channels_last(*objects) -> None:
    """Put every ``nn.Conv2d`` weight found in ``objects`` (modules, or trainers holding
    modules as attributes) in channels_last; other parameters keep their layout (some models
    ``view`` their own 4-D weights)."""
    torch = _torch()
    seen: set[int] = set()
    for obj in objects:
        mods = [obj] if isinstance(obj, torch.nn.Module) else [
            v for v in vars(obj).values() if isinstance(v, torch.nn.Module)]
        for mod in mods:
            for m in mod.modules():
                if isinstance(m, torch.nn.Conv2d) and id(m) not in seen:
                    seen.add(id(m))
                    m.to(memory_format=torch.channels_last)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


VARIANTS = (("fp32", False, False), ("fp32+channels_last", False, True),
            ("amp", True, False), ("amp+channels_last", True, True))
"""(name, AMP (bfloat16 autocast), channels_last)."""


def time_steps(part: Part, step: Callable[[int], Any], steps: list[int], device, *,
               budget_s: float, min_steps: int = 3) -> list[float]:
    """Time ``step(i)`` for ``i`` in ``steps`` (each synchronised), stopping once ``budget_s``
    is spent after ``min_steps``."""
    times: list[float] = []
    start = time.perf_counter()
    for i in steps:
        times.append(timed(lambda: step(i), device))
        if len(times) >= min_steps and (time.perf_counter() - start > budget_s
                                        or part.left() < part.margin_s):
            break
    return times


def train_variants(part: Part, build: Callable[[bool, bool], tuple[Any, Callable[[int], Any]]],
                   *, batch: int, regular: list[int], penalty_step: "int | None",
                   penalty_every: int, device, info: dict[str, Any]) -> None:
    """Time the four AMP × channels_last variants of one trainer's G+D step.

    ``build(amp, channels_last)`` returns ``(trainer, step_fn)``; ``regular`` are step indices
    without the lazy gradient penalty (two warm-up steps first), ``penalty_step`` one with it.
    """
    # A dry run (CPU, where AMP is off) checks the code of the two extremes only.
    variants = [VARIANTS[0], VARIANTS[-1]] if part.dry_run else list(VARIANTS)
    for k, (name, amp, cl) in enumerate(variants):
        left = part.left()
        if left < part.margin_s:
            part.add({**info, "variant": name, "error": "skipped: out of time"})
            continue
        per_variant = max(3.0, 0.8 * left / (len(variants) - k))
        row: dict[str, Any] = {**info, "variant": name, "amp": amp, "channels_last": cl}
        step = None
        try:
            reset_memory(device)
            t0 = time.perf_counter()
            _, step = build(amp, cl)            # step() holds the trainer
            warmup = 1 if part.dry_run else 2
            if part.dry_run:                    # a dry run checks the code, not the speed
                regular = regular[:warmup + 2]
            for i in regular[:warmup]:
                step(i)
            sync(device)
            row["warmup_s"] = round(time.perf_counter() - t0, 2)
            times = time_steps(part, step, regular[warmup:], device,
                               budget_s=per_variant - (time.perf_counter() - t0),
                               min_steps=1 if part.dry_run else 3)
            med = statistics.median(times)
            row.update(s_per_step=round(med, 4), img_per_s=round(batch / med, 1),
                       timed_steps=len(times), min_s=round(min(times), 4))
            if penalty_step is not None and part.left() > part.margin_s:
                pen = timed(lambda: step(penalty_step), device)
                avg = ((penalty_every - 1) * med + pen) / penalty_every
                row.update(penalty_step_s=round(pen, 4), avg_s_per_step=round(avg, 4))
            else:
                avg = med
            row["hours_per_100k_steps"] = round(avg * 100_000 / 3600, 2)
            row["peak_mem_gib"] = peak_gib(device)
        except Exception as exc:                # OOM, unsupported layout, ...: keep going
            row["error"] = _short(exc)
        finally:
            step = None                         # free the variant before the next one
            reset_memory(device)
        part.add(row)


@contextmanager
def part_context(args, name: str):
    """``(part, device)`` for a timing part; records ``skipped`` without CUDA (exit 0) and
    ``failed`` on an exception (re-raised), ``ok``/``partial`` otherwise."""
    torch = _torch()
    part = Part(Path(args.out), name, args.dry_run, args.budget)
    if args.dry_run:
        torch.set_num_threads(1)
    try:
        device = device_for(args.dry_run)
    except SystemExit as exc:
        part.flush(status="skipped", error=str(exc))
        raise SystemExit(0) from None
    part.flush(device=str(device))
    try:
        yield part, device
    except Exception as exc:
        part.flush(status="failed", error=_short(exc))
        raise
    part.done()


def _ctx(device, amp: bool):
    from lkbench.trainers.distributed import RunContext
    return RunContext(device, amp=amp and device.type == "cuda")


# ==================== parts

def part_env(args) -> None:
    torch = _torch()
    info: dict[str, Any] = {
        "python": platform.python_version(), "executable": sys.executable,
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cuda_available": torch.cuda.is_available(),
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "dry_run": args.dry_run, "lkbench_offline": os.environ.get("LKBENCH_OFFLINE"),
    }
    try:                                  # without importing it (seconds on a small CPU)
        from importlib.metadata import version
        info["torchvision"] = version("torchvision")
    except Exception as exc:
        info["torchvision"] = f"missing ({exc})"
    try:
        import lkbench
        info["lkbench"] = lkbench.__version__
        info["lkbench_path"] = str(Path(lkbench.__file__).parent)
    except ImportError as exc:
        info["lkbench"] = f"not importable ({exc})"
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, gpu_count=torch.cuda.device_count(),
                    gpu_memory_gib=round(p.total_memory / 2 ** 30, 1),
                    capability=f"{p.major}.{p.minor}", multiprocessors=p.multi_processor_count)
        try:
            v = torch.cuda.nccl.version()
            info["nccl"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
        except Exception as exc:
            info["nccl"] = f"unknown ({_short(exc)})"
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=15)
        if smi.returncode == 0:
            info["nvidia_smi"] = smi.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10)
        if git.returncode == 0:
            info["git_commit"] = git.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from lkbench.protocols.generation.inception import WeightsError, resolve_inception
        try:
            info["inception_weights"] = str(resolve_inception()[0])
        except WeightsError:
            info["inception_weights"] = None
    except Exception as exc:  # lkbench not importable: already recorded
        info["inception_weights"] = f"unknown ({_short(exc)})"
    update(Path(args.out), "env", status="ok", **info)


def part_tests(args) -> None:
    """Summarise the CUDA tests from the JSON lines ``tests/cuda/conftest.py`` appends to
    ``--log`` (``LKBENCH_CUDA_TEST_LOG``): collected tests, then each finished phase."""
    collected: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    try:
        lines = Path(args.log).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        node = rec.get("nodeid", "?")
        if rec.get("when") == "collected":
            collected.append(node)
            continue
        outcome = rec.get("outcome")
        if outcome == "failed":
            outcome = "failed" if rec.get("when") == "call" else "error"
        prev = results.get(node)
        if prev is None or prev["outcome"] == "passed" or outcome in ("failed", "error"):
            results[node] = {"outcome": outcome,
                             "time_s": round(rec.get("duration_s", 0.0)
                                             + (prev or {}).get("time_s", 0), 2),
                             **({"message": rec["message"]} if rec.get("message") else {})}
    cases = [{"name": node.split("tests/cuda/")[-1], **results.get(node, {"outcome": "not run"})}
             for node in collected]
    cases += [{"name": n.split("tests/cuda/")[-1], **r} for n, r in results.items()
              if n not in collected]
    counts = {k: sum(c["outcome"] == k for c in cases)
              for k in ("passed", "failed", "error", "skipped", "not run")}
    if args.rc in (124, 137):
        status = "timeout"
    elif counts["failed"] or counts["error"] or args.rc not in (0, 1, 5):
        status = "failed"
    elif not cases:
        status = "failed"                      # nothing collected: the tests did not load
    elif counts["passed"] and not counts["not run"]:
        status = "ok"
    elif counts["skipped"] == len(cases):
        status = "skipped"
    else:
        status = "failed"
    update(Path(args.out), "tests", status=status, exit_code=args.rc, wall_time_s=args.wall,
           **{k.replace(" ", "_"): v for k, v in counts.items()}, cases=cases)


def part_missing_wheels(args) -> None:
    """Print the wheels of ``--log`` (a folder) whose project is not installed for this Python
    (the fallback install of ``gpu_check.sh``: no dependency resolution)."""
    import importlib.metadata as md
    import re

    for wheel in sorted(Path(args.log).glob("*.whl")):
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        try:
            md.version(name)
        except md.PackageNotFoundError:
            print(wheel)


def part_lkg(args) -> None:
    """LatentKeypointGAN G+D step at ``paper-celeba-wild`` with K = 10 (the paper's default,
    as ``bench_lkg.py``), 128 px, the preset's batch 64."""
    torch = _torch()
    from lkbench.config import resolve
    from lkbench.trainers.latent_keypoint_gan import LKGRunConfig, LKGTrainer
    from lkbench.trainers.loop import step_generator

    with part_context(args, "lkg") as (part, device):
        preset, overrides = (("smoke", []) if args.dry_run
                             else ("paper-celeba-wild", ["model.num_keypoints=10"]))
        cfg = resolve(LKGRunConfig, preset=preset, overrides=overrides)
        b, r, every = cfg.loop.batch_size, cfg.model.image_size, cfg.optim.d_reg_every
        info = {"model": "latent-keypoint-gan", "preset": preset, "batch": b, "image_size": r,
                "num_keypoints": cfg.model.num_keypoints, "preset_steps": cfg.loop.steps}
        part.note("LatentKeypointGAN: one step = D step + G step"
                  + (" + EMA update" if cfg.optim.ema else "") + f"; R1 every {every} steps "
                  "(s/step excludes it; avg s/step includes it)")
        real = torch.rand(b, 3, r, r, generator=torch.Generator().manual_seed(1)) * 2 - 1
        regular = [i for i in range(1, 200) if i % every][:22]

        def build(amp: bool, cl: bool):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                trainer = LKGTrainer(cfg, _ctx(device, amp))
            x = real.to(device)
            if cl:
                channels_last(trainer)
                x = x.contiguous(memory_format=torch.channels_last)

            def step(i: int):
                return trainer.train_step(x, step_generator(0, i, 0, device), i)
            return trainer, step

        train_variants(part, build, batch=b, regular=regular, penalty_step=every,
                       penalty_every=every, device=device, info=info)


def part_kg(args) -> None:
    """KeypointGAN main step (Φ+Ψ, D, η fine-tuning) at ``paper-h36m``: 128 px, K = 32, batch
    16, VGG-19 perceptual loss with random weights (``random-vgg``: the same layers and cost as
    the ImageNet weights, which need a download), a 16-edge chain skeleton standing in for the
    Human3.6M one (as ``bench_keypointgan.py``)."""
    torch = _torch()
    from lkbench.config import resolve
    from lkbench.trainers.keypoint_gan import KGRunConfig, KGTrainer
    from lkbench.trainers.loop import step_generator

    with part_context(args, "kg") as (part, device):
        if args.dry_run:
            preset, overrides = "smoke", ["data.size=8", "data.prior_size=16"]
        else:
            preset = "paper-h36m"
            overrides = ["loss.perceptual=random-vgg", "data.name=synthetic",
                         "model.edges=" + str([[i, i + 1] for i in range(16)])]
        cfg = resolve(KGRunConfig, preset=preset, overrides=[
            *overrides, "model.variant=full", "optim.regressor_pretrain_steps=0"])
        b, r, k = cfg.loop.batch_size, cfg.model.image_size, cfg.model.num_keypoints
        info = {"model": "keypoint-gan (full)", "preset": preset, "batch": b, "image_size": r,
                "num_keypoints": k, "preset_steps": cfg.loop.steps}
        part.note("KeypointGAN: the main step (after η pre-training); perceptual net "
                  f"{cfg.loss.perceptual}"
                  + (" = VGG-19 layers with random weights, same cost as ImageNet's"
                     if cfg.loss.perceptual == "random-vgg" else ""))
        gen = torch.Generator().manual_seed(1)
        batch = {"image": torch.rand(b, 3, r, r, generator=gen) * 2 - 1,
                 "appearance": torch.rand(b, 3, r, r, generator=gen) * 2 - 1,
                 "prior": torch.rand(b, k, 2, generator=gen) * 1.6 - 0.8}

        def build(amp: bool, cl: bool):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                trainer = KGTrainer(cfg, _ctx(device, amp))
            x = {n: t.to(device) for n, t in batch.items()}
            if cl:
                channels_last(trainer)
                x = {n: (t.contiguous(memory_format=torch.channels_last) if t.dim() == 4
                         else t) for n, t in x.items()}

            def step(i: int):
                return trainer.train_step(x, step_generator(0, i, 0, device), i)
            return trainer, step

        train_variants(part, build, batch=b, regular=list(range(1, 23)), penalty_step=None,
                       penalty_every=1, device=device, info=info)


def part_l2m(args) -> None:
    """L2M-GAN step (D with R1, then G/E/M) at ``paper-celeba-hq``: 256 px, batch 8, the
    ResNet-18 perceptual network with random weights standing in for ImageNet's (same cost)."""
    torch = _torch()
    from lkbench.config import resolve
    from lkbench.trainers.l2m_gan import L2MRunConfig, L2MTrainer

    with part_context(args, "l2m") as (part, device):
        tmp = tempfile.TemporaryDirectory()
        overrides: list[str] = []
        preset = "smoke" if args.dry_run else "paper-celeba-hq"
        if not args.dry_run:
            from torchvision.models import resnet18

            weights = Path(tmp.name) / "resnet18-random.pth"
            torch.save(resnet18(weights=None).state_dict(), weights)
            overrides.append(f"loss.perceptual_weights={json.dumps(str(weights))}")
        cfg = resolve(L2MRunConfig, preset=preset, overrides=overrides)
        b, r, every = cfg.loop.batch_size, cfg.model.image_size, cfg.optim.r1_every
        info = {"model": "l2m-gan", "preset": preset, "batch": b, "image_size": r,
                "preset_steps": cfg.loop.steps}
        part.note(f"L2M-GAN: perceptual net {cfg.loss.perceptual_net}"
                  + (" with random weights (same cost as ImageNet's)" if not args.dry_run
                     else "") + f"; R1 every {every} step(s)")
        gen = torch.Generator().manual_seed(1)
        real = torch.rand(b, 3, r, r, generator=gen) * 2 - 1
        y = torch.arange(b) % 2
        regular = [i for i in range(1, 200) if i % every or every == 1][:22]

        def build(amp: bool, cl: bool):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                trainer = L2MTrainer(cfg, _ctx(device, amp))
            x, labels = real.to(device), y.to(device)
            if cl:
                channels_last(trainer)
                x = x.contiguous(memory_format=torch.channels_last)

            def step(i: int):
                return trainer.step(x, labels, i)
            return trainer, step

        try:
            train_variants(part, build, batch=b, regular=regular,
                           penalty_step=None if every == 1 else every, penalty_every=every,
                           device=device, info=info)
        finally:
            tmp.cleanup()


def _lkg_generator(dry_run: bool, device):
    """LatentKeypointGAN generator at ``paper-celeba-wild`` (K = 10, 128 px; ``smoke`` for a
    dry run), random weights, eval mode, on ``device``."""
    torch = _torch()
    from lkbench.config import resolve
    from lkbench.trainers.latent_keypoint_gan import LatentKeypointGenerator, LKGRunConfig

    preset, overrides = (("smoke", []) if dry_run
                         else ("paper-celeba-wild", ["model.num_keypoints=10"]))
    cfg = resolve(LKGRunConfig, preset=preset, overrides=overrides).model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return LatentKeypointGenerator(cfg).to(device).eval(), preset


def part_detect(args) -> None:
    """``lkbench detect --preset paper``'s training loop: pairs/s of generating pairs from a
    paper-sized generator, of training the detector (deeplabv3_resnet50, batch 64), and of both
    together as ``train_detector`` runs them; the time that implies for the preset's pairs."""
    torch = _torch()
    from lkbench.config import resolve
    from lkbench.protocols.landmarks.config import DetectConfig
    from lkbench.protocols.landmarks.detector import (build_detector, generated_pairs, keypoint_loss,
                                            train_detector)

    with part_context(args, "detect") as (part, device):
        g, gpreset = _lkg_generator(args.dry_run, device)
        dpreset = "smoke" if args.dry_run else "paper"
        cfg = resolve(DetectConfig, preset=dpreset)
        bs, k, r = cfg.train.batch_size, g.num_keypoints, g.image_size
        steps = 2 if args.dry_run else 12
        info = {"detect_preset": dpreset, "generator": f"latent-keypoint-gan {gpreset}",
                "detector": cfg.detector.arch, "batch": bs, "image_size": r,
                "num_keypoints": k}
        part.note("detect: generator and detector at random initialisation (the cost does "
                  "not depend on the weights); float32 (the protocol has no AMP)")

        def gen_stream(n_batches: int, seed: int):
            return generated_pairs(g, bs * n_batches, bs,
                                   torch.Generator(device=device).manual_seed(seed))

        for what in ("generation", "training", "generation+training"):
            if part.left() < part.margin_s:
                part.add({**info, "measure": what, "error": "skipped: out of time"})
                continue
            row: dict[str, Any] = {**info, "measure": what}
            try:
                reset_memory(device)
                if what == "generation":
                    stream = gen_stream(steps + 1, 0)
                    next(stream)
                    t = timed(lambda: [p.images for p in stream], device)
                    row["pairs_per_s"] = round(steps * bs / t, 1)
                elif what == "training":
                    det = build_detector(k, r, cfg.detector.arch, cfg.detector.options(),
                                         seed=0).to(device).train()
                    opt = torch.optim.Adam(det.parameters(), lr=cfg.train.lr)
                    x = (torch.rand(bs, 3, r, r) * 2 - 1).to(device)
                    y = (torch.rand(bs, k, 2) * 2 - 1).to(device)

                    def one():
                        loss = keypoint_loss(det(x), y)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                    one()
                    times = time_steps(part, lambda _i: one(), list(range(steps)), device,
                                       budget_s=0.4 * part.left())
                    row.update(pairs_per_s=round(bs / statistics.median(times), 1),
                               s_per_step=round(statistics.median(times), 4))
                    del det, opt
                else:
                    warm = build_detector(k, r, cfg.detector.arch, cfg.detector.options(), 0)
                    train_detector(warm, ((p.images, p.keypoints, None)
                                          for p in gen_stream(1, 1)),
                                   lr=cfg.train.lr, total=bs, device=device, progress=False)
                    del warm
                    det = build_detector(k, r, cfg.detector.arch, cfg.detector.options(), 0)
                    stats = train_detector(det, ((p.images, p.keypoints, None)
                                                 for p in gen_stream(steps, 2)),
                                           lr=cfg.train.lr, total=bs * steps, device=device,
                                           progress=False)
                    total = cfg.train.total_pairs
                    row.update(pairs_per_s=round(stats.samples_per_s, 1),
                               preset_pairs=total,
                               preset_hours=round(total / stats.samples_per_s / 3600, 2))
                    del det
                row["peak_mem_gib"] = peak_gib(device)
            except Exception as exc:
                row["error"] = _short(exc)
            part.add(row)


def _standin_inception(device):
    """torchvision's Inception-v3 with random weights behind clean-fid's interface (``[N,3,299,
    299]`` in [0, 255] → 2048-d pool features): the FID network's architecture and cost."""
    torch = _torch()
    from torchvision.models import inception_v3

    from lkbench.protocols.generation.inception import FeatureExtractor

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = inception_v3(weights=None, aux_logits=False, init_weights=False)
    net.fc = torch.nn.Identity()
    net = net.to(device).eval()

    def fn(x):
        return net((x - 128.0) / 128.0)
    return FeatureExtractor("inception-random-standin", fn, 2048, "random-init", {})


def part_fid(args) -> None:
    """FID feature throughput: the generator's images → uint8 → clean-fid's resize (CPU, PIL
    bicubic to 299 px) → Inception-v3 features on the GPU; the whole ``generator_stats`` path
    and each stage alone."""
    torch = _torch()
    from lkbench.protocols.generation.fid import FIDConfig, generator_stats, to_feature_input
    from lkbench.protocols.generation.inception import WeightsError, build_extractor

    with part_context(args, "fid") as (part, device):
        g, gpreset = _lkg_generator(args.dry_run, device)
        if args.dry_run:
            ext = build_extractor("random-conv", "clean", device)
            part.note("dry run: random-conv features")
        else:
            try:
                ext = build_extractor("inception", "clean", device)
                part.note(f"FID features: clean-fid's Inception ({ext.info.get('weights_path')})")
            except WeightsError:
                ext = _standin_inception(device)
                part.note("FID features: no Inception weights offline, so torchvision's "
                          "Inception-v3 with RANDOM weights stands in (same architecture and "
                          "cost; its numbers are throughput only)")
        bs = FIDConfig().batch_size
        num = 2 * bs if args.dry_run else 16 * bs
        info = {"generator": f"latent-keypoint-gan {gpreset}", "image_size": g.image_size,
                "features": ext.name, "batch": bs, "num_images": num}
        latents = g.sample_latents(bs, torch.Generator(device=device).manual_seed(0))
        with torch.no_grad():
            images = g.render(latents).images
        stages: list[tuple[str, Callable[[], Any], int]] = [
            ("render only", lambda: g.render(latents).images, bs),
            ("uint8 + resize to 299 (CPU) only", lambda: to_feature_input(images.cpu(),
                                                                          "clean"), bs),
        ]
        resized = to_feature_input(images.cpu(), "clean").to(device)
        stages.append(("feature network only", lambda: ext.fn(resized), bs))
        for what, fn, n in stages:
            if part.left() < part.margin_s:
                part.add({**info, "measure": what, "error": "skipped: out of time"})
                continue
            row: dict[str, Any] = {**info, "measure": what}
            try:
                with torch.no_grad():
                    fn()
                    times = time_steps(part, lambda _i: fn(), list(range(2 if args.dry_run
                                                                         else 8)), device,
                                       budget_s=0.15 * part.left())
                row["img_per_s"] = round(n / statistics.median(times), 1)
            except Exception as exc:
                row["error"] = _short(exc)
            part.add(row)
        if part.left() < part.margin_s:
            part.add({**info, "measure": "generator_stats (whole path)",
                      "error": "skipped: out of time"})
            return
        row = {**info, "measure": "generator_stats (whole path)"}
        try:
            reset_memory(device)
            generator_stats(g, ext, "clean", bs, seed=1, batch_size=bs, device=device)
            t = timed(lambda: generator_stats(g, ext, "clean", num, seed=0, batch_size=bs,
                                              device=device), device)
            row.update(img_per_s=round(num / t, 1),
                       minutes_per_50k=round(50_000 / (num / t) / 60, 1),
                       peak_mem_gib=peak_gib(device))
        except Exception as exc:
            row["error"] = _short(exc)
        part.add(row)


def part_mark(args) -> None:
    """Record a part's fate as seen from the shell (timeout, crash, skipped) unless the part
    already recorded a final status itself."""
    current = load(Path(args.out)).get("parts", {}).get(args.part, {})
    final = current.get("status") in ("ok", "partial", "failed", "skipped") \
        and args.status != "timeout"
    fields: dict[str, Any] = {"exit_code": args.rc} if args.rc is not None else {}
    if args.wall is not None:
        fields["shell_wall_time_s"] = args.wall
    if args.note:
        fields["note"] = args.note
    if not final:
        fields["status"] = args.status
    update(Path(args.out), args.part, **fields)


def part_start(args) -> None:
    """Start a fresh results file."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = {"schema": SCHEMA, "kind": "lkbench-gpu-check", "dry_run": args.dry_run,
            "started_at": _now(), "budget_s": args.budget, "parts": {}}
    _path(out).write_text(json.dumps(data, indent=1) + "\n")


# ==================== the report

def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(h for h, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        cells = []
        for _, key in columns:
            if key == "_result" and "error" in r:
                cells.append(f"**{r['error']}**")
            else:
                cells.append(_fmt(r.get(key)).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(data: dict[str, Any]) -> str:
    parts = data.get("parts", {})
    env = parts.get("env", {})
    title = "lkbench GPU check" + (" — DRY RUN (CPU, smoke sizes)" if data.get("dry_run")
                                   else "")
    gpu = env.get("gpu") or ("CPU" if data.get("dry_run") else "no GPU seen")
    out = [f"# {title}", "",
           f"{gpu}; torch {env.get('torch', '?')} (CUDA {env.get('torch_cuda')}, cuDNN "
           f"{env.get('cudnn')}), torchvision {env.get('torchvision', '?')}, Python "
           f"{env.get('python', '?')}; driver: {env.get('nvidia_smi', '–')}; lkbench "
           f"{env.get('lkbench', '?')} at {env.get('git_commit', '?')}; started "
           f"{data.get('started_at', '?')}, {_fmt(data.get('wall_time_s'))} s of a "
           f"{_fmt(data.get('budget_s'))} s budget. TF32 for convolutions: "
           f"{_fmt(env.get('tf32_cudnn'))}; cudnn.benchmark: {_fmt(env.get('cudnn_benchmark'))}.",
           "", "| part | status | wall s | note |", "|---|---|---|---|"]
    for name in PARTS:
        p = parts.get(name)
        if p is None:
            out.append(f"| {name} | not run | – | |")
            continue
        note = p.get("error") or p.get("note") or ""
        wall = p.get("wall_time_s", p.get("shell_wall_time_s"))
        out.append(f"| {name} | {p.get('status', '?')} | {_fmt(wall)} | "
                   f"{str(note)[:200].replace('|', '/')} |")
    tests = parts.get("tests", {})
    if tests:
        out += ["", "## CUDA tests (tests/cuda, pytest -m cuda)", "",
                f"Collected {len(tests.get('cases', []))}: passed {tests.get('passed', 0)}, "
                f"failed {tests.get('failed', 0)}, errors {tests.get('error', 0)}, skipped "
                f"{tests.get('skipped', 0)}, not run {tests.get('not_run', 0)} (exit code "
                f"{tests.get('exit_code')}, {_fmt(tests.get('wall_time_s'))} s)."]
        bad = [c for c in tests.get("cases", [])
               if c["outcome"] in ("failed", "error", "not run")]
        skipped = [c for c in tests.get("cases", []) if c["outcome"] == "skipped"]
        for c in bad:
            out.append(f"- **{c['outcome']}** `{c['name']}`: {c.get('message', '')}")
        slow = sorted((c for c in tests.get("cases", []) if c.get("time_s")),
                      key=lambda c: -c["time_s"])[:3]
        if slow and not data.get("dry_run"):
            out.append("- slowest: " + ", ".join(f"`{c['name']}` {c['time_s']} s" for c in slow))
        reasons = sorted({c.get("message", "") for c in skipped})
        for reason in reasons[:5]:
            n = sum(c.get("message", "") == reason for c in skipped)
            out.append(f"- skipped ({n}): {reason}")
    train_rows = [r for n in ("lkg", "kg", "l2m") for r in parts.get(n, {}).get("rows", [])]
    if train_rows:
        out += ["", "## Training step (G + D), random inputs of the paper shapes", ""]
        out += _table(train_rows, [
            ("model", "model"), ("preset", "preset"), ("px", "image_size"), ("batch", "batch"),
            ("variant", "variant"), ("s/step", "s_per_step"), ("img/s", "img_per_s"),
            ("avg s/step incl. penalty", "avg_s_per_step"), ("h / 100k steps",
                                                            "hours_per_100k_steps"),
            ("peak GiB", "peak_mem_gib"), ("steps timed", "timed_steps"),
            ("result", "_result")])
    det_rows = parts.get("detect", {}).get("rows", [])
    if det_rows:
        out += ["", "## detect --preset paper (training the detector on generated pairs)", ""]
        out += _table(det_rows, [
            ("measure", "measure"), ("detector", "detector"), ("generator", "generator"),
            ("batch", "batch"), ("pairs/s", "pairs_per_s"), ("preset pairs", "preset_pairs"),
            ("preset hours", "preset_hours"), ("peak GiB", "peak_mem_gib"),
            ("result", "_result")])
    fid_rows = parts.get("fid", {}).get("rows", [])
    if fid_rows:
        out += ["", "## FID feature throughput", ""]
        out += _table(fid_rows, [
            ("measure", "measure"), ("features", "features"), ("generator", "generator"),
            ("batch", "batch"), ("img/s", "img_per_s"), ("min / 50k images", "minutes_per_50k"),
            ("peak GiB", "peak_mem_gib"), ("result", "_result")])
    notes = [n for name in PARTS for n in parts.get(name, {}).get("notes", [])]
    if notes:
        out += ["", "Notes:", *[f"- {n}" for n in notes]]
    return "\n".join(out) + "\n"


def part_report(args) -> None:
    out = Path(args.out)
    data = load(out)
    if args.wall is not None:
        data["wall_time_s"] = args.wall
        data["finished_at"] = _now()
        _path(out).write_text(json.dumps(data, indent=1, default=str) + "\n")
    text = render_markdown(data)
    (out / MD_NAME).write_text(text)
    print(text)
    if args.strict:
        problems = check(data)
        for p in problems:
            print(f"gpu-check: {p}", file=sys.stderr)
        if problems:
            sys.exit(1)


def check(data: dict[str, Any]) -> list[str]:
    """What keeps a run from passing: every part must be ``ok``. A dry run checks the code
    rather than the machine: its tests are collected and skipped (no CUDA), and a part that
    ran out of time on a busy CPU is only warned about; errors still fail it."""
    problems = []
    parts = data.get("parts", {})
    for name in PARTS:
        p = parts.get(name, {})
        status = p.get("status", "not run")
        if data.get("dry_run"):
            if name == "tests" and status == "skipped":
                if not p.get("skipped"):
                    problems.append("tests: no CUDA test was collected")
                continue
            if status in ("timeout", "skipped"):
                print(f"gpu-check: warning: {name}: {status} (a busy machine?)",
                      file=sys.stderr)
                continue
        if status != "ok":
            problems.append(f"{name}: {status}"
                            + (f" ({p.get('error') or p.get('note')})"
                               if p.get("error") or p.get("note") else ""))
    return problems


PART_FUNCS = {"env": part_env, "tests": part_tests, "lkg": part_lkg, "kg": part_kg,
              "l2m": part_l2m, "detect": part_detect, "fid": part_fid, "mark": part_mark,
              "start": part_start, "report": part_report,
              "missing-wheels": part_missing_wheels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=sorted(PART_FUNCS))
    ap.add_argument("name", nargs="?", help="mark: the part to mark")
    ap.add_argument("--out", default="", help="results folder")
    ap.add_argument("--dry-run", action="store_true", help="CPU, smoke sizes")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds this part may take")
    ap.add_argument("--status", default="failed", help="mark: the status to record")
    ap.add_argument("--rc", type=int, default=None, help="exit code seen by the shell")
    ap.add_argument("--wall", type=float, default=None, help="wall time seen by the shell")
    ap.add_argument("--note", default="", help="mark: a note")
    ap.add_argument("--log", default="", help="tests: the CUDA tests' JSON-lines log; "
                    "missing-wheels: the wheels folder")
    ap.add_argument("--strict", action="store_true",
                    help="report: exit 1 unless every part passed")
    args = ap.parse_args()
    if args.part != "missing-wheels" and not args.out:
        ap.error("--out is required")
    func = PART_FUNCS[args.part]
    if args.part == "mark":
        if not args.name:
            ap.error("mark needs the name of the part")
        args.part = args.name
    func(args)


if __name__ == "__main__":
    main()
