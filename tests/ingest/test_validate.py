"""Every rule of the data contract in pipeline.ingest.validate, one small table each."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipeline.core.contract import CANONICAL_COLUMNS, EPISODE_SCHEMA
from pipeline.ingest.validate import RULES, ValidationDisabled, cast_types, validate_export

TODAY = dt.date(2026, 1, 1)
VALID = {
    "deltagare_id": "P1",
    "insats_id": "SOC",
    "kon": "K",
    "fodelsear": "1980",
    "startdatum": "2024-01-01",
}


def export(*rows: dict[str, str | None]) -> pl.DataFrame:
    """Canonical text columns: each row is VALID updated with the given cells."""
    records = [{c: None for c in CANONICAL_COLUMNS} | VALID | row for row in rows]
    return pl.DataFrame(records, schema=dict.fromkeys(CANONICAL_COLUMNS, pl.String)).with_columns(
        pl.int_range(2, len(records) + 2, dtype=pl.Int64).alias("_rad")
    )


def failures(*rows: dict[str, str | None]) -> list[tuple[int, str, str | None, str]]:
    result = validate_export(export(*rows), "f.csv", ["SOC", "ISA"], TODAY)
    return result.quarantine.select("rad", "kolumn", "varde", "regel_id").rows()


ENDED = {
    "slutdatum": "2024-06-30",
    "avslutsorsak": "enligt_plan",
    "sysselsattning_efter": "arbete",
}


def test_valid_rows_pass_with_store_types():
    result = validate_export(export({}, ENDED), "f.csv", ["SOC"], TODAY)
    assert result.quarantine.height == 0
    assert result.episodes.drop("_rad").schema == EPISODE_SCHEMA
    assert result.episodes["slutdatum"].to_list() == [None, dt.date(2024, 6, 30)]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"deltagare_id": None}, [(2, "deltagare_id", None, "saknas")]),
        ({"startdatum": None}, [(2, "startdatum", None, "saknas")]),
        ({"kon": "X"}, [(2, "kon", "X", "kod")]),
        ({"utbildning": "hög"}, [(2, "utbildning", "hög", "kod")]),
        ({"narmare_arbete": "kanske"}, [(2, "narmare_arbete", "kanske", "kod")]),
        ({"insats_id": "XYZ"}, [(2, "insats_id", "XYZ", "okand_insats")]),
        ({"startdatum": "2024-02-30"}, [(2, "startdatum", "2024-02-30", "datumformat")]),
        ({"startdatum": "15/1/2024"}, [(2, "startdatum", "15/1/2024", "datumformat")]),
        ({"fodelsear": "nittonåttio"}, [(2, "fodelsear", "nittonåttio", "heltal")]),
        ({"fodelsear": "2009"}, [(2, "fodelsear", "2009", "alder")]),  # 15 at start
        ({"fodelsear": "1956"}, [(2, "fodelsear", "1956", "alder")]),  # 68 at start
        ({"omfattning_fore": "101"}, [(2, "omfattning_fore", "101", "omfattning")]),
        ({"omfattning_efter": "-1"}, [(2, "omfattning_efter", "-1", "omfattning")]),
        ({"steg_start": "0"}, [(2, "steg_start", "0", "steg")]),
        ({"steg_slut": "8"}, [(2, "steg_slut", "8", "steg")]),
        (ENDED | {"slutdatum": "2023-12-31"}, [(2, "slutdatum", "2023-12-31", "slut_fore_start")]),
        (ENDED | {"slutdatum": "2026-01-02"}, [(2, "slutdatum", "2026-01-02", "framtida_datum")]),
        (ENDED | {"avslutsorsak": None}, [(2, "avslutsorsak", None, "avslut_utan_orsak")]),
        (
            ENDED | {"sysselsattning_efter": None},
            [(2, "sysselsattning_efter", None, "avslut_utan_sysselsattning")],
        ),
        (
            {"avslutsorsak": "enligt_plan"},
            [(2, "avslutsorsak", "enligt_plan", "orsak_utan_avslut")],
        ),
        (
            {"sysselsattning_efter": "arbete"},
            [(2, "sysselsattning_efter", "arbete", "sysselsattning_utan_avslut")],
        ),
    ],
)
def test_each_rule(row: dict[str, str | None], expected: list[tuple]):
    assert failures(row) == expected


@pytest.mark.parametrize(
    "row",
    [
        {"fodelsear": "2008"},  # 16 at start: the lower edge is allowed
        {"fodelsear": "1957"},  # 67 at start: the upper edge is allowed
        {"omfattning_fore": "0", "omfattning_efter": "100", "steg_start": "1", "steg_slut": "7"},
        ENDED | {"slutdatum": "2024-01-01"},  # ends the day it starts
        ENDED | {"slutdatum": "2026-01-01"},  # ends today
        {"kon": "k", "utbildning": "Gymnasial"},  # codes are matched case-insensitively
    ],
)
def test_edges_pass(row: dict[str, str | None]):
    assert failures(row) == []


def test_good_rows_kept_bad_rows_quarantined_all_errors_at_once():
    result = validate_export(
        export({}, {"kon": "X", "fodelsear": "1900"}, {"deltagare_id": "P3"}),
        "f.csv",
        ["SOC"],
        TODAY,
    )
    assert result.episodes["deltagare_id"].to_list() == ["P1", "P3"]
    assert result.quarantine.select("rad", "kolumn", "regel_id").rows() == [
        (3, "fodelsear", "alder"),
        (3, "kon", "kod"),
    ]
    assert result.quarantine["fil"].unique().to_list() == ["f.csv"]


def test_every_rule_has_swedish_text_and_code_list_is_named():
    result = validate_export(export({"kon": "X"}), "f.csv", ["SOC"], TODAY)
    assert result.quarantine["regel"].item() == (
        "värdet finns inte i kodlistan (tillåtna: K (Kvinna), M (Man))"
    )
    assert all(text and text[0].islower() for text in RULES.values())


def test_unparsable_value_reported_once_not_also_as_missing():
    assert failures({"startdatum": "igår"}) == [(2, "startdatum", "igår", "datumformat")]


def test_cast_types_records_only_values_that_were_sent():
    typed, failed = cast_types(export({"omfattning_fore": None}, {"omfattning_fore": "50"}))
    assert failed.height == 0
    assert typed["omfattning_fore"].to_list() == [None, 50]


def test_refuses_to_run_with_pandera_switched_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PANDERA_VALIDATION_ENABLED", "False")
    with pytest.raises(ValidationDisabled, match="PANDERA_VALIDATION_ENABLED"):
        validate_export(export({}), "f.csv", ["SOC"], TODAY)


# --- Swedish texts as codes -----------------------------------------------------------------


def test_the_code_or_its_text_gives_the_same_episode():
    texts = {
        "kon": " kvinna ",
        "utbildning": "Förgymnasial",
        "tid_offentlig_forsorjning": "1-2 år",  # a hyphen for the text's en dash
        "forsorjning_fore": "SJUKERSÄTTNING",
        "sysselsattning_fore": "Arbetsträning/praktik",
        "narmare_arbete": "Nej",
    }
    codes = {
        "kon": "K",
        "utbildning": "forgymnasial",
        "tid_offentlig_forsorjning": "1_2_ar",
        "forsorjning_fore": "sjukersattning",
        "sysselsattning_fore": "arbetstraning_praktik",
        "narmare_arbete": "nej",
    }
    by_text = validate_export(export(texts | ENDED), "f.csv", ["SOC"], TODAY)
    by_code = validate_export(export(codes | ENDED), "f.csv", ["SOC"], TODAY)
    assert by_text.quarantine.height == 0
    assert by_text.episodes.equals(by_code.episodes)


def test_a_text_of_another_list_or_a_guess_is_still_an_error():
    assert failures({"forsorjning_fore": "1–2 år"}) == [(2, "forsorjning_fore", "1–2 år", "kod")]
    assert failures({"kon": "Kvinnor"}) == [(2, "kon", "Kvinnor", "kod")]  # not the text


def test_every_code_has_one_text_and_no_two_codes_fold_alike():
    from pipeline.core.contract import CODE_TEXTS, COLUMNS, code_lookup, fold_code_text

    for column in (c for c in COLUMNS if c.codes is not None):
        assert set(column.codes) <= set(CODE_TEXTS)
        lookup = code_lookup(column.codes)
        # Each code reached by its code and by its text, and nothing else in the list.
        assert sorted(set(lookup.values())) == sorted(column.codes)
        for code in column.codes:  # no code's text folds like another code or its text
            assert lookup[fold_code_text(code)] == code
            assert lookup[fold_code_text(CODE_TEXTS[code])] == code


def test_polars_folding_equals_the_contracts():
    from pipeline.core.contract import CODE_TEXTS, fold_code_text
    from pipeline.ingest.validate import folded

    samples = [*CODE_TEXTS, *CODE_TEXTS.values()]
    samples += [f"  {s.upper()} " for s in samples] + [
        "1—2\u00a0ÅR",
        "Över\t10 år",
        "a–kassa",
        "1 – 2 år",
        "Arbetsträning / praktik",
        "Avbrott ,eget val",
    ]
    folded = pl.DataFrame({"t": samples}).select(folded(pl.col("t")))["t"].to_list()
    assert folded == [fold_code_text(s) for s in samples]


def test_an_episode_of_another_forbunds_insats_is_rejected_in_a_pooled_store():
    forbund_of = (("ISA", "F2"), ("SOC", "F1"))
    rows = export(
        {"forbund": "F1"},  # agrees
        {"forbund": "F2"},  # SOC belongs to F1
        {"forbund": None},  # not given: the insats says which förbund
        {"insats_id": "ISA", "forbund": "F2"},
        {"insats_id": "NYI", "forbund": "F1"},  # unknown insats: that rule only
    )
    result = validate_export(rows, "f.csv", ["SOC", "ISA"], TODAY, forbund_of=forbund_of)
    assert result.quarantine.select("rad", "kolumn", "varde", "regel_id").rows() == [
        (3, "forbund", "F2", "fel_forbund"),
        (6, "insats_id", "NYI", "okand_insats"),
    ]
    assert result.episodes.height == 3
    # One förbund's own catalog: the column is only information.
    assert validate_export(rows[:2], "f.csv", ["SOC"], TODAY).quarantine.height == 0
