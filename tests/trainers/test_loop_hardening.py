"""Fault leftovers of the training loop (issue 25): a resumed run drops the statistics of steps
it trains again and the temp files of killed saves; a second Ctrl-C waits for the save; a full
disk and synthetic-only settings on a real dataset are one-line errors with a working fix."""
from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from lkbench import checkpoint as ckpt_io
from lkbench.atomic import FileWriteError
from lkbench.checkpoint import checkpoint_path, latest_checkpoint, load_checkpoint
from lkbench.cli import cli
from lkbench.config import resolve
from lkbench.trainers.latent_keypoint_gan import LKGRunConfig, LKGTrainer
from lkbench.trainers.loop import TrainingInterrupted, tidy_run_dir, train


def smoke(*overrides: str) -> LKGRunConfig:
    return resolve(LKGRunConfig, preset="smoke", overrides=["loop.steps=4", *overrides])


def steps(run: Path) -> list[int]:
    return [json.loads(ln)["step"] for ln in (run / "stats.jsonl").read_text().splitlines()]


def test_resume_after_a_kill_logs_every_step_once_and_drops_stale_temps(tmp_path):
    out = tmp_path / "run"
    train(LKGTrainer, smoke("loop.ckpt_every=2", "loop.keep_ckpts=0", "loop.log_every=1"), out,
          progress=False)
    # What a SIGKILL after step 4 was logged but before its checkpoint landed leaves behind:
    # stats for steps 3-4 without their checkpoint, a half-written temp file, a torn line.
    checkpoint_path(out, 4).unlink()
    stale = out / "ckpt" / ".step-0000004.pt.999999999-0badcafe.tmp"     # pid that is gone
    stale.write_bytes(b"half a checkpoint")
    with (out / "stats.jsonl").open("a") as fh:
        fh.write('{"step": 5, "loss_')
    assert (out / "stats.jsonl").read_text().count('"step"') == 5
    train(LKGTrainer, smoke("loop.ckpt_every=2", "loop.keep_ckpts=0", "loop.log_every=1"), out,
          resume="auto", progress=False)
    assert steps(out) == [1, 2, 3, 4]                       # not 1, 2, 3, 4, 3, 4
    assert not stale.exists() and not list((out / "ckpt").glob(".*.tmp"))
    assert load_checkpoint(latest_checkpoint(out)).step == 4


def test_tidy_keeps_a_live_writers_temp_and_untouched_stats(tmp_path):
    (tmp_path / "ckpt").mkdir()
    live = tmp_path / "ckpt" / f".step-0000002.pt.{os.getpid()}-00000000.tmp"
    live.write_bytes(b"x")
    text = '{"step": 1}\n{"step": 2}\n'
    (tmp_path / "stats.jsonl").write_text(text)
    before = (tmp_path / "stats.jsonl").stat().st_mtime_ns
    tidy_run_dir(tmp_path, 2)
    assert live.exists() and (tmp_path / "stats.jsonl").read_text() == text
    assert (tmp_path / "stats.jsonl").stat().st_mtime_ns == before
    tidy_run_dir(tmp_path, 0)
    assert (tmp_path / "stats.jsonl").read_text() == ""


def test_a_second_ctrl_c_waits_for_the_save(tmp_path, monkeypatch, capfd):
    """Two SIGINTs 0 ms apart inside a step, and a third during the save: the step finishes
    and its checkpoint is written (the second press used to skip the save)."""
    original_step, original_save = LKGTrainer.train_step, ckpt_io.save_checkpoint

    def step(self, real, gen, s):
        out = original_step(self, real, gen, s)
        if s == 1:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return out

    def save(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return original_save(*args, **kwargs)
    monkeypatch.setattr(LKGTrainer, "train_step", step)
    monkeypatch.setattr(ckpt_io, "save_checkpoint", save)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 2; the latest "
                                                  r"checkpoint is .*step-0000002.pt"):
        train(LKGTrainer, smoke("loop.ckpt_every=10"), out, progress=False)
    assert load_checkpoint(latest_checkpoint(out)).step == 2
    assert "still finishing the current step and saving" in capfd.readouterr().err


def test_disk_full_while_training_is_one_line_with_the_way_on(tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = ckpt_io.save_checkpoint

    def full(path, **kwargs):
        if kwargs["step"] >= 4:
            raise FileWriteError(f"cannot write {path}: no space left on the device; free some "
                                 "space")
        return original(path, **kwargs)
    monkeypatch.setattr(ckpt_io, "save_checkpoint", full)
    with pytest.raises(FileWriteError, match=r"no space left.*Training stopped; once that is "
                                             r"fixed, continue from .*step-0000002.pt with "
                                             r"--resume auto"):
        train(LKGTrainer, smoke("loop.ckpt_every=2"), out, progress=False)


def test_stats_append_on_a_full_disk_is_a_file_write_error(tmp_path, monkeypatch):
    from lkbench.trainers import loop

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
    monkeypatch.setattr(Path, "open", full)
    with pytest.raises(FileWriteError, match=r"stats.jsonl: no space left on the device"):
        loop._append_line(tmp_path / "stats.jsonl", {"step": 1})


def test_synthetic_preset_on_a_real_dataset_names_a_fix_that_works(tmp_path):
    args = ["train", "--model", "latent-keypoint-gan", "--preset", "smoke", "--dataset",
            "celeba-wild", "--set", "model.num_keypoints=8", "--out", str(tmp_path / "r")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert line.startswith("Error: dataset 'celeba-wild' does not take data.difficulty, "
                           "data.size (preset 'smoke' sets them for the synthetic faces); clear "
                           'them with --set data.difficulty="" --set data.size=0'), line
    fixed = CliRunner().invoke(cli, args + ["--set", 'data.difficulty=""', "--set",
                                            "data.size=0", "--dry-run"])
    assert fixed.exit_code == 0, fixed.output
