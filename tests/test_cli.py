"""The command line as a user meets it: version, help, datasets, error handling."""
import re

import pytest
from click.testing import CliRunner
from PIL import Image

from lkbench import __version__
from lkbench.cli import cli


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)
    return _run


def test_version(run):
    res = run("--version")
    assert res.exit_code == 0 and res.output.strip() == f"lkbench, version {__version__}"


def test_help_lists_only_implemented_commands(run):
    res = run("--help")
    assert res.exit_code == 0
    commands = re.findall(r"^  ([\w-]+)", res.output.split("Commands:")[1], flags=re.M)
    assert commands == ["cache", "cpd", "datasets", "detect", "edit", "edit-eval", "export",
                        "fid", "report", "score", "serve", "train"]
    for sub in (("datasets", "--help"), ("datasets", "show", "--help")):
        assert run(*sub).exit_code == 0
    show_help = run("datasets", "show", "--help").output
    for opt in ("--out", "--split", "--num", "--nrow", "--preset", "--config", "--set"):
        assert opt in show_help


def test_datasets_list(run):
    res = run("datasets", "list")
    assert res.exit_code == 0
    listed = [line.split()[0] for line in res.output.splitlines()]
    assert listed == sorted(listed) and "synthetic" in listed and "celeba-wild" in listed


def test_datasets_show_writes_png(run, tmp_path):
    out = tmp_path / "grid.png"
    res = run("datasets", "show", "synthetic", "--out", str(out), "--num", "6", "--nrow", "3",
              "--preset", "smoke", "--split", "test")
    assert res.exit_code == 0, res.output
    assert "wrote 6 synthetic/test images at 32 px with 5 landmarks" in res.output
    with Image.open(out) as im:
        # 3 columns × 2 rows of 32 px tiles with 2 px padding, plus a legend strip below
        assert im.format == "PNG" and im.width == 3 * (32 + 2) + 2
        assert im.height > 2 * (32 + 2) + 2


def test_datasets_show_passes_dataset_options_and_rejects_unknown_ones(run, tmp_path):
    out = tmp_path / "grid.png"
    res = run("datasets", "show", "synthetic", "--out", str(out), "--num", "6", "--preset",
              "smoke", "--split", "test", "--set", "options.size=4")
    assert res.exit_code == 0, res.output
    assert "wrote 4 synthetic/test images" in res.output          # the 4-image split
    res = run("datasets", "show", "synthetic", "--out", str(out), "--set", "options.crop=none")
    assert res.exit_code == 2
    assert "crop not taken by this dataset; its options: difficulty, seed, size" in res.output


def test_datasets_show_keypoint_only_split(run, tmp_path):
    out = tmp_path / "prior.png"
    res = run("datasets", "show", "synthetic", "--split", "prior", "--num", "4", "--out", str(out))
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        assert im.format == "PNG"


@pytest.mark.parametrize("args, msg", [
    (("datasets", "show", "synthtic", "--out", "x.png"),
     "unknown dataset 'synthtic'; did you mean 'synthetic'?"),
    (("datasets", "show", "synthetic", "--out", "x.png", "--set", "image_sise=64"),
     "unknown config key 'image_sise'; did you mean 'image_size'?"),
    (("datasets", "show", "synthetic", "--out", "x.png", "--preset", "demoo"),
     "unknown preset 'demoo'; did you mean 'demo'?"),
])
def test_user_errors_exit_2_without_traceback(run, args, msg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run(*args)
    assert res.exit_code == 2
    assert msg in res.output and "Traceback" not in res.output


def test_dataset_options_parse_as_toml_values_and_other_keys_are_refused():
    from lkbench.cli.types import parse_data_options
    from lkbench.errors import ConfigError

    got = parse_data_options(("data.difficulty=hard", "data.size=20", "data.scale=1.5"), "fid")
    assert got == {"difficulty": "hard", "size": 20, "scale": 1.5}
    with pytest.raises(ConfigError, match="lkbench fid --set takes the dataset's options"):
        parse_data_options(("difficulty=hard",), "fid")


def test_fid_passes_set_data_options_to_the_dataset(run, tmp_path):
    res = run("fid", "--checkpoint", "demo", "--dataset", "synthetic", "--features",
              "random-conv", "--set", "data.crop=none", "--results", str(tmp_path))
    assert res.exit_code == 2 and "does not take crop" in res.output
