"""KeypointGAN training speed per ablation variant at the demo and paper-h36m configs.

Run with ``python benchmarks/bench_keypointgan.py [--configs demo paper-h36m]
[--device cpu|cuda] [--repeats N] [--warmup N]``. For each config every variant (``full``, ``bottleneck``,
``conditional``, ``cyclegan``, ``cyclegan-cycle``) runs one main step (Φ+Ψ, D, η fine-tune;
``KGTrainer.train_step`` past the η pre-training) in turn, repeatedly and interleaved so every
variant sees the same machine load; the table shows the median seconds per step, images/s and
the ratio to ``full``. Random images and prior poses stand in for data (speed does not depend on
content); the perceptual net is the config's own weight-free choice (pixel ``l1`` for demo,
``random-vgg`` in place of ImageNet VGG-19 for the paper config — same layers, same cost).
Prints to stdout and writes no files.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from lkbench.config import resolve
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.keypoint_gan import VARIANTS, KGRunConfig, KGTrainer
from lkbench.trainers.loop import step_generator

CONFIGS = {
    # name: (preset, overrides)
    "smoke": ("smoke", ()),
    "demo": ("demo", ()),
    # 32 joints with a 16-edge chain skeleton stand in for the Human3.6M one (same cost).
    "paper-h36m": ("paper-h36m", (
        "loss.perceptual=random-vgg", "data.name=synthetic",
        "model.edges=" + str([[i, i + 1] for i in range(16)]))),
}


def build(config: str, variant: str, device: str) -> tuple[KGTrainer, dict]:
    preset, overrides = CONFIGS[config]
    cfg = resolve(KGRunConfig, preset=preset, overrides=[
        *overrides, f"model.variant={variant}", "optim.regressor_pretrain_steps=0",
        "loop.amp=false"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trainer = KGTrainer(cfg, RunContext(torch.device(device)))
    gen = torch.Generator().manual_seed(1)
    b, r, k = cfg.loop.batch_size, cfg.model.image_size, cfg.model.num_keypoints
    batch = {"image": torch.rand(b, 3, r, r, generator=gen) * 2 - 1,
             "appearance": torch.rand(b, 3, r, r, generator=gen) * 2 - 1,
             "prior": torch.rand(b, k, 2, generator=gen) * 1.6 - 0.8}
    return trainer, {n: t.to(device) for n, t in batch.items()}


def one_step(trainer: KGTrainer, batch: dict, step: int) -> float:
    device = batch["image"].device
    gen = step_generator(0, step, 0, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    trainer.train_step(batch, gen, step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench(config: str, device: str, repeats: int, warmup: int) -> None:
    names = VARIANTS.names()
    built = {v: build(config, v, device) for v in names}
    times: dict[str, list[float]] = {v: [] for v in names}
    for i in range(warmup):                            # allocator, pool filling
        for v in names:
            one_step(*built[v], i)
    for i in range(repeats):
        for v in names:
            times[v].append(one_step(*built[v], warmup + i))
            print(f"  {config} {v} step {i + 1}/{repeats}: {times[v][-1]:.3f} s",
                  file=sys.stderr, flush=True)
    b = next(iter(built.values()))[1]["image"].shape[0]
    r = next(iter(built.values()))[1]["image"].shape[-1]
    ref = statistics.median(times["full"])
    print(f"\n{config} ({r} px, batch {b}, {device}, median of {repeats})")
    print(f"{'variant':<16}{'s/step':>10}{'img/s':>10}{'vs full':>10}")
    for v in names:
        med = statistics.median(times[v])
        print(f"{v:<16}{med:>10.4f}{b / med:>10.1f}{med / ref:>10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["demo", "paper-h36m"],
                    choices=sorted(CONFIGS))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per variant first")
    args = ap.parse_args()
    for config in args.configs:
        bench(config, args.device, args.repeats, args.warmup)


if __name__ == "__main__":
    main()
