"""The detector of the detection protocol: read-out convention, learning on pairs whose keypoints
are known exactly, streamed pair generation, checkpoints and the GANSeg architecture."""
from __future__ import annotations

import itertools
import weakref

import numpy as np
import pytest
import torch

from lkbench.checkpoint import load_model
from lkbench.data import get_dataset
from lkbench.errors import CheckpointError, ConfigError
from lkbench.models import Generated, KeypointPredictor, Latents
from lkbench.protocols.landmarks.detector import (
    KeypointDetector, build_detector, generated_pairs, labelled_batches, load_detector,
    resize_images, save_detector, soft_argmax, train_detector,
)


class BlobGenerator(torch.nn.Module):
    """A toy KeypointGenerator: keypoint k is a Gaussian blob in colour channel k (k < 3) on a
    black image, so its position is known exactly."""

    num_keypoints, image_size = 3, 32

    def __init__(self):
        super().__init__()
        self.renders = 0

    def sample_latents(self, n: int, gen: torch.Generator) -> Latents:
        kp = torch.rand(n, self.num_keypoints, 2, generator=gen) * 1.3 - 0.65
        return Latents(kp, torch.zeros(n, 3, 1), torch.zeros(n, 1),
                       torch.ones(n, 3, dtype=torch.bool))

    def render(self, latents: Latents) -> Generated:
        self.renders += 1
        r = self.image_size
        centres = (2 * torch.arange(r) + 1) / r - 1  # pixel centres, written out independently
        gx, gy = centres.view(1, 1, 1, r), centres.view(1, 1, r, 1)
        kp = latents.keypoints
        d2 = (gx - kp[..., 0, None, None]) ** 2 + (gy - kp[..., 1, None, None]) ** 2
        images = 2 * torch.exp(-d2 / (2 * 0.08 ** 2)) - 1  # [N,3,R,R] in [-1, 1]
        return Generated(images, kp.clone())


def test_soft_argmax_reads_pixel_centres_in_the_project_convention():
    logits = torch.full((1, 2, 8, 16), -1e4)
    logits[0, 0, 3, 5] = 0.0      # row 3, column 5 of an 8x16 map
    logits[0, 1] = 0.0            # uniform: the centre of the image
    kp = soft_argmax(logits)
    assert kp.shape == (1, 2, 2)
    assert kp[0, 0].tolist() == pytest.approx([(2 * 5 + 1) / 16 - 1, (2 * 3 + 1) / 8 - 1])
    assert kp[0, 1].tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


def test_detector_recovers_exactly_known_keypoints_of_a_toy_generator():
    g = BlobGenerator()
    det = build_detector(3, 32, "compact", {"widths": [8, 16, 32], "blocks": 1,
                                            "out_stride": 2}, seed=0)
    test = g.render(g.sample_latents(256, torch.Generator().manual_seed(99)))
    before = float((det.eval().predict(test.images) - test.keypoints).norm(dim=-1).mean())
    latents = torch.Generator().manual_seed(0)
    stream = ((p.images, p.keypoints, None)
              for p in generated_pairs(g, 32 * 100, 32, latents))
    stats = train_detector(det, stream, lr=3e-3, total=32 * 100, device=torch.device("cpu"),
                           progress=False)
    assert stats.steps == 100 and stats.samples == 32 * 100 and not det.training
    err = float((det.predict(test.images) - test.keypoints).norm(dim=-1).mean())
    # 0.03 normalised units = 0.48 px at 32 px (measured: 0.014); untrained it is ~0.4
    assert before > 0.2 and err < 0.03, (before, err)


def test_pair_stream_holds_one_batch_and_does_not_grow_with_the_number_of_pairs():
    g = BlobGenerator()
    for batches in (3, 30):
        live_peak = 0
        refs: list[weakref.ref] = []
        gen = torch.Generator().manual_seed(0)
        for i, pair in enumerate(generated_pairs(g, 8 * batches - 3, 8, gen)):
            assert torch.is_grad_enabled()  # no_grad is not leaked into the consumer
            assert pair.images.shape[0] == (8 if i < batches - 1 else 5)
            refs.append(weakref.ref(pair.images))
            del pair
            live_peak = max(live_peak, sum(r() is not None for r in refs))
        assert live_peak <= 1, f"{live_peak} batches alive at once with {batches} batches"
        assert i == batches - 1


def test_pair_stream_is_lazy_and_puts_the_generator_in_eval_mode():
    g = BlobGenerator().train()
    stream = generated_pairs(g, 10 ** 9, 4, torch.Generator().manual_seed(0))
    assert g.renders == 0  # nothing rendered before the first batch is asked for
    first = list(itertools.islice(stream, 2))
    assert g.renders == 2 and not g.training and len(first) == 2
    assert not first[0].images.requires_grad


def test_labelled_batches_visit_every_image_once_per_pass():
    ds = get_dataset("synthetic", split="test", image_size=32, size=10)
    seen = []
    for images, kp, vis in labelled_batches(ds, 25, 4, 16, torch.Generator().manual_seed(0)):
        assert images.shape[1:] == (3, 16, 16) and kp.shape[1:] == (5, 2)
        seen.append(images.shape[0])
    assert sum(seen) == 25 and max(seen) == 4


def test_detector_is_a_keypoint_predictor_and_round_trips_through_a_checkpoint(tmp_path):
    det = build_detector(4, 32, "compact", {"widths": [8, 16, 32]}, seed=3).eval()
    assert isinstance(det, KeypointPredictor)
    path = save_detector(tmp_path / "det.pt", det, steps=7)
    again = load_model(path)
    assert isinstance(again, KeypointDetector) and again.config == det.config
    x = torch.rand(2, 3, 64, 64) * 2 - 1  # another size: resized to 32 inside
    assert torch.equal(det.predict(x), again.predict(x))
    assert det.predict(x).shape == (2, 4, 2)
    assert torch.equal(det.predict(x), det.predict(resize_images(x, 32)))


def test_init_depends_only_on_the_seed_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = build_detector(2, 32, "compact", {"widths": [8, 16]}, seed=5)
    b = build_detector(2, 32, "compact", {"widths": [8, 16]}, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_load_detector_rejects_other_models(smoke_generator):
    with pytest.raises(CheckpointError, match="not a keypoint detector"):
        load_detector(smoke_generator)


def test_bad_compact_settings_are_config_errors():
    with pytest.raises(ConfigError, match="out_stride"):
        KeypointDetector(4, 32, "compact", widths=[8, 16], out_stride=3)


def test_paper_architecture_is_deeplabv3_resnet50_with_the_same_read_out():
    det = KeypointDetector(4, 32, "deeplabv3-resnet50").eval()
    assert type(det.net.net).__name__ == "DeepLabV3"
    assert sum(p.numel() for p in det.parameters()) > 39_000_000
    out = det.predict(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 4, 2) and torch.isfinite(out).all()
    assert float(out.abs().max()) < 1.0
    np.testing.assert_array_less(np.abs(out.numpy()), 1 - 1 / 32 + 1e-6)
