"""The protocols' import boundaries (issue 22): no protocol imports a trainer package (models are
reached through :mod:`lkbench.models` and the model registry), ``landmarks`` and ``generation``
import neither each other nor ``editing``. Checked on the source (every ``import`` statement,
also those inside functions, relative ones resolved) and at run time (what importing a family
puts into ``sys.modules``)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lkbench.protocols

ROOT = Path(lkbench.protocols.__file__).parent
TRAINERS = "lkbench.trainers"
FORBIDDEN = {  # family -> protocol families it must not import
    "landmarks": ("generation", "editing"),
    "generation": ("landmarks", "editing"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["lkbench", "protocols", *parts])


def _imported(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every module the file ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return _imports_in(path.read_text(), package)


def _imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``source`` (a module of ``package``),
    also inside functions; ``from X import y`` gives both ``X`` and ``X.y`` (``y`` may be a
    submodule), relative imports are resolved, and ``importlib.import_module("…")`` /
    ``__import__("…")`` with a literal name count too."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args:
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            arg = node.args[0]
            if called in ("import_module", "__import__") and isinstance(arg, ast.Constant) \
                    and isinstance(arg.value, str):
                out.append((node.lineno, arg.value))
    return out


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


FILES = sorted(ROOT.rglob("*.py"))


def test_the_source_scan_finds_the_protocol_modules_and_resolves_relative_imports():
    assert len(FILES) > 20 and {p.parent.name for p in FILES} >= {"landmarks", "generation",
                                                                   "editing"}
    imports = dict((m, line) for line, m in _imported(ROOT / "generation" / "cpd.py"))
    assert "lkbench.protocols.generation.latent_stream" in imports
    assert "lkbench.models.edit_op" in imports
    text = ("def f():\n    from ..landmarks import detector\n    from . import fid\n"
            "    import importlib; importlib.import_module('lkbench.trainers.x')\n"
            "    from ... import trainers\n    from .x.y import z\n")
    got = {m for _, m in _imports_in(text, "lkbench.protocols.generation")}
    assert {"lkbench.protocols.landmarks.detector", "lkbench.protocols.generation.fid",
            "lkbench.trainers.x", "lkbench.trainers", "lkbench.protocols.generation.x.y.z"} <= got


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_protocol_imports_a_trainer_package(path):
    bad = [f"line {line}: {m}" for line, m in _imported(path) if _within(m, TRAINERS)]
    assert not bad, (f"{path.relative_to(ROOT.parent)} imports a trainer package; reach the "
                     f"model through lkbench.models (and the MODELS registry): {bad}")


@pytest.mark.parametrize("path", [p for p in FILES if p.relative_to(ROOT).parts[0] in FORBIDDEN],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_landmarks_and_generation_import_neither_each_other_nor_editing(path):
    family = path.relative_to(ROOT).parts[0]
    bad = [f"line {line}: {m}" for line, m in _imported(path)
           for other in FORBIDDEN[family] if _within(m, f"lkbench.protocols.{other}")]
    assert not bad, f"the {family} family must not import {FORBIDDEN[family]}: {bad}"


def test_importing_cpd_and_fid_loads_no_trainer_until_a_model_is_built():
    """Every module of the generation family imports without a trainer; the model registry's
    entry points load the trainer package only when a model is looked up."""
    import pkgutil

    import lkbench.protocols.generation as family

    modules = [f"{family.__name__}.{m.name}" for m in pkgutil.iter_modules(family.__path__)]
    assert {"lkbench.protocols.generation.cpd", "lkbench.protocols.generation.fid"} <= {*modules}
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "loaded = lambda: sorted(m for m in sys.modules if m.startswith('lkbench.trainers'))\n"
            "print(loaded())\n"
            "from lkbench.models import MODELS\n"
            "MODELS.get('latent-keypoint-gan')\n"
            "print('lkbench.trainers.latent_keypoint_gan.editing' in loaded())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"], out.stdout + out.stderr
