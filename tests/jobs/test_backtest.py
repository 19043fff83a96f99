"""Backtest: raw exports through the command line to the contract tables, cell by cell.

The ground truth in tests/fixtures/backtest/ was worked out by hand (see its README). The
exports are cut as a party sends them: a cumulative CSV at mid-year and a later XLSX, so
the test also covers reading, validation, "last file wins" and the report command.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.core.contract import CANONICAL_COLUMNS, COLUMN_BY_NAME
from pipeline.jobs.cli import EXIT_OK, main
from pipeline.publish.audit import audit
from pipeline.publish.releases import read_release
from pipeline.store import END_FIELDS

FIXTURES = Path(__file__).parents[1] / "fixtures"
EPISODES = FIXTURES / "statistik" / "episoder.csv"
TRUTH = FIXTURES / "backtest" / "2024_k3"
CUTOFF = dt.date(2024, 6, 30)


def _episodes() -> pl.DataFrame:
    frame = pl.read_csv(EPISODES, infer_schema=False)
    return frame.select(c for c in CANONICAL_COLUMNS if c in frame.columns)


def _snapshot(episodes: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """What an export made on `cutoff` held: started episodes, later ends not yet known."""
    start = pl.col("startdatum").str.to_date()
    ended_later = pl.col("slutdatum").str.to_date() > cutoff
    return episodes.filter(start <= cutoff).with_columns(
        pl.when(ended_later).then(None).otherwise(pl.col(c)).alias(c)
        for c in END_FIELDS
        if c in episodes.columns
    )


def _swedish_headings(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename(
        {c: COLUMN_BY_NAME[c].aliases[0] for c in frame.columns if COLUMN_BY_NAME[c].aliases}
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backtest")
    raw = root / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "statistik" / "insatser.toml", raw)
    episodes = _episodes()
    early = _swedish_headings(_snapshot(episodes, CUTOFF)).write_csv(separator=";")
    (raw / "2024-06_export.csv").write_bytes(early.encode("windows-1252"))
    dates = [c for c in episodes.columns if c.endswith("datum")]
    late = episodes.with_columns(pl.col(c).str.to_date() for c in dates)
    late.write_excel(raw / "2025-02_export.xlsx")
    folders = ["--raw", str(raw), "--processed", str(root / "p"), "--reports", str(root / "r")]
    assert main(["report", "--year", "2024", "--k", "3", *folders]) == EXIT_OK
    return root


@pytest.mark.slow
@pytest.mark.parametrize("table", ["deltagare", "maluppfyllelse"])
def test_exact_tables_equal_the_hand_computed_ones(report: Path, table: str):
    got = pl.read_csv(report / "p" / "2024" / f"{table}.csv")
    truth = pl.read_csv(TRUTH / f"{table}.csv", schema=got.schema)
    # Wilson limits are written with six decimals in the ground truth.
    assert_frame_equal(got, truth, check_exact=False, abs_tol=5e-7)


@pytest.mark.slow
def test_published_tables_hide_what_k_requires(report: Path):
    published = pl.read_csv(
        report / "r" / "2024" / "tabeller" / "deltagare.csv", infer_schema=False
    )
    soc = published.filter(pl.col("insats_id") == "SOC").row(0, named=True)
    # k = 3: SOC's 6 persons (3 women, 3 men) are not small, but in a förbund this small the
    # audit hides them too (with the other insatser they pin a hidden one); nothing between
    # 1 and 2 is shown, and a fresh audit of the written files finds nothing.
    assert soc["deltagare"] in ("6", "..")
    counts = published.select("deltagare", "kvinnor", "man", "nya", "avslutade", "pagaende")
    assert not {"1", "2"} & set(counts.unpivot()["value"].to_list())
    release = read_release(report / "r" / "2024", current=True)
    assert release is not None and audit([release]).passed


@pytest.mark.slow
def test_uppfoljning_finsam_is_written_exact_and_never_published(report: Path):
    import openpyxl

    got = pl.read_csv(report / "p" / "2024" / "uppfoljning_finsam.csv")
    # The hand-computed deltagare: SOC 3 + 3, ARB 4 + 3, TOM none (individinriktad: 0).
    assert got.select("insats_id", "kvinnor", "man").rows() == [
        ("SOC", 3, 3),
        ("ARB", 4, 3),
        ("TOM", 0, 0),
    ]
    book = openpyxl.load_workbook(report / "p" / "2024" / "uppfoljning_finsam.xlsx")
    assert book.sheetnames == ["Uppföljning Finsam", "Fält"]
    assert not list((report / "r").rglob("uppfoljning_finsam*"))


@pytest.fixture(scope="module")
def annual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same episodes with the förbund's money, TOM strukturövergripande and the
    counted-participants fixture (tests/fixtures/raknade/README.md), through the CLI."""
    from tests.measures.test_finsam import CATALOG

    root = tmp_path_factory.mktemp("annual")
    raw = root / "raw"
    raw.mkdir()
    (raw / "insatser.toml").write_text(CATALOG, encoding="utf-8")
    _episodes().write_csv(raw / "2025-02_export.csv")
    shutil.copy(FIXTURES / "raknade" / "raknade_2024.csv", raw / "2025-02_raknade.csv")
    folders = ["--raw", str(raw), "--processed", str(root / "p"), "--reports", str(root / "r")]
    assert main(["report", "--year", "2024", "--k", "3", *folders]) == EXIT_OK
    return root


@pytest.mark.slow
def test_uppfoljning_finsam_with_counted_participants_by_hand(annual: Path):
    got = pl.read_csv(annual / "p" / "2024" / "uppfoljning_finsam.csv")
    # SOC 3 + 3 persons and, beside them, its 2 + 1 anonymous ones (fixture row 2); ARB 4 + 3
    # (its counted rows were all rejected); TOM reached 9 + 5 (row 3) and has no records.
    assert got.select(
        "insats_id",
        "inriktning",
        "kvinnor",
        "man",
        "anonyma_kvinnor",
        "anonyma_man",
        "strukturovergripande_deltagare",
        "budget",
        "kostnad",
    ).rows() == [
        ("SOC", "individinriktad", 3, 3, 2, 1, None, 500000.0, 480000.0),
        ("ARB", "individinriktad", 4, 3, None, None, None, 450000.0, 420000.0),
        ("TOM", "strukturovergripande", None, None, None, None, 14, 100000.0, 60000.0),
    ]
    quarantine = pl.read_csv(annual / "p" / "karantan.csv")
    assert quarantine.filter(pl.col("fil") == "2025-02_raknade.csv").height == 9


@pytest.mark.slow
def test_the_published_cost_table_hides_a_cost_exactly_where_its_count_is(annual: Path):
    exact = pl.read_csv(annual / "p" / "2024" / "kostnad.csv")
    assert exact["kostnad_per_deltagare"].to_list()[:2] == [80000.0, 60000.0]  # test_costs
    published = pl.read_csv(annual / "r" / "2024" / "tabeller" / "kostnad.csv", infer_schema=False)
    deltagare = pl.read_csv(
        annual / "r" / "2024" / "tabeller" / "deltagare.csv", infer_schema=False
    )
    shown = dict(deltagare.select("insats_id", "deltagare").iter_rows())
    for row in published.iter_rows(named=True):
        assert row["deltagare"] == shown.get(row["insats_id"])  # the same published cell
        count = row["deltagare"]
        if count is not None and count.isdigit() and int(count) > 0:
            assert int(row["kostnad_per_deltagare"]) == round(float(row["kostnad"]) / int(count))
        else:
            assert row["kostnad_per_deltagare"] is None
        if row["uppnadde"] is None or not row["uppnadde"].isdigit():
            assert row["kostnad_per_uppnadd"] is None
    release = read_release(annual / "r" / "2024", current=True)
    assert release is not None and audit([release]).passed
