"""FID path overhead and CPD memory.

Run with ``python benchmarks/bench_fid.py [--checkpoint CKPT] [--num N] [--features NAME]``.

1. **FID path vs clean-fid.** The same generator callable (a seeded stream of the generator's
   images, uint8-rounded, as floats in [0, 255]) and the same ``N`` go through (a) lkbench's
   :func:`~lkbench.protocols.generation.fid.generator_stats` + Fréchet distance and (b) clean-fid's own
   ``get_model_features`` + ``np.mean``/``np.cov`` + ``frechet_distance``, against the same
   reference statistics, in one process, alternating (a, b, a, b) to share the machine's load.
   Reported: both wall times, their ratio (target ≤ 1.05) and the two distances (they must agree).
2. **CPD memory.** Peak resident memory (``ru_maxrss`` of a fresh child process) of
   ``compute_cpd`` at 200 and at 2 000 latents: streaming keeps it flat.

Defaults use the ``random-conv`` features (no Inception file needed) and the shipped demo
generator. Prints to stdout; writes nothing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from importlib import resources

import numpy as np
import torch


def _demo_checkpoint() -> str:
    return str(resources.files("lkbench") / "assets" / "demo-generator.pt")


def fid_overhead(checkpoint: str, num: int, features: str, batch: int) -> None:
    from cleanfid.fid import frechet_distance, get_model_features

    from lkbench.checkpoint import load_model
    from lkbench.plots import images_to_uint8
    from lkbench.protocols.generation.fid import generator_stats
    from lkbench.protocols.generation.frechet import frechet_distance as ours_fd
    from lkbench.protocols.generation.inception import build_extractor
    from lkbench.protocols.generation.latent_stream import latent_batches

    cpu = torch.device("cpu")
    g = load_model(checkpoint).eval()
    ext = build_extractor(features, "clean", cpu)
    ref = generator_stats(g, ext, "clean", num, seed=123, batch_size=batch, device=cpu)
    ref_mu, ref_sigma = ref.compute()

    def run_lkbench() -> float:
        s = generator_stats(g, ext, "clean", num, seed=0, batch_size=batch, device=cpu)
        return ours_fd(*s.compute(), ref_mu, ref_sigma)

    def run_cleanfid() -> float:
        stream = latent_batches(g, num, 0, batch)

        def G(z):  # the generator callable clean-fid calls; z is ignored (seeded stream)
            with torch.no_grad():
                return images_to_uint8(g.render(next(stream)).images).float()
        feats = get_model_features(G, ext.fn, mode="clean", z_dim=1, num_gen=num,
                                   batch_size=batch, device=cpu, verbose=False)
        return float(frechet_distance(feats.mean(0), np.cov(feats, rowvar=False), ref_mu,
                                      ref_sigma))

    times = {"lkbench": [], "clean-fid": []}
    values = {}
    for _ in range(2):
        for name, fn in (("lkbench", run_lkbench), ("clean-fid", run_cleanfid)):
            t = time.perf_counter()
            values[name] = fn()
            times[name].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    print(f"FID path, {features} features, N={num}, batch {batch}, "
          f"{g.image_size}px generator, CPU threads={torch.get_num_threads()}")
    for k in times:
        print(f"  {k:<10} {best[k]:7.2f} s (best of {len(times[k])})  value {values[k]:.6f}")
    print(f"  overhead lkbench / clean-fid = {best['lkbench'] / best['clean-fid']:.3f} "
          f"(target <= 1.05); |difference| = {abs(values['lkbench'] - values['clean-fid']):.2e}")


_CHILD = """
import resource, sys, torch
from lkbench.checkpoint import load_model
from lkbench.protocols.generation.cpd import CPDConfig, compute_cpd
g = load_model(sys.argv[1]).eval()
r = compute_cpd(g, CPDConfig(num_latents=int(sys.argv[2]), batch_size=50, device="cpu"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, r.cpd, r.wall_time_s)
"""


def cpd_memory(checkpoint: str) -> None:
    print("CPD peak memory (fresh process each):")
    for n in (200, 2000):
        out = subprocess.run([sys.executable, "-c", _CHILD, checkpoint, str(n)], check=True,
                             capture_output=True, text=True).stdout.split()
        print(f"  {n:5d} latents: peak RSS {int(out[0]) / 1024:7.1f} MiB, CPD {float(out[1]):.4f}, "
              f"{float(out[2]):6.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="generator checkpoint (default: demo)")
    p.add_argument("--num", type=int, default=500, help="images per FID path run")
    p.add_argument("--batch", type=int, default=25,
                   help="batch size of both paths; must divide 100 (lkbench's latent block) and "
                   "--num (clean-fid calls the generator for full batches only)")
    p.add_argument("--features", default="random-conv", help="feature network")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--skip-cpd", action="store_true", help="only the FID comparison")
    args = p.parse_args()
    if 100 % args.batch or args.num % args.batch:
        p.error("--batch must divide 100 and --num")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    ckpt = args.checkpoint or _demo_checkpoint()
    print(f"load average {os.getloadavg()[0]:.2f}; checkpoint {ckpt}")
    fid_overhead(ckpt, args.num, args.features, args.batch)
    if not args.skip_cpd:
        cpd_memory(ckpt)


if __name__ == "__main__":
    main()
