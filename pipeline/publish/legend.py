"""The legend of the suppression marks and the source line, in one place for every medium:
charts (a footnote), the workbook (a line on each sheet and rows of its sheet "Om
tabellerna") and the report page (templates/om_statistiken.html.j2 explains the marks at
length, with the marks from here).

>>> chart_note(5)
'<5 = färre än 5 personer. .. = dolt för att skydda en annan uppgift. Dolda värden ritas inte.'
"""

from __future__ import annotations

from pipeline.publish.disclosure import SECONDARY_MARK, primary_mark


def source_note(forbund: str) -> str:
    return f"Källa: deltagaruppgifter från parterna, bearbetning {forbund}."


def chart_note(k: int) -> str:
    """Under every chart."""
    return (
        f"{primary_mark(k)} = färre än {k} personer. {SECONDARY_MARK} = dolt för att "
        "skydda en annan uppgift. Dolda värden ritas inte."
    )


def sheet_note(k: int) -> str:
    """Above every table of the workbook."""
    return (
        f"{primary_mark(k)} = färre än {k} personer, {SECONDARY_MARK} = dolt av röjandeskäl, "
        "tom andel = dold. Se bladet Om tabellerna."
    )


def legend_rows(k: int) -> list[tuple[str, str]]:
    """(mark, meaning) for the workbook's sheet Om tabellerna."""
    return [
        (primary_mark(k), f"Färre än {k} personer (1–{k - 1}). Noll visas som 0."),
        (
            SECONDARY_MARK,
            "Dolt för att en annan dold uppgift inte ska kunna räknas fram (sekundärt "
            "röjandeskydd), eller årsplatser/mediantid för en insats med färre än "
            f"{k} deltagare.",
        ),
        ("Tom andel", "Andelen visas inte eftersom täljaren eller basen är dold."),
    ]
