"""``lkbench serve`` latency: how long one drag re-render takes, end to end over HTTP.

Run with ``python benchmarks/bench_serve.py`` (``make bench`` does). For each generator it
starts a real ``lkbench serve`` process on a free loopback port (``--device cpu``), samples one
image, then times ``POST /api/edit`` ``move`` requests as a drag sends them (the same latents,
a growing offset): first one client after another (sequential), then 4 clients at once, each
sending its next request when the previous answer arrives. Latency is wall time from sending a
request to having the whole JSON answer (decode, edit, render, PNG, encode, HTTP).

Generators: ``smoke`` (a 4-step smoke checkpoint, 32 px, K = 4, trained here in seconds),
``demo`` (the shipped ``lkbench/assets/demo-generator.pt``, 32 px, K = 8) and ``paper128``
(the paper-celeba-aligned architecture, 128 px, K = 10, at its random initialisation: the
weights do not change the cost). Prints a markdown table to stdout; writes no files outside
a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "lkbench" / "assets" / "demo-generator.pt"


def _lkbench() -> str:
    exe = Path(sys.executable).with_name("lkbench")
    return str(exe) if exe.exists() else shutil.which("lkbench")


def make_smoke(tmp: Path) -> Path:
    subprocess.run([_lkbench(), "train", "--model", "latent-keypoint-gan", "--preset", "smoke",
                    "--out", str(tmp / "smoke"), "--device", "cpu", "--no-progress"],
                   check=True, capture_output=True)
    return tmp / "smoke" / "ckpt" / "step-0000004.pt"


def make_paper128(tmp: Path) -> Path:
    from lkbench.checkpoint import save_checkpoint
    from lkbench.config import resolve
    from lkbench.trainers.latent_keypoint_gan import LKGRunConfig
    from lkbench.trainers.latent_keypoint_gan.model import LatentKeypointGenerator, \
        model_config_dict

    cfg = resolve(LKGRunConfig, preset="paper-celeba-aligned").model
    G = LatentKeypointGenerator(cfg)
    return save_checkpoint(tmp / "paper128.pt", model="latent-keypoint-gan",
                           config=model_config_dict(cfg), state={"G": G.state_dict()}, step=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``lkbench serve CKPT`` in a subprocess for the duration of a ``with`` block."""

    def __init__(self, ckpt: Path, threads: int):
        self.ckpt, self.threads, self.port = ckpt, threads, free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            [_lkbench(), "serve", str(self.ckpt), "--port", str(self.port), "--device", "cpu",
             "--render-threads", str(self.threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/info", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode())
            time.sleep(0.2)
        raise RuntimeError(f"lkbench serve {self.ckpt} did not start in 120 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def drag(client: httpx.Client, latents: dict, num: int, offset: int = 0) -> list[float]:
    """``num`` move requests of part 0 along a drag path; returns seconds per request."""
    out = []
    for i in range(num):
        body = {"op": "move", "latents": latents,
                "params": {"part": 0, "dx": 0.01 * (i + offset) % 0.8, "dy": 0.005 * i % 0.4}}
        t0 = time.perf_counter()
        r = client.post("/api/edit", json=body)
        out.append(time.perf_counter() - t0)
        r.raise_for_status()
    return out


def percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))]


def bench(ckpt: Path, requests: int, clients: int, threads: int) -> dict[str, list[float]]:
    with Server(ckpt, threads) as srv:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            latents = c.post("/api/sample", json={"seed": 0}).json()["latents"]
            drag(c, latents, 3)                              # warm-up
            seq = drag(c, latents, requests)
        results: list[list[float]] = [[] for _ in range(clients)]

        def one(k: int) -> None:
            with httpx.Client(base_url=srv.url, timeout=60) as ck:
                results[k] = drag(ck, latents, requests // clients, offset=k)

        ts = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
    conc = [x for r in results for x in r]
    return {"sequential": seq, "concurrent": conc, "concurrent_wall": [wall]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="smoke,demo,paper128",
                    help="comma-separated subset of smoke, demo, paper128")
    ap.add_argument("--requests", type=int, default=40, help="drag requests per measurement")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients")
    ap.add_argument("--render-threads", type=int, default=2,
                    help="lkbench serve --render-threads")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        makers = {"smoke": lambda: make_smoke(Path(tmp)), "demo": lambda: DEMO,
                  "paper128": lambda: make_paper128(Path(tmp))}
        for name in args.models.split(","):
            ckpt = makers[name]()
            r = bench(ckpt, args.requests, args.clients, args.render_threads)
            n_conc = len(r["concurrent"])
            rows.append((name, r["sequential"], r["concurrent"],
                         n_conc / r["concurrent_wall"][0]))
    print(f"lkbench serve drag latency (POST /api/edit move, CPU, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, --render-threads "
          f"{args.render_threads}, {args.requests} requests per row; {os.cpu_count()} CPUs)")
    print()
    print("| generator | sequential p50 ms | sequential p95 ms | "
          f"{args.clients} clients p50 ms | {args.clients} clients p95 ms | "
          f"{args.clients} clients req/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seq, conc, rate in rows:
        print(f"| {name} | {1e3 * statistics.median(seq):.1f} | {1e3 * percentile(seq, 95):.1f} "
              f"| {1e3 * statistics.median(conc):.1f} | {1e3 * percentile(conc, 95):.1f} "
              f"| {rate:.1f} |")


if __name__ == "__main__":
    main()
