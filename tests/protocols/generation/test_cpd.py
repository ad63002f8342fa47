"""CPD: known answers on toy generators, streaming == all in memory, batch-size independence,
grouping, the command line."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lkbench.errors import ConfigError, DataError
from lkbench.protocols.generation.cpd import (CPDConfig, CorrelationStats, compute_cpd,
                                   cpd_from_correlation, make_units, parse_groups)


def _toys():
    name = "lkbench_test_toy_generators"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("toy_generators.py"))
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def _run(g, **kw):
    maps = []
    cfg = CPDConfig(**{"num_latents": 40, "batch_size": 7, "device": "cpu", **kw})
    return compute_cpd(g, cfg, on_batch=lambda d: maps.append(d.clone())), maps


def test_disjoint_parts_score_one_uncentred_and_match_the_pearson_closed_form():
    g = _toys().StripeGenerator(num_keypoints=3, image_size=8)
    res, _ = _run(g)
    assert res.cpd_uncentred == pytest.approx(1.0, abs=1e-6)
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(res.correlation_uncentred[off], 0.0, atol=1e-12)
    # Pearson of disjoint non-negative maps: cov = -E[x]E[y], so C = -m_u m_v / (s_u s_v).
    assert (res.correlation[off] < 0).all() and res.cpd > 1.0


def test_parts_that_change_the_whole_image_identically_score_zero():
    g = _toys().StripeGenerator(num_keypoints=3, image_size=8, shared=True)
    res, _ = _run(g)
    assert res.cpd == pytest.approx(0.0, abs=1e-6)
    assert res.cpd_uncentred == pytest.approx(0.0, abs=1e-6)


def test_streaming_equals_all_in_memory_pearson_and_cosine():
    g = _toys().StripeGenerator(num_keypoints=3, image_size=8)
    # a generator whose stripes overlap a little, so correlations are not trivial
    base = g.render

    def render(lat):
        out = base(lat)
        out.images[:, :, :, 1:4] += 0.5 * torch.tanh(lat.part_embeddings[:, 1, 0])[:, None, None,
                                                                                    None]
        return out
    g.render = render
    res, maps = _run(g, num_latents=46)
    v = torch.cat(maps, 1).reshape(4, -1).double().numpy()  # [U, pairs*H*W]
    assert v.shape[1] == 23 * 64 == res.num_values
    np.testing.assert_allclose(res.correlation, np.corrcoef(v), atol=1e-12)
    cos = (v @ v.T) / np.sqrt(np.outer((v * v).sum(1), (v * v).sum(1)))
    np.testing.assert_allclose(res.correlation_uncentred, cos, atol=1e-12)
    c = np.corrcoef(v)
    assert res.cpd == pytest.approx(1 - c[~np.eye(4, dtype=bool)].mean(), abs=1e-12)


def test_result_does_not_depend_on_the_batch_size():
    g = _toys().StripeGenerator(num_keypoints=3, image_size=8)
    a, _ = _run(g, num_latents=240, batch_size=7)
    b, _ = _run(g, num_latents=240, batch_size=120)
    np.testing.assert_allclose(a.correlation, b.correlation, atol=1e-12)
    c, _ = _run(g, num_latents=240, batch_size=7, seed=1)
    assert not np.allclose(a.correlation, c.correlation)


def test_grouping_swaps_the_members_together():
    g = _toys().StripeGenerator(num_keypoints=3, image_size=8)
    _, single = _run(g)
    res, grouped = _run(g, groups=parse_groups("left=0,1;right=2"), background=False)
    assert [(u.name, u.parts) for u in res.units] == [("left", (0, 1)), ("right", (2,))]
    s, gr = torch.cat(single, 1), torch.cat(grouped, 1)
    # stripes are disjoint, so the group's difference map is the sum of its members' maps
    torch.testing.assert_close(gr[0], s[0] + s[1], rtol=0, atol=0)
    torch.testing.assert_close(gr[1], s[2], rtol=0, atol=0)


def test_correlation_stats_merge_and_constant_units():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 500)) + 100.0  # a large offset: the pairwise update keeps accuracy
    x[1] += x[0]
    a, b = CorrelationStats(3), CorrelationStats(3)
    a.update(torch.from_numpy(x[:, :123]))
    b.update(torch.from_numpy(x[:, 123:]))
    a.merge(b)
    np.testing.assert_allclose(a.correlation(), np.corrcoef(x), atol=1e-12)
    s = CorrelationStats(3)
    s.update(torch.from_numpy(np.stack([x[0], np.zeros(500), x[2]])))
    c = s.correlation()
    assert np.isnan(c[1]).all() and np.isnan(c[:, 1]).all() and c[0, 0] == 1.0
    assert cpd_from_correlation(c) == pytest.approx(1 - np.corrcoef(x[0], x[2])[0, 1])


def test_bad_groups_and_configs_are_rejected_with_the_fix():
    assert parse_groups("eyes=0,1; mouth=2,3") == (("eyes", (0, 1)), ("mouth", (2, 3)))
    with pytest.raises(ConfigError, match="NAME=J,J"):
        parse_groups("eyes:0,1")
    with pytest.raises(ConfigError, match="part 1 is in both"):
        parse_groups("a=0,1;b=1")
    with pytest.raises(ConfigError, match="parts 0..3"):
        make_units(4, parse_groups("a=0,4"))
    with pytest.raises(ConfigError, match="at least 2 units"):
        make_units(4, parse_groups("a=0"), background=False)
    with pytest.raises(ConfigError, match="even"):
        CPDConfig(num_latents=7)
    with pytest.raises(DataError):
        cpd_from_correlation(np.ones((1, 1)))


def test_cpd_command_writes_record_and_heatmap(smoke_generator, tmp_path):
    from click.testing import CliRunner

    from lkbench.cli import cli

    res = CliRunner().invoke(cli, ["cpd", "--checkpoint", str(smoke_generator),
                                   "--num-latents", "8", "--batch-size", "3", "--device", "cpu",
                                   "--results", str(tmp_path), "--out", str(tmp_path / "o"),
                                   "--no-progress", "--groups", "a=0,1;b=2,3"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "cpd.jsonl").read_text().splitlines()[0])
    assert rec["protocol"] == "cpd" and rec["metric"] == "cpd" and rec["n"] == 4
    assert [u["name"] for u in rec["extra"]["units"]] == ["a", "b", "background"]
    corr = np.array(rec["extra"]["correlation"], dtype=float)
    assert corr.shape == (3, 3)
    assert rec["value"] == pytest.approx(1 - corr[~np.eye(3, dtype=bool)].mean(), abs=1e-5)
    assert rec["published"] is False and rec["config"]["groups"] == {"a": [0, 1], "b": [2, 3]}
    png = tmp_path / "o" / "cpd.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(cli, ["cpd", "--checkpoint", str(smoke_generator),
                                   "--num-latents", "9", "--results", str(tmp_path)])
    assert bad.exit_code == 2 and "even" in bad.output


def test_a_generator_without_the_swaps_is_told_which_edit_cpd_needs():
    from lkbench.models import EditableGenerator, KeypointGenerator, UnsupportedEditError

    g = _toys().RenderOnlyStripeGenerator(num_keypoints=3, image_size=8)
    assert isinstance(g, KeypointGenerator) and not isinstance(g, EditableGenerator)
    assert isinstance(_toys().StripeGenerator(), EditableGenerator)
    with pytest.raises(UnsupportedEditError, match=r"CPD needs a generator with swap_parts; "
                       r"RenderOnlyStripeGenerator has none\. .*swap_parts\(latents, donor, "
                       r"parts\) -> Latents \(lkbench\.models\.EditableGenerator\)"):
        _run(g)

    class PartsOnly(_toys().RenderOnlyStripeGenerator):
        swap_parts = _toys().StripeGenerator.swap_parts

    with pytest.raises(UnsupportedEditError, match="CPD needs a generator with swap_background; "
                       "PartsOnly has none"):
        _run(PartsOnly())
    assert _run(PartsOnly(), background=False)[0].num_pairs == 20
