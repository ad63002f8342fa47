"""``lkbench fid`` end to end: resolve the feature network (before any generation), reference
statistics (cached), generated statistics, clean-fid's Fréchet distance, one record appended to
``<results>/fid.jsonl``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from lkbench.atomic import PathLike

from .fid import (DEFAULT_NUM_GEN, PROTOCOL, PROTOCOL_VERSION, RECORDS_FILE, UINT8_RULE, FIDConfig,
                  check_sample_size, config_dict, fid_label, generator_stats, reference_stats)
from .frechet import frechet_distance
from .records import append_records, load_generator_checkpoint, make_record, start_run
from .inception import build_extractor

__all__ = ["FIDRun", "run_fid", "metric_name"]


@dataclass(frozen=True)
class FIDRun:
    """The value, its identity and where the record went."""
    run_id: str
    metric: str
    label: str
    value: float
    num_gen: int
    num_ref: int
    reference_cached: bool
    records_path: Path
    wall_time_s: float
    stage_times_s: dict


def metric_name(features: str, interp: bool) -> str:
    """``fid`` / ``fid_interp`` for Inception; ``fd_<features>`` / ``fd_interp_<features>``
    otherwise, so other feature networks never land in an FID column."""
    if features == "inception":
        return "fid_interp" if interp else "fid"
    return (f"fd_interp_{features}" if interp else f"fd_{features}").replace("-", "_")


def run_fid(cfg: FIDConfig, *, checkpoint: PathLike, results: "PathLike | None" = None,
            progress: bool = True, say: Callable[[str], None] = lambda _m: None,
            argv: "Sequence[str] | None" = None) -> FIDRun:
    """FID (or FID_interp, or a named Fréchet distance) of the generator in ``checkpoint``."""
    t0 = time.perf_counter()
    gen = load_generator_checkpoint(checkpoint, cfg.device)
    extractor = build_extractor(cfg.features, cfg.mode, gen.device,
                                weights=cfg.inception_weights)
    res = int(gen.model.image_size)
    if cfg.num_ref is not None:
        check_sample_size(cfg.num_ref, extractor.dim, "--num-ref", cfg.allow_small_n)
    if cfg.num_gen is not None:
        check_sample_size(cfg.num_gen, extractor.dim, "--num-gen", cfg.allow_small_n)
    meta = start_run(gen, argv)
    ref = reference_stats(cfg, extractor, res, gen.device, progress=progress, say=say)
    check_sample_size(ref.n, extractor.dim, "reference set", cfg.allow_small_n)
    num_gen = cfg.num_gen if cfg.num_gen is not None else (ref.n if cfg.interp else
                                                           DEFAULT_NUM_GEN)
    check_sample_size(num_gen, extractor.dim, "generated set", cfg.allow_small_n)
    say(f"generating {num_gen} images{' (FID_interp, prior)' if cfg.interp else ''} at {res} px "
        f"on {gen.device}")
    t_gen = time.perf_counter()
    stats = generator_stats(gen.model, extractor, cfg.mode, num_gen, seed=cfg.seed,
                            batch_size=cfg.batch_size, device=gen.device, interp=cfg.interp,
                            progress=progress)
    t_gen = time.perf_counter() - t_gen
    say("Fréchet distance (sqrtm)")
    t_fd = time.perf_counter()
    mu, sigma = stats.compute()
    value = frechet_distance(mu, sigma, ref.mu, ref.sigma)
    t_fd = time.perf_counter() - t_fd
    metric = metric_name(cfg.features, cfg.interp)
    label = fid_label(metric, num_gen, cfg.mode, res)
    stages = {"reference": round(ref.wall_time_s, 3), "generate_features": round(t_gen, 3),
              "frechet": round(t_fd, 3)}
    extra = {"fid_backend": "clean-fid", "mode": cfg.mode, "features": extractor.name,
             "feature_dim": extractor.dim, "is_fid": extractor.is_fid,
             "weights_sha256": extractor.weights_sha256, "features_info": extractor.info,
             "num_gen": num_gen, "num_ref": ref.n, "resolution": res,
             "reference": {"dataset": cfg.dataset, "split": cfg.split,
                           "options": cfg.dataset_options, "key": ref.key,
                           "path": str(ref.path), "cached": ref.cached},
             "uint8_rule": UINT8_RULE, "label": label, "stage_times_s": stages,
             **({"interp_source": "prior", "interp": "one lambda ~ U(0,1) per pair, all "
                 "latents (keypoints, embeddings, background, tau)"} if cfg.interp else {})}
    wall = time.perf_counter() - t0
    record = make_record(meta, gen, protocol=PROTOCOL, protocol_version=PROTOCOL_VERSION,
                         benchmark=cfg.dataset, metric=metric, value=value,
                         unit="frechet_distance", higher_is_better=False, n=num_gen,
                         config=config_dict(cfg), seed=cfg.seed, wall_time_s=wall, extra=extra)
    path = append_records(results, RECORDS_FILE, [record])
    return FIDRun(meta.run_id, metric, label, value, num_gen, ref.n, ref.cached, path, wall,
                  stages)
