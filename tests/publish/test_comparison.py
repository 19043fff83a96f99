"""The comparison report: shown counts only, pooled sums, funnel limits (hand-computed)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from pipeline.core.catalog import parse_catalog
from pipeline.core.period import Period
from pipeline.publish.audit import Release
from pipeline.publish.comparison import (
    POOLED_ID,
    SHARES_SCHEMA,
    TABLE_DIR,
    Z_95,
    Z_998,
    audit_comparison,
    comparison_tables,
    shown_shares,
    shown_trend,
    with_funnel,
)
from pipeline.publish.disclosure import DisclosureError

CATALOG = parse_catalog(
    'forbundsnamn = { F1 = "Norr" }\n'
    '[[insats]]\nid="A"\nnamn="a"\nforbund="F1"\ninsatstyp="Kompetensteam"\n'
    '[[insats]]\nid="B"\nnamn="b"\nforbund="F2"\ninsatstyp="Kompetensteam"\n'
    '[[insats]]\nid="C"\nnamn="c"\nforbund="F2"\ninsatstyp="Arbetsträning"\n'
)
PERIOD = Period.year(2025)
MATT = "narmare_arbete"


def _utfall(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    """(insats_id, kon, namnare, taljare) rows of a published utfall table."""
    return pl.DataFrame(
        [(i, kon, MATT, n, t) for i, kon, n, t in rows],
        schema=["insats_id", "kon", "matt", "namnare", "taljare"],
        orient="row",
    )


def _trend(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [(i, ar, MATT, n, t) for i, ar, n, t in rows],
        schema=["insats_id", "ar", "matt", "namnare", "taljare"],
        orient="row",
    )


RELEASES = {
    "F1": Release(
        "2025/F1",
        PERIOD,
        5,
        {
            "utfall": _utfall(
                ("TOTALT", "alla", "100", "40"),
                ("TOTALT", "K", "60", ".."),
                ("A", "alla", "100", "40"),
            ),
            "trend": _trend(("TOTALT", "2024", "80", "30"), ("TOTALT", "2025", "100", "40")),
        },
    ),
    "F2": Release(
        "2025/F2",
        PERIOD,
        5,
        {
            "utfall": _utfall(
                ("TOTALT", "alla", "50", "10"),
                ("B", "alla", "30", "6"),
                ("C", "alla", "20", "<5"),  # hidden: C's kind gets nothing from it
            ),
            "trend": _trend(("TOTALT", "2024", "..", "12"), ("TOTALT", "2025", "50", "10")),
        },
    ),
}


def test_shown_shares_take_the_total_rows_and_sum_each_kind_over_shown_insatser():
    shares = shown_shares(RELEASES, CATALOG)
    assert shares.rows() == [
        ("forbund", "F1", "Norr", MATT, 100, 40),
        ("forbund", "F2", "F2", MATT, 50, 10),
        ("insatstyp", "Kompetensteam", "Kompetensteam", MATT, 130, 46),  # A + B
    ]


def test_funnel_limits_and_where_each_lies_by_hand():
    shares = pl.DataFrame(
        [("forbund", "F1", "F1", MATT, 100, 40), ("forbund", "F2", "F2", MATT, 50, 10)],
        schema=SHARES_SCHEMA,
        orient="row",
    )
    table = with_funnel(shares)
    p = 50 / 150  # pooled: the sum of the shown
    f1, f2, total = table.iter_rows(named=True)
    assert f1["samlad_andel"] == round(p, 4)
    assert f1["undre_95"] == round(p - Z_95 * math.sqrt(p * (1 - p) / 100), 4)  # 0.2409
    assert f1["ovre_95"] == round(p + Z_95 * math.sqrt(p * (1 - p) / 100), 4)  # 0.4257
    assert f1["lage"] == "inom"  # 0.40
    # 0.20 at n = 50: below 1/3 − 1.96·0.0667 = 0.2027, above 1/3 − 3.09·0.0667 = 0.1273.
    assert f2["undre_95"] == 0.2027 and f2["undre_998"] == round(
        p - Z_998 * math.sqrt(p * (1 - p) / 50), 4
    )
    assert f2["lage"] == "under_95"
    assert (total["id"], total["namnare"], total["taljare"], total["antal_visade"]) == (
        POOLED_ID,
        150,
        50,
        2,
    )


def test_the_trend_sums_only_years_shown_for_each_forbund():
    trend = shown_trend(RELEASES, CATALOG)
    pooled = trend.filter(pl.col("id") == POOLED_ID).select("ar", "namnare", "taljare").rows()
    assert pooled == [(2024, 80, 30), (2025, 150, 50)]  # F2's 2024 base is hidden


def test_the_audit_refuses_a_comparison_that_is_not_sums_of_shown_counts(tmp_path: Path):
    tables = comparison_tables(RELEASES, CATALOG)
    (tmp_path / TABLE_DIR).mkdir()
    for name, table in tables.items():
        table.write_csv(tmp_path / TABLE_DIR / f"{name}.csv")
    audit_comparison(tmp_path, RELEASES, CATALOG)  # as built: passes
    # The pooled total of the exact data (F2's hidden insats C included) would give C away.
    leaked = tables["jamforelse"].with_columns(
        pl.when(pl.col("grupp") == "insatstyp").then(pl.col("taljare") + 3).otherwise("taljare")
    )
    leaked.write_csv(tmp_path / TABLE_DIR / "jamforelse.csv")
    with pytest.raises(DisclosureError, match="inte är summor"):
        audit_comparison(tmp_path, RELEASES, CATALOG)
