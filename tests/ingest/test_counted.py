"""Counted participants (contract section 5): recognised by their headings, validated row by
row against the hand-checked fixture tests/fixtures/raknade (its README lists every row)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipeline.core.catalog import parse_catalog
from pipeline.core.contract import COUNTED_COLUMNS, COUNTED_SCHEMA, RULES
from pipeline.ingest import COUNTED, EPISODES, FileRejected, RawFile, load_export
from pipeline.ingest.counted import validate_counted

FIXTURES = Path(__file__).parents[1] / "fixtures"
COUNTED_CSV = FIXTURES / "raknade" / "raknade_2024.csv"
TODAY = dt.date(2026, 1, 5)
CATALOG = parse_catalog(
    (FIXTURES / "statistik" / "insatser.toml")
    .read_text(encoding="utf-8")
    .replace(
        'namn = "Insats utan deltagare"\n'
        'mal = [ { matt = "aktivitet_sysselsattning", andel = 0.5 } ]',
        'namn = "Insats utan deltagare"\ninriktning = "strukturovergripande"',
    )
)


def _raw(path: Path) -> RawFile:
    return RawFile(path, path.name, "x", path.suffix.lstrip("."))


def test_a_counted_file_is_recognised_by_its_headings():
    export = load_export(_raw(COUNTED_CSV))
    [sheet] = export.sheets
    assert sheet.kind == COUNTED
    assert sheet.text.columns == ["_rad", *COUNTED_COLUMNS]
    assert sheet.rows == 11 and sheet.text["_rad"].to_list() == list(range(2, 13))


def test_every_row_is_judged_on_its_own():
    [sheet] = load_export(_raw(COUNTED_CSV)).sheets
    result = validate_counted(sheet.text, "raknade_2024.csv", CATALOG.inriktning, TODAY)
    assert result.counted.schema == pl.Schema({"_rad": pl.Int64, **COUNTED_SCHEMA})
    assert result.counted.drop("_rad", "fil").rows() == [
        ("SOC", 2024, "anonyma", 2, 1),
        ("TOM", 2024, "strukturovergripande", 9, 5),  # the Swedish text folded to its code
    ]
    q = result.quarantine
    assert q.select("rad", "kolumn", "regel_id").sort("rad").rows() == [
        (4, "kvinnor", "heltal"),
        (5, "insats_id", "dubbel_rad"),
        (6, "insats_id", "dubbel_rad"),
        (7, "slag", "slag_inriktning"),
        (8, "kvinnor", "negativt_antal"),
        (9, "insats_id", "okand_insats"),
        (10, "ar", "artal"),
        (11, "slag", "kod"),
        (12, "kvinnor", "saknas"),
    ]
    # Each record names the file, shows the value as sent and says the rule in Swedish.
    row = q.filter(pl.col("rad") == 8).row(0, named=True)
    assert (row["fil"], row["varde"], row["regel"]) == (
        "raknade_2024.csv",
        "-1",
        RULES["negativt_antal"],
    )
    assert "anonyma (Anonyma deltagare)" in q.filter(pl.col("rad") == 11)["regel"].item()
    # Every row is kept or quarantined, none lost.
    assert result.counted.height + q["rad"].n_unique() == 11


def test_a_workbook_may_hold_episodes_and_counts(tmp_path: Path):
    import xlsxwriter

    path = tmp_path / "2025-01_region.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    episodes = wb.add_worksheet("Deltagare")
    headings = ["deltagare_id", "insats_id", "kon", "fodelsear", "startdatum"]
    episodes.write_row(0, 0, headings)
    episodes.write_row(1, 0, ["P1", "SOC", "K", "1980", "2024-01-01"])
    counts = wb.add_worksheet("Räknade")
    counts.write_row(0, 0, ["Insats", "Ar", "Slag", "Antal kvinnor", "Antal män"])
    counts.write_row(1, 0, ["SOC", 2024, "anonyma", 1, 0])
    wb.close()
    sheets = load_export(_raw(path)).sheets
    assert [s.kind for s in sheets] == [EPISODES, COUNTED]
    assert sheets[1].text.drop("_rad").rows() == [("SOC", "2024", "anonyma", "1", "0")]


def test_a_counted_file_missing_a_column_is_rejected_with_what_it_lacks(tmp_path: Path):
    path = tmp_path / "raknade.csv"
    path.write_text("insats_id,ar,slag,kvinnor\nSOC,2024,anonyma,2\n", encoding="utf-8")
    with pytest.raises(FileRejected, match=r"räknade deltagare.*man \(Män\)"):
        load_export(_raw(path))


def test_two_headings_for_one_counted_column_reject_the_file(tmp_path: Path):
    # Which of the two holds the count cannot be told (an export is treated the same way).
    path = tmp_path / "raknade.csv"
    path.write_text("insats_id,ar,slag,Kvinnor,man,Antal kvinnor\nSOC,2024,anonyma,4,1,9\n")
    with pytest.raises(FileRejected, match=r"Två rubriker betyder samma kolumn \(kvinnor\)"):
        load_export(_raw(path))
