"""`make demo`'s commands (lkbench.demo) at smoke scale on the shipped generator."""
import json

import torch

from lkbench.demo import demo_commands, run_demo


def test_demo_runs_every_protocol_on_the_shipped_generator_and_prints_the_leaderboard(
        tmp_path, capsys):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        (tmp_path / "records").mkdir()
        (tmp_path / "records" / "landmarks.jsonl").write_text("stale record of an earlier run\n")
        run_demo(tmp_path, scale="smoke")
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    records = [json.loads(line) for line in
               (tmp_path / "records" / "landmarks.jsonl").read_text().splitlines()]
    assert len(records) == 5              # model at 2 seeds + 3 baselines (first seed), stale gone
    assert [r["seed"] for r in records if r["model"] == "latent-keypoint-gan"] == [0, 1]
    board = (tmp_path / "leaderboard.md").read_text()
    for row in ("latent-keypoint-gan", "baseline:mean-shape", "baseline:random-detector",
                "baseline:supervised", "CPD"):
        assert row in board and row in out
    assert (tmp_path / "cpd.jsonl").exists() is False          # records stay under records/
    assert (tmp_path / "records" / "cpd.jsonl").exists()
    assert len(list((tmp_path / "edits").glob("*.png"))) == 9
    assert (tmp_path / "detect" / "seed-0" / "detection.png").stat().st_size > 1000
    assert "over 2 seeds" in out and "95% CI [" in out
    assert list((tmp_path / "plots").glob("*.png"))
    assert "Demo finished" in out


def test_demo_commands_are_the_readme_commands_on_the_shipped_generator(tmp_path):
    cmds = demo_commands(tmp_path, "demo")
    assert [c[0] for c in cmds] == ["detect", "edit", "cpd", "report"]
    assert cmds[0][cmds[0].index("--preset") + 1] == "demo" and "--baselines" in cmds[0]
    assert cmds[0][cmds[0].index("--seeds") + 1] == "3"
    assert all("demo" in c for c in cmds[:3])                 # --checkpoint demo / edit demo
    assert cmds[2][cmds[2].index("--num-latents") + 1] == "2000"
