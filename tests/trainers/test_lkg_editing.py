"""LatentKeypointGAN editing (docs/models.md §1.12): exact no-ops, removal as a zeroed heatmap,
locality of moves and part swaps, adding parts, bad input, and the ``lkbench edit`` command.

Everything runs on a smoke checkpoint (32 px, K = 4, 4 training steps) in eval mode, float32.
"""
import copy
from dataclasses import fields

import click
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import lkbench
from lkbench.cli import cli
from lkbench.cli.edit import edit
from lkbench.protocols.editing.plots import edit_grid
from lkbench.errors import CheckpointError, ConfigError, DataError, LkbenchError
from lkbench.keypoints import heatmap_grid
from lkbench.models import Latents
from lkbench.trainers.latent_keypoint_gan.conditioning import Conditioning
from lkbench.trainers.latent_keypoint_gan.edit_ops import EDIT_OPS, EditParams
from lkbench.trainers.latent_keypoint_gan.editing import (
    add_part, interpolate, move, move_all, remove_parts, resize_part, swap_background,
    swap_global, swap_parts)
from lkbench.trainers.latent_keypoint_gan.heatmaps import part_heatmaps

N = 4
FAR_A, FAR_B = (-0.5, -0.4), (0.45, 0.5)   # two spots away from the smoke model's centred parts


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("lkg-smoke")
    res = CliRunner().invoke(cli, ["train", "--model", "latent-keypoint-gan", "--preset", "smoke",
                                   "--out", str(out), "--device", "cpu", "--no-progress"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out / "ckpt" / "step-0000004.pt"


@pytest.fixture(scope="module")
def G(ckpt):
    return lkbench.load_generator(ckpt)


@pytest.fixture(scope="module")
def lat(G):
    with torch.no_grad():
        return G.sample_latents(N, torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def donor(G):
    with torch.no_grad():
        return G.sample_latents(N, torch.Generator().manual_seed(1))


def render(G, lat):
    with torch.no_grad():
        return G.render(lat).images


def snapshot(lat):
    return {f.name: None if getattr(lat, f.name) is None else getattr(lat, f.name).clone()
            for f in fields(Latents)}


def same(lat, snap):
    return all((v is None and getattr(lat, k) is None) or torch.equal(getattr(lat, k), v)
               for k, v in snap.items())


def near(point, radius, size):
    """bool [R,R]: pixel centres within ``radius`` (normalised units) of ``point``."""
    grid = heatmap_grid(size, dtype=torch.float32)
    return (grid - torch.tensor(point)).norm(dim=-1) < radius


def fraction_near(before, after, mask):
    """Per sample: share of the total |Δ| (summed over channels) falling inside ``mask``."""
    d = (after - before).abs().sum(1)
    return (d * mask).sum((1, 2)) / d.sum((1, 2))


# -- exact no-ops ---------------------------------------------------------------------------

def test_noop_edits_render_bit_for_bit(G, lat, donor):
    snap = snapshot(lat)
    base = render(G, lat)
    noops = {
        "move to own position": move(lat, 2, lat.keypoints[:, 2]),
        "swap_parts with itself": swap_parts(lat, lat, [0, 3]),
        "swap_global with itself": swap_global(lat, lat),
        "swap_background with itself": swap_background(lat, lat),
        "interpolate(a, a, 0.3)": interpolate(lat, lat, 0.3),
        "resize by 1": resize_part(lat, 1, 1.0),
        "move_all identity": move_all(lat, torch.eye(2)),
        "move_all identity about origin": move_all(lat, 1.0, torch.zeros(2), about="origin"),
        "interpolate t=0": interpolate(lat, donor, 0.0),
    }
    for name, edited in noops.items():
        assert same(edited, snap), name
        assert torch.equal(render(G, edited), base), name
    assert torch.equal(render(G, interpolate(lat, donor, 1.0)), render(G, donor))
    assert same(lat, snap), "an edit modified its input in place"


def test_forward_equals_render_of_map(G):
    z = G.sample_noise(N, torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(G(*z), G.render(G.map(*z)).images)


def test_swaps_equal_mapping_the_donor_noise(G):
    """swap_global is exactly "replace w_global" (w_kp = w_global ⊙ w_const), swap_background
    exactly "replace w_bg": the same as mapping with the donor's appearance/background noise."""
    zp, za, zb = G.sample_noise(N, torch.Generator().manual_seed(2))
    _, za2, zb2 = G.sample_noise(N, torch.Generator().manual_seed(3))
    with torch.no_grad():
        src, don = G.map(zp, za, zb), G.map(zp, za2, zb2)
        assert torch.equal(swap_global(src, don).part_embeddings,
                           G.map(zp, za2, zb).part_embeddings)
        assert torch.equal(swap_background(src, don).background, G.map(zp, za, zb2).background)


# -- removing -------------------------------------------------------------------------------

def test_remove_equals_rendering_with_the_heatmap_zeroed(G, lat, monkeypatch):
    j, cfg = 1, G.cfg
    k = lat.num_parts

    def zeroed(latents, size):  # the spec's definition, built by hand: H_j ≡ 0, H_bg = 1 − max_{i≠j}
        h = part_heatmaps(latents.keypoints, latents.tau, size, kind=cfg.heatmap,
                          guard=cfg.subnormal_guard)
        h[:, j] = 0
        others = [i for i in range(k) if i != j]
        bg = 1 - h[:, others].amax(1, keepdim=True)
        emb = torch.cat([latents.part_embeddings, latents.background.unsqueeze(1)], 1)
        return Conditioning(torch.cat([h, bg], 1), emb, torch.arange(k + 1), k + 1,
                            cfg.cond_mode)

    removed = render(G, remove_parts(lat, [j]))
    with monkeypatch.context() as m:
        m.setattr(G, "conditioning", zeroed)
        reference = render(G, lat)
    torch.testing.assert_close(removed, reference, rtol=0, atol=1e-6)
    assert not torch.equal(removed, render(G, lat))


def test_remove_changes_the_parts_region_most(G, lat):
    # The smoke model's parts all sit near the centre; put part j apart first so "its region"
    # is well defined. Measured on this checkpoint: 0.50–0.65 of |Δ| lies within 0.35 of it,
    # where that disc is ~10 % of the image (a non-local edit would put ~10 % there).
    j = 2
    base = move(lat, j, FAR_A)
    before, after = render(G, base), render(G, remove_parts(base, [j]))
    mask = near(FAR_A, 0.35, G.image_size)
    frac = fraction_near(before, after, mask)
    assert (frac > 0.35).all() and (frac > 3 * mask.float().mean()).all(), frac


# -- moving ---------------------------------------------------------------------------------

def test_move_changes_pixels_near_old_and_new_position(G, lat):
    # A randomly initialised generator after 4 steps is only weakly local (3×3 convs at 4 px
    # already see the whole image). Measured here: 0.57–0.70 of |Δ| lies within 0.35 of the old
    # or new position, whose two discs cover 19.5 % of the image; a non-local edit would put
    # ~19.5 % there, so > 0.45 (and > 2× the area share) fails for one.
    j = 0
    before = render(G, move(lat, j, FAR_A))
    after = render(G, move(move(lat, j, FAR_A), j, FAR_B))
    mask = near(FAR_A, 0.35, G.image_size) | near(FAR_B, 0.35, G.image_size)
    frac = fraction_near(before, after, mask)
    assert (frac > 0.45).all() and (frac > 2 * mask.float().mean()).all(), frac


def test_move_and_move_all_geometry(lat):
    to = torch.tensor([[0.1, -0.2]] * N)
    moved = move(lat, -1, to)
    assert torch.equal(moved.keypoints[:, 3], to)
    assert torch.equal(moved.keypoints[:, :3], lat.keypoints[:, :3])
    far = move(lat, 0, (3.0, -2.0))                    # off the image: kept, not clamped
    assert far.keypoints[:, 0].tolist() == [[3.0, -2.0]] * N

    scaled = move_all(lat, 2.0)                         # about the centroid
    c0, c1 = lat.keypoints.mean(1), scaled.keypoints.mean(1)
    torch.testing.assert_close(c1, c0)
    torch.testing.assert_close(scaled.keypoints - c1[:, None], 2 * (lat.keypoints - c0[:, None]))
    torch.testing.assert_close(move_all(lat, 2.0, about="origin").keypoints, 2 * lat.keypoints)
    rot = torch.tensor([[0.0, -1.0], [1.0, 0.0]])      # (x, y) ↦ (−y, x)
    shifted = move_all(lat, rot, (0.1, 0.0), about="origin").keypoints
    torch.testing.assert_close(shifted[..., 0], -lat.keypoints[..., 1] + 0.1)
    torch.testing.assert_close(shifted[..., 1], lat.keypoints[..., 0])


# -- appearance -----------------------------------------------------------------------------

def test_swap_parts_changes_only_that_parts_appearance(G, lat, donor):
    # Measured: 0.47–0.62 of |Δ| within 0.35 of part j, a disc covering 9.8 % of the image.
    j = 3
    base = move(lat, j, FAR_A)
    swapped = swap_parts(base, donor, [j])
    assert torch.equal(swapped.part_embeddings[:, j], donor.part_embeddings[:, j])
    others = [i for i in range(lat.num_parts) if i != j]
    assert torch.equal(swapped.part_embeddings[:, others], base.part_embeddings[:, others])
    assert torch.equal(swapped.keypoints, base.keypoints)
    assert torch.equal(swapped.background, base.background)
    mask = near(FAR_A, 0.35, G.image_size)
    frac = fraction_near(render(G, base), render(G, swapped), mask)
    assert (frac > 0.35).all() and (frac > 3 * mask.float().mean()).all(), frac


def test_one_donor_is_broadcast(lat, donor):
    one = Latents(donor.keypoints[:1], donor.part_embeddings[:1], donor.background[:1],
                  donor.active[:1], donor.tau[:1])
    assert torch.equal(swap_background(lat, one).background, donor.background[:1].expand(N, -1))
    assert torch.equal(swap_global(lat, one).part_embeddings,
                       donor.part_embeddings[:1].expand(N, -1, -1))
    mid = interpolate(lat, one, 0.5)
    torch.testing.assert_close(mid.keypoints, (lat.keypoints + donor.keypoints[:1]) / 2)


# -- adding, resizing -----------------------------------------------------------------------

def test_add_part(G, lat):
    added = add_part(lat, (0.5, 0.5), like=1)
    assert added.num_parts == lat.num_parts + 1
    assert added.slots.tolist() == [0, 1, 2, 3, 1]
    assert torch.equal(added.part_embeddings[:, -1], lat.part_embeddings[:, 1])
    assert torch.equal(added.tau[:, -1], lat.tau[:, 1]) and added.active[:, -1].all()
    assert added.keypoints[:, -1].tolist() == [[0.5, 0.5]] * N
    base = render(G, lat)
    img = render(G, added)
    assert img.shape == base.shape and torch.isfinite(img).all()
    assert not torch.allclose(img, base, atol=1e-4)
    # Inactive, the added part's heatmap is 0 and does not touch the background, so the
    # conditioning equals the original one. The factorised conv then sums 9 more products
    # (all exactly 0) per output, and a matrix product of another inner size may round
    # differently, so this asks for float tolerance (it is bit-exact on the x86 CPU it was
    # written on).
    torch.testing.assert_close(render(G, remove_parts(added, [-1])), base, rtol=0, atol=1e-5)
    # Its own embedding; a second added part; tau None stays None.
    emb = torch.zeros(lat.part_embeddings.shape[-1])
    two = add_part(add_part(lat, (0.0, 0.5), like=0, embedding=emb), (0.5, 0.0), like=-1)
    assert two.slots.tolist() == [0, 1, 2, 3, 0, 0]
    assert torch.equal(two.part_embeddings[:, 4], emb.expand(N, -1))
    assert render(G, two).shape == base.shape
    no_tau = Latents(lat.keypoints, lat.part_embeddings, lat.background, lat.active)
    assert add_part(no_tau, (0.0, 0.0), like=2).tau is None


def test_resize_part(G, lat):
    big = resize_part(lat, 2, 3.0)
    torch.testing.assert_close(big.tau[:, 2], 3 * lat.tau[:, 2])
    assert torch.equal(big.tau[:, [0, 1, 3]], lat.tau[:, [0, 1, 3]])
    assert not torch.allclose(render(G, big), render(G, lat), atol=1e-4)


# -- bad input ------------------------------------------------------------------------------

def test_bad_inputs_raise_with_a_message(lat, donor):
    k = lat.num_parts
    cases = [
        (lambda: move(lat, k, (0.0, 0.0)), ConfigError, r"part 4 is out of range .* 0\.\.3"),
        (lambda: move(lat, 0, torch.zeros(3)), DataError, r"\(x, y\) pair \[2\]"),
        (lambda: move(lat, 0.5, (0, 0)), ConfigError, "must be an integer"),
        (lambda: remove_parts(lat, [0, -5]), ConfigError, "part -5 is out of range"),
        (lambda: swap_parts(lat, donor, []), ConfigError, "no parts given"),
        (lambda: add_part(lat, (0, 0), like=9), ConfigError, "like 9 is out of range"),
        (lambda: add_part(lat, (0, 0), like=0, embedding=torch.zeros(3)), DataError,
         "embedding must be"),
        (lambda: move_all(lat, torch.eye(3)), DataError, r"matrix must be"),
        (lambda: move_all(lat, 1.0, about="corner"), ConfigError, "'centroid' or 'origin'"),
        (lambda: resize_part(lat, 0, 0.0), ConfigError, "finite number > 0"),
        (lambda: resize_part(Latents(lat.keypoints, lat.part_embeddings, lat.background,
                                     lat.active), 0, 2.0), DataError, "tau is None"),
        (lambda: swap_background(lat, Latents(*(f[:3] for f in (
            donor.keypoints, donor.part_embeddings, donor.background, donor.active)))),
         DataError, "has 3 samples but the latents have 4"),
        (lambda: swap_global(add_part(lat, (0, 0), 0), donor), DataError, "before adding parts"),
        (lambda: interpolate(remove_parts(lat, [1]), donor, 0.5), DataError,
         "different active parts"),
        (lambda: swap_parts(lat, donor.part_embeddings, [0]), DataError, "needs a donor"),
    ]
    for fn, exc, msg in cases:
        with pytest.raises(exc, match=msg) as info:
            fn()
        assert isinstance(info.value, LkbenchError)


def test_edit_ops_registry(lat, donor):
    assert set(EDIT_OPS) == {"move", "move-all", "swap-parts", "swap-global", "swap-background",
                             "remove", "add", "interpolate", "resize"}
    p = EditParams(steps=3, parts=(1, 2))
    for name, op in EDIT_OPS.items():
        out = op.apply(lat, donor if op.needs_donor else None, p)
        assert out and all(isinstance(label, str) and isinstance(x, Latents) for label, x in out)
        assert op.describe(p).startswith(name)
    assert [label for label, _ in EDIT_OPS["interpolate"].apply(lat, donor, p)] == [
        "t=0.00", "t=0.50", "t=1.00"]


def test_edit_grid_layout(G, lat):
    img = render(G, lat)
    added = add_part(lat, (0.5, 0.5), like=1)
    grid = edit_grid([("a", img, lat.keypoints, lat.active),
                      ("b", img, added.keypoints, added.active, added.slots)], min_tile=64)
    # 32 px tiles upscaled ×2, 2 px padding; label strip of 18 px on top
    assert grid.dtype == torch.uint8 and grid.shape == (3, 18 + N * 66 + 2, 2 * 66 + 2)
    with pytest.raises(DataError, match="same samples at the same size"):
        edit_grid([("a", img, lat.keypoints, None), ("b", img[:2], lat.keypoints[:2], None)])


# -- the command line -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def group():
    """The real ``lkbench`` group (its LkbenchError → exit 2 handling) with ``edit`` on it,
    without changing the global ``cli``."""
    g = copy.copy(cli)
    g.commands = dict(cli.commands)
    g.add_command(edit)
    return g


def test_cli_writes_a_png_for_every_op(group, ckpt, tmp_path):
    out = tmp_path / "edits.png"
    res = CliRunner().invoke(group, ["edit", str(ckpt), "--op", "all", "--num", "2", "--out",
                                     str(out), "--device", "cpu"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.output.count("\n") == 1 and res.output.startswith("wrote 9 edit grids")
    for name, op in EDIT_OPS.items():
        with Image.open(tmp_path / f"edits-{name}.png") as im:
            ncols = 2 + op.needs_donor + (5 - 1) * (name == "interpolate")
            assert im.format == "PNG" and im.width == ncols * (96 + 2) + 2, name
            assert im.height > 2 * (96 + 2)


def test_cli_single_op(group, ckpt, tmp_path):
    out = tmp_path / "interp.png"
    res = CliRunner().invoke(group, ["edit", str(ckpt), "--op", "interpolate", "--steps", "3",
                                     "--num", "1", "--out", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert res.output == f"wrote interpolate edit of 1 samples (seed 0) to {out}\n"
    with Image.open(out) as im:
        assert im.width == 5 * 98 + 2        # source, donor, t = 0, 0.5, 1


def test_cli_errors(group, ckpt, tmp_path):
    out = str(tmp_path / "x.png")
    runner = CliRunner()
    res = runner.invoke(group, ["edit", str(tmp_path / "nope.pt"), "--op", "move", "--out", out])
    assert res.exit_code == 2 and "checkpoint not found" in res.output
    res = runner.invoke(group, ["edit", str(ckpt), "--op", "remove", "--part", "7", "--out", out,
                                "--device", "cpu"])
    assert res.exit_code == 2
    assert "--op remove: part 7 is out of range for latents with 4 parts" in res.output
    assert res.output.count("\n") == 1
    res = runner.invoke(group, ["edit", str(ckpt), "--op", "warp", "--out", out])
    assert res.exit_code == 2 and "'warp' is not one of" in res.output
    # The command object on its own raises the LkbenchError subclasses.
    res = runner.invoke(edit, [str(tmp_path / "nope.pt"), "--op", "move", "--out", out])
    assert isinstance(res.exception, CheckpointError)
    res = runner.invoke(edit, [str(ckpt), "--op", "move", "--part", "-9", "--out", out,
                               "--device", "cpu"])
    assert isinstance(res.exception, ConfigError) and "part -9 is out of range" in str(
        res.exception)
    res = runner.invoke(edit, [str(ckpt), "--op", "swap-parts", "--parts", "0,x", "--out", out])
    assert isinstance(res.exception, ConfigError) and "--parts must be" in str(res.exception)
    assert not (tmp_path / "x.png").exists()


def test_cli_help_documents_every_option():
    for param in edit.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
    res = CliRunner().invoke(edit, ["--help"])
    assert res.exit_code == 0 and "Operations (--op NAME):" in res.output
    assert all(name in res.output for name in EDIT_OPS)


def test_importing_the_command_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, lkbench.cli.edit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
