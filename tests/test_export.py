"""lkbench export: the evaluation state alone, float16, with manifest and run files."""
import hashlib
import json

import pytest
import torch
from click.testing import CliRunner

import lkbench
from lkbench.checkpoint import load_checkpoint
from lkbench.cli import cli
from lkbench.errors import CheckpointError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = CliRunner().invoke(cli, ["train", "--model", "latent-keypoint-gan", "--preset",
                                       "smoke", "--out", str(out), "--no-progress",
                                       "--set", "loop.steps=2", "--set", "loop.sample_every=2"])
    finally:
        torch.set_num_threads(before)
    assert res.exit_code == 0, res.output
    return out


def test_export_keeps_only_g_ema_in_float16_with_manifest_and_run_files(run_dir, tmp_path):
    src = run_dir / "ckpt" / "step-0000002.pt"
    res = CliRunner().invoke(cli, ["export", str(src), str(tmp_path / "g.pt"),
                                   "--command", "lkbench train ..."])
    assert res.exit_code == 0, res.output
    ckpt = load_checkpoint(tmp_path / "g.pt")
    full = load_checkpoint(src)
    assert list(ckpt.state) == ["G_ema"] and ckpt.step == 2 and ckpt.config == full.config
    for k, v in ckpt.state["G_ema"].items():
        ref = full.state["G_ema"][k]
        if ref.is_floating_point():
            assert v.dtype == torch.float16 and torch.equal(v, ref.half())
        else:
            assert torch.equal(v, ref)
    manifest = json.loads((tmp_path / "g.json").read_text())
    data = (tmp_path / "g.pt").read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data) and manifest["step"] == 2
    assert manifest["command"] == "lkbench train ..."
    assert manifest["files"] == ["g-config.toml", "g-stats.jsonl", "g-curves.png"]
    assert (tmp_path / "g-stats.jsonl").read_text() == (run_dir / "stats.jsonl").read_text()
    assert (tmp_path / "g.pt").stat().st_size < 0.6 * src.stat().st_size
    # loads into float32 modules and renders like the full-precision generator, up to rounding
    g16, g32 = lkbench.load_generator(tmp_path / "g.pt"), lkbench.load_generator(src)
    with torch.no_grad():
        lat = g32.sample_latents(2, torch.Generator().manual_seed(0))
        a, b = g16.render(lat).images, g32.render(lat).images
    assert a.dtype == torch.float32 and (a - b).abs().max() < 0.05


def test_export_rejects_an_unknown_dtype(run_dir, tmp_path):
    from lkbench.export import export_generator

    with pytest.raises(CheckpointError, match="unknown export dtype"):
        export_generator(run_dir / "ckpt" / "step-0000002.pt", tmp_path / "g.pt", dtype="int8")


def test_export_of_a_run_folder_takes_its_newest_checkpoint(run_dir, tmp_path):
    from lkbench.export import export_generator

    result = export_generator(run_dir, tmp_path / "g.pt", dtype="float32")
    assert load_checkpoint(result.checkpoint).step == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint in this run folder"):
        export_generator(tmp_path / "empty", tmp_path / "h.pt")


# -- nothing is overwritten unasked (issue 25) -------------------------------------------------

def test_export_onto_its_own_input_is_refused_even_with_force(run_dir, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    src = run / "ckpt" / "step-0000002.pt"
    before = src.read_bytes()
    for extra in ([], ["--force"]):
        res = CliRunner().invoke(cli, ["export", str(src), str(src), *extra])
        assert res.exit_code == 2 and "would overwrite its own input" in res.output, res.output
    # any file the export writes counts: OUT itself onto the run's stats.jsonl
    res = CliRunner().invoke(cli, ["export", str(run), str(run / "stats.jsonl")])
    assert res.exit_code == 2 and "own input" in res.output
    assert src.read_bytes() == before and load_checkpoint(src).state.keys() >= {"G", "D"}


def test_export_onto_an_existing_file_needs_force(run_dir, tmp_path):
    out = tmp_path / "g.pt"
    out.write_bytes(b"someone's file")
    res = CliRunner().invoke(cli, ["export", str(run_dir), str(out)])
    assert res.exit_code == 2 and "already exists; pass --force to replace" in res.output
    assert out.read_bytes() == b"someone's file" and not (tmp_path / "g.json").exists()
    res = CliRunner().invoke(cli, ["export", str(run_dir), str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert load_checkpoint(out).step == 2
    # the manifest and run files beside OUT count too
    res = CliRunner().invoke(cli, ["export", str(run_dir), str(tmp_path / "g.pt")])
    assert res.exit_code == 2 and "g.json" in res.output and "--force" in res.output


def test_export_into_a_folder_path_says_so(run_dir, tmp_path):
    from lkbench.errors import ConfigError
    from lkbench.export import export_generator

    res = CliRunner().invoke(cli, ["export", str(run_dir), str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.output      # click's own check
    with pytest.raises(ConfigError, match="is a folder; give the file to write"):
        export_generator(run_dir, tmp_path)


def test_float16_overflow_is_refused(tmp_path):
    from lkbench.checkpoint import save_checkpoint
    from lkbench.export import export_generator

    demo = load_checkpoint("demo")
    state = dict(demo.state["G_ema"])
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name].float() * 0 + 1e6          # beyond float16's 65504
    save_checkpoint(tmp_path / "big.pt", model=demo.model, config=demo.config,
                    state={"G_ema": state}, step=1)
    with pytest.raises(CheckpointError, match="does not fit float16.*--dtype float32"):
        export_generator(tmp_path / "big.pt", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
