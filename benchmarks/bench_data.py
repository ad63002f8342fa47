"""Real-dataset loading: images/s of the first (preprocessing) pass vs the cached pass.

Run with ``python benchmarks/bench_data.py`` (``make bench`` does). Writes a throw-away
``cub-aligned`` tree in the Lorenz et al. layout (``--num`` generated 300×300 PNGs, random
keypoints) and a cache root in a temporary folder, then times ``ds.batch(range(N))`` on a new
dataset object three ways: first run (decode + crop/resize + atomic cache write), second run
(a new object memory-maps the cache), and keypoints only (``landmarks``). Prints one table.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lkbench.data import get_dataset


def make_tree(root: Path, n: int, seed: int = 0) -> None:
    """``root/cub-aligned`` with ``n`` test images, ``test.csv`` and ``test_kp.npy``."""
    rng = np.random.default_rng(seed)
    folder = root / "cub-aligned"
    (folder / "images" / "test").mkdir(parents=True)
    lines = ["idx,fname,fname_original,category"]
    for i in range(n):
        name = f"images/test/{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(folder / name)
        lines.append(f"{i},{name},bench/{i}.jpg,4")
    (folder / "test.csv").write_text("\n".join(lines) + "\n")
    kp = np.concatenate([rng.random((n, 15, 2)), rng.integers(0, 2, (n, 15, 1))], axis=-1)
    np.save(folder / "test_kp.npy", kp)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=200, help="images in the generated split")
    parser.add_argument("--size", type=int, default=128, help="model input side R, pixels")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        make_tree(root, args.num)
        os.environ["LKBENCH_CACHE_DIR"] = str(Path(tmp) / "cache")

        def load():
            return get_dataset("cub-aligned", split="test", image_size=args.size, root=root,
                               progress=False)

        n = args.num
        first = timed(lambda: load().batch(range(n)))
        second = timed(lambda: load().batch(range(n)))
        keypoints = timed(lambda: load().landmarks(range(n)))
    print(f"cub-aligned, {n} images 300x300 -> {args.size}x{args.size}, 1 thread")
    print(f"{'pass':<34}{'seconds':>9}{'img/s':>10}")
    for label, t in (("first run (preprocess + cache)", first), ("cached (new object, mmap)", second),
                     ("keypoints only (cached index)", keypoints)):
        print(f"{label:<34}{t:>9.3f}{n / t:>10.0f}")
    print(f"speed-up of the cached path: {first / second:.0f}x")


if __name__ == "__main__":
    main()
