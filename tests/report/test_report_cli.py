"""`lkbench report` as a user runs it."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from lkbench.cli import cli

TITLES = ("Attribute editing: synthetic", "CelebA / MAFL", "CUB-200-2011", "Taichi", "DeepFashion", "Simplified Human3.6M",
          "Human3.6M (original, pixels)", "300-W", "Synthetic faces (lkbench)",
          "Image generation: portraits", "Image generation: CelebA-HQ",
          "Image generation: FFHQ", "Image generation: synthetic", "KeypointGAN ablation")


@pytest.fixture
def run():
    def _run(*args):
        return CliRunner().invoke(cli, ["report", *args], catch_exceptions=False)
    return _run


def test_every_family_with_sources_and_the_measured_rows(run, results_dir):
    res = run("--results", str(results_dir))
    assert res.exit_code == 0, res.output
    out = res.stdout
    for title in TITLES:
        assert f"## {title}\n" in out
    for method in ("LatentKeypointGAN", "GANSeg", "AutoLink", "KeypointGAN",
                   "KeypointGAN ablation: CycleGAN", "StyleMapGAN", "GANLocalEditing"):
        assert f"| {method} " in out
    assert out.count("- Sources: ") == 11 and "SEED-EA = LatentKeypointGAN extended" in out
    assert "measured: demo/step-0006000.pt" in out
    assert "Published numbers: 116 rows of results/published.csv. Measured: 29 result " \
           "records from 4 file(s)." in out
    assert "landmarks.jsonl:18: skipped an unreadable result record" in res.stderr


def test_latex_to_a_file_and_plots(run, results_dir, tmp_path):
    out, plots = tmp_path / "t.tex", tmp_path / "plots"
    res = run("--results", str(results_dir), "--format", "latex", "--out", str(out),
              "--plots", str(plots), "--benchmark", "synthetic")
    assert res.exit_code == 0, res.output
    tex = out.read_text(encoding="utf-8")
    # landmarks, attribute editing, FID/CPD
    assert tex.count(r"\begin{tabular}") == 3 and r"\toprule" in tex
    assert "wrote 3 tables (latex)" in res.stderr and res.stdout == ""
    assert (plots / "bars-synthetic-error.png").stat().st_size > 0
    assert (plots / "steps-synthetic-error.pdf").stat().st_size > 0


@pytest.mark.parametrize("fmt, start", [("csv", "table,title,row"), ("html", "<!DOCTYPE html>"),
                                        ("md", "# lkbench leaderboard")])
def test_formats(run, results_dir, fmt, start):
    res = run("--results", str(results_dir), "--format", fmt)
    assert res.exit_code == 0 and res.stdout.startswith(start)


def test_no_records_shows_published_numbers_and_says_where_they_come_from(run, tmp_path,
                                                                         monkeypatch):
    res = run("--results", str(tmp_path))
    assert res.exit_code == 0
    assert "no result records in" in res.stderr and "lkbench detect" in res.stderr
    assert "## CelebA / MAFL" in res.stdout
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LKBENCH_RESULTS", raising=False)
    res = run()
    assert res.exit_code == 0 and "no results folder at" in res.stderr
    assert "No numbers yet: Synthetic faces (lkbench)" in res.stdout


def test_user_mistakes_exit_2(run, tmp_path, results_dir):
    res = run("--results", str(tmp_path / "missing"))
    assert res.exit_code == 2 and "results folder or file not found" in res.stderr
    res = run("--results", str(results_dir), "--benchmark", "celeba-wyld")
    assert res.exit_code == 2 and "did you mean 'celeba-wild'" in res.stderr
