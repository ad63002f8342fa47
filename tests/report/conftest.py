"""A fixed set of result records and published numbers for the report tests.

Records are written through :mod:`lkbench.records` exactly as the protocols write them (the
landmark records carry the ``extra`` fields ``lkbench detect`` writes; the FID and CPD records
those of ``lkbench fid`` / ``lkbench cpd``), so the tests exercise the real schema.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from lkbench.records import RecordStore, ResultRecord

PUBLISHED_CSV = """\
method,benchmark,metric,variant,value,unit,higher_is_better,num_keypoints,source,notes
LatentKeypointGAN,celeba-wild,iod_error,,5.63,pct_inter_ocular,false,8,SEED-BM,
LatentKeypointGAN,celeba-wild,iod_error,,12.1,pct_inter_ocular,false,4,SEED-BM,
AutoLink,celeba-wild,iod_error,,5.24,pct_inter_ocular,false,8,WZ-AutoLink = PWC-AutoLink,
AutoLink,celeba-wild,iod_error,,6.11,pct_inter_ocular,false,4,WZ-AutoLink,
LatentKeypointGAN,deepfashion,pck,,49,pct_pck@6px,true,,SEED-BM,
AutoLink,deepfashion,pck,,66,pct_pck@6px,true,,PWC-AutoLink,
LatentKeypointGAN,portraits,fid,,16.26,fid,false,,SEED-EA T2,dataset of the LatentKeypointGAN row not stated in SEED-EA T2
Newell et al. (supervised),h36m-simplified,h36m_swap_error,all,2.16,pct_image_size,false,,SEED-KG T1,supervised
KeypointGAN,h36m-simplified,h36m_swap_error,all,2.73,pct_image_size,false,,SEED-KG T1,
KeypointGAN,h36m-simplified,h36m_swap_error,walk,4.00,pct_image_size,false,,SEED-KG T1,
"""

DEMO = "runs/demo/ckpt/step-0006000.pt"
DEMO_EARLY = "runs/demo/ckpt/step-0003000.pt"
CELEBA = "runs/celeba/ckpt/step-0100000.pt"
SHA = {DEMO: "a" * 64, DEMO_EARLY: "b" * 64, CELEBA: "c" * 64}

_DETECT_CONFIG = {"detector": {"arch": "compact", "widths": [16, 32, 64, 128]},
                  "train": {"pairs_per_epoch": 4096, "epochs": 4, "batch_size": 32},
                  "solver": "exact", "center": False, "seed": 0, "device": "cpu",
                  "regression": True, "strict_k": True, "benchmark": "synthetic"}


def landmark_record(model: str, benchmark: str, value: float, seed: "int | None", *,
                    checkpoint: "str | None" = DEMO, k: int = 8, solver: str = "exact",
                    center: bool = False, version: str = "1", started: str = "10",
                    metric: str = "iod_error", unit: str = "pct_inter_ocular",
                    higher_is_better: bool = False, n: int = 500,
                    role: str = "model") -> ResultRecord:
    """A record as lkbench detect writes it (the fields the report reads)."""
    return ResultRecord(
        schema=1, run_id=f"20260105-1011{started}-abcdef", protocol="landmarks",
        protocol_version=version, benchmark=benchmark, metric=metric, value=value, unit=unit,
        higher_is_better=higher_is_better, n=n, model=model, checkpoint=checkpoint,
        checkpoint_sha256=SHA.get(checkpoint) if checkpoint else None,
        config={**_DETECT_CONFIG, "solver": solver, "center": center, "seed": seed or 0,
                "benchmark": benchmark},
        seed=seed, provenance={"lkbench": "0.1.0"}, started_at=f"2026-01-05T10:11:{started}Z",
        wall_time_s=1.0, published=False,
        extra={"pipeline": "detect", "role": role, "regression": "joint", "solver": solver,
               "center": center, "settings": {"normaliser": "eyes"} if "iod" in metric else {},
               "num_keypoints": k, "dataset": {"name": benchmark, "image_size": 64,
                                               "options": {"difficulty": "easy"}}})


def generation_record(metric: str, value: float, seed: int, *, features: str = "inception",
                      mode: str = "clean", num_gen: int = 5000, protocol: str = "fid",
                      higher_is_better: bool = False, published: bool = False,
                      unit: str = "frechet_distance") -> ResultRecord:
    """A record as lkbench fid / lkbench cpd write it."""
    extra = ({"fid_backend": "clean-fid", "mode": mode, "features": features,
              "num_gen": num_gen, "num_ref": 2000, "resolution": 64,
              "reference": {"dataset": "synthetic", "split": "train", "key": "ref0",
                            "path": f"/cache/{seed}.npz", "cached": bool(seed)}}
             if protocol == "fid" else {"num_latents": 2000, "num_values": 100})
    config = ({"dataset": "synthetic", "num_gen": num_gen, "mode": mode, "features": features,
               "interp": metric.endswith("interp"), "batch_size": 32, "seed": seed,
               "device": "cpu"} if protocol == "fid" else
              {"num_latents": 2000, "groups": {}, "background": True, "seed": seed})
    return ResultRecord(
        schema=1, run_id=f"20260105-1012{seed:02d}-fedcba", protocol=protocol,
        protocol_version="1", benchmark="synthetic", metric=metric, value=value, unit=unit,
        higher_is_better=higher_is_better, n=num_gen if protocol == "fid" else 1000,
        model="latent-keypoint-gan", checkpoint=DEMO, checkpoint_sha256=SHA[DEMO],
        config=config, seed=seed, provenance={}, started_at="2026-01-05T10:12:00Z",
        wall_time_s=2.0, published=published, extra=extra)


L2M = "runs/l2m/ckpt/step-0002000.pt"


def editing_record(editor: str, checkpoint: "str | None", metric: str, value: float,
                   stderr: "float | None", unit: str, higher_is_better: bool) -> ResultRecord:
    """A record as lkbench edit-eval writes it."""
    return ResultRecord(
        schema=1, run_id="20260105-101400-aaaaaa", protocol="editing", protocol_version="1",
        benchmark="synthetic", metric=metric, value=value, unit=unit,
        higher_is_better=higher_is_better, n=200, model=editor, checkpoint=checkpoint,
        checkpoint_sha256=None, config={"protocol": "editing", "attribute": "smiling",
                                        "editor": editor, "alpha": 1.0, "seed": 0,
                                        "classifier": "/cache/classifier.pt"},
        seed=0, provenance={}, started_at="2026-01-05T10:14:00Z", wall_time_s=3.0,
        stderr=stderr, published=False,
        extra={"attribute": "smiling", "alpha": 1.0, "split": "test",
               "editor_step": 2000 if checkpoint else None})


def fixed_records() -> dict[str, list[ResultRecord]]:
    """The fixed record set, by file name."""
    lkg, base = "latent-keypoint-gan", "baseline:mean-shape"
    landmarks = [
        # synthetic: three seeds of the newest demo checkpoint -> 11.00 ± 1.00 (n=3)
        landmark_record(lkg, "synthetic", 10.0, 0),
        landmark_record(lkg, "synthetic", 11.0, 1),
        landmark_record(lkg, "synthetic", 99.0, 2, started="05"),  # superseded by the next
        landmark_record(lkg, "synthetic", 12.0, 2, started="20"),
        # an older checkpoint of the same run: hidden by default, drawn in the step plot
        landmark_record(lkg, "synthetic", 14.0, 0, checkpoint=DEMO_EARLY),
        landmark_record(lkg, "synthetic", 16.0, 1, checkpoint=DEMO_EARLY),
        # incomparable: another solver, the centred frame, a newer protocol version
        landmark_record(lkg, "synthetic", 13.0, 0, solver="alk"),
        landmark_record(lkg, "synthetic", 9.0, 0, center=True),
        landmark_record(lkg, "synthetic", 10.5, 3, version="2"),
        # baselines (no checkpoint): 20.00 ± 0.00 (n=3); the supervised one is a reference
        *(landmark_record(base, "synthetic", 20.0, s, checkpoint=None, role="baseline")
          for s in (0, 1, 2)),
        landmark_record("baseline:supervised", "synthetic", 1.0, 0, checkpoint=None,
                        role="baseline"),
        # CelebA wild K=8: 5.50 ± 0.71 (n=2), beaten by AutoLink's published 5.24
        landmark_record(lkg, "celeba-wild", 5.0, 0, checkpoint=CELEBA),
        landmark_record(lkg, "celeba-wild", 6.0, 1, checkpoint=CELEBA),
        # DeepFashion (higher is better): 71.00 ± 1.41 (n=2) beats the published 66
        landmark_record(lkg, "deepfashion", 70.0, 0, checkpoint=CELEBA, metric="pck",
                        unit="pct_pck@6px", higher_is_better=True, k=10),
        landmark_record(lkg, "deepfashion", 72.0, 1, checkpoint=CELEBA, metric="pck",
                        unit="pct_pck@6px", higher_is_better=True, k=10),
    ]
    generation = [
        generation_record("fid", 30.0, 0), generation_record("fid", 32.0, 1),
        generation_record("fid", 40.0, 0, mode="legacy_tensorflow"),
        generation_record("fd_random_conv", 3.0, 0, features="random-conv"),
        generation_record("cpd", 0.5, 0, protocol="cpd", higher_is_better=True,
                          published=True, unit="score"),
    ]
    editing = [editing_record(editor, ckpt, metric, value, se, unit, hib)
               for editor, ckpt in (("identity", None), ("l2m-gan", L2M))
               for metric, value, se, unit, hib in (
                   ("attribute_accuracy", 0.5 if ckpt is None else 0.9, 0.05, "fraction", True),
                   ("keypoint_displacement", 0.0 if ckpt is None else 0.05, None,
                    "fraction_of_inter_ocular", False),
                   ("counterfactual_image_error", 0.2 if ckpt is None else 0.1, 0.01,
                    "mean_abs_intensity", False))]
    other = [ResultRecord(
        schema=1, run_id="20260105-101300-000000", protocol="toy", protocol_version="1",
        benchmark="toyset", metric="accuracy", value=0.75, unit="fraction",
        higher_is_better=True, n=10, model="toy-model", checkpoint=None,
        checkpoint_sha256=None, config={}, seed=0, provenance={},
        started_at="2026-01-05T10:13:00Z", wall_time_s=0.1)]
    return {"landmarks.jsonl": landmarks, "fid.jsonl": generation, "editing.jsonl": editing,
            "toy.jsonl": other}


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A results folder with the fixed records (and one corrupt line in landmarks.jsonl)."""
    folder = tmp_path / "runs"
    for name, records in fixed_records().items():
        store = RecordStore(folder / name, fsync=False)
        for r in records:
            store.append(r)
    with open(folder / "landmarks.jsonl", "a", encoding="utf-8") as f:
        f.write('{"schema": 1, "value": "not a record"}\n')
    return folder


@pytest.fixture
def published_csv(tmp_path: Path) -> Path:
    path = tmp_path / "published.csv"
    path.write_text(PUBLISHED_CSV, encoding="utf-8")
    return path


@pytest.fixture
def report(results_dir, published_csv):
    """The report of the fixed records beside the test's published numbers."""
    from lkbench.report import build_report, read_published, read_records

    return build_report(read_published(published_csv), read_records([results_dir]).records)


def table_of(report, family: str):
    """The table of ``family`` (``family/benchmark`` for split families)."""
    matches = [t for t in report.tables if t.family == family]
    assert matches, f"no table {family!r}; have {[t.family for t in report.tables]}"
    return matches[0]


@pytest.fixture
def table():
    return table_of


@pytest.fixture
def make_landmark_record():
    """:func:`landmark_record`, for tests that build their own records."""
    return landmark_record
