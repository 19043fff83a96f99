"""The Uppföljning Finsam figures on the hand-checked statistics fixture (its README): a
person in two insatser counts in both, a strukturövergripande insats has no record counts but
its counted persons, anonymous counts stand beside the records, budgets come from the catalog
for the year only."""

from __future__ import annotations

import polars as pl

from pipeline.core.catalog import parse_catalog
from pipeline.core.period import Period
from pipeline.measures.finsam import FINSAM_FIELDS, FINSAM_SCHEMA, uppfoljning_finsam
from pipeline.measures.statistics import compute_tables
from tests.measures.test_statistics import FIXTURES, read_episodes

CATALOG = (FIXTURES / "insatser.toml").read_text(encoding="utf-8")
CATALOG = (
    CATALOG.replace(
        'namn = "Sociala företag"',
        'namn = "Sociala företag"\nbudget = { 2024 = 500000, 2025 = 600000 }\n'
        "kostnad = { 2024 = 480000 }\nbudgeterade_deltagare = { 2024 = 8 }",
    )
    .replace(
        'namn = "Arbetsträning"',
        'namn = "Arbetsträning"\nbudget = { 2024 = 450000 }\nkostnad = { 2024 = 420000 }',
    )
    .replace(
        'namn = "Insats utan deltagare"\n'
        'mal = [ { matt = "aktivitet_sysselsattning", andel = 0.5 } ]',
        'namn = "Insats utan deltagare"\ninriktning = "strukturovergripande"\n'
        "budget = { 2024 = 100000 }\nkostnad = { 2024 = 60000 }",
    )
)
# The counted participants (the store's raknade_deltagare): SOC had 2 + 1 anonymous
# participants in 2024, TOM reached 9 women and 5 men; the 2025 row is of another year.
COUNTED = pl.DataFrame(
    {
        "insats_id": ["SOC", "TOM", "SOC"],
        "ar": [2024, 2024, 2025],
        "slag": ["anonyma", "strukturovergripande", "anonyma"],
        "kvinnor": [2, 9, 7],
        "man": [1, 5, 7],
        "fil": ["r.csv"] * 3,
    }
)


def test_uppfoljning_finsam_2024_by_hand():
    catalog = parse_catalog(CATALOG)
    tables = compute_tables(read_episodes(), catalog, Period.year(2024), k=3)
    result = uppfoljning_finsam(tables["deltagare"], catalog, 2024, COUNTED)
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
    # Money of the year 2024 only; nothing invented where the catalog has none.
    assert result.select("budget", "kostnad", "budgeterade_deltagare").rows() == [
        (500000.0, 480000.0, 8),
        (450000.0, 420000.0, None),
        (100000.0, 60000.0, None),
    ]
    # Counted persons beside the records, never added to them: SOC's 3 + 3 stay, its
    # anonymous 2 + 1 stand apart; TOM's 9 + 5 = 14 reached; no row, no number (ARB).
    assert result.select(
        "insats_id", "anonyma_kvinnor", "anonyma_man", "strukturovergripande_deltagare"
    ).rows() == [("SOC", 2, 1, None), ("ARB", None, None, None), ("TOM", None, None, 14)]


def test_counted_persons_are_never_added_to_the_records():
    catalog = parse_catalog(CATALOG)
    episodes = read_episodes()
    tables = compute_tables(episodes, catalog, Period.year(2024), k=3)
    plain = uppfoljning_finsam(tables["deltagare"], catalog, 2024)
    counted = uppfoljning_finsam(tables["deltagare"], catalog, 2024, COUNTED)
    assert plain.select("kvinnor", "man").equals(counted.select("kvinnor", "man"))
    # And the strukturövergripande insats has no row in any table of records.
    assert "TOM" not in tables["deltagare"]["insats_id"].to_list()
