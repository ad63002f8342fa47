"""``lkbench datasets check``: verify a user's download of a real dataset.

:func:`check_dataset` reads every split of a dataset leniently (:class:`~lkbench.data.files.
Problems` with ``strict=False``): every annotation file present and well formed (a bad line is
reported with its path and line number), every listed image present and decodable (a truncated
JPEG is named), visible landmarks inside the image, and each split's list size compared with the
published count where the spec gives one. Nothing is cached or written.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .files import Problems
from .real import RealLandmarkSet, SplitReport


@dataclass
class CheckReport:
    """The result of :func:`check_dataset`.

    Attributes:
        dataset: canonical dataset name.
        folder: the dataset folder that was checked (``None`` if it was not found).
        splits: one :class:`SplitReport` per split that could be read.
        problems: one line per missing/corrupt file or malformed line, in the order found.
    """
    dataset: str
    folder: "Path | None"
    splits: list[SplitReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problems (count differences from the published numbers are reported apart)."""
        return not self.problems

    @property
    def count_mismatches(self) -> list[SplitReport]:
        return [s for s in self.splits if not s.count_ok]

    def lines(self) -> list[str]:
        """The human-readable report."""
        out = [f"{self.dataset}: {self.folder if self.folder else '(folder not found)'}"]
        if self.splits:
            out.append(f"  {'split':<8}{'listed':>9}{'usable':>9}{'published':>11}")
            for s in self.splits:
                pub = "-" if s.published is None else str(s.published)
                flag = "" if s.count_ok else "  differs from the published count"
                out.append(f"  {s.split:<8}{s.listed:>9}{s.usable:>9}{pub:>11}{flag}")
        if self.problems:
            out.append(f"{len(self.problems)} problem(s):")
            out.extend(f"  {p}" for p in self.problems)
        else:
            out.append("no problems found")
        return out


def check_dataset(name: str, root: "str | os.PathLike[str] | None" = None, *,
                  progress: bool = True) -> CheckReport:
    """Check every split of real dataset ``name`` under ``root`` (or ``$LKBENCH_DATA``).

    Raises:
        UnknownNameError: no such dataset.
        DataError: a dataset that reads no files (e.g. ``synthetic``).
    """
    from . import DATASETS
    canonical = DATASETS.resolve(name)
    factory = DATASETS.get(canonical)
    if not (isinstance(factory, type) and issubclass(factory, RealLandmarkSet)):
        raise DataError(f"dataset {canonical!r} reads no downloaded files, so there is nothing "
                        "to check; `lkbench datasets list` shows the real datasets")
    problems = Problems(strict=False)
    report = CheckReport(canonical, None)
    for split in factory.splits:
        try:
            ds = factory(split=split, root=root, progress=False)
        except DataError as exc:  # the dataset folder itself is missing
            problems.add(exc)
            break
        report.folder = ds.root_dir
        report.splits.append(ds.verify(problems, progress=progress))
    report.problems = list(problems.items)
    return report
