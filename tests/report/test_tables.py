"""Tables: grouping over seeds, incomparable records kept apart, best per column, families."""
from __future__ import annotations

import dataclasses
import math

import pytest

from lkbench.records import ResultRecord
from lkbench.report import build_report, read_published
from lkbench.report.comparability import column_metric, record_settings
from lkbench.report.table_model import format_cell_text


def rows_of(t, method):
    return [(i, r) for i, r in enumerate(t.rows) if r.method == method]


def column(t, label):
    return [c.label for c in t.columns].index(label)


def test_mean_std_over_seeds_with_the_latest_record_per_seed(report, table):
    t = table(report, "synthetic")
    (i, row), *_ = rows_of(t, "latent-keypoint-gan")
    cell = t.cells[(i, 0)]
    # seeds 0, 1, 2 = 10, 11, 12 (seed 2's earlier 99 was re-scored): mean 11, sample std 1
    assert (cell.value, cell.std, cell.n_seeds, cell.n) == (11.0, 1.0, 3, 500)
    assert format_cell_text(cell) == "11.00 ± 1.00 (n=3)"
    (j, base), = rows_of(t, "baseline:mean-shape")
    assert (t.cells[(j, 0)].value, t.cells[(j, 0)].std, t.cells[(j, 0)].n_seeds) == (20, 0, 3)
    assert base.source == "measured" and base.checkpoint is None


def test_celeba_two_seeds(report, table):
    t = table(report, "celeba")
    (i, row), = rows_of(t, "latent-keypoint-gan")
    cell = t.cells[(i, column(t, "K=8"))]
    assert cell.value == 5.5 and math.isclose(cell.std, math.sqrt(0.5)) and cell.n_seeds == 2
    assert row.source == "measured: celeba/step-0100000.pt" and row.step == 100000


def test_incomparable_records_get_their_own_rows_and_footnotes(report, table):
    t = table(report, "synthetic")
    rows = rows_of(t, "latent-keypoint-gan")
    values = {t.cells[(i, 0)].value: r.settings for i, r in rows}
    assert set(values) == {11.0, 13.0, 9.0, 10.5}  # never averaged together
    assert "solver=alk" in values[13.0]
    assert "centred regression frame (center=True)" in values[9.0]
    assert "protocol v2" in values[10.5] and "protocol v1" in values[11.0]
    assert "solver" not in values[11.0] and "centred" not in values[11.0]
    # every measured row says its settings are not the published ones
    assert all("published: false" in r.settings for _, r in rows)
    markers = [r.marker for _, r in rows]
    assert len(set(markers)) == 4 and dict(t.row_markers())[markers[1]] == rows[1][1].settings
    assert rows[0][1].settings == values[11.0]  # the main row comes first


def test_older_checkpoints_are_history_not_rows(report, table, results_dir, published_csv):
    t = table(report, "synthetic")
    assert all(r.step in (None, 6000) for r in t.rows)
    h = t.history
    lkg = h[h["series"].str.startswith("latent-keypoint-gan (demo)")]
    main = lkg[lkg["series"] == "latent-keypoint-gan (demo)"]
    assert list(main["step"]) == [3000, 6000] and list(main["mean"]) == [15.0, 11.0]
    from lkbench.report import read_records
    everything = build_report(read_published(published_csv),
                              read_records([results_dir]).records, all_checkpoints=True)
    t_all = table(everything, "synthetic")
    early = [i for i, r in enumerate(t_all.rows) if r.step == 3000]
    assert len(early) == 1 and t_all.cells[(early[0], 0)].value == 15.0


def test_best_when_lower_is_better(report, table):
    celeba = table(report, "celeba")
    best = {t_row.method for (i, j), c in celeba.cells.items() if c.best
            for t_row in [celeba.rows[i]]}
    assert best == {"AutoLink"}  # 5.24 and 6.11 beat the measured 5.50
    synthetic = table(report, "synthetic")
    best = [(synthetic.rows[i], c.value) for (i, _), c in synthetic.cells.items() if c.best]
    # the supervised baseline (1.0) is a reference and never bold
    assert [(r.method, v) for r, v in best] == [("latent-keypoint-gan", 9.0)]
    (i, sup), = rows_of(synthetic, "baseline:supervised")
    assert sup.supervised and not synthetic.cells[(i, 0)].best


def test_best_when_higher_is_better(report, table):
    t = table(report, "deepfashion")
    assert t.columns[0].higher_is_better and t.columns[0].arrow == "↑"
    best = [(t.rows[i].method, c.value) for (i, _), c in t.cells.items() if c.best]
    assert best == [("latent-keypoint-gan", 71.0)]
    cpd = table(report, "generation/synthetic")
    j = column(cpd, "CPD")
    assert [c.value for (i, jj), c in cpd.cells.items() if jj == j and c.best] == [0.5]


def test_fid_modes_never_share_a_cell_and_other_features_never_an_fid_column(report, table):
    t = table(report, "generation/synthetic")
    fid = column(t, "FID")
    assert t.columns[fid].metric == "fid"
    assert sorted(c.value for (i, j), c in t.cells.items() if j == fid) == [31.0, 40.0]
    fd = column(t, "FD (random_conv)")
    assert [c.value for (i, j), c in t.cells.items() if j == fd] == [3.0]
    legacy = [t.rows[i] for (i, j), c in t.cells.items() if j == fid and c.value == 40.0][0]
    assert "FID mode=legacy_tensorflow" in legacy.settings
    # FID, FD and CPD of one checkpoint share a row: per-protocol settings do not split it
    main = [i for (i, j), c in t.cells.items() if j == fid and c.value == 31.0][0]
    assert {j for (i, j) in t.cells if i == main} == {fid, fd, column(t, "CPD")}
    # CPD ran with the published settings, FID did not: the footnote names the columns
    assert t.rows[main].settings.endswith("(FID, FD (random_conv))")


def test_a_metric_called_fid_on_other_features_moves_to_its_own_column():
    rec = ResultRecord(
        schema=1, run_id="r", protocol="fid", protocol_version="1", benchmark="ffhq",
        metric="fid", value=1.0, unit="frechet_distance", higher_is_better=False, n=10,
        model="m", checkpoint=None, checkpoint_sha256=None, config={}, seed=0, provenance={},
        started_at="2026-01-05T10:11:12Z", wall_time_s=0.0,
        extra={"features": "random-conv", "mode": "clean"})
    assert column_metric(rec.to_dict()) == "fd[random-conv]"
    inception = rec.to_dict() | {"extra": {"features": "inception", "mode": "clean"}}
    assert column_metric(inception) == "fid"
    assert record_settings(inception)["FID mode"].deviates is False


def test_unknown_protocols_land_in_an_other_table(report, table):
    t = table(report, "other-toyset")
    assert [r.method for r in t.rows] == ["toy-model"] and t.columns[0].metric == "accuracy"


def test_published_cells_sources_and_notes(report, table):
    t = table(report, "celeba")
    assert [k for k, _ in t.sources] == ["SEED-BM", "WZ-AutoLink", "PWC-AutoLink"]
    (i, lkg), = rows_of(t, "LatentKeypointGAN")
    assert lkg.kind == "published" and lkg.source == "SEED-BM"
    assert t.cells[(i, column(t, "K=4"))].text == "12.1"
    h36m = table(report, "h36m")
    (i, _), = rows_of(h36m, "KeypointGAN")
    assert format_cell_text(h36m.cells[(i, column(h36m, "Walking"))]) == "4.00"  # as written
    portraits = table(report, "generation/portraits")
    assert portraits.notes == ["dataset of the LatentKeypointGAN row not stated in SEED-EA T2"]
    assert portraits.cells[(0, 0)].notes == (1,)


def test_every_family_of_the_published_numbers():
    report = build_report(read_published(), [])
    families = [t.family for t in report.tables]
    assert families == ["celeba", "cub", "taichi", "deepfashion", "h36m", "h36m-original",
                        "300w", "generation/portraits", "generation/celeba-hq",
                        "generation/ffhq", "keypointgan-ablation"]
    assert [f.name for f in report.empty_families] == ["synthetic", "editing"]
    published = read_published()
    # every published number appears once; KeypointGAN's two full-model numbers also head the
    # ablation table (rows of KeypointGAN Table 4)
    assert sum(len(t.cells) for t in report.tables) == len(published) + 2
    assert all(t.sources for t in report.tables)
    ablation = [t for t in report.tables if t.family == "keypointgan-ablation"][0]
    assert [r.method for r in ablation.rows][:2] == ["KeypointGAN",
                                                     "KeypointGAN ablation: CycleGAN"]
    h36m = [t for t in report.tables if t.family == "h36m"][0]
    assert [c.label for c in h36m.columns] == ["all", "Waiting", "Posing", "Greeting",
                                               "Directions", "Discussion", "Walking"]
    celeba = [t for t in report.tables if t.family == "celeba"][0]
    assert [c.label for c in celeba.columns] == ["CelebA wild K=8", "CelebA wild K=4",
                                                 "MAFL aligned"]


def test_benchmark_filter_takes_aliases(report, results_dir, published_csv):
    from lkbench.report import read_records
    only = build_report(read_published(published_csv), read_records([results_dir]).records,
                        benchmarks=["mafl"])
    assert [t.family for t in only.tables] == ["celeba"] and not only.empty_families


@pytest.mark.parametrize("benchmark, metric, unit, extra, family, label", [
    ("h36m-simplified", "h36m_swap_error", "pct_image_size", {}, "h36m", "all"),
    ("300w", "iod_error", "pct_inter_ocular", {"regression": "none"}, "300w", "error"),
])
def test_record_variants(benchmark, metric, unit, extra, family, label):
    rec = ResultRecord(
        schema=1, run_id="r", protocol="landmarks", protocol_version="1", benchmark=benchmark,
        metric=metric, value=3.0, unit=unit, higher_is_better=False, n=10, model="keypoint-gan",
        checkpoint="runs/kpg/ckpt/step-0000100.pt", checkpoint_sha256=None, config={}, seed=0,
        provenance={}, started_at="2026-01-05T10:11:12Z", wall_time_s=0.0, extra=extra)
    report = build_report(read_published(), [rec])
    t = [t for t in report.tables if t.family == family][0]
    i = [i for i, r in enumerate(t.rows) if r.kind == "measured"][0]
    j = [c.label for c in t.columns].index(label)
    assert t.cells[(i, j)].value == 3.0
    if family == "300w":
        assert t.rows[i].method == "keypoint-gan (w/o post-proc.)"
    ablation = [t for t in report.tables if t.family == "keypointgan-ablation"][0]
    assert any(r.method.startswith("keypoint-gan") for r in ablation.rows)


def _with_per_image(record: ResultRecord, errors) -> ResultRecord:
    import dataclasses

    import numpy as np

    from lkbench.protocols.landmarks.uncertainty import PerImage
    p = PerImage(np.asarray(errors), np.ones(len(errors)))
    return dataclasses.replace(record, value=p.value,
                               extra={**record.extra, "per_image": p.encode()})


@pytest.mark.parametrize("offset,marked", [(0.0, True), (0.4, False)])
def test_noise_marker_pairs_rows_on_the_same_test_images(offset, marked, make_landmark_record):
    """Two models on the same 300 test images whose per-image errors share the images'
    difficulty: drawn from one distribution they are marked ≈ (within noise of the best);
    0.4 apart (each row's own interval is ~1.0 wide, but the paired difference is sharp) not."""
    import numpy as np

    landmark_record = make_landmark_record
    rng = np.random.default_rng(0)
    difficulty = rng.gamma(2.0, 2.5, 300)
    a = difficulty + rng.normal(0, 0.3, 300)
    b = difficulty + offset + rng.normal(0, 0.3, 300)
    recs = [_with_per_image(landmark_record("model-a", "synthetic", 0, 0, checkpoint="a.pt"), a),
            _with_per_image(landmark_record("model-b", "synthetic", 0, 0, checkpoint="b.pt"), b)]
    t = next(t for t in build_report(None, recs).tables if t.family == "synthetic")
    cells = {t.rows[i].method: c for (i, _), c in t.cells.items()}
    best, other = sorted(cells.values(), key=lambda c: c.value)
    assert best.best and not best.noise
    assert other.noise is marked
    assert format_cell_text(other).endswith(" ≈") is marked


def test_a_variant_named_in_the_training_config_labels_the_row(make_landmark_record):
    """KeypointGAN's ablation: records of one model trained as different variants are told apart
    by the variant its run config names (``extra.trained_with.model.variant``)."""
    recs = []
    for variant, value in (("full", 41.3), ("bottleneck", 57.1), ("", 60.0)):
        r = make_landmark_record("keypoint-gan", "synthetic-pose", value, 0,
                                 checkpoint=f"{variant or 'plain'}.pt", k=5)
        trained = {"model": {"variant": variant}} if variant else {}
        recs.append(dataclasses.replace(r, extra={**r.extra, "trained_with": trained,
                                                  "regression": "none"}))    # direct read-out
    base = make_landmark_record("baseline:mean-shape", "synthetic-pose", 63.1, 0, k=5,
                                role="baseline")
    recs.append(dataclasses.replace(base, extra={**base.extra, "regression": "none",
                                                 "trained_with": {"model": {"variant": "full"}}}))
    table = next(t for t in build_report(None, recs).tables if t.family == "keypointgan-ablation")
    methods = sorted({row.method for row in table.rows})
    assert methods == ["keypoint-gan", "keypoint-gan (bottleneck)", "keypoint-gan (full)"]
    pose = next(t for t in build_report(None, recs).tables if t.family == "synthetic")
    assert "baseline:mean-shape" in {row.method for row in pose.rows}      # no variant on it
