"""Detection protocol speed at the ``demo`` preset: pairs/s of generation and detector training,
and the wall time of the whole ``lkbench detect --preset demo --baselines``.

Run with ``python benchmarks/bench_detect.py [--checkpoint CKPT] [--threads N]
[--skip-full]``. Without a checkpoint it builds the demo-preset LatentKeypointGAN generator at
random initialisation: the cost of rendering does not depend on the weights, so the throughput
is that of a trained demo generator. Measured, in this order:

1. generation alone: ``generated_pairs`` at the demo batch size (pairs/s);
2. detector training alone on one fixed batch (pairs/s);
3. both together, as ``detect`` runs them (pairs/s), and the time that implies for the demo
   preset's ``epochs × pairs_per_epoch`` pairs;
4. the whole protocol (``run_detect`` with ``--baselines``, as ``lkbench detect --benchmark
   synthetic --preset demo --baselines`` runs it), wall time; output in a temporary folder.

Prints to stdout and writes no files outside a temporary folder. Times depend on the machine's
load: the 1-minute load average is printed with them.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from lkbench.checkpoint import load_model, save_checkpoint
from lkbench.config import resolve
from lkbench.protocols.landmarks.run_detect import run_detect, summary_lines
from lkbench.protocols.landmarks.config import DetectConfig
from lkbench.protocols.landmarks.detector import (build_detector, generated_pairs, keypoint_loss,
                                        train_detector)


def demo_generator(folder: Path) -> Path:
    """A demo-preset generator checkpoint at random init (same architecture and cost)."""
    from lkbench.trainers.latent_keypoint_gan import LatentKeypointGenerator, LKGRunConfig
    from lkbench.trainers.latent_keypoint_gan.model import MODEL_NAME, model_config_dict

    cfg = resolve(LKGRunConfig, preset="demo").model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g = LatentKeypointGenerator(cfg)
    return save_checkpoint(folder / "demo-generator.pt", model=MODEL_NAME,
                           config=model_config_dict(cfg), state={"G": g.state_dict()}, step=0)


def generation_rate(g, batch: int, batches: int) -> float:
    gen = torch.Generator().manual_seed(0)
    stream = generated_pairs(g, batch * (batches + 1), batch, gen)
    next(stream)  # warm-up
    start = time.perf_counter()
    n = sum(p.images.shape[0] for p in stream)
    return n / (time.perf_counter() - start)


def training_rate(cfg: DetectConfig, k: int, size: int, steps: int) -> float:
    det = build_detector(k, size, cfg.detector.arch, cfg.detector.options(), seed=0).train()
    opt = torch.optim.Adam(det.parameters(), lr=cfg.train.lr)
    x = torch.rand(cfg.train.batch_size, 3, size, size) * 2 - 1
    y = torch.rand(cfg.train.batch_size, k, 2) * 2 - 1
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()  # step 0 is warm-up
        loss = keypoint_loss(det(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * cfg.train.batch_size / (time.perf_counter() - start)


def combined_rate(cfg: DetectConfig, g, steps: int) -> float:
    det = build_detector(g.num_keypoints, g.image_size, cfg.detector.arch,
                         cfg.detector.options(), seed=0)
    bs = cfg.train.batch_size
    stream = ((p.images, p.keypoints, None)
              for p in generated_pairs(g, bs * steps, bs, torch.Generator().manual_seed(0)))
    stats = train_detector(det, stream, lr=cfg.train.lr, total=bs * steps,
                           device=torch.device("cpu"), progress=False)
    return stats.samples_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="generator checkpoint (default: demo preset, "
                        "random init)")
    parser.add_argument("--steps", type=int, default=40, help="optimiser steps per measurement")
    parser.add_argument("--skip-full", action="store_true",
                        help="skip the whole-protocol run (minutes)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = torch's default); on a CPU shared with "
                        "other jobs 1 avoids oversubscription")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = resolve(DetectConfig, preset="demo",
                  overrides=["device=cpu", f"threads={args.threads}"])
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(args.checkpoint) if args.checkpoint else demo_generator(Path(tmp))
        g = load_model(ckpt)
        print(f"device cpu, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
              f"generator {ckpt.name}: K={g.num_keypoints}, {g.image_size} px; detector "
              f"{cfg.detector.arch} widths {list(cfg.detector.widths)}, batch "
              f"{cfg.train.batch_size}")
        gen = generation_rate(g, cfg.train.batch_size, args.steps)
        train = training_rate(cfg, g.num_keypoints, g.image_size, args.steps)
        both = combined_rate(cfg, g, args.steps)
        total = cfg.train.total_pairs
        print(f"generation alone          {gen:8.0f} pairs/s")
        print(f"detector training alone   {train:8.0f} pairs/s")
        print(f"generation + training     {both:8.0f} pairs/s  -> {total} demo pairs in "
              f"{total / both:.0f} s")
        if args.skip_full:
            return
        start = time.perf_counter()
        run = run_detect(cfg, benchmark="synthetic", checkpoint=ckpt, baselines=True,
                         results=Path(tmp) / "results", progress=False)
        wall = time.perf_counter() - start
        for line in summary_lines(run)[:-1]:
            print("  " + line)
        print(f"detect --preset demo --baselines: {wall:.0f} s wall (target < 300 s on 2 cores), "
              f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
