"""What makes two measured numbers comparable: the settings the report splits rows on.

Every result record is reduced to a flat mapping ``label -> value`` of the settings that change
its number (:func:`record_settings`). Two records go into the same table cell only when these
settings agree (seeds are what a cell averages over). Settings come from three places:

* fixed record fields: ``protocol_version`` and ``published``;
* per-protocol tables (:data:`SETTING_GROUPS`): a :class:`Setting` names the record paths where
  a protocol keeps one setting (e.g. the landmark protocol's ``extra.solver``, FID's mode) and,
  where one exists, the value the published protocol uses;
* generic expansions that need no code for a new protocol: every key of the record's ``config``
  (except run mechanics such as the device or seed, :data:`IGNORED_CONFIG_KEYS`), of
  ``extra["settings"]`` (checked against the benchmark's published error settings) and of
  ``extra["dataset"]``. A protocol that wants a setting honoured therefore only has to put it
  in its record's ``config`` or ``extra["settings"]``.

Settings marked ``per_column`` (the dataset, sample counts, reference statistics) legitimately
differ between the columns of one row (FID and FID_interp use different sample counts, CelebA
wild and aligned different crops); they split a row only where one cell would otherwise mix
values.
A setting with ``column_metric`` moves deviating records into their own column instead of their
own row: a Fréchet distance on non-Inception features is never shown in an FID column.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from lkbench.protocols.landmarks.benchmarks import BENCHMARKS

__all__ = ["Setting", "SettingGroup", "SETTING_GROUPS", "IGNORED_CONFIG_KEYS", "SettingValue",
           "record_settings", "column_metric", "describe"]

_MISSING = object()


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Default of a setting whose published value is not known: rows split on any difference and
footnotes name it when it varies within a table."""


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _plain(value: Any) -> Any:
    """A hashable, printable form of a JSON value (lists and dicts as compact JSON)."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return value


@dataclass(frozen=True)
class Setting:
    """One setting of a protocol that changes its numbers.

    Attributes:
        label: name in footnotes, e.g. ``"solver"``.
        paths: dotted paths into the record's dict, tried in order (``"extra.solver"``).
        default: the published protocol's value, a function of the benchmark name returning it,
            or :data:`UNKNOWN`.
        is_default: instead of ``default``, a predicate for "this is the published value"
            (e.g. any Inception network counts as FID's).
        per_column: the value may differ between the columns of one row (it still never
            differs within a cell).
        text: footnote wording for a deviating value, ``{label}`` and ``{value}`` filled in.
        column_metric: for a deviating value, the metric name of the column it goes to instead
            (``fid`` on other features becomes ``fd[features]``), as ``f(metric, value)``.
    """

    label: str
    paths: tuple[str, ...]
    default: Any = UNKNOWN
    is_default: "Callable[[Any], bool] | None" = None
    per_column: bool = False
    text: str = "{label}={value}"
    column_metric: "Callable[[str, Any], str] | None" = None

    def read(self, record: Mapping[str, Any]) -> Any:
        for path in self.paths:
            value = _lookup(record, path)
            if value is not _MISSING:
                return value
        return _MISSING

    def default_for(self, benchmark: str) -> Any:
        return self.default(benchmark) if callable(self.default) else self.default

    def deviates(self, value: Any, benchmark: str) -> "bool | None":
        """True/False against the published value; None when that value is unknown."""
        if self.is_default is not None:
            return not self.is_default(value)
        default = self.default_for(benchmark)
        return None if default is UNKNOWN else _plain(value) != _plain(default)


@dataclass(frozen=True)
class SettingGroup:
    """Settings that apply to records whose protocol or metric matches one of the patterns."""
    protocols: tuple[str, ...]
    metrics: tuple[str, ...]
    settings: tuple[Setting, ...]
    ignored_config: tuple[str, ...] = ()

    def applies(self, protocol: str, metric: str) -> bool:
        return (any(fnmatch.fnmatchcase(protocol, p) for p in self.protocols)
                or any(fnmatch.fnmatchcase(metric, p) for p in self.metrics))


IGNORED_CONFIG_KEYS = ("seed", "seeds", "device", "threads", "num_workers", "progress",
                       "baselines", "with_baselines", "benchmark", "dataset", "plot_images",
                       "predict_batch_size", "batch_size", "out", "out_dir", "results", "root",
                       "cache_dir", "weights_dir", "inception_weights")
"""Top-level config keys that do not change a number (run mechanics): never split rows."""


def _is_inception(value: Any) -> bool:
    return value is None or "inception" in str(value).lower()


def _fd_metric(metric: str, features: Any) -> str:
    """A metric that calls itself FID but was computed on other features: ``fid`` →
    ``fd[features]``, ``fid_interp`` → ``fd_interp[features]``. (``lkbench fid --features``
    already names such records ``fd_<features>``; this guards other writers.)"""
    return f"fd{metric[3:]}[{features}]" if metric.startswith("fid") else metric


def _error_param(name: str) -> Callable[[str], Any]:
    def default(benchmark: str) -> Any:
        if benchmark in BENCHMARKS:
            return BENCHMARKS.get(benchmark).error_params.get(name, UNKNOWN)
        return UNKNOWN
    return default


_PUBLISHED = Setting("published", ("published",), default=True, per_column=True,
                     text="published: false (not the papers' protocol settings, e.g. a smoke "
                          "or demo preset)")
# Per column: one row may hold numbers of several protocols (FID and CPD of one checkpoint).
_VERSION = Setting("protocol version", ("protocol_version",), per_column=True,
                   text="protocol v{value}")
_SAMPLES = Setting("n", ("n",), per_column=True)

SETTING_GROUPS: tuple[SettingGroup, ...] = (
    SettingGroup(protocols=("landmarks",), metrics=(), settings=(
        Setting("solver", ("extra.solver", "config.solver"), default="exact"),
        Setting("frame", ("extra.center", "config.center"), default=False,
                text="centred regression frame (center=True)"),
        Setting("regression", ("extra.regression",), per_column=True),
        Setting("strict_k", ("config.strict_k",), default=True,
                text="K outside the benchmark's published K (--any-k)"),
    ), ignored_config=("solver", "center", "regression", "strict_k")),
    SettingGroup(protocols=("fid*", "fd*"), metrics=("fid*", "fd*"), settings=(
        Setting("features", ("extra.features", "config.features", "extra.feature_network"),
                is_default=_is_inception, column_metric=_fd_metric),
        Setting("FID mode", ("extra.mode", "config.mode", "extra.fid_mode"), default="clean"),
        Setting("feature weights", ("extra.weights_sha256",)),
        Setting("generated images", ("extra.num_gen", "config.num_gen"), per_column=True),
        Setting("reference statistics", ("extra.reference.key", "extra.reference_id"),
                per_column=True),
        Setting("reference images", ("extra.num_ref", "config.num_ref"), per_column=True),
        Setting("FID_interp source", ("extra.interp_source",), per_column=True),
        Setting("resolution", ("extra.resolution",), per_column=True),
    ), ignored_config=("features", "mode", "num_gen", "num_ref", "interp", "allow_small_n",
                       "split", "dataset_options")),
    SettingGroup(protocols=("*edit*",), metrics=(), settings=(
        Setting("edit strength", ("extra.alpha", "config.alpha")),
    ), ignored_config=("protocol", "attribute", "editor", "alpha", "grid_images")),
    SettingGroup(protocols=("cpd*",), metrics=("cpd*",), settings=(
        Setting("latents", ("extra.num_latents", "config.num_latents",
                            "extra.settings.num_latents"), default=2000),
        Setting("groups", ("extra.groups", "config.groups", "extra.settings.groups")),
        Setting("background", ("extra.background", "config.background",
                               "extra.settings.background")),
    ), ignored_config=("num_latents", "groups", "background")),
)


@dataclass(frozen=True)
class SettingValue:
    """One setting of one record.

    Attributes:
        value: the value (hashable: lists and dicts as compact JSON).
        deviates: differs from the published value; None when that value is unknown.
        per_column: may differ between the columns of one row.
        text: footnote wording.
    """
    value: Any
    deviates: "bool | None"
    per_column: bool
    text: str

    def key(self) -> Any:
        """What the row key holds: known-default values only as "deviates or not"."""
        if self.deviates is None:
            return self.value
        return ("deviates", self.value) if self.deviates else "default"


def _flatten(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, Mapping) and node:
        for k, v in node.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = node


def record_settings(record: Mapping[str, Any]) -> dict[str, SettingValue]:
    """The settings of one record (a :meth:`~lkbench.records.ResultRecord.to_dict`), by label.

    Absent settings are left out; an absent and a present setting therefore differ."""
    benchmark, protocol, metric = record["benchmark"], record["protocol"], record["metric"]
    out: dict[str, SettingValue] = {}

    def put(label: str, s: Setting, value: Any) -> None:
        plain = _plain(value)
        deviates = s.deviates(value, benchmark)
        text = (s.text if deviates is not False else "{label}={value}").format(
            label=label, value=plain)
        out[label] = SettingValue(plain, deviates, s.per_column, text)

    ignored, claimed = set(IGNORED_CONFIG_KEYS), set()
    for s in (_VERSION, _PUBLISHED, _SAMPLES):
        put(s.label, s, s.read(record))
    for group in SETTING_GROUPS:
        if not group.applies(protocol, metric):
            continue
        ignored |= set(group.ignored_config)
        for s in group.settings:
            claimed.add(s.label)
            value = s.read(record)
            if value is not _MISSING and s.column_metric is None:  # columns split the others
                put(s.label, s, value)
    config: dict[str, Any] = {}
    _flatten("", {k: v for k, v in record.get("config", {}).items() if k not in ignored},
             config)
    for label, value in config.items():
        if label and f"config.{label}" not in out:
            put(f"config.{label}", Setting(f"config.{label}", ()), value)
    extra = record.get("extra", {})
    error_settings: dict[str, Any] = {}
    _flatten("", extra.get("settings", {}) if isinstance(extra.get("settings"), Mapping)
             else {}, error_settings)
    for label, value in error_settings.items():
        if label and label not in out and label not in claimed:
            put(label, Setting(label, (), default=_error_param(label)), value)
    dataset: dict[str, Any] = {}
    if isinstance(extra.get("dataset"), Mapping):
        _flatten("", {k: v for k, v in extra["dataset"].items() if k != "name"}, dataset)
    for label, value in dataset.items():
        if label:
            put(f"dataset.{label}", Setting(f"dataset.{label}", (), per_column=True), value)
    return out


def column_metric(record: Mapping[str, Any]) -> str:
    """The metric of the column a record goes to: its own, unless a setting with
    ``column_metric`` deviates (a non-Inception "FID" becomes ``fd[...]``)."""
    metric = record["metric"]
    for group in SETTING_GROUPS:
        if not group.applies(record["protocol"], metric):
            continue
        for s in group.settings:
            if s.column_metric is None:
                continue
            value = s.read(record)
            if value is not _MISSING and s.deviates(value, record["benchmark"]):
                metric = s.column_metric(metric, value)
    return metric


def describe(values: Mapping[str, SettingValue], varying: "set[str]") -> str:
    """Footnote text of a row: settings that deviate from the published protocol, then those
    with no known published value that vary within the table (``varying``)."""
    parts = [v.text for label, v in values.items() if v.deviates]
    parts += [v.text for label, v in sorted(values.items())
              if v.deviates is None and label in varying]
    return "; ".join(parts)
