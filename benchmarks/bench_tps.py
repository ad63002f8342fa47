"""KeypointGAN's random TPS warp: the old kornia path vs lkbench's, and its share of a demo step.

Run with ``python benchmarks/bench_tps.py [--repeats N] [--device cpu|cuda]``. For a batch of 16
images at 32 px (demo) and 128 px (paper presets), interleaved so both see the same machine load:

* ``kornia``: what lkbench did before 2026-12-06 — kornia's ``get_tps_transform`` and
  ``warp_image_tps`` on the whole replicate-padded ``2R`` canvas, then the centre crop;
* ``lkbench``: :func:`lkbench.trainers.keypoint_gan.tps.tps_warp` — the standard spline solved
  once per image in float64, evaluated for the kept ``R×R`` pixels only with one matmul.

It prints median milliseconds per batch and the ratio, then the warp's share of one KeypointGAN
``demo`` main step with ``data.pairs=frames+tps`` (the step warps the appearance frame). The two
paths do not give the same images: kornia's solve is unstable for some draws (see ``tps.py``).
Prints to stdout and writes no files.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from lkbench.trainers.keypoint_gan.tps import TPSParams, random_targets, tps_warp


def kornia_warp(images: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The pre-2026-12-06 implementation (full padded canvas through kornia), for timing."""
    from kornia.geometry.transform import get_tps_transform, warp_image_tps

    r = images.shape[-1]
    pad = r // 2
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    kernel, affine = get_tps_transform(dst, src)
    warped = warp_image_tps(padded, src, kernel, affine, align_corners=False,
                            padding_mode="border")
    return warped[..., pad:pad + r, pad:pad + r]


def _time(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def bench_warps(size: int, repeats: int, device: torch.device) -> tuple[float, float]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(16, 3, size, size, generator=gen) * 2 - 1).to(device)
    src, dst = (t.to(device) for t in random_targets(16, TPSParams(), gen))
    times = {"kornia": [], "lkbench": []}
    for i in range(repeats + 1):
        for name, fn in (("kornia", kornia_warp), ("lkbench", tps_warp)):
            dt = _time(lambda: fn(x, src, dst), device)
            if i:                                               # the first round warms up
                times[name].append(dt)
    return statistics.median(times["kornia"]), statistics.median(times["lkbench"])


def bench_step_share(repeats: int, device: torch.device) -> tuple[float, float]:
    """Median seconds of one demo main step with frames+tps, and of its warp alone."""
    from lkbench.config import resolve
    from lkbench.trainers.distributed import RunContext
    from lkbench.trainers.keypoint_gan import KGRunConfig, KGTrainer
    from lkbench.trainers.loop import step_generator

    cfg = resolve(KGRunConfig, preset="demo", overrides=[
        "data.pairs=frames+tps", "optim.regressor_pretrain_steps=0", "loop.amp=false"])
    torch.manual_seed(0)
    trainer = KGTrainer(cfg, RunContext(device))
    gen = torch.Generator().manual_seed(1)
    b, r, k = cfg.loop.batch_size, cfg.model.image_size, cfg.model.num_keypoints
    batch = {"image": torch.rand(b, 3, r, r, generator=gen) * 2 - 1,
             "appearance": torch.rand(b, 3, r, r, generator=gen) * 2 - 1,
             "prior": torch.rand(b, k, 2, generator=gen) * 1.6 - 0.8}
    batch = {n: t.to(device) for n, t in batch.items()}
    steps, warps = [], []
    for i in range(repeats + 1):
        dt = _time(lambda: trainer.train_step(batch, step_generator(0, i, 0, device), i), device)
        src, dst = (t.to(device) for t in random_targets(b, TPSParams(), gen))
        dw = _time(lambda: tps_warp(batch["appearance"], src, dst), device)
        if i:
            steps.append(dt)
            warps.append(dw)
    return statistics.median(steps), statistics.median(warps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"TPS warp of 16 images, median of {args.repeats} ({device}, "
          f"{torch.get_num_threads()} threads)")
    print("| size | kornia ms | lkbench ms | speed-up |")
    print("|---|---|---|---|")
    for size in (32, 128):
        k, o = bench_warps(size, args.repeats, device)
        print(f"| {size} | {1e3 * k:.2f} | {1e3 * o:.2f} | {k / o:.1f}× |")
    step, warp = bench_step_share(max(3, args.repeats // 4), device)
    print(f"KeypointGAN demo main step with data.pairs=frames+tps: {step:.3f} s; its warp "
          f"{1e3 * warp:.1f} ms = {100 * warp / step:.1f} % of the step")


if __name__ == "__main__":
    main()
