"""No NaN becomes a picture or a result (issue 25): a checkpoint with NaN weights is refused by
every command that builds its model, naming the checkpoint, before anything is written or
recorded; non-finite renders and features are caught where they are produced; edit refuses a
NaN offset the way serve does."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from lkbench.checkpoint import load_checkpoint, load_model, save_checkpoint
from lkbench.cli import cli
from lkbench.errors import CheckpointError
from lkbench.finite import NonFiniteError, check_features_finite, check_images_finite


@pytest.fixture(scope="module")
def nan_ckpt(tmp_path_factory):
    """The shipped demo generator with every floating weight of G_ema set to NaN."""
    demo = load_checkpoint("demo")
    state = {k: (v * float("nan") if v.is_floating_point() else v)
             for k, v in demo.state["G_ema"].items()}
    path = tmp_path_factory.mktemp("nan") / "diverged.pt"
    save_checkpoint(path, model=demo.model, config=demo.config, state={"G_ema": state},
                    step=demo.step, extra=dict(demo.extra))
    return path


def test_nan_weights_are_refused_naming_the_checkpoint(nan_ckpt):
    with pytest.raises(CheckpointError, match=r"diverged\.pt: the 'G_ema' weights hold NaN"):
        load_model(nan_ckpt)


def test_edit_writes_no_black_png(nan_ckpt, tmp_path):
    res = CliRunner().invoke(cli, ["edit", str(nan_ckpt), "--op", "move", "--out",
                                   str(tmp_path / "e.png")])
    assert res.exit_code == 2 and "diverged.pt" in res.output and "NaN" in res.output
    assert not (tmp_path / "e.png").exists()


def test_fid_records_nothing(nan_ckpt, tmp_path):
    res = CliRunner().invoke(cli, ["fid", "--checkpoint", str(nan_ckpt), "--dataset",
                                   "synthetic", "--features", "random-conv", "--num-gen", "8",
                                   "--num-ref", "8", "--allow-small-n", "--no-progress",
                                   "--results", str(tmp_path / "results")])
    assert res.exit_code == 2 and "diverged.pt" in res.output, res.output
    assert not (tmp_path / "results" / "fid.jsonl").exists()


def test_non_finite_renders_and_features_are_caught():
    images = torch.zeros(4, 3, 8, 8)
    check_images_finite(images, "the generator")
    images[2, 0, 1, 1] = float("nan")
    with pytest.raises(NonFiniteError, match=r"runs/x\.pt rendered 1 of 4 images with NaN"):
        check_images_finite(images, "the generator in runs/x.pt")
    with pytest.raises(NonFiniteError, match="features of the generated images"):
        check_features_finite(torch.tensor([[0.0, float("inf")]]), "the generated images")


class _NanPixels(torch.nn.Module):
    """Finite (no) weights, but every render holds a NaN pixel."""
    num_keypoints, image_size = 2, 8

    def sample_latents(self, n, gen=None):
        from lkbench.models import Latents

        return Latents(keypoints=torch.rand(n, 2, 2, generator=gen) * 2 - 1,
                       part_embeddings=torch.randn(n, 2, 1, generator=gen),
                       background=torch.randn(n, 1, generator=gen),
                       active=torch.ones(n, 2, dtype=torch.bool))

    def render(self, lat):
        from lkbench.models import Generated

        images = torch.zeros(len(lat), 3, 8, 8)
        images[:, 0, 0, 0] = float("nan")
        return Generated(images=images, keypoints=lat.keypoints)


def test_fid_and_cpd_stop_on_a_generator_that_renders_nan():
    """Finite weights, NaN pixels: the loops stop before the batch enters a statistic."""
    from lkbench.protocols.generation.cpd import CPDConfig, compute_cpd
    from lkbench.protocols.generation.fid import generator_stats
    from lkbench.protocols.generation.inception import build_extractor

    ext = build_extractor("random-conv", "clean", torch.device("cpu"))
    with pytest.raises(NonFiniteError, match="the generator rendered 4 of 4 images with NaN"):
        generator_stats(_NanPixels(), ext, "clean", 4, seed=0, batch_size=4,
                        device=torch.device("cpu"))
    with pytest.raises(NonFiniteError, match="the generator rendered"):
        compute_cpd(_NanPixels(), CPDConfig(num_latents=4, batch_size=2))


@pytest.mark.parametrize("option,value", [("--dx", "nan"), ("--dy", "inf"), ("--dx", "5"),
                                          ("--scale", "0"), ("--factor", "-inf")])
def test_edit_refuses_what_serve_refuses(tmp_path, option, value):
    res = CliRunner().invoke(cli, ["edit", "demo", "--op", "move", option, value, "--out",
                                   str(tmp_path / "e.png")])
    assert res.exit_code == 2 and f"Invalid value for '{option}'" in res.output
    assert not (tmp_path / "e.png").exists()


def test_edit_bounds_are_the_servers():
    from lkbench.cli.edit import BOUNDS
    from lkbench.serve.ops import OpParams

    for name, (lo, hi) in BOUNDS.items():
        meta = {type(m).__name__: m for m in OpParams.model_fields[name].metadata}
        assert (meta["Ge"].ge, meta["Le"].le) == (lo, hi), name
