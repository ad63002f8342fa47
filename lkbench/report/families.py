"""Which numbers go into which leaderboard table, and how names are shown: data, not branches.

A :class:`Family` is one table of the report (CelebA/MAFL, CUB, ..., image generation). It selects
published rows and result records by benchmark, metric, protocol and method name, and says how
the table is laid out (benchmark variants as columns or as rows, one sub-table per benchmark).
Families are registered in display order in :data:`FAMILIES`; a plugin can add its own through
the entry-point group ``lkbench.report_families``. The landmark tables take their benchmarks
from the benchmark registry: each :class:`~lkbench.protocols.landmarks.benchmarks.BenchmarkSpec`
names its family (``spec.family``), and a family name nobody registered gets an automatic
table after the landmark tables, so a newly registered benchmark needs no edit here. A record or published row that no claiming
family selects lands in an automatic "other results" table, so a new protocol's records show up
in ``lkbench report`` before anyone writes a family for them.

The label tables (:data:`BENCHMARK_LABELS` for benchmarks lkbench does not score; scored ones
print their ``spec.label``), :data:`METRIC_LABELS`, :data:`UNIT_LABELS`, :data:`SOURCES`) only
change how names print; unknown names print as they are.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

from lkbench.protocols.landmarks.benchmarks import BENCHMARKS
from lkbench.registry import Registry

__all__ = ["Family", "FAMILIES", "register_family", "families_in_order", "other_family",
           "BENCHMARK_LABELS", "METRIC_LABELS", "UNIT_LABELS", "UNIT_ALIASES", "SOURCES",
           "source_keys", "is_supervised", "benchmark_label", "metric_label", "unit_label",
           "canonical_unit"]


def _extra_variant(record: Mapping[str, Any]) -> str:
    """Default: ``extra["variant"]`` of the record, or "" (no variant)."""
    return str(record.get("extra", {}).get("variant", "") or "")


@dataclass(frozen=True)
class Family:
    """One leaderboard table: which rows it selects and how it lays them out.

    Attributes:
        name: registry name, used in file names of plots and in the CSV output.
        title: heading of the table.
        description: one line under the heading (what is measured).
        benchmarks: canonical benchmark names selected, in column order; ``()`` = any.
        metrics: ``fnmatch`` patterns of metric names selected, in column order; ``()`` = any.
        protocols: ``fnmatch`` patterns of record protocols selected; ``()`` = any. Published
            rows have no protocol and are selected by benchmark, metric and method alone.
        exclude_protocols: ``fnmatch`` patterns of record protocols never selected.
        methods: regular expression (``re.search``, case-insensitive) a published method or a
            record's model must match; ``""`` = any.
        exclude_methods: regular expression of methods/models never selected.
        variant_in_column: benchmark variants (H3.6M activities, 300-W post-processing) are
            columns; otherwise they are part of the row label (GANLocalEditing's epsilon).
        variants: column order of variants; unlisted variants follow in order of appearance.
        keep_variants: when not empty, only these variants are selected.
        default_variant: variant of a record that carries none (H3.6M records: ``"all"``).
        record_variant: how a record's variant is read (a function of the record's dict).
        variant_labels: display names of variants.
        split_by_benchmark: one sub-table per benchmark (numbers of different datasets are
            never ranked against each other in one column).
        claims: rows this family selects are not offered to later families (and never land in
            "other results"); a non-claiming family (the KeypointGAN ablation) shows rows that
            also appear in their benchmark's table.
        commands: the command that writes this family's records, for "no numbers yet" hints.
        published_rows: the table shows rows of ``published.csv`` (a protocol-only table such
            as attribute editing selects records alone).
        from_benchmarks: :attr:`benchmarks` (and :attr:`commands`) are the registered landmark
            benchmarks whose ``spec.family`` is this family's name, in registration order;
            :func:`families_in_order` fills them in (until then the family selects nothing).
    """

    name: str
    title: str
    description: str = ""
    benchmarks: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    exclude_protocols: tuple[str, ...] = ()
    methods: str = ""
    exclude_methods: str = ""
    variant_in_column: bool = True
    variants: tuple[str, ...] = ()
    keep_variants: tuple[str, ...] = ()
    default_variant: str = ""
    record_variant: Callable[[Mapping[str, Any]], str] = _extra_variant
    variant_labels: Mapping[str, str] = field(default_factory=dict)
    split_by_benchmark: bool = False
    claims: bool = True
    commands: str = ""
    published_rows: bool = True
    from_benchmarks: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant_labels", MappingProxyType(dict(self.variant_labels)))

    # -- selection ------------------------------------------------------------------------
    def _method_ok(self, method: str) -> bool:
        if self.methods and not re.search(self.methods, method, flags=re.I):
            return False
        return not (self.exclude_methods and re.search(self.exclude_methods, method, flags=re.I))

    def _common_ok(self, benchmark: str, metric: str, variant: str) -> bool:
        if self.from_benchmarks and not self.benchmarks:
            return False
        if self.benchmarks and benchmark not in self.benchmarks:
            return False
        if self.metrics and not any(fnmatch.fnmatchcase(metric, p) for p in self.metrics):
            return False
        return not (self.keep_variants and variant not in self.keep_variants)

    def selects_published(self, method: str, benchmark: str, metric: str, variant: str) -> bool:
        """Whether a row of ``published.csv`` belongs to this table."""
        return (self.published_rows and self._common_ok(benchmark, metric, variant)
                and self._method_ok(method))

    def selects_record(self, protocol: str, model: str, benchmark: str, metric: str,
                       variant: str) -> bool:
        """Whether a result record (already given its variant by :meth:`variant_of`) belongs
        to this table."""
        if self.protocols and not any(fnmatch.fnmatchcase(protocol, p) for p in self.protocols):
            return False
        if any(fnmatch.fnmatchcase(protocol, p) for p in self.exclude_protocols):
            return False
        return self._common_ok(benchmark, metric, variant) and self._method_ok(model)

    def variant_of(self, record: Mapping[str, Any]) -> str:
        """The variant of a result record in this table."""
        return self.record_variant(record) or self.default_variant

    def metric_rank(self, metric: str) -> int:
        """Column order of a metric: the first of :attr:`metrics` it matches."""
        return next((i for i, p in enumerate(self.metrics) if fnmatch.fnmatchcase(metric, p)),
                    len(self.metrics))

    def variant_label(self, variant: str) -> str:
        return self.variant_labels.get(variant, variant)


FAMILIES: Registry[Family] = Registry("report_families")
_ORDER: list[str] = []


def register_family(family: Family) -> Family:
    """Add ``family`` to :data:`FAMILIES`; tables appear in registration order."""
    FAMILIES.add(family.name, family)
    _ORDER.append(family.name)
    return family


def families_in_order() -> list[Family]:
    """Registered families in display order (plugins, loaded on first use, come last), with the
    benchmarks of the landmark families filled in from the benchmark registry; the automatic
    tables of benchmark families nobody registered follow the last landmark family."""
    names = _ORDER + [n for n in FAMILIES.names() if n not in _ORDER]
    families = [_with_members(FAMILIES.get(n)) for n in names]
    declared = [_with_members(f) for f in _declared_families()]
    last = max((i for i, f in enumerate(families) if f.from_benchmarks),
               default=len(families) - 1)
    return families[:last + 1] + declared + families[last + 1:]


def _with_members(family: Family) -> Family:
    """``family`` with :attr:`Family.benchmarks` and the detect command of its members."""
    if not family.from_benchmarks:
        return family
    members = tuple(n for n, spec in BENCHMARKS.in_order() if spec.family == family.name)
    commands = "lkbench detect --benchmark " + "|".join(members) if members else ""
    return replace(family, benchmarks=members, commands=commands)


def _declared_families() -> list[Family]:
    """One automatic landmark table per ``spec.family`` no family is registered under, titled
    by its first benchmark's label (or the family name when it is not a benchmark's own)."""
    out: dict[str, Family] = {}
    for name, spec in BENCHMARKS.in_order():
        if spec.family in FAMILIES or spec.family in out:
            continue
        better = "higher" if spec.higher_is_better else "lower"
        out[spec.family] = Family(
            name=spec.family, title=spec.label if spec.family == name else spec.family,
            description=f"{spec.description}; {unit_label(spec.unit)} ({better} is better).",
            protocols=("landmarks",), from_benchmarks=True)
    return list(out.values())


def other_family(benchmark: str) -> Family:
    """The automatic table for rows no claiming family selected, one per benchmark."""
    return Family(name=f"other-{benchmark}", title=f"Other results: {benchmark_label(benchmark)}",
                  description="Rows no family table selects (lkbench.report.families lists the "
                  "tables); columns are this benchmark's metrics.",
                  benchmarks=(benchmark,), variant_in_column=False)


def _landmarks(name: str, title: str, description: str, **kw: Any) -> Family:
    """A landmark table; its benchmarks are those whose spec names it (``spec.family``)."""
    return Family(name=name, title=title, protocols=("landmarks",), description=description,
                  from_benchmarks=True, **kw)


_ABLATION = r"^KeypointGAN ablation:"
_H36M_ACTIVITIES = MappingProxyType({
    "all": "all", "wait": "Waiting", "pose": "Posing", "greet": "Greeting",
    "direct": "Directions", "discuss": "Discussion", "walk": "Walking"})
_300W_VARIANTS = MappingProxyType({"none": "w/o post-proc.",
                                   "regressed": "+ supervised post-proc."})


def _300w_variant(record: Mapping[str, Any]) -> str:
    """300-W: the KeypointGAN paper's columns are the raw 68 outputs ("none") and a supervised
    linear regression on top ("regressed")."""
    extra = record.get("extra", {})
    return str(extra.get("variant") or ("none" if extra.get("regression") == "none"
                                        else "regressed"))


def _edit_variant(record: Mapping[str, Any]) -> str:
    """Attribute editing: rows are (editor, attribute)."""
    extra, config = record.get("extra", {}), record.get("config", {})
    return str(extra.get("attribute") or config.get("attribute") or "")


def _keypointgan_variant(record: Mapping[str, Any]) -> str:
    """KeypointGAN ablation: H3.6M records are "all", 300-W/synthetic ones follow the regression
    (the ablation reports the direct read-out)."""
    return "all" if record.get("benchmark") == "h36m-simplified" else _300w_variant(record)


for _f in (
    _landmarks("celeba", "CelebA / MAFL",
               "Landmark regression error on the MAFL test set, % of inter-ocular distance "
               "(lower is better); in the wild at K = 8 and K = 4, aligned at K = 10."),
    _landmarks("cub", "CUB-200-2011",
               "Mean L2 error over visible landmarks, % of image size (lower is better)."),
    _landmarks("taichi", "Taichi",
               "Sum of 36 per-coordinate mean absolute errors, pixels at 256 (lower is better)."),
    _landmarks("deepfashion", "DeepFashion",
               "PCK at 6 px on 256 x 256 images, % (higher is better)."),
    _landmarks("h36m", "Simplified Human3.6M",
               "Mean L2 error, % of image size, left/right invariant (lower is better); "
               "per-activity columns as in KeypointGAN Table 1.",
               exclude_methods=_ABLATION, variants=tuple(_H36M_ACTIVITIES),
               variant_labels=_H36M_ACTIVITIES, default_variant="all"),
    Family(name="h36m-original", title="Human3.6M (original, pixels)",
           benchmarks=("h36m-original",), variants=("test", "train"),
           description="Mean L2 error in pixels over 17 of 32 joints (KeypointGAN Table 2; "
           "lower is better).", commands=""),
    _landmarks("300w", "300-W",
               "Mean error over 68 landmarks, % of inter-ocular distance (lower is better); "
               "KeypointGAN Table 3; its two rows are the raw 68 outputs and a supervised "
               "linear regression on top.", exclude_methods=_ABLATION,
               variant_in_column=False, variant_labels=_300W_VARIANTS,
               record_variant=_300w_variant),
    _landmarks("synthetic", "Synthetic faces (lkbench)",
               "lkbench's built-in synthetic benchmark, scored like MAFL: % of inter-ocular "
               "distance (lower is better). No published numbers exist for it."),
    Family(name="editing", title="Attribute editing", protocols=("*edit*",),
           variant_in_column=False, record_variant=_edit_variant, split_by_benchmark=True,
           description="Edit metrics per (editor, attribute): accuracy, keypoint preservation, "
           "counterfactual error, FID of edits. No published numbers are stored.",
           commands="the attribute-editing protocol (lkbench edit-eval)",
           published_rows=False),
    Family(name="generation", title="Image generation",
           metrics=("fid", "fid_*", "fd", "fd_*", "fd[*", "cpd", "cpd_*"),
           exclude_protocols=("*edit*",), variant_in_column=False, split_by_benchmark=True,
           description="FID and FID_interp (lower is better), CPD (higher is better); "
           "LatentKeypointGAN extended abstract Table 2.",
           commands="lkbench fid / lkbench cpd"),
    Family(name="keypointgan-ablation", title="KeypointGAN ablation",
           benchmarks=("h36m-simplified", "300w", "synthetic", "synthetic-pose"),
           methods=r"^KeypointGAN( ablation:|$)|keypoint[-_ ]?gan", keep_variants=("all", "none"),
           variant_labels={**_H36M_ACTIVITIES, **_300W_VARIANTS}, default_variant="all",
           record_variant=_keypointgan_variant, claims=False,
           description="KeypointGAN Table 4: error of the variants, Simplified H3.6M (% of image "
           "size) and 300-W without post-processing (% of inter-ocular distance).",
           commands="lkbench train --model keypoint-gan --variant ..., then lkbench detect "
           "--direct"),
):
    register_family(_f)


# -- display names ------------------------------------------------------------------------
BENCHMARK_LABELS: Mapping[str, str] = MappingProxyType({
    "h36m-original": "Human3.6M", "portraits": "portraits", "celeba-hq": "CelebA-HQ",
    "ffhq": "FFHQ",
})
"""Display names of the benchmarks lkbench does not score; a scored one prints its
``BenchmarkSpec.label``."""
METRIC_LABELS: Mapping[str, str] = MappingProxyType({
    "iod_error": "error", "visible_l2_error": "error", "taichi_mae_sum": "MAE sum",
    "pck": "PCK", "h36m_swap_error": "error", "l2_error_px": "error",
    "fid": "FID", "fid_interp": "FID_interp", "cpd": "CPD",
    "attribute_accuracy": "attribute accuracy", "keypoint_displacement": "keypoint displacement",
    "image_distance": "image distance",
    "counterfactual_image_error": "counterfactual error (image)",
    "counterfactual_keypoint_error": "counterfactual error (keypoints)",
    "counterfactual_correctness_error": "correctness (cf error, changed px)",
    "counterfactual_preservation_error": "preservation (cf error, kept px)",
})
UNIT_LABELS: Mapping[str, str] = MappingProxyType({
    "pct_inter_ocular": "% of inter-ocular distance",
    "pct_image_size": "% of image size",
    "px_mae_sum@256": "sum of per-coordinate mean absolute errors, px at 256",
    "pct_pck@6px": "% of joints within 6 px at 256",
    "px": "pixels", "frechet_distance": "Fréchet distance",
    "score": "1 - mean off-diagonal correlation (CPD)",
    "fraction_of_inter_ocular": "fraction of inter-ocular distance",
    "mean_abs_intensity": "mean absolute intensity difference",
})
UNIT_ALIASES: Mapping[str, str] = MappingProxyType({"fid": "frechet_distance", "cpd": "score"})
"""Unit names that mean the same (``published.csv`` writes ``fid``/``cpd``, the protocols
``frechet_distance``/``score``): one column holds both."""

SOURCES: Mapping[str, str] = MappingProxyType({
    "SEED-BM": "benchmark-aggregator list of LatentKeypointGAN numbers, "
               "https://www.wizwand.com/paper/68fa75361e209131cea6676e",
    "SEED-EA": "LatentKeypointGAN extended abstract (He, Wandt, Rhodin), Table 2",
    "SEED-KG": "KeypointGAN paper (Jakab, Gupta, Bilen, Vedaldi, CVPR 2020)",
    "PPL": "Pose Prior Learner, arXiv 2410.03858, Tables 1-3",
    "WZ-AutoLink": "https://www.wizwand.com/paper/68fa6ee11e209131cea429cd",
    "PWC-AutoLink": "https://www.paperswithcode.com/paper/"
                    "autolink-self-supervised-learning-of-human",
    "WZ-GANSeg": "https://www.wizwand.com/paper/68fa6da21e209131cea3b02f",
    "WZ-Lorenz": "https://www.wizwand.com/paper/68fa65de1e209131cea0cf79",
    "WZ-Zhang": "https://www.wizwand.com/paper/68fa64471e209131cea03ab5",
    "GSG log": "GANSeg code's training logs, github xingzhehe/GANSeg @a3f5078 (log/*)",
    "ULD README table": "README table of github touranisatyajit/cvpr2025-uld-headpose",
})
"""What each source key of ``published.csv`` refers to (``docs/protocols.md`` §0 and §4)."""


def source_keys(source: str) -> list[str]:
    """Keys of :data:`SOURCES` cited in one ``source`` cell, e.g. ``"PPL T1 = SEED-BM"`` →
    ``["PPL", "SEED-BM"]`` (the longest key each ``=``-separated part starts with)."""
    keys = []
    for part in source.split("="):
        part = part.strip()
        matches = [k for k in SOURCES if part == k or part.startswith(k + " ")
                   or part.startswith(k + "(")]
        if matches:
            key = max(matches, key=len)
            if key not in keys:
                keys.append(key)
    return keys


_SUPERVISED_MODELS = frozenset({"baseline:supervised"})


def is_supervised(method: str, notes: str = "") -> bool:
    """Rows that use ground-truth landmarks for training are references, not competitors: they
    are never bold. Published: the method name says so or the notes start with "supervised";
    measured: the ``supervised`` baseline of ``lkbench detect --baselines``."""
    first_note = notes.split(";")[0].strip().lower()
    return (method in _SUPERVISED_MODELS or "supervised" in method.lower()
            or first_note == "supervised")


def benchmark_label(name: str) -> str:
    if name in BENCHMARKS:
        return BENCHMARKS.get(name).label
    return BENCHMARK_LABELS.get(name, name)


def metric_label(name: str) -> str:
    """Display name of a metric; ``fd_<features>`` (a Fréchet distance on other features than
    Inception, as ``lkbench fid --features`` names it) reads ``FD (<features>)``."""
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    for prefix, label in (("fd_interp_", "FD_interp"), ("fd_", "FD")):
        if name.startswith(prefix):
            return f"{label} ({name[len(prefix):]})"
    return name


def canonical_unit(name: str) -> str:
    return UNIT_ALIASES.get(name, name)


def unit_label(name: str) -> str:
    return UNIT_LABELS.get(canonical_unit(name), name)
