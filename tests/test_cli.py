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


# -- every help page imports no torch (issue 22): the lists they show come from the catalog ----

_WALK_HELP = r"""
import sys
import click
from lkbench.cli import cli

def paths(group, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from paths(command, prefix + (name,))

shown = []
for path in [()] + list(paths(cli)):
    try:
        cli.main([*path, "--help"], prog_name="lkbench", standalone_mode=False)
    except SystemExit:
        pass
    if "torch" in sys.modules:
        print("TORCH after", " ".join(path) or "(the group)", file=sys.stderr)
        sys.exit(1)
    shown.append(" ".join(path))
print("|".join(shown), file=sys.stderr)
"""


def test_no_help_page_imports_torch():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _WALK_HELP], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    shown = out.stderr.strip().splitlines()[-1].split("|")
    assert {"", "train", "detect", "score", "fid", "cpd", "edit", "edit-eval", "export", "serve",
            "report", "datasets", "datasets show", "datasets check", "cache clear"} <= set(shown)


def test_help_catalog_matches_the_registries():
    """The lists the help pages show (lkbench.cli.catalog) are the registries' own; after adding
    a preset, baseline, op, ... run `python -m lkbench.cli.catalog` and paste its output."""
    from lkbench.cli.catalog import CATALOG, current

    now = current()
    for key in now:
        assert CATALOG.get(key) == now[key], f"lkbench.cli.catalog CATALOG[{key!r}] is stale"
    assert set(CATALOG) == set(now)


def test_help_shows_the_catalog_lists(run):
    assert "[alk|exact]" in run("detect", "--help").output
    assert "supervised" in run("detect", "--help").output
    assert "pixels-xy" in run("score", "--help").output
    assert "[inception|random-conv]" in run("fid", "--help").output
    assert "swap-background" in run("edit", "--help").output
    assert "counterfactual_image_error" in run("edit-eval", "--help").output
    assert "paper-celeba-wild" in run("train", "--help").output


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "lkbench.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"lkbench, version {__version__}"


# -- one name for one thing: a benchmark is --benchmark; detect's old --dataset still works ---

@pytest.fixture
def detect_calls(monkeypatch):
    calls = []
    monkeypatch.setattr("lkbench.protocols.landmarks.seeds.run_detect_seeds",
                        lambda cfg, num_seeds, **kw: calls.append(kw) or [])
    return calls


@pytest.mark.parametrize("flag", ["--benchmark", "--dataset"])
def test_detect_takes_benchmark_and_the_old_dataset_spelling(run, detect_calls, flag):
    res = run("detect", flag, "synthetic-pose", "--checkpoint", "demo", "--preset", "smoke")
    assert res.exit_code == 0, res.output
    assert [c["benchmark"] for c in detect_calls] == ["synthetic-pose"]


def test_detect_help_names_benchmark_only(run):
    out = run("detect", "--help").output
    assert "--benchmark NAME" in out and "--dataset" not in out
    assert "Example: lkbench detect --benchmark synthetic" in out


def test_detect_benchmark_is_required_and_one_value(run, detect_calls):
    res = run("detect", "--checkpoint", "demo")
    assert res.exit_code == 2 and "Missing option '--benchmark'" in res.output
    res = run("detect", "--benchmark", "synthetic", "--dataset", "cub-aligned", "--checkpoint",
              "demo")
    assert res.exit_code == 2 and "give --benchmark only" in res.output
    res = run("detect", "--benchmark", "synthetic", "--dataset", "synthetic", "--checkpoint",
              "demo", "--preset", "smoke")
    assert res.exit_code == 0 and detect_calls[-1]["benchmark"] == "synthetic"
    assert not detect_calls[:-1]


def test_shared_options_read_the_same_everywhere(run):
    """options.py: --root and --device are one option each, with one help text."""
    def flat(*cmd):
        return " ".join(run(*cmd, "--help").output.split())

    root = ("--root DIRECTORY Data root of the real datasets, one folder per dataset (default: "
            "$LKBENCH_DATA); synthetic datasets need none.")
    for cmd in (("detect",), ("score",), ("datasets", "show"), ("datasets", "check")):
        assert root in flat(*cmd), cmd
    for cmd in ("cpd", "fid", "edit", "serve"):
        assert "--device TEXT auto (CUDA if available), cpu, cuda or cuda:N. [default: auto]" \
            in flat(cmd), cmd
