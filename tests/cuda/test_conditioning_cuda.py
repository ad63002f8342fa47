"""Factorised == literal SPADE conditioning on CUDA, forward and gradients, in float32 and under
AMP (bfloat16 autocast, what ``loop.amp`` runs on CUDA).

The two implementations compute the same function (``conditioning.py``), so:

* **float32** (TF32 off): images to ``rtol 1e-4, atol 1e-5``; gradients by the relative error
  ``‖g − g_lit‖ / ‖g_lit‖`` of all of them together and of each tensor, with the per-config
  bounds of :data:`FP32_TOL` (tensors whose norm is below 1e-3 of the largest one — the biases
  in front of an affine-free BatchNorm, whose true gradient is 0 — by their absolute noise
  relative to the largest norm). Measured on a CPU, the 128 px generator's float32 gradients
  differ far more than the smoke one's (all gradients 2e-4–5e-4, the worst tensor 1.5e-3, at
  batch 2 through six SPADE levels), and so do its bounds.
* **AMP**: bfloat16 keeps 8 mantissa bits (relative rounding 2⁻⁹ ≈ 2e-3 per operation), so
  each path is compared with the float32 literal reference by the relative error
  ``‖x − ref‖ / ‖ref‖``: images ≤ :data:`AMP_IMAGE_TOL`, all gradients together (one vector)
  ≤ :data:`AMP_GRADS_TOL`, each gradient tensor ≤ :data:`AMP_TENSOR_TOL` (tensors whose
  reference norm is below 1e-3 of the largest one — the biases in front of an affine-free
  BatchNorm, whose true gradient is 0 — are held to an absolute noise of 1e-3 of the largest
  norm instead); and the factorised AMP errors must stay within :data:`AMP_RATIO` times the
  literal AMP ones (+0.01): factorising must not cost accuracy. Measured with bfloat16 autocast
  on a CPU (``LKBENCH_CUDA_TESTS_ON_CPU=1``): images 6e-3–8e-3, all gradients 3e-2–6e-2, the
  worst tensor 0.13, factorised and literal alike.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from lkbench.config import resolve
from lkbench.models import Latents
from lkbench.trainers.latent_keypoint_gan import LatentKeypointGenerator, LKGRunConfig

pytestmark = pytest.mark.cuda

SMOKE = resolve(LKGRunConfig, preset="smoke").model
# The paper's generator shape (128 px, K = 10, StyleGAN2 widths) at a small batch.
PAPER = dataclasses.replace(resolve(LKGRunConfig, preset="paper-celeba-wild").model,
                            num_keypoints=10)
FP32_TOL = {  # config: (all gradients, each tensor, noise of ~0 tensors / largest norm)
    "smoke": (1e-5, 1e-4, 1e-6),            # measured on a CPU: 6e-7, 1.8e-6, 6e-8
    "paper-128px-K10": (2e-3, 1e-2, 1e-5),  # measured on a CPU: 5.3e-4, 1.5e-3, 6.5e-8
}
AMP_IMAGE_TOL = 3e-2
AMP_GRADS_TOL = 0.15
AMP_TENSOR_TOL = 0.35
AMP_RATIO = 2.0
MAPPING = ("kp_mlp.", "app_mlp.", "bg_mlp.", "w_const")


def _pair(cfg, device):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g_fac = LatentKeypointGenerator(cfg)
    g_lit = LatentKeypointGenerator(dataclasses.replace(cfg, cond_impl="literal"))
    g_lit.load_state_dict(g_fac.state_dict())
    assert g_fac.blocks[0].norm0.shared.impl == "factorised"
    assert g_lit.blocks[0].norm0.shared.impl == "literal"
    return g_fac.to(device).train(), g_lit.to(device).train()


def _latent_cases(g: LatentKeypointGenerator, batch: int, device) -> dict[str, Latents]:
    """Plain latents with keypoints spread to the borders (zero padding matters there), and an
    edited set with an added part (slot of part 1 repeated) and an inactive part (2)."""
    k = g.num_keypoints
    gen = torch.Generator().manual_seed(1)
    z = [torch.randn(batch, g.cfg.noise_dim, generator=gen).to(device) for _ in range(3)]
    with torch.no_grad():
        lat = g.map(*z)
    spread = (torch.rand(k, 2, generator=gen) * 1.9 - 0.95).to(device)
    plain = Latents(keypoints=(lat.keypoints + spread).clamp(-0.98, 0.98),
                    part_embeddings=lat.part_embeddings.clone(), background=lat.background.clone(),
                    active=lat.active.clone(), tau=lat.tau.clone())
    slots = torch.tensor([*range(k), 1], device=device)
    active = torch.ones(batch, k + 1, dtype=torch.bool, device=device)
    active[:, 2] = False
    edited = Latents(
        keypoints=torch.cat([plain.keypoints, plain.keypoints[:, 1:2] * -0.5], 1),
        part_embeddings=plain.part_embeddings[:, slots].clone(),
        background=plain.background.clone(), active=active, tau=None, slots=slots)
    return {"plain": plain, "edited": edited}


def _forward_and_grads(g, lat: Latents, weights: torch.Tensor, amp: "torch.device | None",
                       autocast):
    leaves = {k: getattr(lat, k).detach().clone().requires_grad_(True)
              for k in ("keypoints", "part_embeddings", "background")}
    lat = dataclasses.replace(lat, **leaves)
    g.zero_grad(set_to_none=True)
    if amp is None:
        images = g.render(lat).images
    else:
        with autocast(amp):
            images = g.render(lat).images
    (images.float() * weights).sum().backward()
    grads = {f"param {n}": p.grad for n, p in g.named_parameters()}
    grads.update({f"latent {k}": v.grad for k, v in leaves.items()})
    return images.detach().float(), grads


def _cases(cfg, batch, device, amp, autocast):
    g_fac, g_lit = _pair(cfg, device)
    r = cfg.image_size
    weights = torch.randn(batch, 3, r, r, generator=torch.Generator().manual_seed(5)).to(device)
    for name, lat in _latent_cases(g_fac, batch, device).items():
        ref = _forward_and_grads(g_lit, lat, weights, None, autocast)
        fac = _forward_and_grads(g_fac, lat, weights, amp, autocast)
        lit = _forward_and_grads(g_lit, lat, weights, amp, autocast) if amp is not None else None
        yield name, ref, fac, lit


CONFIGS = {"smoke": (SMOKE, 4), "paper-128px-K10": (PAPER, 2)}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("mode", ["concat", "sum"])
def test_factorised_equals_literal_in_float32(config, mode, device, no_tf32, helpers,
                                              smooth_leaky_relu):
    # smooth_leaky_relu: CUDA's kernels round differently from the CPU's and from each other;
    # a pre-activation at leaky ReLU's kink would then take another slope in one path.
    if helpers.on_cpu and config != "smoke":
        pytest.skip("paper-sized generator: CUDA only (minutes on a CPU)")
    cfg, batch = CONFIGS[config]
    cfg = dataclasses.replace(cfg, cond_mode=mode)
    all_tol, tensor_tol, noise_tol = FP32_TOL[config]
    err = helpers.rel_err
    for name, (img_l, grads_l), (img_f, grads_f), _ in _cases(cfg, batch, device, None,
                                                             helpers.autocast):
        assert img_f.device.type == device.type
        torch.testing.assert_close(img_f, img_l, rtol=1e-4, atol=1e-5, msg=f"{name} images")
        assert grads_f.keys() == grads_l.keys()
        keys = []
        for key in grads_f:
            gf, gl = grads_f[key], grads_l[key]
            if key.startswith(tuple(f"param {m}" for m in MAPPING)):
                assert gf is None and gl is None, key     # render() starts from the latents
                continue
            assert gf is not None and gl is not None, f"{name}: {key} got no gradient"
            keys.append(key)
        flat = [torch.cat([g[k].detach().double().flatten().cpu() for k in keys])
                for g in (grads_f, grads_l)]
        total = err(*flat)
        assert total <= all_tol, f"{name}: all gradients, relative error {total:.2e}"
        norms = {k: float(grads_l[k].double().norm()) for k in keys}
        top = max(norms.values())
        for key in keys:
            gf, gl = grads_f[key], grads_l[key]
            if norms[key] < 1e-3 * top:
                noise = float((gf.double() - gl.double()).norm()) / top
                assert noise <= noise_tol, f"{name}: {key}: noise {noise:.2e} of the largest norm"
            else:
                e = err(gf, gl)
                assert e <= tensor_tol, f"{name}: gradient of {key}, relative error {e:.2e}"
        if name == "edited":  # the inactive part gets no gradient, the added one does
            kp = grads_f["latent keypoints"]
            assert float(kp[:, 2].abs().max()) == 0 and float(kp[:, -1].abs().max()) > 0


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("mode", ["concat", "sum"])
def test_factorised_equals_literal_under_amp(config, mode, device, no_tf32, helpers):
    if helpers.on_cpu and config != "smoke":
        pytest.skip("paper-sized generator: CUDA only (minutes on a CPU)")
    cfg, batch = CONFIGS[config]
    cfg = dataclasses.replace(cfg, cond_mode=mode)
    err = helpers.rel_err
    for name, (img_ref, g_ref), (img_f, g_f), (img_l, g_l) in _cases(cfg, batch, device, device,
                                                                     helpers.autocast):
        assert torch.isfinite(img_f).all() and torch.isfinite(img_l).all(), name
        e_f, e_l = err(img_f, img_ref), err(img_l, img_ref)
        assert e_f <= AMP_IMAGE_TOL, f"{name}: factorised AMP images, relative error {e_f:.2e}"
        assert e_l <= AMP_IMAGE_TOL, f"{name}: literal AMP images, relative error {e_l:.2e}"
        assert e_f <= AMP_RATIO * e_l + 0.01, f"{name}: images {e_f:.2e} vs literal {e_l:.2e}"
        keys = [k for k, v in g_ref.items() if v is not None]
        for key in g_ref:
            if key not in keys:
                assert g_f[key] is None and g_l[key] is None, key
                continue
            assert g_f[key] is not None and g_l[key] is not None, f"{name}: {key} got no gradient"
            assert torch.isfinite(g_f[key]).all(), f"{name}: non-finite AMP gradient of {key}"

        def flat(grads):
            return torch.cat([grads[k].detach().double().flatten().cpu() for k in keys])

        a_f, a_l = err(flat(g_f), flat(g_ref)), err(flat(g_l), flat(g_ref))
        assert a_f <= AMP_GRADS_TOL, f"{name}: factorised AMP gradients, relative error {a_f:.2e}"
        assert a_l <= AMP_GRADS_TOL, f"{name}: literal AMP gradients, relative error {a_l:.2e}"
        assert a_f <= AMP_RATIO * a_l + 0.01, f"{name}: gradients {a_f:.2e} vs literal {a_l:.2e}"
        norms = {k: float(g_ref[k].double().norm()) for k in keys}
        top = max(norms.values())
        worst_f = worst_l = 0.0
        for key in keys:
            ref, gf, gl = g_ref[key], g_f[key], g_l[key]
            if norms[key] < 1e-3 * top:       # true gradient ~0: bound the noise absolutely
                for label, g in (("factorised", gf), ("literal", gl)):
                    noise = float((g.double() - ref.double()).norm())
                    assert noise <= 1e-3 * top, \
                        f"{name}: {label} AMP {key}: noise {noise:.2e} > {1e-3 * top:.2e}"
                continue
            ef, el = err(gf, ref), err(gl, ref)
            worst_f, worst_l = max(worst_f, ef), max(worst_l, el)
            assert ef <= AMP_TENSOR_TOL, f"{name}: factorised AMP gradient of {key}: {ef:.2e}"
            assert el <= AMP_TENSOR_TOL, f"{name}: literal AMP gradient of {key}: {el:.2e}"
        assert worst_f <= AMP_RATIO * worst_l + 0.01, \
            f"{name}: worst gradient error {worst_f:.2e} (factorised) vs {worst_l:.2e} (literal)"
        print(f"{config} {mode} {name}: AMP relative error: images {e_f:.1e} (literal {e_l:.1e}), "
              f"all gradients {a_f:.1e} ({a_l:.1e}), worst tensor {worst_f:.1e} ({worst_l:.1e})")
