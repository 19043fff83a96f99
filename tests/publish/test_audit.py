"""The audit reads published tables as a reader has them and finds what they give away.

Each test writes a few published cells by hand (strings, as in the CSV files), in the shape
of one of the leaks of issue #8, and checks that the audit pins the count a reader would
subtract, and that a variant where the count is not determined passes. The numbers can be
checked with pencil and paper; the comment of each test does the sum.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipeline.core.contract import TABLE_COLUMNS
from pipeline.core.period import Period
from pipeline.publish.audit import Release, _categories, audit, parse_count

YEAR = Period.year(2025)
JAN_APR = Period(dt.date(2025, 1, 1), dt.date(2025, 4, 30))


def table(name: str, rows: list[dict]) -> pl.DataFrame:
    """A published table: every column of the contract, strings, unlisted cells empty."""
    columns = TABLE_COLUMNS[name]
    return pl.DataFrame(
        [{c: row.get(c) for c in columns} for row in rows],
        schema=dict.fromkeys(columns, pl.String),
        orient="row",
    )


def release(tables: dict[str, list[dict]], period: Period = YEAR, current: bool = True):
    frames = {name: table(name, rows) for name, rows in tables.items()}
    return Release(period.label, period, 5, frames, current)


def found(result) -> dict[str, tuple[str, int]]:
    return {f.name: (f.rule, f.value) for f in result.findings}


def deltagare(insats: str, **cells: str) -> dict:
    return {"insats_id": insats, "insats": insats, **cells}


def test_markers_mean_what_the_documentation_tells_a_reader():
    assert parse_count("<5", 5) == (1, 4)
    assert parse_count("..", 5) == (5, float("inf"))  # a small count is never ".."
    assert parse_count("0", 5) == (0, 0) and parse_count(None, 5) is None


def test_totalt_minus_the_visible_insatser_pins_a_hidden_insats():
    # Distinct persons: TOTALT 40 ≤ Alfa 20 + Beta + Gamma 16, so Beta ≥ 4, and `<5` ≤ 4.
    # Women: 20 ≤ 10 + Beta_K + 8 → Beta_K ≥ 2, and as well Beta_M ≥ 2: both are 2.
    leak = release(
        {
            "deltagare": [
                deltagare("A", deltagare="20", kvinnor="10", man="10"),
                deltagare("B", deltagare="<5", kvinnor="<5", man="<5"),
                deltagare("C", deltagare="16", kvinnor="8", man="8"),
                deltagare("TOTALT", deltagare="40", kvinnor="20", man="20"),
            ]
        }
    )
    got = found(audit([leak]))
    assert got["2025/deltagare[1].deltagare"] == ("hemlig_fast", 4)
    assert got["2025/deltagare[1].kvinnor"] == ("hemlig_fast", 2)
    assert got["2025/deltagare[1].man"] == ("hemlig_fast", 2)
    # With TOTALT 38 (19 + 19) Beta can be 2, 3 or 4 persons: nothing is pinned.
    safe = release(
        {
            "deltagare": [
                deltagare("A", deltagare="20", kvinnor="10", man="10"),
                deltagare("B", deltagare="<5", kvinnor="<5", man="<5"),
                deltagare("C", deltagare="16", kvinnor="8", man="8"),
                deltagare("TOTALT", deltagare="38", kvinnor="19", man="19"),
            ]
        }
    )
    result = audit([safe])
    assert result.passed, [f.describe() for f in result.findings]
    assert result.ranges["2025/deltagare[1].deltagare"] == (2, 4)


def outcome(matt: str, namnare: str, taljare: str, andel: str) -> dict:
    return {
        "insats_id": "A",
        "insats": "A",
        "kon": "alla",
        "matt": matt,
        "namnare": namnare,
        "taljare": taljare,
        "andel": andel,
    }


def test_nested_measures_give_the_count_between_them():
    # 10 of 20 in arbete/studier and 12 of 20 with arbetssökande added: 2 arbetssökande.
    leak = release(
        {
            "utfall": [
                outcome("arbete_studier", "20", "10", "0.5"),
                outcome("arbete_studier_arbetssokande", "20", "12", "0.6"),
            ]
        }
    )
    small = [f for f in audit([leak]).findings if f.rule == "harledd_liten"]
    assert any(
        "arbete_studier_arbetssokande−arbete_studier" in f.name and f.value == 2 for f in small
    ), [f.describe() for f in small]
    safe = release(
        {
            "utfall": [
                outcome("arbete_studier", "20", "10", "0.5"),
                outcome("arbete_studier_arbetssokande", "20", "15", "0.75"),
            ]
        }
    )
    assert audit([safe]).passed


def test_background_totals_against_pagaende_give_avslutade():
    # Every background variable at start sums to the period's episodes (avslutade +
    # pågående): 23 − 20 pågående = 3 avslutade, published as `<5`.
    categories = _categories("aldersgrupp")
    rows = [
        {
            "insats_id": "TOTALT",
            "insats": "Förbundet totalt",
            "variabel": "aldersgrupp",
            "kategori": c,
            "totalt": "23" if n == 0 else "0",
        }
        for n, c in enumerate(categories)
    ]
    one = {"avslutade": "<5", "pagaende": "20"}  # the förbund has one insats
    leak = release(
        {
            "deltagare": [deltagare("A", **one), deltagare("TOTALT", **one)],
            "bakgrund": rows,
        }
    )
    assert found(audit([leak]))["2025/deltagare[0].avslutade"] == ("hemlig_fast", 3)


def test_avslutade_minus_the_outcome_base_is_the_number_who_moved_or_died():
    # 26 ended, a base of 24: 2 moved or died.
    leak = release(
        {
            "deltagare": [deltagare("A", avslutade="26")],
            "utfall": [outcome("arbete_studier", "24", "12", "0.5")],
        }
    )
    small = [f for f in audit([leak]).findings if f.rule == "harledd_liten"]
    assert any(f.name.startswith("flyttat/avlidit A") and f.value == 2 for f in small), [
        f.describe() for f in small
    ]


def goal(utfall: str, bedomning: str) -> dict:
    return {
        "insats_id": "A",
        "insats": "A",
        "matt": "deltagare",
        "mal": "4",
        "utfall": utfall,
        "bedomning": bedomning,
    }


def test_a_volume_target_reached_pins_a_hidden_count_at_its_target():
    # `<5` persons and at least 4 (the target, "uppnått"): 4.
    leak = release({"maluppfyllelse": [goal("<5", "uppnatt")]})
    assert found(audit([leak]))["2025/maluppfyllelse[0].utfall"] == ("hemlig_fast", 4)
    # "Ej uppnått" leaves 1, 2 or 3.
    assert audit([release({"maluppfyllelse": [goal("<5", "ej_uppnatt")]})]).passed


def test_the_trend_row_of_a_period_from_1_january_is_the_period_itself():
    # Jan–Apr: the trend row for 2025 counts the same persons as the deltagare table.
    trend = [
        {"insats_id": i, "insats": i, "ar": "2025", "deltagare": "23", "matt": "arbete_studier"}
        for i in ("A", "TOTALT")  # the förbund has one insats
    ]
    leak = release(
        {"deltagare": [deltagare("A", deltagare=".."), deltagare("TOTALT", deltagare="..")]}
        | {"trend": trend},
        period=JAN_APR,
    )
    label = JAN_APR.label
    assert found(audit([leak]))[f"{label}/deltagare[0].deltagare"] == ("hemlig_fast", 23)


def test_two_nested_periods_give_the_count_in_between():
    # 10 new in Jan–Apr, 12 new in the year: 2 new in May–Dec.
    tertial = release({"deltagare": [deltagare("A", nya="10")]}, JAN_APR, current=False)
    year = release({"deltagare": [deltagare("A", nya="12")]})
    small = [f for f in audit([tertial, year]).findings if f.rule == "harledd_liten"]
    assert [f.value for f in small if f.name.startswith("nya A 2025-05-01")] == [2]
    # 10 and 15: 5 in between, no finding.
    year = release({"deltagare": [deltagare("A", nya="15")]})
    assert audit([tertial, year]).passed


def test_a_revised_version_of_the_same_period_is_compared_cell_by_cell():
    # The data were revised: 12 new before, 14 now. Read together they contradict each
    # other; the difference of 2 is what a reader takes for the persons added.
    before = Release(
        "2025#1", YEAR, 5, {"deltagare": table("deltagare", [deltagare("A", nya="12")])}
    )
    now = release({"deltagare": [deltagare("A", nya="14")]})
    result = audit([before, now])
    assert result.inconsistent
    assert ("harledd_liten", 2) in [(f.rule, f.value) for f in result.findings]


def test_a_new_shorter_period_inside_a_published_year_protects_the_rest_of_the_year():
    # The year was published first (13 → 16 new); a new Jan–Aug with 13 would give Sep–Dec 3.
    year = release({"deltagare": [deltagare("A", nya="16")]}, current=False)
    tertial = release({"deltagare": [deltagare("A", nya="13")]}, JAN_APR)
    small = [f for f in audit([year, tertial]).findings if f.rule == "harledd_liten"]
    assert any(f.current and f.value == 3 and f.name.startswith("nya A 2025-05-01") for f in small)


# --- The cost table -----------------------------------------------------------------------


def _safe_deltagare() -> list[dict]:
    # As in the "safe" release above: Beta can be 2, 3 or 4 persons.
    return [
        deltagare("A", deltagare="20", kvinnor="10", man="10"),
        deltagare("B", deltagare="<5", kvinnor="<5", man="<5"),
        deltagare("C", deltagare="16", kvinnor="8", man="8"),
        deltagare("TOTALT", deltagare="38", kvinnor="19", man="19"),
    ]


def cost(insats: str, kostnad: str, deltagare_text: str | None, per: str | None) -> dict:
    return {
        "insats_id": insats,
        "insats": insats,
        "kostnad": kostnad,
        "deltagare": deltagare_text,
        "kostnad_per_deltagare": per,
    }


def test_a_cost_per_person_beside_a_hidden_count_gives_the_count_away():
    # Beta's 300 000 kr at 100 000 kr per deltagare: 300 000 / (100 000 ± ½) is 3 persons.
    leak = release(
        {
            "deltagare": _safe_deltagare(),
            "kostnad": [
                cost("A", "900000", "20", "45000"),
                cost("B", "300000", "<5", "100000"),
            ],
        }
    )
    got = found(audit([leak]))
    assert got["2025/deltagare[1].deltagare"] == ("hemlig_fast", 3)
    # Hidden where its count is (as pipeline.publish.disclosure.published_costs does), the
    # cost table adds nothing: Beta is still 2, 3 or 4.
    safe = release(
        {
            "deltagare": _safe_deltagare(),
            "kostnad": [cost("A", "900000", "20", "45000"), cost("B", "300000", "<5", None)],
        }
    )
    result = audit([safe])
    assert result.passed and result.ranges["2025/deltagare[1].deltagare"] == (2, 4)


def test_a_strukturovergripande_insats_in_the_cost_table_is_no_part_of_any_total():
    # S has money only. Were it read as an insats with unknown persons, TOTALT 40 ≤ 20 + B +
    # 16 + S would no longer pin Beta at 4 (the leak of the first test above).
    leak = release(
        {
            "deltagare": [
                deltagare("A", deltagare="20", kvinnor="10", man="10"),
                deltagare("B", deltagare="<5", kvinnor="<5", man="<5"),
                deltagare("C", deltagare="16", kvinnor="8", man="8"),
                deltagare("TOTALT", deltagare="40", kvinnor="20", man="20"),
            ],
            "kostnad": [cost("S", "200000", None, None)],
        }
    )
    assert found(audit([leak]))["2025/deltagare[1].deltagare"] == ("hemlig_fast", 4)
