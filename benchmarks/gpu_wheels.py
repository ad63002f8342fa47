"""Fetch lkbench's dependencies as wheels for a GPU machine without internet (``make gpu-wheels``).

``benchmarks/gpu_check.sh`` installs lkbench on the GPU machine with ``pip install --no-index
--find-links wheels/`` into a virtual environment over the machine's own torch. This script,
run on a machine with internet, puts into ``wheels/`` (git-ignored) every package that install
may need: the closure of lkbench's requirements plus pytest, at the versions pinned in
``constraints.txt`` — except torch, torchvision, triton and the ``nvidia-*``/``cuda-*``
packages, which the GPU machine's own torch provides.

The closure is read from the installed metadata of this environment (run it with the Python of
``make install``'s ``.venv``); markers are evaluated for every target Python version.

Binary wheels depend on the GPU machine's Python version and platform: ``--python-version``
(repeatable, default: this Python's) and ``--platform`` (default ``x86_64``). ``--slim`` leaves
out the compiled scientific stack (numpy, scipy, pandas, scikit-learn, matplotlib, pillow and
their compiled helpers, ~95 MB of the ~110 MB) that PyTorch images usually ship: on the GPU
machine pip then uses the installed copies, and names any that are missing.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SITE_PROVIDED = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-.*|cuda-.*)$")
"""What the GPU machine's own PyTorch install brings; never fetched."""
SLIM_SKIP = {"numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "pillow", "contourpy",
             "kiwisolver", "fonttools"}
EXTRA = ["pytest"]                   # runs tests/cuda on the GPU machine
BUILD = ["setuptools", "wheel"]      # pip install --no-build-isolation -e . needs them
MANYLINUX = ["manylinux_2_{}_{}".format(n, "{arch}") for n in (39, 35, 34, 31, 28, 27, 24, 17)] \
    + ["manylinux2014_{arch}", "manylinux2010_{arch}", "manylinux1_{arch}", "linux_{arch}"]


def pins(path: Path) -> dict[str, str]:
    """``constraints.txt``: canonical name → pinned version."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[canonicalize_name(name)] = version.strip()
    return out


def closure(roots: list[str], python_versions: list[str]) -> set[str]:
    """Canonical names of ``roots`` and everything they require (installed metadata), for
    any of ``python_versions``; site-provided packages are left out, with what only they need."""
    envs = []
    for v in python_versions:
        env = default_environment()
        env.update(python_version=v, python_full_version=f"{v}.0", extra="")
        envs.append(env)
    todo, seen = [Requirement(r) for r in roots], set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or SITE_PROVIDED.match(name):
            continue
        if req.marker is not None and not any(req.marker.evaluate(e) for e in envs):
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            sys.exit(f"{name} is not installed here; run this with the Python of `make install` "
                     "(.venv/bin/python), where lkbench and its dependencies are installed")
        for text in requires:
            sub = Requirement(text)
            if sub.marker is not None and not any(sub.marker.evaluate(e) for e in envs):
                continue                      # extras of dependencies are not needed
            todo.append(sub)
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", default=str(ROOT / "wheels"), help="folder (default: wheels/)")
    ap.add_argument("--python-version", action="append", dest="pythons",
                    help="the GPU machine's Python, e.g. 3.12 (repeatable; default: this one's)")
    ap.add_argument("--platform", default="x86_64", help="machine architecture (x86_64)")
    ap.add_argument("--slim", action="store_true", help="leave out numpy, scipy, pandas, "
                    "scikit-learn, matplotlib, pillow and their compiled helpers")
    args = ap.parse_args()
    pythons = args.pythons or [f"{sys.version_info[0]}.{sys.version_info[1]}"]
    pinned = pins(ROOT / "constraints.txt")
    lkbench_reqs = md.requires("lkbench") or []
    roots = [r for r in lkbench_reqs if "extra ==" not in r] + EXTRA + BUILD
    names = sorted(closure(roots, pythons) - (SLIM_SKIP if args.slim else set()))
    missing = [n for n in names if n not in pinned]
    if missing:
        sys.exit(f"not pinned in constraints.txt: {', '.join(missing)}")
    specs = [f"{n}=={pinned[n]}" for n in names]
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [p.format(arch=args.platform) for p in MANYLINUX]
    for version in pythons:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", version, "--dest", str(dest),
               *(a for p in platforms for a in ("--platform", p)), *specs]
        print(f"fetching {len(specs)} wheels for CPython {version} ({args.platform}) "
              f"into {dest}/", flush=True)
        subprocess.run(cmd, check=True)
    files = sorted(dest.glob("*.whl"))
    size = sum(f.stat().st_size for f in files) / 2 ** 20
    print(f"{dest}/: {len(files)} wheels, {size:.0f} MiB; torch, torchvision and the CUDA "
          "libraries are left to the GPU machine's own install"
          + ("; numpy, scipy, pandas, scikit-learn, matplotlib and pillow too (--slim)"
             if args.slim else ""))


if __name__ == "__main__":
    main()
