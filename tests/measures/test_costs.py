"""The cost table on the hand-checked statistics fixture, with the money of test_finsam's
catalog: a person in two insatser, a strukturövergripande insats without records."""

from __future__ import annotations

import pytest

from pipeline.core.catalog import parse_catalog
from pipeline.core.period import Period
from pipeline.measures.costs import KOSTNAD_SCHEMA, has_money, kostnad_table
from pipeline.measures.statistics import compute_tables
from tests.measures.test_finsam import CATALOG
from tests.measures.test_statistics import read_episodes


def test_kostnad_2024_by_hand():
    """The cost table on the fixture (module docstring of pipeline.measures.costs): README
    "Calendar year 2024" gives the counts; SOC's narmare_arbete and ARB's arbete_studier were
    reached by 2 persons each (tests/fixtures/backtest/2024_k3/maluppfyllelse.csv)."""
    catalog = parse_catalog(CATALOG)
    tables = compute_tables(read_episodes(), catalog, Period.year(2024), k=3)
    got = kostnad_table(tables["deltagare"], tables["maluppfyllelse"], catalog, 2024)
    assert got.schema == KOSTNAD_SCHEMA
    expected = [
        # SOC: 480 000 / 6 persons; / (1277 / 366) årsplatser; / 2 who came closer to work.
        ("SOC", 480000.0, 500000.0, 6, 80000.0, 480000 * 366 / 1277, "narmare_arbete", 2, 240000.0),
        # ARB: 420 000 / 7; / (1099 / 366); / 2 to work or studies.
        ("ARB", 420000.0, 450000.0, 7, 60000.0, 420000 * 366 / 1099, "arbete_studier", 2, 210000.0),
        # TOM is strukturövergripande: money, no records, so no cost per person.
        ("TOM", 60000.0, 100000.0, None, None, None, None, None, None),
        # The förbund: 960 000 over 12 distinct persons (P01 is in both insatser: 6 + 7 = 13
        # persons in the insatser, 12 in the förbund) and 2376 / 366 årsplatser.
        ("TOTALT", 960000.0, 1050000.0, 12, 80000.0, 960000 * 366 / 2376, None, None, None),
    ]  # fmt: skip
    columns = [
        "insats_id", "kostnad", "budget", "deltagare", "kostnad_per_deltagare",
        "kostnad_per_arsplats", "matt", "uppnadde", "kostnad_per_uppnadd",
    ]  # fmt: skip
    rows = got.select(columns).rows()
    assert [r[:4] + r[6:8] for r in rows] == [e[:4] + e[6:8] for e in expected]
    for row, want in zip(rows, expected, strict=True):
        for value, truth in zip(row, want, strict=True):
            if isinstance(truth, float):
                assert value == pytest.approx(truth, rel=1e-12)


def test_no_money_no_cost_table():
    catalog = parse_catalog(CATALOG)
    assert has_money(catalog, 2024) and has_money(catalog, 2025)
    assert not has_money(catalog, 2023)
