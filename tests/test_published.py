"""results/published.csv and its loader."""
from __future__ import annotations

from pathlib import Path

import pytest

from lkbench.errors import DataError
from lkbench.protocols.landmarks.benchmarks import is_known_benchmark
from lkbench.published import COLUMNS, DEFAULT_PATH, KEY_COLUMNS, load_published


@pytest.fixture(scope="module")
def table():
    return load_published()


def _one(table, **where):
    rows = table
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, where
    return rows.iloc[0]


def test_default_file_parses_with_typed_columns(table):
    assert DEFAULT_PATH.is_file()
    assert tuple(table.columns[:len(COLUMNS)]) == COLUMNS
    assert str(table["value"].dtype) == "float64"
    assert str(table["higher_is_better"].dtype) == "bool"
    assert str(table["num_keypoints"].dtype) == "Int64"
    assert len(table) > 100
    assert not table.duplicated(list(KEY_COLUMNS)).any()


def test_every_benchmark_name_is_known(table):
    assert all(is_known_benchmark(b) for b in table["benchmark"])


@pytest.mark.parametrize("where,value", [
    (dict(method="LatentKeypointGAN", benchmark="celeba-wild", num_keypoints=8), 5.63),
    (dict(method="LatentKeypointGAN", benchmark="celeba-wild", num_keypoints=4), 12.1),
    (dict(method="LatentKeypointGAN", benchmark="taichi"), 437.69),
    (dict(method="LatentKeypointGAN", benchmark="deepfashion"), 49.0),
    (dict(method="KeypointGAN", benchmark="h36m-simplified", variant="all"), 2.73),
    (dict(method="KeypointGAN", benchmark="h36m-simplified", variant="walk"), 4.00),
    (dict(method="KeypointGAN", benchmark="300w", variant="none"), 8.67),
    (dict(method="KeypointGAN", benchmark="300w", variant="regressed"), 5.12),
    (dict(method="AutoLink", benchmark="cub-002"), 19.2),
    (dict(method="GANSeg", benchmark="taichi"), 417.17),
    (dict(method="StyleMapGAN", benchmark="ffhq", metric="fid_interp"), 9.97),
    (dict(method="GANLocalEditing", variant="epsilon=500"), 0.35),
])
def test_rows_match_the_spec(table, where, value):
    assert _one(table, **where)["value"] == value


def test_flagged_rows_carry_their_notes(table):
    assert "0.212" in _one(table, method="LatentKeypointGAN", benchmark="cub-003")["notes"]
    zhang = _one(table, method="Zhang et al. 2018", benchmark="h36m-simplified", variant="all")
    assert zhang["value"] == 4.14 and "4.91" in zhang["notes"]
    mafl = _one(table, method="Zhang et al. 2018", benchmark="celeba-aligned")
    assert mafl["value"] == 3.15 and "3.15–3.16" in mafl["notes"]
    assert "StyleMapGAN" in _one(table, method="SEAN", metric="fid_interp")["notes"]
    assert "SEAN's authors" in _one(table, method="SPADE")["notes"]
    assert bool(_one(table, method="AutoLink", benchmark="deepfashion")["higher_is_better"])


HEADER = ",".join(COLUMNS)
GOOD = "LatentKeypointGAN,celeba-wild,iod_error,,5.63,pct_inter_ocular,false,8,SEED-BM,"


def _write(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "published.csv"
    path.write_text("\n".join((header,) + lines) + "\n", encoding="utf-8")
    return path


def test_alias_rows_are_canonicalised(tmp_path):
    table = load_published(_write(tmp_path, GOOD.replace("celeba-wild", "mafl")))
    assert table["benchmark"].tolist() == ["celeba-wild"]


@pytest.mark.parametrize("line,message", [
    (GOOD.replace("celeba-wild", "celeba-wilde"),
     r"line 2, column 'benchmark'.*unknown benchmark 'celeba-wilde'; did you mean 'celeba-wild'"),
    (GOOD.replace("5.63", "5.63 / 6.1"), r"line 2, column 'value'.*is not a finite number"),
    (GOOD.replace("false", "no"), r"line 2, column 'higher_is_better'.*write true or false"),
    (GOOD.replace(",8,", ",eight,"), r"line 2, column 'num_keypoints'.*not a positive integer"),
    (GOOD.replace("iod_error", "pck"), r"line 2, column 'metric'.*'pck' disagrees with benchmark "
                                       r"'celeba-wild', which reports 'iod_error'"),
    (GOOD.replace("pct_inter_ocular", "percent"), r"line 2, column 'unit'"),
    (GOOD.replace("LatentKeypointGAN", ""), r"line 2, column 'method'.*empty"),
])
def test_bad_rows_name_line_and_column(tmp_path, line, message):
    other = GOOD.replace("5.63", "12.1").replace(",8,", ",4,")  # a valid first data row
    with pytest.raises(DataError, match=message.replace("line 2", "line 3")):
        load_published(_write(tmp_path, other, line))


def test_bad_files(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"published numbers file not found: .*nope\.csv"):
        load_published(missing)
    with pytest.raises(DataError, match=r"missing column\(s\) \['notes'\]"):
        load_published(_write(tmp_path, GOOD[:-1], header=HEADER.replace(",notes", "")))
    with pytest.raises(DataError, match=r"line 3: duplicate of an earlier row"):
        load_published(_write(tmp_path, GOOD, GOOD))


# -- the table ships inside the package (issue 25) ---------------------------------------------

def test_default_table_is_package_data_and_the_repository_path_links_to_it():
    from importlib import resources

    import lkbench

    assert DEFAULT_PATH == Path(str(resources.files("lkbench") / "published.csv"))
    assert DEFAULT_PATH.parent == Path(lkbench.__file__).parent
    repo_copy = Path(__file__).resolve().parents[1] / "results" / "published.csv"
    assert repo_copy.resolve() == DEFAULT_PATH.resolve()      # one file, not two that drift
    import tomllib
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml")
                              .read_text())
    assert "published.csv" in pyproject["tool"]["setuptools"]["package-data"]["lkbench"]


def test_missing_file_names_the_option_that_fixes_it(tmp_path):
    from click.testing import CliRunner

    from lkbench.cli import cli

    res = CliRunner().invoke(cli, ["report", "--published", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2 and "check the --published path" in res.output
    assert "pass path=" not in res.output
