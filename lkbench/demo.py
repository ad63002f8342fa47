"""``make demo``: the shipped demo generator through every protocol, in minutes on a CPU.

Runs, in one process, the same commands a user would type (so the demo cannot drift from the
CLI), each on the demo generator that ships as package data (``--checkpoint demo``)::

    lkbench detect --benchmark synthetic --checkpoint demo --preset demo --baselines --seeds 3
    lkbench edit demo --op all
    lkbench cpd --checkpoint demo
    lkbench report --benchmark synthetic

Records go to ``<out>/records`` (emptied first, so the leaderboard shows this run only and
nothing mixes with the user's own ``results/runs``); pictures to ``<out>/detect``,
``<out>/edits``, ``<out>/cpd`` and ``<out>/plots``; the leaderboard to
``<out>/leaderboard.md``. ``--scale smoke`` runs the same steps with tiny budgets (the test
suite does).

Usage: ``python -m lkbench.demo [--out out/demo] [--scale demo|smoke]``
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Scale:
    """Budgets of one demo scale."""
    detect_preset: str
    detect_seeds: int
    edit_num: int
    cpd_latents: int
    progress: bool


SCALES = {
    "demo": Scale("demo", 3, 4, 2000, progress=True),
    "smoke": Scale("smoke", 2, 2, 8, progress=False),
}


def demo_commands(out: Path, scale: str = "demo", checkpoint: str = "demo") -> list[list[str]]:
    """The ``lkbench`` argument lists the demo runs, in order."""
    s = SCALES[scale]
    rec = str(out / "records")
    bars = "--progress" if s.progress else "--no-progress"
    return [
        ["detect", "--benchmark", "synthetic", "--checkpoint", checkpoint, "--preset",
         s.detect_preset, "--baselines", "--seeds", str(s.detect_seeds), "--results", rec,
         "--out", str(out / "detect"), bars],
        ["edit", checkpoint, "--op", "all", "--num", str(s.edit_num), "--out",
         str(out / "edits")],
        ["cpd", "--checkpoint", checkpoint, "--num-latents", str(s.cpd_latents), "--results",
         rec, "--out", str(out / "cpd"), bars],
        ["report", "--results", rec, "--benchmark", "synthetic", "--out",
         str(out / "leaderboard.md"), "--plots", str(out / "plots")],
    ]


def run_demo(out: "str | Path" = "out/demo", scale: str = "demo",
             checkpoint: str = "demo") -> float:
    """Run every demo command; returns the wall time in seconds. Raises on the first failure."""
    from .cli import cli

    out = Path(out)
    shutil.rmtree(out / "records", ignore_errors=True)
    start = time.perf_counter()
    for argv in demo_commands(out, scale, checkpoint):
        t0 = time.perf_counter()
        print(f"\n$ lkbench {' '.join(argv)}", flush=True)
        cli.main(argv, prog_name="lkbench", standalone_mode=False)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    wall = time.perf_counter() - start
    print(f"\nSynthetic leaderboard ({out / 'leaderboard.md'}):\n")
    print((out / "leaderboard.md").read_text())
    pngs = sorted(p for p in out.rglob("*.png") if "records" not in p.parts)
    print(f"Pictures ({len(pngs)}): " + ", ".join(str(p.relative_to(out)) for p in pngs))
    print(f"in {out}/. Demo finished in {wall / 60:.1f} min.")
    return wall


def main(argv: "list[str] | None" = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lkbench.demo",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES),
                        help="demo: the README's numbers; smoke: tiny budgets, for tests")
    parser.add_argument("--checkpoint", default="demo",
                        help="generator checkpoint (default: the shipped demo generator)")
    args = parser.parse_args(argv)
    from .errors import LkbenchError

    try:
        run_demo(args.out, args.scale, args.checkpoint)
    except LkbenchError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
