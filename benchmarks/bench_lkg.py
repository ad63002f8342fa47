"""LatentKeypointGAN training speed: factorised vs literal conditioning, with vs without the
subnormal guard, at the smoke, demo and paper configs.

Run with ``python benchmarks/bench_lkg.py`` (``make bench`` does). For each config the four
variants (or those named by ``--variants``) run one G+D step (``LKGTrainer.train_step``: D
step, with the lazy gradient penalty on the steps the preset's ``d_reg_every`` divides, G step,
EMA) in turn, repeatedly and interleaved, so every variant sees the same machine load; the
table shows the median seconds per step, images/s and each variant's ratio to the literal
unguarded reference and to the literal guarded one. ``step MB`` is the peak resident memory
that two steps add to a fresh process holding the built models (measured per variant in a
subprocess). On a machine with CUDA the same table is printed for the GPU with absolute
times. Prints to stdout and writes no files.

The issue's own protocol for the paper config is one CPU thread::

    python benchmarks/bench_lkg.py --configs paper-celeba-wild --threads 1 --repeats 10 \
        --no-memory --variants factorised+guard literal+guard literal
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from lkbench.config import resolve
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.latent_keypoint_gan import LKGRunConfig, LKGTrainer
from lkbench.trainers.loop import step_generator

VARIANTS = (("factorised", True), ("factorised", False), ("literal", True), ("literal", False))
"""(cond_impl, subnormal_guard); the last one is the reference of the ratios."""


def variant_name(variant: tuple[str, bool]) -> str:
    """``factorised+guard``, ``literal``, ...: how ``--variants`` names a variant."""
    return variant[0] + ("+guard" if variant[1] else "")


CONFIGS = {
    # name: (preset, overrides, batch)
    "smoke": ("smoke", (), 4),
    "demo": ("demo", (), 32),
    # The paper's default K = 10 (spec §1.11) at the CelebA-wild preset's 128 px, D_embed 64.
    "paper-celeba-wild": ("paper-celeba-wild", ("model.num_keypoints=10",), 4),
}


def build(config: str, impl: str, guard: bool, device: str) -> tuple[LKGTrainer, torch.Tensor]:
    preset, overrides, batch = CONFIGS[config]
    cfg = resolve(LKGRunConfig, preset=preset, overrides=[
        *overrides, f"model.cond_impl={impl}", f"model.subnormal_guard={str(guard).lower()}",
        f"loop.batch_size={batch}", "loop.amp=false"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trainer = LKGTrainer(cfg, RunContext(torch.device(device)))
    real = torch.rand(batch, 3, cfg.model.image_size, cfg.model.image_size,
                      generator=torch.Generator().manual_seed(1)) * 2 - 1
    return trainer, real.to(device)


def one_step(trainer: LKGTrainer, real: torch.Tensor, step: int) -> float:
    device = real.device
    gen = step_generator(0, step, 0, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    trainer.train_step(real, gen, step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def time_config(config: str, repeats: int, device: str,
                variants: tuple = VARIANTS) -> dict[tuple[str, bool], list[float]]:
    """Seconds per G+D step of each of ``variants``, interleaved (steps 2, 3, ...: without the
    lazy gradient penalty unless ``d_reg_every`` divides them, as in most training steps)."""
    runs = {v: build(config, *v, device) for v in variants}
    for v, (trainer, real) in runs.items():              # warm-up: allocator, kernels
        one_step(trainer, real, 1)
    times: dict[tuple[str, bool], list[float]] = {v: [] for v in variants}
    for r in range(repeats):
        for v, (trainer, real) in runs.items():
            times[v].append(one_step(trainer, real, 2 + r))
    return times


def rss_mb() -> float:
    """Current resident memory of this process, MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def peak_rss_mb(config: str, impl: str, guard: bool) -> float:
    """Peak resident memory that two G+D steps (one with the gradient penalty) add to a fresh
    process holding the built models: max RSS during the steps minus RSS before them, MiB."""
    code = ("import resource, sys; sys.argv = ['x']; import bench_lkg as b; "
            f"t, x = b.build({config!r}, {impl!r}, {guard}, 'cpu'); base = b.rss_mb(); "
            "b.one_step(t, x, 0); b.one_step(t, x, 1); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=__file__.rsplit("/", 1)[0], check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _ratio(value: float, ref: float) -> str:
    """``value / ref`` as ``0.73x``, or ``-`` when the reference variant was not timed."""
    return "-" if ref != ref else f"{value / ref:.2f}x"


def print_table(config: str, times: dict, batch: int, device: str, memory: dict | None) -> None:
    nan = [float("nan")]
    ref = statistics.median(times.get(VARIANTS[-1], nan))
    guarded_literal = statistics.median(times.get(("literal", True), nan))
    print(f"\n{config} (batch {batch}, {device}, {torch.get_num_threads()} threads)")
    head = f"{'conditioning':<12}{'guard':>7}{'s/step':>10}{'img/s':>9}{'vs literal':>12}" \
           f"{'vs lit+guard':>14}"
    print(head + (f"{'step MB':>10}" if memory else ""))
    for v in times:
        med = statistics.median(times[v])
        row = (f"{v[0]:<12}{'on' if v[1] else 'off':>7}{med:>10.3f}{batch / med:>9.1f}"
               f"{_ratio(med, ref):>12}{_ratio(med, guarded_literal):>14}")
        print(row + (f"{memory[v]:>10.0f}" if memory else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    names = [variant_name(v) for v in VARIANTS]
    parser.add_argument("--variants", nargs="+", default=names, choices=names,
                        help="conditioning variants to time (default: all four)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--json", action="store_true", help="also print the raw times as JSON")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"LatentKeypointGAN G+D step (torch {torch.__version__}); median of {args.repeats} "
          "interleaved steps; ratios to the literal conditioning without subnormal guard "
          "('vs literal') and with it ('vs lit+guard')")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    raw = {}
    for device in devices:
        for config in args.configs:
            variants = tuple(v for v in VARIANTS if variant_name(v) in args.variants)
            times = time_config(config, args.repeats, device, variants)
            memory = None
            if device == "cpu" and not args.no_memory:
                memory = {v: peak_rss_mb(config, *v) for v in variants}
            print_table(config, times, CONFIGS[config][2], device, memory)
            raw[f"{device}/{config}"] = {f"{i}/{g}": t for (i, g), t in times.items()}
    if args.json:
        print(json.dumps(raw))


if __name__ == "__main__":
    main()
