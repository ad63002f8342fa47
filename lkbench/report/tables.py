"""Leaderboard tables from published numbers and result records (pandas does the grouping).

One concept (about 540 lines): turning records into tables; the tables' data model and number
formatting are in :mod:`.table_model`.

:func:`build_report` turns ``published.csv`` rows and :class:`~lkbench.records.ResultRecord`
objects into one :class:`Table` per family (:mod:`lkbench.report.families`). In a table:

* rows are methods: published rows (method + source) and measured rows (model + checkpoint);
* columns are (benchmark, metric, variant, K) as the family lays them out, with the metric's
  direction; column headers name only the parts that differ between the table's columns;
* a published cell is the number of ``published.csv``; a measured cell is the mean ± sample
  standard deviation (ddof = 1) over seeds, with n = the number of seeds (the latest record of
  each seed counts once);
* measured records whose comparability settings (:mod:`lkbench.report.comparability`) differ
  go to separate rows, each with a footnote saying what differs;
* the best cell of each column is flagged (supervised reference rows never are), and measured
  cells within noise of it are marked (a paired bootstrap over the test images, see
  :func:`_mark_noise`);
* published notes become numbered cell notes, and every source key is listed with what it is.

By default only the newest checkpoint of each training run is a row (``all_checkpoints=True``
shows every one); the earlier ones stay in :attr:`Table.history` for the error-vs-step plots.
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import PurePath
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from lkbench.errors import LkbenchError
from lkbench.protocols.landmarks.benchmarks import BENCHMARKS
from lkbench.protocols.landmarks.uncertainty import PerImage, within_noise
from lkbench.records import ResultRecord

from .comparability import SettingValue, column_metric, record_settings
from .families import (SOURCES, Family, benchmark_label, canonical_unit, families_in_order,
                       is_supervised, metric_label, other_family, source_keys)
from .table_model import Cell, Column, Report, Row, Table

__all__ = ["build_report"]


# ==================== records → one flat frame
_STEP_KEYS = ("step", "checkpoint_step", "generator_step", "editor_step")
_STEP_RE = re.compile(r"step[-_]?0*(\d+)")
_SHA_RE = re.compile(r"[0-9a-f]{64}")


def _step_and_run(record: ResultRecord) -> tuple["int | None", "str | None"]:
    """Training step of the checkpoint (``extra`` or a ``step-N`` file name) and its run folder
    (the folder holding ``ckpt/``)."""
    if record.checkpoint is None:
        return None, None
    path = PurePath(record.checkpoint)
    run = str(path.parent.parent if path.parent.name == "ckpt" else path.parent)
    for key in _STEP_KEYS:
        value = record.extra.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value, run
    m = _STEP_RE.search(path.stem)
    return (int(m.group(1)) if m else None), run


def _checkpoint_label(checkpoint: "str | None") -> str:
    if checkpoint is None:
        return ""
    path = PurePath(checkpoint)
    return f"{path.parent.parent.name}/{path.name}" if path.parent.name == "ckpt" else path.name


def _multi_k(benchmark: str) -> bool:
    """Published at several K (CelebA wild K=4/K=8): K is part of the column."""
    if benchmark not in BENCHMARKS:
        return False
    ks = BENCHMARKS.get(benchmark).num_keypoints
    return ks is not None and len(ks) > 1


def _model_label(record: ResultRecord) -> str:
    """The model's name, with the variant it was trained as when its training config names one
    (KeypointGAN's ablation: ``keypoint-gan (bottleneck)``)."""
    if record.extra.get("role", "model") != "model":       # baselines: not the model's variant
        return record.model
    trained = record.extra.get("trained_with")
    model_cfg = trained.get("model") if isinstance(trained, dict) else None
    variant = model_cfg.get("variant") if isinstance(model_cfg, dict) else None
    return f"{record.model} ({variant})" if isinstance(variant, str) and variant else record.model


def _records_frame(records: Sequence[ResultRecord]) -> pd.DataFrame:
    rows = []
    for i, r in enumerate(records):
        d = r.to_dict()
        step, run = _step_and_run(r)
        k = r.extra.get("num_keypoints")
        rows.append({
            "order": i, "dict": d, "protocol": r.protocol, "version": r.protocol_version,
            "model": _model_label(r), "benchmark": r.benchmark, "metric": r.metric,
            "column_metric": column_metric(d), "value": r.value, "unit": r.unit,
            "higher_is_better": r.higher_is_better, "n": r.n, "seed": r.seed,
            "started_at": r.started_at, "checkpoint": r.checkpoint, "stderr": r.stderr,
            "checkpoint_id": r.checkpoint_sha256 or r.checkpoint or "",
            "checkpoint_label": _checkpoint_label(r.checkpoint), "step": step, "run": run,
            "num_keypoints": k if isinstance(k, int) and not isinstance(k, bool) else None,
            "settings": record_settings(d),
        })
    frame = pd.DataFrame(rows, columns=[
        "order", "dict", "protocol", "version", "model", "benchmark", "metric", "column_metric",
        "value", "unit", "higher_is_better", "n", "seed", "started_at", "checkpoint", "stderr",
        "checkpoint_id", "checkpoint_label", "step", "run", "num_keypoints", "settings"]
)
    for name in ("step", "seed", "num_keypoints", "run", "checkpoint"):  # None stays None
        frame[name] = pd.Series([r[name] for r in rows], index=frame.index, dtype=object)
    return frame


# ==================== one table
def _settings_key(settings: Mapping[str, SettingValue], *, per_column: bool) -> tuple:
    return tuple(sorted((label, v.key()) for label, v in settings.items()
                        if v.per_column == per_column))


def _column_of(family: Family, benchmark: str, metric: str, variant: str, k: Any, unit: str,
               hib: bool) -> Column:
    k = None if k is None or (isinstance(k, float) and math.isnan(k)) or pd.isna(k) else int(k)
    return Column(benchmark, metric, variant if family.variant_in_column else "",
                  k if _multi_k(benchmark) else None, canonical_unit(unit), bool(hib))


def _label_columns(family: Family, columns: list[Column]) -> list[Column]:
    """Header labels naming only the parts that differ between the columns."""
    parts = {
        "benchmark": lambda c: benchmark_label(c.benchmark),
        "metric": lambda c: metric_label(c.metric),
        "variant": lambda c: family.variant_label(c.variant),
        "k": lambda c: "" if c.num_keypoints is None else f"K={c.num_keypoints}",
    }
    varying = [name for name, f in parts.items() if len({f(c) for c in columns}) > 1]
    if not varying:
        varying = ["metric"]
    labels = [" ".join(t for t in (parts[p](c) for p in varying) if t) or metric_label(c.metric)
              for c in columns]
    for i, label in enumerate(labels):  # two columns that only differ in unit or direction
        if labels.count(label) > 1:
            labels[i] = f"{label} [{columns[i].metric}, {columns[i].unit}]"
    return [Column(*c.key, label=lab) for c, lab in zip(columns, labels)]


def _published_part(family: Family, pub: pd.DataFrame) -> list[dict]:
    out = []
    for p in pub.itertuples(index=False):
        variant = p.variant or family.default_variant
        col = _column_of(family, p.benchmark, p.metric, variant, p.num_keypoints, p.unit,
                         p.higher_is_better)
        row_variant = "" if family.variant_in_column else variant
        method = p.method + (f" ({family.variant_label(row_variant)})" if row_variant else "")
        out.append({"row": ("published", method), "column": col, "value": p.value,
                    "source": p.source, "notes": p.notes, "method": method,
                    "raw_method": p.method, "order": p.line,
                    "text": getattr(p, "value_text", None)})
    return out


def _split_conflicts(recs: pd.DataFrame, scope: str, groups: Sequence[str], key: str) -> None:
    """Where records of one group (a row's protocol, or a row's cell) disagree on the settings
    in ``key``, keep the main set of settings in the row and move each other set to a row of
    its own. The main set is the one that deviates least from the published protocol, then
    the most common, then the first seen. Adds to ``recs["ext"]`` (what the moved records'
    row key gains) and ``recs["explain"]`` (labels whose values the footnotes must show)."""
    for _, part in recs.groupby(groups, sort=False):
        distinct = list(dict.fromkeys(part[key]))
        if len(distinct) < 2:
            continue
        counts = part[key].value_counts(sort=False)
        deviations = {k: sum(1 for _, v in k if isinstance(v, tuple) and v[:1] == ("deviates",))
                      for k in distinct}
        main = min(distinct, key=lambda k: (deviations[k], -counts[k], distinct.index(k)))
        labels = {label for k in distinct for label, _ in k}
        differing = {label for label in labels
                     if len({dict(k).get(label, "<absent>") for k in distinct}) > 1}
        for idx in part.index:
            k = recs.at[idx, key]
            recs.at[idx, "explain"] = recs.at[idx, "explain"] | differing
            if k != main:
                recs.at[idx, "ext"] = recs.at[idx, "ext"] + (
                    (scope, tuple((label, v) for label, v in k if label in differing)),)


def _measured_part(family: Family, recs: pd.DataFrame, all_checkpoints: bool
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measured records with their row and column: (records shown, records of all steps).

    A row starts as (model, run, variant, checkpoint, step). Settings that differ within a
    row's protocol (solver, frame, FID mode, config, ...) or within one of its cells
    (per-column settings: protocol version, published, sample counts, dataset) split it
    (:func:`_split_conflicts`). Keys are repr strings, so they never hold NaN.
    """
    if recs.empty:
        return recs, recs
    recs = recs.copy()
    recs["column"] = [
        _column_of(family, r.benchmark, r.column_metric, r.variant, r.num_keypoints, r.unit,
                   r.higher_is_better) for r in recs.itertuples()]
    recs["col_key"] = [repr(c.key) for c in recs["column"]]
    recs["row_variant"] = recs["variant"] if not family.variant_in_column else ""
    recs["step_key"] = [-1 if s is None else int(s) for s in recs["step"]]
    recs["seed_key"] = [-1 if s is None else int(s) for s in recs["seed"]]
    recs["run_key"] = [run if run is not None else ckpt for run, ckpt in
                       zip(recs["run"], recs["checkpoint_id"])]
    recs["proto_settings"] = [_settings_key(s, per_column=False) for s in recs["settings"]]
    recs["cell_settings"] = [_settings_key(s, per_column=True) for s in recs["settings"]]
    recs["base"] = [repr(t) for t in zip(recs["model"], recs["run_key"], recs["row_variant"],
                                         recs["checkpoint_id"], recs["step_key"])]
    # The latest record of each seed counts once.
    recs = (recs.sort_values(["started_at", "order"], kind="stable")
            .drop_duplicates(subset=["base", "col_key", "proto_settings", "cell_settings",
                                     "seed_key"], keep="last")
            .sort_values("order", kind="stable"))
    recs["series"] = [repr(t) for t in zip(recs["model"], recs["run_key"], recs["row_variant"],
                                           recs["proto_settings"], recs["cell_settings"])]
    history = recs
    if not all_checkpoints:  # the newest scored checkpoint of each run
        latest = recs.groupby(["model", "run_key"], sort=False)["step_key"].transform("max")
        recs = recs[recs["step_key"] == latest].copy()
    recs["ext"] = [()] * len(recs)
    recs["explain"] = [frozenset()] * len(recs)
    _split_conflicts(recs, "protocol", ["base", "protocol"], "proto_settings")
    recs["row"] = [repr((b, e)) for b, e in zip(recs["base"], recs["ext"])]
    _split_conflicts(recs, "column", ["row", "col_key"], "cell_settings")
    recs["row"] = [repr((b, e)) for b, e in zip(recs["base"], recs["ext"])]
    return recs, history


def _varying_labels(recs: pd.DataFrame) -> dict[str, set[str]]:
    """Per protocol: protocol-wide settings with no known published value whose values differ
    between the table's measured rows (e.g. detector budgets of two runs)."""
    out: dict[str, set[str]] = {}
    for protocol, part in recs.groupby("protocol", sort=False):
        labels = {label for s in part["settings"] for label, v in s.items()
                  if v.deviates is None and not v.per_column}
        out[protocol] = {label for label in labels
                         if len({s[label].value if label in s else "<absent>"
                                 for s in part["settings"]}) > 1}
    return out


def _row_settings_text(group: pd.DataFrame, varying: Mapping[str, set[str]],
                       columns: Sequence[Column]) -> str:
    """Footnote of one measured row (its records in ``group``): settings that deviate from the
    published protocol, settings without a known published value that differ from another
    row's, each named with its columns when it does not hold for the whole row."""
    texts: dict[str, set[int]] = {}
    for protocol, values, explain, j in zip(group["protocol"], group["settings"],
                                            group["explain"], group["col"]):
        show = varying.get(protocol, set()) | explain
        for label, v in values.items():
            if v.deviates or (v.deviates is None and label in show):
                texts.setdefault(v.text, set()).add(int(j))
    row_columns = {int(j) for j in group["col"]}
    return "; ".join(
        text if cols == row_columns else
        f"{text} ({', '.join(columns[j].label for j in sorted(cols))})"
        for text, cols in texts.items())


def _letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def _build_table(family: Family, name: str, title: str, pub: pd.DataFrame,
                 recs: pd.DataFrame, all_checkpoints: bool) -> "Table | None":
    pub_part = _published_part(family, pub)
    shown, history = _measured_part(family, recs, all_checkpoints)
    if not pub_part and shown.empty:
        return None
    # Columns: family benchmark order, then variant order, then first appearance.
    first_seen: dict[tuple, float] = {}
    for p in pub_part:
        first_seen.setdefault(p["column"].key, p["order"])
    for r in shown.itertuples():
        first_seen.setdefault(r.column.key, 1e9 + r.order)
    bench_order = {b: i for i, b in enumerate(family.benchmarks)}
    variant_order = {v: i for i, v in enumerate(family.variants)}
    raw_columns = {p["column"].key: p["column"] for p in pub_part}
    raw_columns.update({c.key: c for c in shown["column"]} if not shown.empty else {})
    ordered = sorted(raw_columns.values(), key=lambda c: (
        bench_order.get(c.benchmark, len(bench_order)), family.metric_rank(c.metric),
        variant_order.get(c.variant, 1e6), first_seen[c.key]))
    columns = _label_columns(family, ordered)
    col_index = {c.key: i for i, c in enumerate(columns)}

    rows: list[Row] = []
    cells: dict[tuple[int, int], Cell] = {}
    notes: list[str] = []
    source_list: list[str] = []

    # Published rows, in file order.
    pub_rows: dict[tuple, int] = {}
    pub_sources: dict[int, list[str]] = {}
    for p in sorted(pub_part, key=lambda p: p["order"]):
        if p["row"] not in pub_rows:
            pub_rows[p["row"]] = len(rows)
            supervised = is_supervised(p["raw_method"], p["notes"])
            method = p["method"] + (" (supervised)" if supervised
                                    and "supervised" not in p["method"].lower() else "")
            rows.append(Row("published", method, "", supervised=supervised))
            pub_sources[pub_rows[p["row"]]] = []
        i = pub_rows[p["row"]]
        cell_notes: tuple[int, ...] = ()
        if p["notes"]:
            if p["notes"] not in notes:
                notes.append(p["notes"])
            cell_notes = (notes.index(p["notes"]) + 1,)
        for part in (x.strip() for x in p["source"].split("=")):  # "PPL T1 = SEED-BM"
            if part and part not in pub_sources[i]:
                pub_sources[i].append(part)
        for key in source_keys(p["source"]):
            if key not in source_list:
                source_list.append(key)
        cells[(i, col_index[p["column"].key])] = Cell(p["value"], notes=cell_notes,
                                                      source=p["source"], text=p["text"])
    for i, srcs in pub_sources.items():
        rows[i] = dataclasses.replace(rows[i], source="; ".join(srcs))

    # Measured rows: mean ± std over seeds.
    protocols: list[str] = []
    if not shown.empty:
        varying = _varying_labels(shown)
        shown = shown.assign(col=[col_index[c.key] for c in shown["column"]])
        agg = (shown.groupby(["row", "col"], sort=False)
               .agg(mean=("value", "mean"), std=("value", "std"), n_seeds=("value", "size"),
                    n=("n", "max"), stderr=("stderr", "first")))
        firsts = shown.drop_duplicates("row", keep="first")
        labels: dict[str, set] = {}
        for first in firsts.itertuples():
            labels.setdefault(first.checkpoint_label, set()).add(first.checkpoint_id)
        firsts = firsts.assign(num_ext=[len(e) for e in firsts["ext"]]).sort_values(
            ["model", "checkpoint_label", "step_key", "num_ext", "row"], kind="stable")
        markers: dict[str, str] = {}
        row_at: dict[str, int] = {}
        for _, first in firsts.iterrows():
            text = _row_settings_text(shown[shown["row"] == first["row"]], varying, columns)
            if text and text not in markers:
                markers[text] = _letters(len(markers))
            ckpt = first["checkpoint_label"]
            if ckpt and len(labels[ckpt]) > 1:  # same file name, different files
                ckpt_id = first["checkpoint_id"]
                ckpt += f" ({ckpt_id[:8]})" if _SHA_RE.fullmatch(ckpt_id) else f" ({ckpt_id})"
            variant = first["row_variant"]
            method = first["model"] + (f" ({family.variant_label(variant)})" if variant else "")
            row_at[first["row"]] = len(rows)
            rows.append(Row("measured", method, f"measured: {ckpt}" if ckpt else "measured",
                            markers.get(text, ""), text, is_supervised(first["model"]),
                            first["checkpoint"], first["step"]))
        per_image = _per_image_by_cell(shown)
        for (row_key, j), a in agg.iterrows():
            std = None if a["n_seeds"] < 2 or pd.isna(a["std"]) else float(a["std"])
            stderr = (float(a["stderr"]) if a["n_seeds"] == 1 and a["stderr"] is not None
                      and not pd.isna(a["stderr"]) else None)
            cells[(row_at[row_key], int(j))] = Cell(float(a["mean"]), std, int(a["n_seeds"]),
                                                    int(a["n"]), stderr=stderr)
        protocols = sorted({f"{p} v{v}" for p, v in zip(shown["protocol"], shown["version"])})

    # Best per column, by direction; supervised rows are references.
    for j, col in enumerate(columns):
        candidates = [(i, c) for (i, jj), c in cells.items() if jj == j and not rows[i].supervised]
        if not candidates:
            continue
        best = (max if col.higher_is_better else min)(c.value for _, c in candidates)
        for i, c in candidates:
            if math.isclose(c.value, best, rel_tol=1e-9, abs_tol=1e-12):
                cells[(i, j)] = dataclasses.replace(c, best=True)
    if not shown.empty:
        _mark_noise(cells, rows, {(row_at[r], j): v for (r, j), v in per_image.items()})

    return Table(family=name, title=title, description=family.description, columns=columns,
                 rows=rows, cells=cells, notes=notes,
                 sources=[(k, SOURCES[k]) for k in source_list], protocols=protocols,
                 history=_history(history, col_index))


def _per_image_by_cell(shown: pd.DataFrame) -> dict[tuple[str, int], list[PerImage]]:
    """``(row key, column) -> one PerImage per seed`` for cells whose every record stores
    per-image errors (``extra.per_image``, written by ``detect`` and ``score``)."""
    out: dict[tuple[str, int], list[PerImage]] = {}
    for (row_key, j), part in shown.groupby(["row", "col"], sort=False):
        stored = [d.get("extra", {}).get("per_image") for d in part["dict"]]
        if stored and all(isinstance(x, dict) for x in stored):
            try:
                out[(row_key, int(j))] = [PerImage.decode(x) for x in stored]
            except LkbenchError:          # a damaged field: that cell gets no noise test
                continue
    return out


def _mark_noise(cells: dict[tuple[int, int], Cell], rows: Sequence[Row],
                per_image: Mapping[tuple[int, int], list[PerImage]]) -> None:
    """Mark measured cells within noise of their column's best measured cell.

    Test: :func:`~lkbench.protocols.landmarks.uncertainty.within_noise`, a paired bootstrap of the
    difference over the same test images (seeds resampled within each row); a 95 % interval
    that contains 0 is noise. Pairing is what makes the test sharp: both rows face the same
    hard and easy images, so only their difference on each image counts. Cells without stored
    per-image errors, or scored on another number of test images, are not marked.
    """
    columns = {j for _, j in cells}
    for j in columns:
        measured = [(i, c) for (i, jj), c in cells.items()
                    if jj == j and c.n_seeds is not None and not rows[i].supervised
                    and (i, j) in per_image]
        best = [(i, c) for i, c in measured if c.best]
        if not best:
            continue
        b = per_image[(best[0][0], j)]
        for i, c in measured:
            if c.best or len(per_image[(i, j)][0]) != len(b[0]):
                continue
            if within_noise(per_image[(i, j)], b):
                cells[(i, j)] = dataclasses.replace(c, noise=True)


def _history(history: pd.DataFrame, col_index: Mapping[tuple, int]) -> pd.DataFrame:
    """Mean/std per (series, column, step) for series scored at two or more steps."""
    columns = ["series", "column", "step", "mean", "std", "n_seeds"]
    if history.empty or (history["step_key"] >= 0).sum() == 0:
        return pd.DataFrame(columns=columns)
    h = history[history["step_key"] >= 0].copy()
    h["column_index"] = [col_index.get(c.key, -1) for c in h["column"]]
    h = h[h["column_index"] >= 0]
    h["label"] = [f"{m} ({PurePath(run).name})" if run else m
                  for m, run in zip(h["model"], h["run"])]
    h["series_key"] = h["series"]
    h["step"] = h["step_key"]
    g = (h.groupby(["series_key", "label", "column_index", "step"], sort=True)["value"]
         .agg(["mean", "std", "size"]).reset_index())
    steps = g.groupby(["series_key", "column_index"])["step"].transform("nunique")
    g = g[steps >= 2].copy()
    # Two series of one run with different settings need different legend entries.
    names: dict[str, str] = {}
    for key, label in dict.fromkeys(zip(g["series_key"], g["label"])):
        taken = sum(1 for v in names.values() if v == label or v.startswith(label + " #"))
        names[key] = label if not taken else f"{label} #{taken + 1}"
    g["label"] = g["series_key"].map(names)
    return pd.DataFrame({"series": g["label"], "column": g["column_index"].astype(int),
                         "step": g["step"].astype(int), "mean": g["mean"],
                         "std": g["std"].where(g["size"] > 1), "n_seeds": g["size"]}
                        ).reset_index(drop=True)


# ==================== the whole report
def _benchmark_filter(names: Iterable[str]) -> set[str]:
    return {BENCHMARKS.resolve(n) if n in BENCHMARKS else n for n in names}


def build_report(published: "pd.DataFrame | None", records: Sequence[ResultRecord], *,
                 benchmarks: Sequence[str] = (), all_checkpoints: bool = False) -> Report:
    """Every family's table from the published numbers and the records.

    Args:
        published: :func:`lkbench.report.load.read_published` output, or None for none.
        records: result records, in reading order.
        benchmarks: keep only these benchmarks (aliases allowed); empty = all.
        all_checkpoints: a row per scored checkpoint instead of the newest of each run.

    Returns:
        The tables in family order; families with nothing to show are listed separately.
    """
    pub = published if published is not None else pd.DataFrame(
        columns=["method", "benchmark", "metric", "variant", "value", "unit", "higher_is_better",
                 "num_keypoints", "source", "notes", "line"])
    recs = _records_frame(records)
    keep = _benchmark_filter(benchmarks)
    if keep:
        pub = pub[pub["benchmark"].isin(keep)]
        recs = recs[recs["benchmark"].isin(keep)]
    pub = pub.reset_index(drop=True)
    recs = recs.reset_index(drop=True)
    pub_claimed = pd.Series(False, index=pub.index)
    rec_claimed = pd.Series(False, index=recs.index)
    pub_shown, rec_shown = pub_claimed.copy(), rec_claimed.copy()
    tables: list[Table] = []
    empty: list[Family] = []

    def emit(family: Family, pub_sel: pd.Series, rec_sel: pd.Series, variants: pd.Series
             ) -> bool:
        p, r = pub[pub_sel], recs[rec_sel].assign(variant=variants[rec_sel])
        groups = (sorted(set(p["benchmark"]) | set(r["benchmark"]), key=lambda b: (
            family.benchmarks.index(b) if b in family.benchmarks else len(family.benchmarks),
            min(list(p.loc[p["benchmark"] == b, "line"]) + [1e9]), b))
            if family.split_by_benchmark else [None])
        made = False
        for b in groups:
            pb = p if b is None else p[p["benchmark"] == b]
            rb = r if b is None else r[r["benchmark"] == b]
            name = family.name if b is None else f"{family.name}/{b}"
            title = family.title if b is None else f"{family.title}: {benchmark_label(b)}"
            table = _build_table(family, name, title, pb, rb, all_checkpoints)
            if table is not None:
                tables.append(table)
                made = True
        return made

    for family in families_in_order():
        pub_sel = pd.Series([family.selects_published(m, b, me, v or family.default_variant)
                             for m, b, me, v in zip(pub["method"], pub["benchmark"],
                                                    pub["metric"], pub["variant"])],
                            index=pub.index, dtype=bool)
        variants = pd.Series([family.variant_of(d) for d in recs["dict"]], index=recs.index,
                             dtype=object)
        rec_sel = pd.Series([family.selects_record(r.protocol, r.model, r.benchmark, r.metric, v)
                             for r, v in zip(recs.itertuples(), variants)],
                            index=recs.index, dtype=bool)
        if family.claims:
            pub_sel &= ~pub_claimed
            rec_sel &= ~rec_claimed
            pub_claimed |= pub_sel
            rec_claimed |= rec_sel
        pub_shown |= pub_sel
        rec_shown |= rec_sel
        if not emit(family, pub_sel, rec_sel, variants) and not keep:
            empty.append(family)
    # What no family showed gets a table per benchmark, so no number is ever dropped.
    leftover = sorted(set(pub.loc[~pub_shown, "benchmark"]) |
                      set(recs.loc[~rec_shown, "benchmark"]))
    for b in leftover:
        family = other_family(b)
        variants = pd.Series([family.variant_of(d) for d in recs["dict"]], index=recs.index,
                             dtype=object)
        emit(family, ~pub_shown & (pub["benchmark"] == b),
             ~rec_shown & (recs["benchmark"] == b), variants)
    return Report(tables, len(pub), len(recs), empty)
