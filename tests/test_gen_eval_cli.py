"""lkbench fid names a misspelt dataset or option before loading any weights (issue 25 sweep)."""
from click.testing import CliRunner

from lkbench.cli import cli


def test_fid_unknown_dataset_and_option_come_before_the_weights(monkeypatch):
    monkeypatch.setenv("LKBENCH_OFFLINE", "1")
    res = CliRunner().invoke(cli, ["fid", "--checkpoint", "demo", "--dataset", "synthetc"])
    assert res.exit_code == 2 and "did you mean 'synthetic'" in res.output
    assert "Inception" not in res.output
    res = CliRunner().invoke(cli, ["fid", "--checkpoint", "demo", "--dataset", "synthetic",
                                   "--set", "data.nope=1"])
    assert res.exit_code == 2 and "does not take nope (--set data.KEY=VALUE); its options: " \
        "difficulty" in res.output
