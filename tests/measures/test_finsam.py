"""The Uppföljning Finsam figures on the hand-checked statistics fixture (its README): a
person in two insatser counts in both, a strukturövergripande insats has no record counts,
budgets come from the catalog for the year only."""

from __future__ import annotations

import polars as pl

from pipeline.core.catalog import parse_catalog
from pipeline.core.period import Period
from pipeline.measures.finsam import FINSAM_FIELDS, FINSAM_SCHEMA, uppfoljning_finsam
from pipeline.measures.statistics import compute_tables
from tests.measures.test_statistics import FIXTURES, read_episodes

CATALOG = (FIXTURES / "insatser.toml").read_text(encoding="utf-8")
CATALOG = CATALOG.replace(
    'namn = "Sociala företag"',
    'namn = "Sociala företag"\nbudget = { 2024 = 500000, 2025 = 600000 }\n'
    "kostnad = { 2024 = 480000 }\nbudgeterade_deltagare = { 2024 = 8 }",
).replace(
    'namn = "Insats utan deltagare"',
    'namn = "Insats utan deltagare"\ninriktning = "strukturovergripande"',
)


def test_uppfoljning_finsam_2024_by_hand():
    catalog = parse_catalog(CATALOG)
    tables = compute_tables(read_episodes(), catalog, Period.year(2024), k=3)
    result = uppfoljning_finsam(tables["deltagare"], catalog, 2024)
    assert result.schema == FINSAM_SCHEMA and list(FINSAM_FIELDS) == result.columns
    # README "Calendar year 2024": SOC 3 women, 3 men; ARB 4 and 3; the förbund 12 persons,
    # so one person is in both insatser and is counted in each.
    assert result.select("insats_id", "inriktning", "kvinnor", "man").rows() == [
        ("SOC", "individinriktad", 3, 3),
        ("ARB", "individinriktad", 4, 3),
        ("TOM", "strukturovergripande", None, None),
    ]
    assert int(result["kvinnor"].sum() + result["man"].sum()) == 13
    total = tables["deltagare"].filter(pl.col("insats_id") == "TOTALT")
    assert int(total["deltagare"].item()) == 12
    # Money of the year 2024 only; nothing invented for an insats without it.
    assert result.select("budget", "kostnad", "budgeterade_deltagare").rows() == [
        (500000.0, 480000.0, 8),
        (None, None, None),
        (None, None, None),
    ]
    # Not read yet (counted participants): empty, never a made-up zero.
    assert result["anonyma_kvinnor"].null_count() == result.height
