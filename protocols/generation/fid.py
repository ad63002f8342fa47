"""FID and FID_interp through clean-fid (``docs/protocols.md`` §3.1–3.2).

Pipeline, images straight from the generator (no PNG round trip):

1. images float ``[N,3,R,R]`` in [-1, 1] → uint8 with the project's one rounding rule
   ``round((x + 1)·127.5)`` clipped to [0, 255] (:func:`lkbench.plots.images_to_uint8`): the
   values clean-fid would read back from a saved PNG;
2. clean-fid's resizer for the mode (:func:`cleanfid.resize.build_resizer`; ``clean``: each
   channel as float32 through PIL bicubic to 299×299, no re-quantisation;
   ``legacy_tensorflow``: the network resizes inside), applied per image as clean-fid's
   ``get_model_features`` does;
3. the feature network (:mod:`~lkbench.protocols.generation.inception`), features accumulated in float64
   (:class:`~lkbench.protocols.generation.frechet.FeatureStats`);
4. the same for the real split (reference statistics, cached under the lkbench cache root, key
   = sha256 of everything that changes them; written atomically and checked when read);
5. clean-fid's Fréchet distance.

FID_interp (``interp=True``, ``prior`` source, spec §3.2 ▶): two full latent sets, one
``λ ~ U(0,1)`` per pair, the generator's ``interpolate`` edit (keypoints, part embeddings,
background and τ together); ``n`` defaults to the reference set's size. StyleMapGAN's
``encoder`` source needs a model with an encoder; none of lkbench's models has one yet, so it
is not offered.

Which published numbers this matches: LKG's 16.26 / 31.80 (SEED-EA Table 2) have no stated
sample count, reference set or backend; the † rows there are not clean-fid numbers (spec §3.1).
Records are therefore never marked ``published``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from lkbench.atomic import atomic_write
from lkbench.errors import ConfigError, DataError
from lkbench.finite import check_features_finite, check_images_finite
from lkbench.models import KeypointGenerator, Latents, edit_op
from lkbench.plots import images_to_uint8

from .frechet import FeatureStats
from .inception import FeatureExtractor, cache_root
from .latent_stream import latent_batches, paired_latent_batches, take

log = logging.getLogger(__name__)

__all__ = ["PROTOCOL", "PROTOCOL_VERSION", "RECORDS_FILE", "MODES", "FIDConfig",
           "to_feature_input", "image_features", "generator_stats", "interp_latent_batches",
           "reference_stats", "fid_label"]

PROTOCOL = "fid"
PROTOCOL_VERSION = "1"
RECORDS_FILE = "fid.jsonl"
MODES = ("clean", "legacy_tensorflow")
UINT8_RULE = "round((x+1)*127.5) clipped to [0,255]"
DEFAULT_NUM_GEN = 50_000


@dataclass(frozen=True)
class FIDConfig:
    """Settings of one FID / FID_interp run.

    Attributes:
        dataset, split: the real images of the reference statistics.
        dataset_options: extra keyword arguments of the dataset (e.g. ``difficulty``).
        num_gen: generated images; ``None`` = :data:`DEFAULT_NUM_GEN` for FID and the
            reference set's size for FID_interp.
        num_ref: real images (``None`` = the whole split).
        mode: clean-fid mode, ``clean`` | ``legacy_tensorflow``.
        features: feature network (``inception`` = FID; anything else is a named Fréchet
            distance, never reported as FID).
        interp: FID_interp (prior source) instead of FID.
        batch_size: images per generator/feature batch (does not change the result).
        seed: seed of latents (and of λ: ``seed + 1``).
        allow_small_n: allow fewer samples than the feature size (the covariance is singular).
        device: auto | cpu | cuda | cuda:N.
        inception_weights: explicit Inception file (else environment / cache / download).
    """
    dataset: str = "synthetic"
    split: str = "train"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    num_gen: "int | None" = None
    num_ref: "int | None" = None
    mode: str = "clean"
    features: str = "inception"
    interp: bool = False
    batch_size: int = 32
    seed: int = 0
    allow_small_n: bool = False
    device: str = "auto"
    inception_weights: "str | None" = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown FID mode {self.mode!r}; use one of {', '.join(MODES)}")
        for name in ("num_gen", "num_ref"):
            v = getattr(self, name)
            if v is not None and v < 2:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 2, got {v}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")


def fid_label(metric: str, n: int, mode: str, resolution: int) -> str:
    """Display name from the identity fields, e.g. ``fid50k_clean@128``, ``fd_random_conv2k``."""
    count = f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)
    return f"{metric}{count}_{mode}@{resolution}"


def to_feature_input(images: Tensor, mode: str) -> Tensor:
    """Generator/dataset images → what clean-fid feeds its feature network.

    Args:
        images: float ``[N,3,R,R]`` in [-1, 1].
        mode: ``clean`` | ``legacy_tensorflow``.

    Returns:
        float32 ``[N,3,299,299]`` (clean; ``[N,3,R,R]`` for legacy_tensorflow) with values in
        [0, 255] — the uint8 values of step 1, resized as clean-fid does.
    """
    from cleanfid.resize import build_resizer

    u8 = images_to_uint8(images)                                  # [N,3,R,R] uint8, CPU
    if mode == "legacy_tensorflow":
        return u8.float()
    resize = build_resizer(mode)
    out = [torch.from_numpy(np.ascontiguousarray(
        resize(img.permute(1, 2, 0).numpy()).transpose(2, 0, 1))) for img in u8]
    return torch.stack(out).float()


def image_features(images: Tensor, extractor: FeatureExtractor, mode: str,
                   device: torch.device) -> Tensor:
    """float32 features ``[N, dim]`` (CPU) of images ``[N,3,R,R]`` in [-1, 1]."""
    x = to_feature_input(images, mode).to(device)
    with torch.no_grad():
        return extractor.fn(x).float().cpu()


def interp_latent_batches(generator: KeypointGenerator, num: int, seed: int, batch_size: int
                          ) -> Iterator[Latents]:
    """FID_interp's ``prior`` latents: pairs ``(a_i, b_i)`` of full latents (seed ``seed``) and
    ``λ_i ~ U(0,1)`` (seed ``seed + 1``, drawn up front), ``interpolate(a_i, b_i, λ_i)`` by the
    generator's :meth:`~lkbench.models.EditableGenerator.interpolate` (a generator without it
    raises :class:`~lkbench.models.UnsupportedEditError` at the first batch)."""
    interpolate = edit_op(generator, "interpolate", "FID_interp")
    lam = torch.rand(num, generator=torch.Generator().manual_seed(int(seed) + 1),
                     dtype=torch.float64)
    i = 0
    for a, b in paired_latent_batches(generator, num, seed, batch_size):
        rows = [interpolate(take(a, j, j + 1), take(b, j, j + 1), float(lam[i + j]))
                for j in range(len(a))]
        i += len(a)
        yield _cat(rows)


def _cat(rows: Sequence[Latents]) -> Latents:
    first = rows[0]
    return Latents(
        keypoints=torch.cat([r.keypoints for r in rows]),
        part_embeddings=torch.cat([r.part_embeddings for r in rows]),
        background=torch.cat([r.background for r in rows]),
        active=torch.cat([r.active for r in rows]),
        tau=None if first.tau is None else torch.cat([r.tau for r in rows]),
        slots=first.slots)


def generator_stats(generator: KeypointGenerator, extractor: FeatureExtractor, mode: str,
                    num: int, *, seed: int, batch_size: int, device: torch.device,
                    interp: bool = False, progress: bool = False,
                    on_batch: "Callable[[Tensor], None] | None" = None) -> FeatureStats:
    """Feature statistics of ``num`` generated images (FID_interp's with ``interp=True``).

    ``on_batch`` receives each batch's features ``[B, dim]`` (tests).
    """
    stats = FeatureStats(extractor.dim)
    stream = (interp_latent_batches if interp else latent_batches)(generator, num, seed,
                                                                    batch_size)
    desc = "generate+features" + (" (interp)" if interp else "")
    with torch.no_grad(), tqdm(total=num, desc=desc, unit="img", disable=not progress,
                               leave=False) as bar:
        for lat in stream:
            images = generator.render(lat).images
            check_images_finite(images, "the generator")
            feats = image_features(images, extractor, mode, device)
            check_features_finite(feats, "the generated images")
            if on_batch is not None:
                on_batch(feats)
            stats.update(feats)
            bar.update(len(lat))
    return stats


# ---------------------------------------------------------------- reference statistics

@dataclass(frozen=True)
class ReferenceStats:
    """Real-image statistics and where they came from."""
    mu: np.ndarray
    sigma: np.ndarray
    n: int
    key: str
    path: Path
    cached: bool
    wall_time_s: float


def _dataset_identity(ds, name: str, split: str, options: dict[str, Any]) -> dict[str, Any]:
    cfg = getattr(ds, "config", None)
    ident = cfg.to_dict() if hasattr(cfg, "to_dict") else {}
    return {"name": name, "split": split, "options": options, "len": len(ds),
            "class": type(ds).__name__, **({"config": ident} if ident else {})}


def reference_key(identity: dict[str, Any], *, resolution: int, mode: str, num: int,
                  extractor: FeatureExtractor) -> str:
    """sha256 of a canonical JSON of everything that changes the reference statistics."""
    payload = {"protocol_version": PROTOCOL_VERSION, "dataset": identity,
               "resolution": resolution, "mode": mode, "num": num, "uint8": UINT8_RULE,
               "features": extractor.name, "weights_sha256": extractor.weights_sha256,
               "order": "first num images of the split"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _read_cache(path: Path, key: str) -> "tuple[np.ndarray, np.ndarray, int] | None":
    """The cached ``(mu, sigma, n)``, or None (missing, unreadable, or another key)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            if str(z["key"]) != key:
                raise ValueError("key mismatch")
            return z["mu"], z["sigma"], int(z["n"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable reference statistics %s (%s); recomputing", path, exc)
        return None


def reference_stats(cfg: FIDConfig, extractor: FeatureExtractor, resolution: int,
                    device: torch.device, *, progress: bool = False,
                    say: Callable[[str], None] = lambda _m: None) -> ReferenceStats:
    """Statistics of the first ``cfg.num_ref`` images (all by default) of the real split at
    ``resolution``, from the cache or computed and cached (atomic write)."""
    from lkbench.data import get_dataset

    t0 = time.perf_counter()
    ds = get_dataset(cfg.dataset, split=cfg.split, image_size=resolution,
                     **cfg.dataset_options)
    if not getattr(ds, "has_images", True):
        raise DataError(f"split {cfg.split!r} of {cfg.dataset!r} has no images; choose a split "
                        "with images for the reference statistics (e.g. train)")
    num = len(ds) if cfg.num_ref is None else cfg.num_ref
    if num > len(ds):
        raise ConfigError(f"--num-ref {num} exceeds the {len(ds)} images of {cfg.dataset}/"
                          f"{cfg.split}")
    key = reference_key(_dataset_identity(ds, cfg.dataset, cfg.split, cfg.dataset_options),
                        resolution=resolution, mode=cfg.mode, num=num, extractor=extractor)
    path = (cache_root() / "fid-stats" /
            f"{cfg.dataset}-{cfg.split}-{extractor.name}-{cfg.mode}-{resolution}-{key[:12]}.npz")
    hit = _read_cache(path, key)
    if hit is not None:
        say(f"reference stats (cached): {num} images of {cfg.dataset}/{cfg.split} from {path}")
        return ReferenceStats(hit[0], hit[1], hit[2], key, path, True, time.perf_counter() - t0)
    say(f"reference stats: {num} images of {cfg.dataset}/{cfg.split} at {resolution} px "
        f"(cached afterwards in {path.parent})")
    stats = FeatureStats(extractor.dim)
    with tqdm(total=num, desc="reference features", unit="img", disable=not progress,
              leave=False) as bar:
        for start in range(0, num, cfg.batch_size):
            images = ds.batch(range(start, min(start + cfg.batch_size, num))).images
            stats.update(image_features(images, extractor, cfg.mode, device))
            bar.update(images.shape[0])
    mu, sigma = stats.compute()
    with atomic_write(path) as fh:
        np.savez(fh, mu=mu, sigma=sigma, n=np.int64(num), key=np.str_(key))
    return ReferenceStats(mu, sigma, num, key, path, False, time.perf_counter() - t0)


def check_sample_size(n: int, dim: int, what: str, allow_small_n: bool) -> None:
    """Refuse ``n`` below the feature size unless allowed (user expectation 5)."""
    if n < dim and not allow_small_n:
        raise ConfigError(f"{what}: {n} samples is fewer than the {dim} feature dimensions, so "
                          "the covariance is singular and the distance unreliable; use more "
                          "samples or pass --allow-small-n to compute it anyway")


def config_dict(cfg: FIDConfig) -> dict[str, Any]:
    """The config as plain JSON data for records."""
    return asdict(cfg)
