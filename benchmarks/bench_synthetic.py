"""Throughput of the built-in ``synthetic`` dataset: images per second at 64 and 128 px.

Run with ``python benchmarks/bench_synthetic.py`` (``make bench`` does). Prints one table to
stdout and writes no files. Each configuration renders a warm-up batch, then several timed
batches of fresh indices; the table shows the best and the median rate, and the rate of
keypoint-only access (the ``prior`` split) for comparison.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from lkbench.data import get_dataset

BATCH = {64: 512, 128: 128}


def images_per_second(difficulty: str, image_size: int, repeats: int) -> tuple[float, float]:
    ds = get_dataset("synthetic", split="train", image_size=image_size, difficulty=difficulty)
    n = BATCH[image_size]
    ds.batch(range(64))                                   # warm-up: allocator, caches
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        ds.batch(range(n * (r + 1), n * (r + 2)))
        rates.append(n / (time.perf_counter() - start))
    return max(rates), statistics.median(rates)


def keypoints_per_second(difficulty: str) -> float:
    ds = get_dataset("synthetic", split="prior", difficulty=difficulty)
    ds.landmarks(range(64))
    start = time.perf_counter()
    ds.landmarks(range(4096))
    return 4096 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per configuration")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"synthetic dataset throughput (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU)")
    print(f"{'difficulty':<11}{'size':>5}{'batch':>7}{'best img/s':>12}{'median img/s':>14}")
    for difficulty in ("easy", "hard"):
        for size in (64, 128):
            best, median = images_per_second(difficulty, size, args.repeats)
            print(f"{difficulty:<11}{size:>5}{BATCH[size]:>7}{best:>12.0f}{median:>14.0f}")
    for difficulty in ("easy", "hard"):
        print(f"{difficulty:<11} keypoints only (prior split): "
              f"{keypoints_per_second(difficulty):.0f} sets/s")


if __name__ == "__main__":
    main()
