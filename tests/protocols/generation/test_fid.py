"""FID: Fréchet numerics against clean-fid, offline Inception handling, the reference cache, batch
independence, clean-fid's preprocessing, FID_interp latents and the command line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lkbench.protocols.generation import fid as fidmod
from lkbench.protocols.generation.fid import (FIDConfig, generator_stats, interp_latent_batches,
                                   reference_stats, to_feature_input)
from lkbench.protocols.generation.frechet import FeatureStats, frechet_distance
from lkbench.protocols.generation.inception import (INCEPTION_FILE, WeightsError, build_extractor,
                                         resolve_inception)
from lkbench.records import sha256_file


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Own cache root, no weights from the environment, downloads forbidden."""
    monkeypatch.setenv("LKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LKBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("LKBENCH_OFFLINE", "1")


# ---------------------------------------------------------------- Fréchet numerics
def test_identical_statistics_give_zero_and_gaussians_match_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 5))
    s = FeatureStats(5)
    s.update(torch.from_numpy(a))
    mu, sig = s.compute()
    assert frechet_distance(mu, sig, mu, sig) == pytest.approx(0.0, abs=1e-8)
    # diagonal covariances: FD = |m1-m2|^2 + sum(v1 + v2 - 2 sqrt(v1 v2))
    m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 0.5])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 1.0])
    want = ((m1 - m2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("block", [FeatureStats.BLOCK_ROWS, 50])   # one block / many merges
def test_streaming_statistics_agree_with_cleanfid_on_fixed_features(block, monkeypatch):
    from cleanfid.fid import fid_from_feats

    monkeypatch.setattr(FeatureStats, "BLOCK_ROWS", block)
    rng = np.random.default_rng(1)
    f1 = rng.normal(size=(400, 16)) * 3 + 50  # offset: streaming must not lose precision
    f2 = rng.normal(size=(350, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 49
    stats = []
    for f in (f1, f2):
        s = FeatureStats(16)
        for chunk in np.array_split(f, 7):
            s.update(torch.from_numpy(chunk))
        stats.append(s.compute())
    np.testing.assert_allclose(stats[0][1], np.cov(f1, rowvar=False), rtol=1e-10)
    ours = frechet_distance(*stats[0], *stats[1])
    assert ours == pytest.approx(fid_from_feats(f1, f2), rel=1e-6)


# ---------------------------------------------------------------- Inception, offline
class _FakeInception(torch.nn.Module):
    """The interface of inception-2015-12-05.pt: .layers maps normalised 299 px → 2048."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layers = torch.nn.Sequential(torch.nn.Conv2d(3, 2048, 1),
                                          torch.nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


@pytest.fixture
def fake_weights(tmp_path):
    path = tmp_path / "w" / "my-inception.pt"
    path.parent.mkdir()
    torch.jit.script(_FakeInception()).save(str(path))
    return path


def test_offline_weights_load_through_the_option_and_the_environment(fake_weights,
                                                                      monkeypatch):
    digest = sha256_file(fake_weights)
    ext = build_extractor("inception", "clean", torch.device("cpu"), weights=str(fake_weights),
                          sha256=digest)
    assert ext.is_fid and ext.dim == 2048 and ext.weights_sha256 == digest
    x = torch.rand(2, 3, 299, 299) * 255
    ref = torch.jit.load(str(fake_weights)).layers((x - 128) / 128).view(2, 2048)
    torch.testing.assert_close(ext.fn(x), ref)
    monkeypatch.setenv("LKBENCH_INCEPTION_WEIGHTS", str(fake_weights))
    assert resolve_inception(sha256=digest) == (fake_weights, digest)


def test_missing_weights_fail_with_the_file_the_url_and_the_option(tmp_path):
    def no_download(url, tmp):  # LKBENCH_OFFLINE=1: must never be called
        raise AssertionError("download attempted")
    with pytest.raises(WeightsError) as err:
        resolve_inception(download=no_download)
    msg = str(err.value)
    assert INCEPTION_FILE in msg and "https://" in msg and "--inception-weights" in msg
    assert "LKBENCH_OFFLINE" in msg


def test_wrong_checksum_is_refused(fake_weights):
    with pytest.raises(WeightsError, match="sha256 .* must have 0{64}"):
        resolve_inception(fake_weights, sha256="0" * 64)


def test_download_is_atomic_and_checked(monkeypatch, tmp_path, fake_weights):
    monkeypatch.setenv("LKBENCH_OFFLINE", "0")
    target = tmp_path / "cache" / "weights" / INCEPTION_FILE

    def broken(url, tmp):
        tmp.write_bytes(b"half a file")
        raise OSError("connection reset")
    with pytest.raises(WeightsError, match="could not download"):
        resolve_inception(download=broken)
    assert not target.exists() and not list(target.parent.iterdir())

    def good(url, tmp):
        tmp.write_bytes(fake_weights.read_bytes())
    digest = sha256_file(fake_weights)
    assert resolve_inception(download=good, sha256=digest) == (target, digest)


# ---------------------------------------------------------------- pipeline
def test_feature_input_equals_cleanfids_png_path(tmp_path):
    from PIL import Image
    from cleanfid.utils import ResizeDataset

    images = torch.rand(2, 3, 20, 20) * 2.2 - 1.1  # also outside [-1, 1]: clipped
    ours = to_feature_input(images, "clean")
    files = []
    for i, img in enumerate(((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(files[-1])
    ds = ResizeDataset(files, mode="clean")
    theirs = torch.stack([ds[i] for i in range(2)])
    assert ours.shape == (2, 3, 299, 299)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_features_do_not_depend_on_the_batch_size(smoke_generator):
    from lkbench.checkpoint import load_model

    g = load_model(smoke_generator).eval()
    ext = build_extractor("random-conv", "clean", torch.device("cpu"))
    feats = {}
    for bs in (7, 32):
        out = []
        generator_stats(g, ext, "clean", 40, seed=3, batch_size=bs, device=torch.device("cpu"),
                        on_batch=out.append)
        feats[bs] = torch.cat(out)
    assert feats[7].shape == (40, 64)
    # Same latents and images whatever the batch; the convolutions may pick other kernels for
    # another batch size, so the features agree to float tolerance, not bitwise (measured on an
    # Intel Ice Lake: 63 of 2 560 differ, by <= 9.2e-7). Images differ from each other by far more.
    torch.testing.assert_close(feats[7], feats[32], rtol=1e-5, atol=5e-6)
    assert (feats[32][1:] - feats[32][:-1]).abs().amax(1).min() > 1e-4    # features ~0.05


def test_interp_latents_are_lerps_with_one_lambda_per_pair(smoke_generator):
    from lkbench.checkpoint import load_model
    from lkbench.protocols.generation.latent_stream import paired_latent_batches

    g = load_model(smoke_generator).eval()
    with torch.no_grad():
        got = torch.cat([lat.part_embeddings for lat in interp_latent_batches(g, 10, 5, 4)])
        a, b = next(paired_latent_batches(g, 10, 5, 10))
    lam = torch.rand(10, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    want = a.part_embeddings + lam.float()[:, None, None] * (b.part_embeddings - a.part_embeddings)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_fid_interp_tells_a_generator_without_interpolate_what_it_needs():
    import importlib.util
    from pathlib import Path

    from lkbench.models import UnsupportedEditError

    spec = importlib.util.spec_from_file_location(
        "lkbench_test_toy_generators_fid", Path(__file__).with_name("toy_generators.py"))
    toys = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toys)
    plain, editable = toys.RenderOnlyStripeGenerator(), toys.StripeGenerator()
    with pytest.raises(UnsupportedEditError, match=r"FID_interp needs a generator with "
                       r"interpolate; RenderOnlyStripeGenerator has none\..*interpolate\(a, b, t\)"):
        next(interp_latent_batches(plain, 4, 0, 4))
    assert len(next(interp_latent_batches(editable, 4, 0, 4))) == 4
    ext = build_extractor("random-conv", "clean", torch.device("cpu"))
    plain.image_size = editable.image_size = 32  # FID without interp needs no edits
    stats = generator_stats(plain, ext, "clean", 4, seed=0, batch_size=4,
                            device=torch.device("cpu"))
    assert stats.n == 4


def test_reference_cache_is_reused_and_half_written_files_are_never_read(monkeypatch, tmp_path):
    ext = build_extractor("random-conv", "clean", torch.device("cpu"))
    cfg = FIDConfig(dataset="synthetic", split="test", num_ref=12, batch_size=5, device="cpu")
    cpu = torch.device("cpu")

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(fidmod.np, "savez", crash)
        with pytest.raises(KeyboardInterrupt):
            reference_stats(cfg, ext, 32, cpu)
    first = reference_stats(cfg, ext, 32, cpu)
    assert not first.cached and first.n == 12
    assert str(first.path).startswith(str(tmp_path))
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no temp left
    again = reference_stats(cfg, ext, 32, cpu)
    assert again.cached and np.array_equal(again.sigma, first.sigma)
    first.path.write_bytes(first.path.read_bytes()[:50])  # a truncated file from elsewhere
    redo = reference_stats(cfg, ext, 32, cpu)
    assert not redo.cached
    np.testing.assert_allclose(redo.mu, first.mu, rtol=0, atol=0)


def test_fid_command_records_a_named_frechet_distance_not_fid(smoke_generator, tmp_path):
    from click.testing import CliRunner

    from lkbench.cli import cli

    args = ["fid", "--checkpoint", str(smoke_generator), "--dataset", "synthetic", "--split",
            "test", "--features", "random-conv", "--num-gen", "20", "--num-ref", "24",
            "--allow-small-n", "--device", "cpu", "--results", str(tmp_path), "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "fd_random_conv20_clean@32" in res.output
    rec = json.loads((tmp_path / "fid.jsonl").read_text().splitlines()[0])
    assert rec["metric"] == "fd_random_conv" and rec["extra"]["is_fid"] is False
    assert rec["extra"]["num_ref"] == 24 and rec["n"] == 20 and rec["extra"]["mode"] == "clean"
    assert rec["value"] >= 0
    res = CliRunner().invoke(cli, args + ["--interp"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "fid.jsonl").read_text().splitlines()[1])
    assert rec["metric"] == "fd_interp_random_conv" and rec["extra"]["reference"]["cached"]
    assert rec["extra"]["interp_source"] == "prior"
    small = CliRunner().invoke(cli, args[:-6] + ["--device", "cpu", "--results", str(tmp_path)])
    assert small.exit_code == 2 and "--allow-small-n" in small.output
    offline = CliRunner().invoke(cli, ["fid", "--checkpoint", str(smoke_generator), "--dataset",
                                       "synthetic", "--results", str(tmp_path)])
    assert offline.exit_code == 2 and INCEPTION_FILE in offline.output
