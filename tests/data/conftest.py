"""Fixtures for the real-dataset tests: a copy of a fixture tree with tiny generated images."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def write_image(path: Path, height: int, width: int, seed: int = 0) -> None:
    """A smooth colour gradient with a seed-dependent tint, JPEG or PNG by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1),
                    np.full_like(xx, (seed * 37) % 256)], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path)


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """``(root, copy)``: an empty data root; ``copy(name)`` copies ``fixtures/<name>`` into it.

    The cache root is a fresh folder too, and ``LKBENCH_DATA`` is unset.
    """
    monkeypatch.setenv("LKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LKBENCH_DATA", raising=False)
    root = tmp_path / "data"
    root.mkdir()

    def copy(name: str, folder: "str | None" = None) -> Path:
        dest = root / (folder or name)
        shutil.copytree(FIXTURES / name, dest)
        return dest

    return root, copy


@pytest.fixture
def image_writer():
    """:func:`write_image`, for tests (conftest modules cannot be imported by name)."""
    return write_image
