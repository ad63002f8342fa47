"""`lkbench datasets check`, `datasets show --root` and `lkbench cache` on fixture trees."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from lkbench.cli import cli


@pytest.fixture
def cub_tree(data_root, image_writer):
    root, copy = data_root
    tree = copy("cub-aligned")
    for split in ("train", "test"):
        for line in (tree / f"{split}.csv").read_text().splitlines()[1:]:
            image_writer(tree / line.split(",")[1], 300, 300)
    return root, tree


def test_check_clean_tree_reports_counts(cub_tree):
    root, _ = cub_tree
    res = CliRunner().invoke(cli, ["datasets", "check", "cub-aligned", "--root", str(root),
                                   "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "no problems found" in res.output
    # 3 fixture rows against the published 4 630 / 4 735: reported, not fatal ...
    row = next(line.split() for line in res.output.splitlines() if line.strip().startswith("test"))
    assert row[:4] == ["test", "3", "3", "4630"] and "differs from the published count" in res.output
    res = CliRunner().invoke(cli, ["datasets", "check", "cub-aligned", "--root", str(root),
                                   "--no-progress", "--strict-counts"])
    assert res.exit_code == 1                      # ... unless asked


def test_check_names_missing_image_and_broken_line(cub_tree):
    root, tree = cub_tree
    (tree / "images" / "test" / "00180.png").unlink()
    lines = (tree / "train.csv").read_text().splitlines()
    lines[2] = "1,images/train/00182.png"          # line 3 loses two fields
    (tree / "train.csv").write_text("\n".join(lines) + "\n")
    truncated = tree / "images" / "train" / "00181.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    res = CliRunner().invoke(cli, ["datasets", "check", "cub-aligned", "--root", str(root),
                                   "--no-progress"])
    assert res.exit_code == 1
    out = res.output
    assert "missing image" in out and "images/test/00180.png" in out
    assert "train.csv:3: malformed line" in out
    assert "corrupt image" in out and "images/train/00181.png" in out
    assert "Traceback" not in out


def test_check_missing_folder_and_synthetic(data_root):
    root, _ = data_root
    res = CliRunner().invoke(cli, ["datasets", "check", "taichi", "--root", str(root)])
    assert res.exit_code == 1 and "dataset folder not found" in res.output
    res = CliRunner().invoke(cli, ["datasets", "check", "synthetic"])
    assert res.exit_code == 2 and "nothing to check" in res.output


def test_show_with_root_and_cache_commands(cub_tree, tmp_path):
    root, _ = cub_tree
    out = tmp_path / "grid.png"
    res = CliRunner().invoke(cli, ["datasets", "show", "cub-aligned", "--root", str(root),
                                   "--split", "test", "--out", str(out), "--num", "3",
                                   "--set", "image_size=32"])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 0 and "wrote 3 cub-aligned/test images at 32 px" in res.output
    res = CliRunner().invoke(cli, ["cache", "info"])
    assert res.exit_code == 0 and "cub-aligned" in res.output and "2 entries" in res.output
    res = CliRunner().invoke(cli, ["cache", "clear", "--dataset", "cub-aligned", "--yes"])
    assert res.exit_code == 0 and "freed" in res.output
    assert "0 entries" in CliRunner().invoke(cli, ["cache", "info"]).output


def test_cache_clear_with_a_misspelt_dataset_suggests_and_deletes_nothing(tmp_path):
    """issue 25: `cache clear --dataset cub-alinged` freed 0 MB without a word."""
    entry = tmp_path / "cub-aligned" / "index-0123456789abcdef"
    entry.mkdir(parents=True)
    (entry / "key.json").write_text("{}")
    (entry / "ids.json").write_text("[]")
    res = CliRunner().invoke(cli, ["cache", "clear", "--cache-dir", str(tmp_path), "--dataset",
                                   "cub-alinged", "--yes"])
    assert res.exit_code == 2 and "did you mean 'cub-aligned'" in res.output
    assert entry.is_dir()
    res = CliRunner().invoke(cli, ["cache", "info", "--cache-dir", str(tmp_path), "--dataset",
                                   "cub*"])
    assert res.exit_code == 2 and "unknown dataset 'cub*'" in res.output
    res = CliRunner().invoke(cli, ["cache", "clear", "--cache-dir", str(tmp_path), "--dataset",
                                   "cub-aligned", "--yes"])
    assert res.exit_code == 0 and not entry.exists()
