"""The analysts' DuckDB views and macros give exactly the tables of pipeline.measures.statistics."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from pipeline.core.catalog import Catalog
from pipeline.core.config import EPISODES_FILE
from pipeline.core.contract import EPISODE_SCHEMA, TOTAL_INSATS_ID
from pipeline.core.period import Period
from pipeline.measures import definitions as d
from pipeline.measures import statistics as s
from pipeline.store import views
from tests.measures.test_statistics import (
    PROJECT_YEAR,
    PROPERTY_CATALOG,
    TERTIAL,
    YEAR,
    episode_rows,
    fixture_catalog,
    periods,
    read_episodes,
    to_frame,
)

SQL_TABLES = ("deltagare", "utfall", "tid_i_insats", "maluppfyllelse")


def build_store(folder: Path, episodes: pl.DataFrame) -> None:
    """The two store files the views read (as pipeline.store.build writes them)."""
    episodes.write_parquet(folder / EPISODES_FILE)
    views.write_derived(episodes, folder / views.DERIVED_FILE)


def connect(folder: Path, catalog: Catalog | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    views.create_views(con, folder, catalog)
    return con


def sql_table(con: duckdb.DuckDBPyConnection, name: str, period: Period, k: int | None = None):
    extra = f", k := {k}" if k is not None else ""
    return con.sql(f"SELECT * FROM {name}(DATE '{period.start}', DATE '{period.end}'{extra})").pl()


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("lager")
    episodes = read_episodes()
    build_store(folder, episodes)
    con = connect(folder, fixture_catalog())
    yield con, episodes
    con.close()


@pytest.mark.parametrize("period", [YEAR, TERTIAL, PROJECT_YEAR], ids=["2024", "tertial", "pa"])
@pytest.mark.parametrize("k", [None, 1, 3])
def test_macros_give_the_polars_tables_on_the_fixture(
    fixture_db, period: Period, k: int | None
) -> None:
    con, episodes = fixture_db
    tables = s.compute_tables(episodes, fixture_catalog(), period, **({"k": k} if k else {}))
    for name in SQL_TABLES:
        got = sql_table(con, name, period, k if name == "maluppfyllelse" else None)
        assert_frame_equal(got, tables[name], check_exact=True)


def test_macros_accept_text_dates(fixture_db) -> None:
    con, episodes = fixture_db
    got = con.sql("SELECT * FROM deltagare('2024-01-01', '2024-12-31')").pl()
    assert_frame_equal(got, s.deltagare_table(episodes, fixture_catalog(), YEAR))


def test_views_hold_the_store_and_the_derived_fields(fixture_db) -> None:
    con, episodes = fixture_db
    stored = con.sql("SELECT * FROM episoder").pl()
    assert stored.columns == list(EPISODE_SCHEMA.names())
    assert stored.height == episodes.height == 16
    derived = con.sql("SELECT * FROM episoder_harledda ORDER BY deltagare_id, startdatum").pl()
    assert derived.columns == [*EPISODE_SCHEMA.names(), *d.DERIVED_COLUMNS]
    expected = (
        views.derived_episodes(episodes)
        .sort("deltagare_id", "startdatum")
        .select(pl.col(d.DERIVED_COLUMNS))
        .with_columns(pl.col(d.KON_PERSON, d.ALDERSGRUPP).cast(pl.String))
    )
    assert_frame_equal(derived.select(d.DERIVED_COLUMNS), expected)
    # A few hand-checked values: episode 8 (P07, born 2006, started 2024) is 18 and unknown.
    p07 = derived.filter(pl.col("deltagare_id") == "P07").row(0, named=True)
    assert (p07["alder"], p07["aldersgrupp"], p07["okand_narmare_arbete"]) == (18, "16-19", True)


def test_catalog_tables(fixture_db) -> None:
    con, _ = fixture_db
    assert con.sql("SELECT * FROM insatser ORDER BY ordning").fetchall() == [
        ("SOC", "Sociala företag", 0),
        ("ARB", "Arbetsträning", 1),
        ("TOM", "Insats utan deltagare", 2),
    ]
    assert con.sql("SELECT insats_id, matt, mal, typ FROM mal ORDER BY ordning").fetchall() == [
        ("SOC", "narmare_arbete", 0.6, "andel"),
        ("SOC", "arsplatser", 3.0, "antal"),
        ("ARB", "arbete_studier", 0.3, "andel"),
        ("ARB", "deltagare", 8.0, "antal"),
        ("TOM", "aktivitet_sysselsattning", 0.5, "andel"),
    ]


def test_wilson_macros_match_polars_bit_for_bit(fixture_db) -> None:
    con, _ = fixture_db
    grid = pl.DataFrame(
        [(t, n) for n in range(0, 41) for t in range(0, n + 1)],
        schema={"t": pl.Int64, "n": pl.Int64},
        orient="row",
    )
    expected = grid.select(lo=d.wilson_lower("t", "n"), hi=d.wilson_upper("t", "n"))
    got = con.sql(
        "SELECT wilson_lag(t, n) AS lo, wilson_hog(t, n) AS hi FROM grid ORDER BY n, t"
    ).pl()
    assert_frame_equal(got, expected, check_exact=True)


def test_without_catalog_the_insatser_come_from_the_data(tmp_path: Path) -> None:
    episodes = read_episodes()
    build_store(tmp_path, episodes)
    con = connect(tmp_path, None)
    got = sql_table(con, "deltagare", YEAR)
    assert got["insats_id"].to_list() == ["ARB", "SOC", TOTAL_INSATS_ID]
    assert got["insats"].to_list()[:2] == ["ARB", "SOC"]
    by_id = s.deltagare_table(episodes, fixture_catalog(), YEAR, insatser=["SOC", "ARB"])
    assert_frame_equal(got.drop("insats").sort("insats_id"), by_id.drop("insats").sort("insats_id"))
    assert sql_table(con, "maluppfyllelse", YEAR).height == 0


def test_missing_store_file_is_named(tmp_path: Path) -> None:
    read_episodes().write_parquet(tmp_path / EPISODES_FILE)
    with pytest.raises(FileNotFoundError, match=views.DERIVED_FILE):
        views.create_views(duckdb.connect(), tmp_path)


def test_write_derived_is_atomic_and_complete(tmp_path: Path) -> None:
    target = tmp_path / views.DERIVED_FILE
    views.write_derived(read_episodes(), target)
    assert [p.name for p in tmp_path.iterdir()] == [views.DERIVED_FILE]
    written = pl.read_parquet(target)
    assert written.columns == [*EPISODE_SCHEMA.names(), *d.DERIVED_COLUMNS]
    assert written.height == 16


def test_database_file_reopens_read_only(tmp_path: Path) -> None:
    build_store(tmp_path, read_episodes())
    db = tmp_path / "finsam.duckdb"
    con = duckdb.connect(str(db))
    views.create_views(con, tmp_path, fixture_catalog())
    con.close()
    reader = duckdb.connect(str(db), read_only=True)
    try:
        got = sql_table(reader, "deltagare", YEAR)
    finally:
        reader.close()
    assert_frame_equal(got, s.deltagare_table(read_episodes(), fixture_catalog(), YEAR))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=episode_rows(), period=periods())
def test_macros_give_the_polars_tables_on_random_stores(rows: list[dict], period: Period) -> None:
    episodes = to_frame(rows)
    tables = s.compute_tables(episodes, PROPERTY_CATALOG, period)
    with tempfile.TemporaryDirectory() as folder:
        build_store(Path(folder), episodes)
        con = connect(Path(folder), PROPERTY_CATALOG)
        try:
            for name in SQL_TABLES:
                assert_frame_equal(sql_table(con, name, period), tables[name], check_exact=True)
        finally:
            con.close()


def test_the_period_argument_is_inclusive(fixture_db) -> None:
    """One day, 2024-12-31: episode 11 starts (new); it and episode 12 are open."""
    con, episodes = fixture_db
    day = Period(dt.date(2024, 12, 31), dt.date(2024, 12, 31))
    got = sql_table(con, "deltagare", day).filter(pl.col("insats_id") == "ARB").row(0, named=True)
    assert (got["nya"], got["pagaende"]) == (1, 2)
    assert_frame_equal(
        sql_table(con, "deltagare", day), s.deltagare_table(episodes, fixture_catalog(), day)
    )
