"""LatentKeypointGAN at smoke scale (``docs/models.md`` §1, §4.1): shapes, parameter counts,
factorised == literal conditioning, the subnormal guard, determinism, one optimisation step,
losses and penalties against hand formulas, minibatch stddev, checkpoint round trip."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import lkbench
from lkbench.config import resolve
from lkbench.models import Latents
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.latent_keypoint_gan import (Discriminator, LatentKeypointGenerator,
                                                  LKGConfig, LKGRunConfig, LKGTrainer,
                                                  build_discriminator)
from lkbench.trainers.latent_keypoint_gan.heatmaps import HEATMAP_CUTOFF, part_heatmaps
from lkbench.trainers.latent_keypoint_gan.losses import (PENALTIES, d_logistic_loss,
                                                         g_nonsaturating_loss,
                                                         one_centred_penalty, r1_penalty)
from lkbench.trainers.latent_keypoint_gan.model import (from_config, minibatch_stddev,
                                                        model_config_dict)
from lkbench.trainers.loop import step_generator, train

SMOKE = resolve(LKGRunConfig, preset="smoke").model
B = 4
TINY = torch.finfo(torch.float32).tiny


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def make_g(cfg: LKGConfig = SMOKE, seed: int = 0) -> LatentKeypointGenerator:
    torch.manual_seed(seed)
    return LatentKeypointGenerator(cfg)


def noise(g: LatentKeypointGenerator, n: int = B, seed: int = 1, dtype=torch.float32):
    return tuple(z.to(dtype) for z in g.sample_noise(n, torch.Generator().manual_seed(seed)))


def is_subnormal(t: torch.Tensor) -> torch.Tensor:
    return (t != 0) & (t.abs() < TINY)


# -- shapes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["concat", "sum"])
def test_shapes_at_smoke_scale(mode):
    cfg = dataclasses.replace(SMOKE, cond_mode=mode)
    g, d = make_g(cfg), build_discriminator(cfg)
    assert isinstance(d, Discriminator)
    k, emb, z = cfg.num_keypoints, cfg.embed_dim, cfg.noise_dim
    assert (cfg.image_size, k, z, emb) == (32, 4, 16, 8)
    zs = noise(g)
    assert [tuple(t.shape) for t in zs] == [(B, z)] * 3
    lat = g.map(*zs)
    assert lat.keypoints.shape == (B, k, 2)
    assert bool((lat.keypoints.abs() < 1).all())
    assert lat.part_embeddings.shape == (B, k, emb)
    assert lat.background.shape == (B, emb)
    assert lat.active.dtype == torch.bool and lat.active.shape == (B, k) and bool(lat.active.all())
    assert lat.tau.shape == (B, k) and torch.equal(lat.tau, torch.full((B, k), 0.01))
    assert g.w_const.shape == (k, emb)
    # w_j = w_global ⊙ w_const_j
    w_global = g.app_mlp(zs[1])
    torch.testing.assert_close(lat.part_embeddings, w_global[:, None] * g.w_const[None],
                               rtol=0, atol=0)
    assert cfg.levels == (4, 8, 16, 32)
    for r in cfg.levels:
        parts = part_heatmaps(lat.keypoints, lat.tau, r)
        assert parts.shape == (B, k, r, r)
        assert bool(((parts >= 0) & (parts <= 1)).all())
        cond = g.conditioning(lat, r)
        assert cond.heatmaps.shape == (B, k + 1, r, r)
        assert torch.equal(cond.heatmaps[:, :k], parts)
        assert torch.equal(cond.heatmaps[:, k:], 1 - parts.amax(1, keepdim=True))
        assert cond.embeddings.shape == (B, k + 1, emb)
        assert torch.equal(cond.embeddings[:, k], lat.background)
        wide = cond.wide()
        assert wide.shape == ((B, (k + 1) * emb, r, r) if mode == "concat" else (B, emb, r, r))
        assert cond.columns().shape == (B, (k + 1) * 9, r * r)
    out = g.render(lat)
    assert out.images.shape == (B, 3, 32, 32) and out.images.dtype == torch.float32
    assert bool((out.images.abs() < 1).all())
    assert out.keypoints is lat.keypoints
    logits = d(out.images)
    assert logits.shape == (B, 1) and bool(torch.isfinite(logits).all())


def test_ganseg_discriminator_shape():
    d = build_discriminator(dataclasses.replace(SMOKE, d_arch="ganseg"))
    assert not isinstance(d, Discriminator)
    assert d(torch.zeros(2, 3, 32, 32)).shape == (2, 1)


def test_per_keypoint_tau():
    taus = (0.004, 0.01, 0.02, 0.05)
    g = make_g(dataclasses.replace(SMOKE, tau=taus))
    lat = g.map(*noise(g))
    assert torch.equal(lat.tau, torch.tensor(taus).expand(B, 4))
    cond = g.conditioning(lat, 32)
    expected = part_heatmaps(lat.keypoints, torch.tensor(taus), 32)
    assert torch.equal(cond.heatmaps[:, :4], expected)
    # wider τ → more mass (same keypoint moved to the centre for all parts)
    centred = Latents(torch.zeros(1, 4, 2), lat.part_embeddings[:1], lat.background[:1],
                      lat.active[:1], lat.tau[:1])
    mass = g.conditioning(centred, 32).heatmaps[0, :4].sum((1, 2))
    assert bool((mass.diff() > 0).all())
    # latents.tau overrides the config's τ
    other = dataclasses.replace(lat, tau=torch.full((B, 4), 0.03))
    assert torch.equal(g.conditioning(other, 16).heatmaps[:, :4],
                       part_heatmaps(lat.keypoints, torch.full((B, 4), 0.03), 16))
    with pytest.raises(ValueError, match="tau has 3 values for 4 keypoints"):
        dataclasses.replace(SMOKE, tau=(0.01, 0.01, 0.01))


def test_model_config_survives_the_checkpoint_form():
    cfg = dataclasses.replace(SMOKE, tau=(0.004, 0.01, 0.02, 0.05), cond_mode="sum")
    plain = model_config_dict(cfg)
    assert plain["tau"] == [0.004, 0.01, 0.02, 0.05] and plain["g_channels"] == [32, 32, 16, 16]
    assert from_config(plain).cfg == cfg
    assert LatentKeypointGenerator(plain).cfg == cfg


# -- parameter counts -------------------------------------------------------------------------

def test_smoke_parameter_counts_match_spec():
    g, d = make_g(), build_discriminator(SMOKE)
    assert n_params(g) == 174_644
    assert n_params(d) == 57_937
    # the breakdown of docs/models.md §4.1
    assert sum(n_params(m) for m in (g.kp_mlp, g.app_mlp, g.bg_mlp)) == 3_128
    assert g.w_const.numel() == 32 and g.const.numel() == 512
    assert n_params(g.blocks) == 170_672
    assert n_params(g.to_rgb) == 300


def test_full_size_parameter_counts():
    with torch.device("meta"):  # counts only: no memory, no init cost
        default = LKGConfig()
        assert (default.image_size, default.num_keypoints) == (128, 10)
        assert n_params(LatentKeypointGenerator(default)) == 47_195_814
        assert n_params(LatentKeypointGenerator(
            dataclasses.replace(default, cond_mode="sum"))) == 36_873_894
        assert n_params(build_discriminator(default)) == 23_882_369
        r64 = LKGConfig(image_size=64)
        assert n_params(LatentKeypointGenerator(r64)) == 42_810_787
        assert n_params(build_discriminator(r64)) == 23_407_361


# -- factorised == literal --------------------------------------------------------------------

def _latent_cases(g: LatentKeypointGenerator, dtype) -> dict[str, Latents]:
    lat = g.map(*noise(g, dtype=dtype))
    plain = Latents(*(t.detach().clone() for t in (lat.keypoints, lat.part_embeddings,
                                                   lat.background)),
                    active=lat.active.clone(), tau=lat.tau.detach().clone())
    # spread the keypoints out so the heatmaps reach the borders (zero padding matters there)
    plain.keypoints = torch.tensor([[-0.9, -0.8], [0.7, -0.3], [0.0, 0.95], [0.4, 0.4]],
                                   dtype=dtype).expand(B, 4, 2) + plain.keypoints
    # an added part (slot of part 1 repeated) and an inactive part (2)
    slots = torch.tensor([0, 1, 2, 3, 1])
    edited = Latents(keypoints=torch.cat([plain.keypoints,
                                          plain.keypoints[:, 1:2] + torch.tensor([-0.5, 0.6],
                                                                                 dtype=dtype)], 1),
                     part_embeddings=plain.part_embeddings[:, slots].clone(),
                     background=plain.background.clone(),
                     active=torch.tensor([True, True, False, True, True]).expand(B, 5).clone(),
                     tau=None, slots=slots)
    return {"plain": plain, "edited": edited}


MAPPING = tuple(f"param {m}" for m in ("kp_mlp.", "app_mlp.", "bg_mlp.", "w_const"))


def _forward_and_grads(g: LatentKeypointGenerator, lat: Latents, weights: torch.Tensor):
    leaves = {"keypoints": lat.keypoints, "part_embeddings": lat.part_embeddings,
              "background": lat.background}
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in leaves.items()}
    lat = dataclasses.replace(lat, **leaves)
    g.zero_grad(set_to_none=True)
    images = g.render(lat).images
    (images * weights).sum().backward()
    grads = {f"param {n}": p.grad for n, p in g.named_parameters()}
    grads.update({f"latent {k}": v.grad for k, v in leaves.items()})
    return images.detach(), grads


@pytest.mark.parametrize("dtype, rtol, atol", [(torch.float64, 1e-10, 1e-10),
                                               (torch.float32, 1e-4, 1e-5)])
@pytest.mark.parametrize("mode", ["concat", "sum"])
def test_factorised_equals_literal(mode, dtype, rtol, atol, request):
    if dtype == torch.float32:
        # float32 compares the two paths through a smooth stand-in for leaky ReLU: last-bit
        # differences flip the kink's slope under other kernels (see the fixture); float64
        # keeps the real activation.
        request.getfixturevalue("smooth_leaky_relu")
    cfg = dataclasses.replace(SMOKE, cond_mode=mode)
    g_fac = make_g(cfg).to(dtype)
    g_lit = LatentKeypointGenerator(dataclasses.replace(cfg, cond_impl="literal")).to(dtype)
    g_lit.load_state_dict(g_fac.state_dict())
    assert g_fac.blocks[0].norm0.shared.impl == "factorised"
    assert g_lit.blocks[0].norm0.shared.impl == "literal"
    weights = torch.randn(B, 3, 32, 32, generator=torch.Generator().manual_seed(5), dtype=dtype)
    for name, lat in _latent_cases(g_fac, dtype).items():
        img_f, grads_f = _forward_and_grads(g_fac, lat, weights)
        img_l, grads_l = _forward_and_grads(g_lit, lat, weights)
        assert img_f.dtype == dtype
        torch.testing.assert_close(img_f, img_l, rtol=rtol, atol=atol, msg=f"{name} images")
        assert grads_f.keys() == grads_l.keys()
        # gradients reach ~100; absolute tolerance relative to the largest one (biases in front
        # of a BatchNorm have an exactly-zero gradient that both paths only round to ~0)
        scale = max(float(g.abs().max()) for g in grads_l.values() if g is not None)
        assert scale > 1
        for key in grads_f:
            gf, gl = grads_f[key], grads_l[key]
            if key.startswith(MAPPING):       # render() starts from the latents: no gradient
                assert gf is None and gl is None, key
                continue
            assert gf is not None and gl is not None, f"{name}: {key} got no gradient"
            torch.testing.assert_close(gf, gl, rtol=rtol, atol=atol / 2 * scale,
                                       msg=f"{name}: gradient of {key}")
        if name == "edited":  # the inactive part gets no gradient, the added one does
            assert float(grads_f["latent keypoints"][:, 2].abs().max()) == 0
            assert float(grads_f["latent keypoints"][:, 4].abs().max()) > 0


# -- subnormal guard --------------------------------------------------------------------------

def test_heatmaps_have_no_subnormals_with_guard():
    kp = torch.tensor([[[0.95, 0.95], [-0.97, 0.9], [0.0, 0.0], [0.3, -0.99]]])
    tau = torch.full((1, 4), 0.01)
    for r in (4, 8, 16, 32):
        guarded = part_heatmaps(kp, tau, r)
        assert not bool(is_subnormal(guarded).any())
        raw = part_heatmaps(kp, tau, r, guard=False)
        assert float((guarded - raw).abs().max()) < HEATMAP_CUTOFF
    raw32 = part_heatmaps(kp, tau, 32, guard=False)
    assert int(is_subnormal(raw32).sum()) > 0        # the premise: they do occur unguarded
    lin = part_heatmaps(kp, torch.full((1, 4), 0.3), 32, kind="linear")
    assert not bool(is_subnormal(lin).any())
    with pytest.raises(ValueError, match="unknown heatmap kind"):
        part_heatmaps(kp, tau, 8, kind="box")


def test_subnormal_guard_changes_images_by_less_than_float_tolerance():
    g = make_g().eval()
    g_raw = LatentKeypointGenerator(dataclasses.replace(SMOKE, subnormal_guard=False)).eval()
    g_raw.load_state_dict(g.state_dict())
    lat = g.map(*noise(g))
    lat.keypoints = torch.tensor([[0.95, 0.95], [-0.97, 0.9], [0.0, 0.0], [0.3, -0.99]]
                                 ).expand(B, 4, 2).clone()
    for r in SMOKE.levels:
        heat = g.conditioning(lat, r).heatmaps
        assert not bool(is_subnormal(heat).any()), f"subnormal heatmap values at {r} px"
    assert bool(is_subnormal(g_raw.conditioning(lat, 32).heatmaps).any())
    with torch.no_grad():
        a, b = g.render(lat).images, g_raw.render(lat).images
    assert float((a - b).abs().max()) < 1e-6


# -- determinism ------------------------------------------------------------------------------

def test_eval_mode_is_deterministic_and_forward_is_render_of_map():
    g = make_g().eval()
    z = noise(g)
    with torch.no_grad():
        a, b = g(*z), g(*z)
        c = g.render(g.map(*z)).images
    assert torch.equal(a, b) and torch.equal(a, c)


def test_sample_latents_reproducible_with_seed():
    g = make_g()
    with torch.no_grad():
        one = g.sample_latents(6, torch.Generator().manual_seed(7))
        two = g.sample_latents(6, torch.Generator().manual_seed(7))
        other = g.sample_latents(6, torch.Generator().manual_seed(8))
    for field in ("keypoints", "part_embeddings", "background", "active", "tau"):
        assert torch.equal(getattr(one, field), getattr(two, field)), field
    assert not torch.equal(one.keypoints, other.keypoints)
    assert len(one) == 6 and one.num_parts == 4


def test_latents_of_the_wrong_shape_are_refused():
    g = make_g()
    lat = g.map(*noise(g))
    with pytest.raises(ValueError, match="latents.background has shape"):
        g.render(dataclasses.replace(lat, background=lat.background[:, :3]))
    extra = dataclasses.replace(lat, keypoints=torch.zeros(B, 5, 2),
                                part_embeddings=torch.zeros(B, 5, 8),
                                active=torch.ones(B, 5, dtype=torch.bool), tau=None)
    with pytest.raises(ValueError, match="need latents.slots"):
        g.render(extra)


# -- one optimisation step --------------------------------------------------------------------

def _trainer(gp: str) -> LKGTrainer:
    cfg = resolve(LKGRunConfig, preset="smoke", overrides=[f"optim.gp={gp}"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return LKGTrainer(cfg, RunContext(torch.device("cpu")))


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


@pytest.mark.parametrize("gp", ["r1", "one_centered", "none"])
def test_one_step_changes_parameters_and_penalty_runs(gp):
    tr = _trainer(gp)
    assert tr.cfg.optim.d_reg_every == 2 and tr.G_ema is not None
    real = torch.rand(B, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    before = {name: _snapshot(m) for name, m in tr.modules().items()}
    assert set(before) == {"G", "D", "G_ema"}
    out = tr.train_step(real, step_generator(0, 0, 0, torch.device("cpu")), 0)
    for k, v in out.items():
        assert v.dim() == 0 and bool(torch.isfinite(v)), (k, v)
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(out)
    assert ("gp" in out) == (gp != "none")         # step 0 is a regularisation step
    if gp != "none":
        assert float(out["gp"]) >= 0
    for name in ("G", "D"):
        now = _snapshot(tr.modules()[name])
        # conv0's bias feeds SPADE's affine-free BatchNorm: its gradient is 0 up to rounding
        unchanged = [k for k in now if torch.equal(now[k], before[name][k])
                     and not k.endswith("conv0.bias")]
        assert not unchanged, f"{name} parameters unchanged by one step: {unchanged}"
    g_now, ema_now = _snapshot(tr.G), _snapshot(tr.G_ema)
    decay = tr.cfg.optim.ema_decay
    for k in ema_now:  # G_ema started as a copy of G and moved towards it by 1 - decay
        assert torch.equal(ema_now[k], before["G_ema"][k].lerp(g_now[k], 1 - decay)), k
    assert any(not torch.equal(ema_now[k], before["G_ema"][k]) for k in ema_now)
    out = tr.train_step(real, step_generator(0, 1, 0, torch.device("cpu")), 1)
    assert "gp" not in out                          # 1 % d_reg_every != 0
    assert all(bool(torch.isfinite(v)) for v in out.values())


def test_extra_loss_hook_is_added_and_logged():
    tr = _trainer("none")
    calls = []

    def spread(lat, fake):
        calls.append((lat.keypoints.shape, fake.shape))
        return lat.keypoints.pow(2).mean()
    tr.add_loss("kp_l2", spread)
    real = torch.zeros(B, 3, 32, 32)
    out = tr.train_step(real, step_generator(0, 0, 0, torch.device("cpu")), 0)
    assert calls == [((B, 4, 2), (B, 3, 32, 32))]
    assert "kp_l2" in out and bool(torch.isfinite(out["kp_l2"]))


# -- losses -----------------------------------------------------------------------------------

def test_gan_losses_match_log_sigmoid_formulas():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(16, 1, generator=gen, dtype=torch.float64) * 3
    fake = torch.randn(16, 1, generator=gen, dtype=torch.float64) * 3
    expected_d = (-torch.log(torch.sigmoid(real))).mean() + (-torch.log(1 - torch.sigmoid(fake))).mean()
    expected_g = (-torch.log(torch.sigmoid(fake))).mean()
    torch.testing.assert_close(d_logistic_loss(real, fake), expected_d, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_nonsaturating_loss(fake), expected_g, rtol=1e-12, atol=1e-12)
    # the ideal D at chance: log 4 and log 2
    zero = torch.zeros(4, 1, dtype=torch.float64)
    assert d_logistic_loss(zero, zero).item() == pytest.approx(2 * torch.log(torch.tensor(2.)).item())
    assert g_nonsaturating_loss(zero).item() == pytest.approx(torch.log(torch.tensor(2.)).item())


def _linear_d(shape=(3, 2, 4, 4)):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(*shape[1:], generator=gen, dtype=torch.float64, requires_grad=True)
    return x, w, (x * w).flatten(1).sum(1, keepdim=True)      # ∇_x D = w for every sample


def test_r1_penalty_is_half_gamma_grad_norm_squared():
    assert set(PENALTIES) == {"r1", "one_centered"}
    assert PENALTIES["r1"] is r1_penalty and PENALTIES["one_centered"] is one_centred_penalty
    x, w, logits = _linear_d()
    pen = r1_penalty(logits, x, 10.0)
    torch.testing.assert_close(pen, 5.0 * w.pow(2).sum(), rtol=1e-12, atol=0)
    (grad_w,) = torch.autograd.grad(pen, w)                 # differentiable (create_graph)
    torch.testing.assert_close(grad_w, 10.0 * w, rtol=1e-12, atol=0)
    # a non-linear D with a different gradient per sample: the mean over the batch
    x2 = x.detach().clone().requires_grad_(True)
    logits2 = (torch.tanh(x2) * w).flatten(1).sum(1, keepdim=True)
    per_sample = ((1 - torch.tanh(x2) ** 2) * w).pow(2).flatten(1).sum(1)
    torch.testing.assert_close(r1_penalty(logits2, x2, 3.0), 1.5 * per_sample.mean(),
                               rtol=1e-12, atol=0)


def test_one_centred_penalty_matches_formula():
    x, w, logits = _linear_d()
    norm = w.pow(2).sum().sqrt()
    pen = one_centred_penalty(logits, x, 10.0)
    torch.testing.assert_close(pen, 10.0 * (norm - 1) ** 2, rtol=1e-9, atol=1e-12)
    (grad_w,) = torch.autograd.grad(pen, w)
    torch.testing.assert_close(grad_w, 10.0 * 2 * (norm - 1) * w / norm, rtol=1e-9, atol=1e-12)
    # a D whose gradient has norm 1 pays nothing
    x1, w1, _ = _linear_d()
    w_unit = (w1 / w1.pow(2).sum().sqrt()).detach()
    logits1 = (x1 * w_unit).flatten(1).sum(1, keepdim=True)
    assert one_centred_penalty(logits1, x1, 10.0).item() == pytest.approx(0, abs=1e-12)


# -- minibatch stddev -------------------------------------------------------------------------

def test_minibatch_stddev_against_hand_computation():
    h = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out = minibatch_stddev(h, 4)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], h)
    m = 8 // 4  # samples i and j share a group when i ≡ j (mod B/group)
    for i in range(8):
        members = h[[j for j in range(8) if j % m == i % m]]
        assert members.shape[0] == 4
        mean = members.mean(0)
        std = (((members - mean) ** 2).mean(0) + 1e-8).sqrt().mean()
        torch.testing.assert_close(out[i, 3], std.expand(4, 4), rtol=1e-12, atol=0)
    # a batch smaller than the group forms one group
    small = minibatch_stddev(h[:2], 4)
    expected = ((h[:2].var(0, unbiased=False) + 1e-8).sqrt().mean())
    torch.testing.assert_close(small[:, 3], expected.expand(2, 4, 4), rtol=1e-12, atol=0)


def test_minibatch_stddev_refuses_indivisible_batch():
    with pytest.raises(ValueError, match="batch 6 is not divisible by the minibatch-stddev group 4"):
        minibatch_stddev(torch.zeros(6, 3, 4, 4), 4)
    d = build_discriminator(SMOKE)
    with pytest.raises(ValueError, match="not divisible"):
        d(torch.zeros(6, 3, 32, 32))


# -- checkpoint round trip --------------------------------------------------------------------

class _Capturing(LKGTrainer):
    """LKGTrainer that remembers its instance, so the test can look at the trained modules."""
    last: "LKGTrainer | None" = None

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        type(self).last = self


def test_checkpoint_round_trip_reproduces_g_ema(tmp_path):
    cfg = resolve(LKGRunConfig, preset="smoke", overrides=["loop.steps=4"])
    result = train(_Capturing, cfg, tmp_path / "run", resume=None, progress=False)
    tr = _Capturing.last
    assert result.step == 4 and result.checkpoint is not None and result.checkpoint.exists()
    assert tr.generator_key == "G_ema"
    loaded = lkbench.load_generator(result.checkpoint)
    assert isinstance(loaded, LatentKeypointGenerator) and not loaded.training
    assert loaded.cfg == cfg.model
    z = noise(loaded, 8, seed=11)
    tr.G.eval()
    with torch.no_grad():
        want = tr.G_ema(*z)
        got = loaded(*z)
        from_g = tr.G(*z)
    assert torch.equal(got, want)
    assert not torch.equal(got, from_g)              # it really is the EMA generator
    images, kp = tr.samples(8)
    with torch.no_grad():
        again = loaded.render(loaded.map(*(t[:8] for t in tr._fixed)))
    assert torch.equal(images, again.images) and torch.equal(kp, again.keypoints)
    # the raw G loads too, by key
    g_raw = lkbench.checkpoint.load_model(result.checkpoint, "G")
    with torch.no_grad():
        assert torch.equal(g_raw(*z), from_g)


def test_uniform_constant_input_has_no_learned_layout():
    """``const_input = "uniform"``: one learned vector repeated over 4×4 (C parameters instead of
    16·C), so every start position looks the same and the layout must come from the heatmaps."""
    cfg = dataclasses.replace(SMOKE, const_input="uniform")
    g, g_learned = make_g(cfg).eval(), make_g().eval()
    assert tuple(g.const.shape) == (1, 32, 1, 1)
    assert n_params(g_learned) - n_params(g) == 15 * 32
    z = noise(g)
    with torch.no_grad():
        assert torch.equal(g(*z), g.render(g.map(*z)).images)
        assert g(*z).shape == (B, 3, 32, 32)
