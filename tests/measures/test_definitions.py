"""Every definition of pipeline.measures.definitions on a small literal table worked out by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from pipeline.core.contract import EPISODE_SCHEMA, OUTCOME_MEASURES
from pipeline.core.period import Period
from pipeline.measures import definitions as d

D = dt.date
MARCH = Period(D(2024, 3, 1), D(2024, 3, 31))


def frame(**columns: list) -> pl.DataFrame:
    """A frame of some episode columns with their contract dtypes."""
    return pl.DataFrame(columns, schema={c: EPISODE_SCHEMA[c] for c in columns})


def values(df: pl.DataFrame, expr: pl.Expr) -> list:
    return df.select(expr.alias("x"))["x"].to_list()


# --- Who counts -----------------------------------------------------------------------------


def test_is_participant_only_felregistrering_is_out() -> None:
    df = frame(avslutsorsak=[None, "enligt_plan", "felregistrering", "flyttat", "avliden"])
    assert values(df, d.is_participant()) == [True, True, False, True, True]


def test_person_kon_is_the_latest_participant_episode() -> None:
    df = frame(
        deltagare_id=["a", "a", "a", "b", "c"],
        insats_id=["X", "Y", "Z", "X", "X"],
        kon=["M", "K", "M", "M", "K"],
        startdatum=[D(2020, 1, 1), D(2022, 1, 1), D(2023, 1, 1), D(2021, 1, 1), D(2021, 1, 1)],
        avslutsorsak=[None, None, "felregistrering", None, "felregistrering"],
    )
    # a: the 2023 episode is a felregistrering, so the 2022 one (K) decides for all three.
    # c has only a felregistrering: its own kön.
    assert values(df, d.person_kon().cast(pl.String)) == ["K", "K", "K", "M", "K"]


def test_person_kon_breaks_start_ties_by_insats_id() -> None:
    df = frame(
        deltagare_id=["a", "a"],
        insats_id=["Y", "X"],
        kon=["K", "M"],
        startdatum=[D(2024, 1, 1), D(2024, 1, 1)],
        avslutsorsak=[None, None],
    )
    assert values(df, d.person_kon().cast(pl.String)) == ["K", "K"]
    assert values(df.reverse(), d.person_kon().cast(pl.String)) == ["K", "K"]


# --- Time -----------------------------------------------------------------------------------

# Six episodes around March 2024 (31 days); the expected values below are per row.
TIMES = frame(
    startdatum=[
        D(2024, 2, 1),  # ends the day before the period
        D(2024, 2, 1),  # ends on its first day
        D(2024, 3, 31),  # starts on its last day, open
        D(2024, 4, 1),  # starts the day after, open
        D(2024, 1, 1),  # spans the whole period, ends after it
        D(2024, 3, 10),  # inside
    ],
    slutdatum=[D(2024, 2, 29), D(2024, 3, 1), None, None, D(2024, 5, 1), D(2024, 3, 20)],
)


def test_overlaps() -> None:
    assert values(TIMES, d.overlaps(MARCH)) == [False, True, True, False, True, True]


def test_starts_in() -> None:
    assert values(TIMES, d.starts_in(MARCH)) == [False, False, True, False, False, True]


def test_ends_in() -> None:
    assert values(TIMES, d.ends_in(MARCH)) == [False, True, False, False, False, True]


def test_open_at_end() -> None:
    assert values(TIMES, d.open_at_end(MARCH)) == [False, False, True, False, True, False]


def test_overlapping_is_ended_or_open_never_both() -> None:
    got = TIMES.select(
        o=d.overlaps(MARCH), e=d.ends_in(MARCH), p=d.open_at_end(MARCH)
    ).with_columns(both=pl.col("e") & pl.col("p"), either=pl.col("e") | pl.col("p"))
    assert got["both"].sum() == 0
    assert_series_equal(got["either"], got["o"], check_names=False)


def test_enrolled_days_in_both_ends_inclusive() -> None:
    assert values(TIMES, d.enrolled_days_in(MARCH)) == [0, 1, 1, 0, 31, 11]


def test_enrolled_days_in_leap_february_and_open_episode() -> None:
    df = frame(startdatum=[D(2023, 12, 15), D(2024, 2, 20)], slutdatum=[None, D(2024, 3, 5)])
    february = Period(D(2024, 2, 1), D(2024, 2, 29))
    assert values(df, d.enrolled_days_in(february)) == [29, 10]


def test_period_bounds_may_be_per_row_expressions() -> None:
    df = TIMES.with_columns(ar=pl.Series([2024, 2024, 2024, 2024, 2023, 2025], dtype=pl.Int32))
    year = d.year_bounds(pl.col("ar"))
    # Rows 1-4 counted in 2024; row 5 (2024-01-01..05-01) has nothing in 2023,
    # row 6 (March 2024) nothing in 2025.
    assert values(df, d.enrolled_days_in(year)) == [29, 30, 276, 275, 0, 0]
    assert values(df, d.overlaps(year)) == [True, True, True, True, False, False]
    assert values(df, d.ends_in(year)) == [True, True, False, False, False, False]


def test_days_in_insats() -> None:
    df = frame(
        startdatum=[D(2024, 1, 1), D(2023, 12, 31), D(2024, 1, 1), D(2024, 2, 28)],
        slutdatum=[D(2024, 1, 1), D(2024, 1, 1), None, D(2024, 3, 1)],
    )
    assert values(df, d.days_in_insats()) == [1, 2, None, 3]


# --- Background -----------------------------------------------------------------------------


def test_age_at_start_is_year_difference() -> None:
    df = frame(
        fodelsear=[2000, 2000, 1957], startdatum=[D(2024, 12, 31), D(2016, 1, 1), D(2024, 6, 1)]
    )
    assert values(df, d.age_at_start()) == [24, 16, 67]


def test_age_group_edges() -> None:
    ages = [15, 16, 19, 20, 24, 25, 29, 30, 39, 40, 49, 50, 59, 60, 67, 68]
    df = frame(fodelsear=[2024 - a for a in ages], startdatum=[D(2024, 5, 1)] * len(ages))
    expected = [
        None,
        "16-19",
        "16-19",
        "20-24",
        "20-24",
        "25-29",
        "25-29",
        "30-39",
        "30-39",
        "40-49",
        "40-49",
        "50-59",
        "50-59",
        "60-67",
        "60-67",
        None,
    ]
    got = df.select(d.age_group().alias("g"))["g"]
    assert got.dtype == d.ALDERSGRUPP_DTYPE
    assert got.cast(pl.String).to_list() == expected


# --- Outcome base ---------------------------------------------------------------------------


def test_in_outcome_base() -> None:
    df = frame(
        startdatum=[D(2024, 1, 1)] * 6 + [D(2023, 1, 1), D(2024, 1, 1), D(2024, 1, 1)],
        slutdatum=[D(2024, 6, 1)] * 6 + [D(2023, 6, 1), None, D(2024, 12, 31)],
        avslutsorsak=[
            "enligt_plan",
            "avbrott_eget_val",
            "avbrott_sjukdom",
            "flyttat",
            "avliden",
            "felregistrering",
            "enligt_plan",  # ended in 2023
            None,  # open
            None,  # ended without a reason (cannot pass validation): stays in
        ],
    )
    expected = [True, True, True, False, False, False, False, False, True]
    assert values(df, d.in_outcome_base(Period.year(2024))) == expected


# --- Outcome flags --------------------------------------------------------------------------

EFTER = frame(
    sysselsattning_efter=[
        "arbete",
        "arbete_med_stod",
        "studier",
        "arbetssokande",
        "arbetstraning_praktik",
        "rehabilitering",
        "ingen",
        "okand",
        None,
    ]
)


def test_arbete_studier() -> None:
    expected = [True, True, True, False, False, False, False, False, False]
    assert values(EFTER, d.arbete_studier()) == expected


def test_arbete_studier_arbetssokande() -> None:
    expected = [True, True, True, True, False, False, False, False, False]
    assert values(EFTER, d.arbete_studier_arbetssokande()) == expected


def test_aktivitet_sysselsattning() -> None:
    expected = [True, True, True, True, True, True, False, False, False]
    assert values(EFTER, d.aktivitet_sysselsattning()) == expected


@pytest.mark.parametrize(
    "matt", ["arbete_studier", "arbete_studier_arbetssokande", "aktivitet_sysselsattning"]
)
def test_sysselsattning_unknown_is_okand_or_missing(matt: str) -> None:
    expected = [False] * 7 + [True, True]
    assert values(EFTER, d.outcome_unknown(matt)) == expected
    assert_frame_equal(
        EFTER.select(d.outcome_reached(matt).alias("x")),
        EFTER.select(getattr(d, matt)().alias("x")),
    )


# Cases of narmare_arbete: (steg_start, steg_slut, narmare_arbete, sysselsattning_fore,
# sysselsattning_efter, omfattning_fore, omfattning_efter) -> (reached, unknown).
NARMARE_CASES = [
    ((2, 5, None, None, None, None, None), (True, False)),  # a step up
    ((5, 2, None, None, None, None, None), (False, False)),  # a step down: known, not reached
    ((3, 3, "ja", None, None, None, None), (True, False)),  # assessed ja
    ((None, None, "nej", None, None, None, None), (False, False)),  # assessed nej: known
    ((None, None, None, "ingen", "arbete", None, None), (True, False)),  # began work
    ((None, None, None, None, "arbete", None, None), (True, False)),  # fore missing: began
    ((None, None, None, "okand", "studier", None, None), (True, False)),  # fore okand: began
    ((None, None, None, "arbete", "arbete", 50, 50), (False, False)),  # same extent
    ((None, None, None, "arbete", "arbete_med_stod", 50, 75), (True, False)),  # increased
    ((None, None, None, "studier", "arbete", None, 100), (False, False)),  # extent unknown
    ((None, None, None, None, None, None, None), (False, True)),  # nothing known
    ((None, None, "okand", None, "okand", None, None), (False, True)),  # all okand
    ((2, None, None, None, "okand", None, None), (False, True)),  # no step pair
    ((2, None, None, None, "arbetssokande", None, None), (False, False)),  # efter known
    ((None, 4, "ja", None, "okand", None, None), (True, False)),  # assessed ja
    ((2, 3, "nej", "arbete", "okand", None, None), (True, False)),  # steps beat nej
]


def narmare_frame() -> pl.DataFrame:
    names = [
        "steg_start",
        "steg_slut",
        "narmare_arbete",
        "sysselsattning_fore",
        "sysselsattning_efter",
        "omfattning_fore",
        "omfattning_efter",
    ]
    return frame(**{n: [case[i] for case, _ in NARMARE_CASES] for i, n in enumerate(names)})


def test_narmare_arbete_reached() -> None:
    assert values(narmare_frame(), d.narmare_arbete()) == [r for _, (r, _) in NARMARE_CASES]


def test_narmare_arbete_unknown() -> None:
    assert values(narmare_frame(), d.narmare_arbete_unknown()) == [u for _, (_, u) in NARMARE_CASES]


def test_narmare_arbete_parts() -> None:
    df = narmare_frame()
    assert values(df, d.steps_up()) == [
        c[0] is not None and c[1] is not None and c[1] > c[0] for c, _ in NARMARE_CASES
    ]
    assert values(df, d.assessed_closer()) == [c[2] == "ja" for c, _ in NARMARE_CASES]
    assert values(df, d.began_or_increased_work()) == [
        False, False, False, False, True, True, True, False, True, False,
        False, False, False, False, False, False,
    ]  # fmt: skip


def test_every_flag_is_definite_when_everything_optional_is_missing() -> None:
    """All optional fields null: every flag is true/false, never null."""
    n = 3
    df = pl.DataFrame(
        {
            "deltagare_id": ["a", "b", "c"],
            "insats_id": ["X"] * n,
            "kon": ["K", "M", "K"],
            "fodelsear": [1990] * n,
            "startdatum": [D(2024, 1, 1)] * n,
            "slutdatum": [D(2024, 6, 1), None, D(2024, 7, 1)],
        },
        schema_overrides={c: EPISODE_SCHEMA[c] for c in ("kon", "fodelsear")},
    )
    df = df.with_columns(
        pl.lit(None, dtype=t).alias(c) for c, t in EPISODE_SCHEMA.items() if c not in df.columns
    ).select(EPISODE_SCHEMA.names())
    derived = d.derived_episode_fields(df.lazy()).collect()
    flags = [d.AR_DELTAGARE, d.UTFALLSBAS, *d.UPPNATT.values(), *d.OKAND.values()]
    assert derived.select(pl.col(flags).null_count()).sum_horizontal().item() == 0
    # Ended with no outcome data at all: unknown on every measure, reached on none.
    assert (
        derived.filter(pl.col("slutdatum").is_not_null()).select(*d.OKAND.values()).to_numpy().all()
    )
    assert not derived.select(*d.UPPNATT.values()).to_numpy().any()


def test_reached_and_unknown_never_both() -> None:
    df = narmare_frame().with_columns(
        pl.lit(None, dtype=t).alias(c)
        for c, t in EPISODE_SCHEMA.items()
        if c not in narmare_frame().columns
    )
    both = df.select(
        pl.sum_horizontal(d.outcome_reached(m) & d.outcome_unknown(m) for m in OUTCOME_MEASURES)
    )
    assert both.to_series().sum() == 0


def test_derived_episode_fields_columns() -> None:
    df = pl.DataFrame(schema=EPISODE_SCHEMA)
    out = d.derived_episode_fields(df.lazy()).collect_schema()
    assert out.names() == [*EPISODE_SCHEMA.names(), *d.DERIVED_COLUMNS]
    assert out[d.ALDERSGRUPP] == d.ALDERSGRUPP_DTYPE
    assert out[d.DAGAR_I_INSATS] == pl.Int64
    assert all(out[c] == pl.Boolean for c in (*d.UPPNATT.values(), *d.OKAND.values()))


# --- Aggregates -----------------------------------------------------------------------------


def test_aggregate_measures() -> None:
    df = frame(
        deltagare_id=["a", "a", "b", "c"],
        startdatum=[D(2024, 1, 1), D(2024, 6, 1), D(2024, 3, 1), D(2023, 1, 1)],
        slutdatum=[D(2024, 1, 10), None, D(2024, 3, 4), D(2023, 1, 2)],
    ).with_columns(
        pl.Series(d.KON_PERSON, ["K", "K", "M", "M"]),
        d.days_in_insats().alias(d.DAGAR_I_INSATS),
    )
    q1 = Period(D(2024, 1, 1), D(2024, 3, 31))  # 91 days
    got = df.select(
        alla=d.n_deltagare(),
        kvinnor=d.n_deltagare("K"),
        man=d.n_deltagare("M"),
        slutade=d.n_true(d.ends_in(q1)),
        arsplatser=d.arsplatser(q1),
        median=d.median_days(),
    )
    expected = pl.DataFrame(
        {
            "alla": [3],
            "kvinnor": [1],
            "man": [2],
            "slutade": [2],
            "arsplatser": [(10 + 0 + 4 + 0) / 91],
            "median": [4.0],  # 10, 4, 2 days
        }
    )
    assert_frame_equal(got, expected)


# --- Shares and Wilson intervals ------------------------------------------------------------


def test_share_is_null_without_base() -> None:
    df = pl.DataFrame({"t": [1, 0, 0], "n": [4, 3, 0]})
    assert values(df, d.share("t", "n")) == [0.25, 0.0, None]


# Published 95 % Wilson score intervals without continuity correction: Newcombe (1998),
# Statistics in Medicine 17:857-872, table I, method 3.
NEWCOMBE = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718)]  # fmt: skip


def test_wilson_matches_published_values() -> None:
    df = pl.DataFrame({"t": [t for t, *_ in NEWCOMBE], "n": [n for _, n, *_ in NEWCOMBE]}).select(
        lo=d.wilson_lower("t", "n").round(4), hi=d.wilson_upper("t", "n").round(4)
    )
    assert df.rows() == [(lo, hi) for *_, lo, hi in NEWCOMBE]


def test_wilson_edges() -> None:
    df = pl.DataFrame({"t": [0, 7, 0, 3], "n": [7, 7, 0, 7]}).select(
        lo=d.wilson_lower("t", "n"), hi=d.wilson_upper("t", "n"), p=d.share("t", "n")
    )
    assert df["lo"].to_list()[:3] == [0.0, pytest.approx(0.6456696), None]
    assert df["hi"].to_list()[:3] == [pytest.approx(0.3543304), 1.0, None]
    lo, hi, p = df.row(3)
    assert lo < p < hi


def test_wilson_accepts_expressions() -> None:
    df = pl.DataFrame({"t": [5], "n": [10]})
    assert df.select(d.wilson_lower(pl.col("t"), pl.col("n") * 1)).item() == pytest.approx(
        0.2365931
    )


# --- Judgement ------------------------------------------------------------------------------


def test_bedomning() -> None:
    df = pl.DataFrame(
        {
            "typ": ["andel", "andel", "andel", "andel", "antal", "antal", "antal", "antal"],
            "matt": ["arbete_studier"] * 4 + ["arsplatser", "arsplatser", "deltagare", "deltagare"],
            # årsplatser as the pipeline computes them: days × (1 / days in period), which
            # for 2 450 days in 98 is 24.999999999999996
            "utfall": [1.0, 0.5, 0.4, None, 2450 * (1 / 98), 24.9, 0.0, 12.0],
            "taljare": [4, 5, 4, None, None, None, None, None],
            "namnare": [4, 10, 10, 0, None, None, None, None],
            "_mal_num": [1, 1, 1, 1, 25, 25, 0, 25],
            "_mal_den": [2, 2, 2, 2, 1, 1, 1, 2],  # mål 0.5, 25 årsplatser, 0 and 12.5 deltagare
        }
    )
    assert values(df, d.bedomning(5, 98)) == [
        "for_fa_deltagare",
        "uppnatt",  # utfall equal to mal is reached
        "ej_uppnatt",
        "for_fa_deltagare",
        "uppnatt",  # 2 450 days in 98 days are exactly 25 årsplatser, though 2450/98 < 25.0
        "ej_uppnatt",
        "uppnatt",
        "ej_uppnatt",  # 12 of 12.5
    ]
    assert values(df, d.bedomning(4, 98))[0] == "uppnatt"
