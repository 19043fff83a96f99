"""The same exact tables written the way an analyst would in pandas: the benchmark's yardstick.

`run(raw, year)` reads every CSV export under `raw` with `pandas.read_csv`, parses the
catalog with tomllib, and computes the `deltagare`, `utfall` and `maluppfyllelse` tables of
docs/tabeller.md for the calendar year, from the definitions in the data contract
(section 3), independently of `pipeline.measures.definitions` and
`pipeline.measures.statistics`. It is neither
deliberately slow nor tuned: whole-frame pandas operations, `groupby`, `concat` for the
TOTALT rows, and `apply` where an analyst would reach for it (the Wilson interval).

The tables must equal the pipeline's exact tables on the same inputs (`compare_tables`):
two independent implementations of the measures cross-check each other. The inputs are
assumed valid (the benchmark's are): nothing is quarantined here.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import tomllib
from pathlib import Path

import pandas as pd
import polars as pl

from pipeline.core.contract import (
    EPISODE_KEY,
    HEADER_ALIASES,
    OUTCOME_MEASURES,
    TOTAL_INSATS_ID,
    TOTAL_INSATS_NAMN,
    normalize_header,
)

K = 5
Z = 1.959963984540054  # 0.975 quantile of the standard normal distribution
ARBETE_STUDIER = ["arbete", "arbete_med_stod", "studier"]
ARBETE_STUDIER_ARBETSSOKANDE = [*ARBETE_STUDIER, "arbetssokande"]
AKTIVITET_SYSSELSATTNING = [
    *ARBETE_STUDIER_ARBETSSOKANDE,
    "arbetstraning_praktik",
    "rehabilitering",
]
TABLES = ("deltagare", "utfall", "maluppfyllelse")


# --- Reading ----------------------------------------------------------------------------------


def read_export(path: Path) -> pd.DataFrame:
    """One export: UTF-8 (BOM or not) or Windows-1252, comma or semicolon, as text."""
    with open(path, "rb") as fh:
        header = fh.readline()
    sep = ";" if header.count(b";") > header.count(b",") else ","
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, encoding="utf-8-sig")
    except UnicodeDecodeError:
        df = pd.read_csv(path, sep=sep, dtype=str, encoding="cp1252")
    return df.rename(columns=lambda h: HEADER_ALIASES.get(normalize_header(h), h))


def read_episodes(raw: Path) -> pd.DataFrame:
    """Every export, later files winning for the same episode, with typed columns."""
    df = pd.concat([read_export(p) for p in sorted(raw.rglob("*.csv"))], ignore_index=True)
    for col in ("startdatum", "slutdatum"):
        df[col] = pd.to_datetime(df[col], format="%Y-%m-%d")
    for col in ("fodelsear", "omfattning_fore", "omfattning_efter", "steg_start", "steg_slut"):
        df[col] = pd.to_numeric(df[col])
    return df.drop_duplicates(subset=list(EPISODE_KEY), keep="last")


def read_catalog(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(insatser: insats_id, insats; mal: insats_id, matt, mal, typ) in file order."""
    data = tomllib.loads((raw / "insatser.toml").read_text(encoding="utf-8"))
    insatser = pd.DataFrame(
        [(e["id"], e["namn"]) for e in data["insats"]], columns=["insats_id", "insats"]
    )
    mal = pd.DataFrame(
        [
            (e["id"], m["matt"], float(m[typ]), typ)
            for e in data["insats"]
            for m in e.get("mal", [])
            for typ in ("andel", "antal")
            if typ in m
        ],
        columns=["insats_id", "matt", "mal", "typ"],
    )
    return insatser, mal


# --- Measures ---------------------------------------------------------------------------------


def prepare(df: pd.DataFrame, insats_ids: list[str]) -> pd.DataFrame:
    """Participants in catalog insatser, with the person's kön from their latest episode."""
    df = df.copy()
    df["deltar"] = df["avslutsorsak"] != "felregistrering"
    latest = df.sort_values(["deltagare_id", "deltar", "startdatum", "insats_id"])
    df["kon_person"] = df["deltagare_id"].map(latest.groupby("deltagare_id")["kon"].last())
    return df[df["deltar"] & df["insats_id"].isin(insats_ids)]


def with_total(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.assign(insats_id=TOTAL_INSATS_ID)], ignore_index=True)


def insats_rows(insatser: pd.DataFrame) -> pd.DataFrame:
    total = pd.DataFrame({"insats_id": [TOTAL_INSATS_ID], "insats": [TOTAL_INSATS_NAMN]})
    return pd.concat([insatser, total], ignore_index=True)


def deltagare_table(df: pd.DataFrame, insatser: pd.DataFrame, start, end) -> pd.DataFrame:
    slut = df["slutdatum"].fillna(end)
    ov = df[(df["startdatum"] <= end) & (slut >= start)].copy()
    ov_slut = ov["slutdatum"].fillna(end)
    ov["nya"] = ov["startdatum"].between(start, end)
    ov["avslutade"] = ov["slutdatum"].between(start, end)
    ov["pagaende"] = ov["slutdatum"].isna() | (ov["slutdatum"] > end)
    first = ov["startdatum"].where(ov["startdatum"] > start, start)
    last = ov_slut.where(ov_slut < end, end)
    ov["dagar"] = (last - first).dt.days + 1
    ov = with_total(ov)
    per_insats = ov.groupby("insats_id")
    result = pd.DataFrame(
        {
            "deltagare": per_insats["deltagare_id"].nunique(),
            "kvinnor": ov[ov["kon_person"] == "K"].groupby("insats_id")["deltagare_id"].nunique(),
            "man": ov[ov["kon_person"] == "M"].groupby("insats_id")["deltagare_id"].nunique(),
            "nya": per_insats["nya"].sum(),
            "avslutade": per_insats["avslutade"].sum(),
            "pagaende": per_insats["pagaende"].sum(),
            "arsplatser": per_insats["dagar"].sum() / ((end - start).days + 1),
        }
    )
    table = insats_rows(insatser).merge(result, left_on="insats_id", right_index=True, how="left")
    counts = ["deltagare", "kvinnor", "man", "nya", "avslutade", "pagaende"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["arsplatser"] = table["arsplatser"].fillna(0.0).astype("float64")
    return table.reset_index(drop=True)


def outcome_flags(base: pd.DataFrame) -> pd.DataFrame:
    """Reached (t_<matt>) and unknown (o_<matt>) per episode of the outcome base."""
    efter = base["sysselsattning_efter"]
    fore = base["sysselsattning_fore"]
    efter_okand = efter.isna() | (efter == "okand")
    steps_up = (base["steg_slut"] > base["steg_start"]).fillna(False)
    closer = base["narmare_arbete"] == "ja"
    began = efter.isin(ARBETE_STUDIER) & (
        ~fore.isin(ARBETE_STUDIER) | (base["omfattning_efter"] > base["omfattning_fore"])
    )
    no_steps = base["steg_start"].isna() | base["steg_slut"].isna()
    narmare_okand = base["narmare_arbete"].isna() | (base["narmare_arbete"] == "okand")
    flags = pd.DataFrame(
        {
            "insats_id": base["insats_id"],
            "kon": base["kon_person"],
            "t_arbete_studier": efter.isin(ARBETE_STUDIER),
            "t_arbete_studier_arbetssokande": efter.isin(ARBETE_STUDIER_ARBETSSOKANDE),
            "t_aktivitet_sysselsattning": efter.isin(AKTIVITET_SYSSELSATTNING),
            "t_narmare_arbete": steps_up | closer | began,
            "o_arbete_studier": efter_okand,
            "o_arbete_studier_arbetssokande": efter_okand,
            "o_aktivitet_sysselsattning": efter_okand,
            "o_narmare_arbete": no_steps & narmare_okand & efter_okand,
        }
    )
    return flags


def wilson(t: float, n: float) -> tuple[float | None, float | None]:
    """95 % Wilson score interval of t successes in n trials; (None, None) when n = 0."""
    if n == 0:
        return None, None
    p = t / n
    denominator = 1.0 + Z * Z / n
    centre = (p + Z * Z / (2.0 * n)) / denominator
    half = Z * math.sqrt(p * (1.0 - p) / n + Z * Z / (4.0 * n * n)) / denominator
    low = 0.0 if t <= 0 else max(centre - half, 0.0)
    high = 1.0 if t >= n else min(centre + half, 1.0)
    return low, high


def utfall_table(df: pd.DataFrame, insatser: pd.DataFrame, start, end) -> pd.DataFrame:
    ended = df["slutdatum"].between(start, end)
    base = df[ended & ~df["avslutsorsak"].isin(["flyttat", "avliden"])]
    flags = with_total(outcome_flags(base))
    flags = pd.concat([flags, flags.assign(kon="alla")], ignore_index=True)
    sums = flags.groupby(["insats_id", "kon"]).agg(
        namnare=("insats_id", "size"),
        **{f"t_{m}": (f"t_{m}", "sum") for m in OUTCOME_MEASURES},
        **{f"o_{m}": (f"o_{m}", "sum") for m in OUTCOME_MEASURES},
    )
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "namnare": sums["namnare"],
                    "matt": m,
                    "taljare": sums[f"t_{m}"],
                    "antal_okand": sums[f"o_{m}"],
                }
            )
            for m in OUTCOME_MEASURES
        ]
    ).reset_index()
    grid = (
        insats_rows(insatser)
        .merge(pd.DataFrame({"kon": ["K", "M", "alla"]}), how="cross")
        .merge(pd.DataFrame({"matt": list(OUTCOME_MEASURES)}), how="cross")
    )
    table = grid.merge(long, on=["insats_id", "kon", "matt"], how="left")
    for col in ("namnare", "taljare", "antal_okand"):
        table[col] = table[col].fillna(0).astype("int64")
    n = table["namnare"].where(table["namnare"] > 0)
    table["andel"] = table["taljare"] / n
    bounds = table.apply(lambda r: wilson(r["taljare"], r["namnare"]), axis=1)
    table["ki_lag"] = [b[0] for b in bounds]
    table["ki_hog"] = [b[1] for b in bounds]
    table["andel_okand"] = table["antal_okand"] / n
    columns = ["insats_id", "insats", "kon", "matt", "namnare", "taljare", "andel"]
    return table[[*columns, "ki_lag", "ki_hog", "antal_okand", "andel_okand"]]


def bedomning(row: pd.Series) -> str:
    if row["typ"] == "andel" and row["namnare"] < K:
        return "for_fa_deltagare"
    return "uppnatt" if row["utfall"] >= row["mal"] else "ej_uppnatt"


def maluppfyllelse_table(
    mal: pd.DataFrame, insatser: pd.DataFrame, deltagare: pd.DataFrame, utfall: pd.DataFrame
) -> pd.DataFrame:
    targets = mal.merge(insatser, on="insats_id")
    shares = utfall[utfall["kon"] == "alla"].drop(columns=["insats", "kon"])
    volumes = deltagare.melt(
        id_vars="insats_id", value_vars=["arsplatser", "deltagare"], var_name="matt"
    )
    table = targets.merge(shares, on=["insats_id", "matt"], how="left").merge(
        volumes, on=["insats_id", "matt"], how="left"
    )
    share = table["typ"] == "andel"
    table["utfall"] = table["andel"].where(share, table["value"].astype("float64"))
    for col in ("namnare", "taljare", "ki_lag", "ki_hog", "andel_okand"):
        table[col] = table[col].where(share)
    table["bedomning"] = table.apply(bedomning, axis=1)
    columns = ["insats_id", "insats", "matt", "mal", "utfall", "namnare", "taljare"]
    return table[[*columns, "ki_lag", "ki_hog", "andel_okand", "bedomning"]]


def run(raw: Path, year: int, timings: dict[str, float] | None = None):
    """The three tables for calendar year `year`, and the number of episodes read.

    `timings`, when given, receives read_s (files to typed frame) and compute_s (the tables).
    """
    started = time.perf_counter()
    start, end = pd.Timestamp(dt.date(year, 1, 1)), pd.Timestamp(dt.date(year, 12, 31))
    insatser, mal = read_catalog(raw)
    episodes = read_episodes(raw)
    read_done = time.perf_counter()
    df = prepare(episodes, insatser["insats_id"].tolist())
    deltagare = deltagare_table(df, insatser, start, end)
    utfall = utfall_table(df, insatser, start, end)
    tables = {
        "deltagare": deltagare,
        "utfall": utfall,
        "maluppfyllelse": maluppfyllelse_table(mal, insatser, deltagare, utfall),
    }
    if timings is not None:
        timings["read_s"] = read_done - started
        timings["compute_s"] = time.perf_counter() - read_done
    return tables, len(episodes)


# --- Cross-check against the pipeline --------------------------------------------------------


def compare_tables(
    pipeline: dict[str, pl.DataFrame], reference: dict[str, pl.DataFrame], rel_tol: float = 1e-9
) -> list[str]:
    """Differences between the pipeline's and the reference's tables (empty list: equal).

    Columns, row order and every value must match; floats within `rel_tol`, NaN = null.
    """
    problems = []
    for name, ref in reference.items():
        got = pipeline.get(name)
        if got is None:
            problems.append(f"{name}: saknas i pipelinens tabeller")
            continue
        if got.columns != ref.columns:
            problems.append(f"{name}: kolumner {got.columns} ≠ {ref.columns}")
            continue
        if got.height != ref.height:
            problems.append(f"{name}: {got.height} rader ≠ {ref.height}")
            continue
        for col in ref.columns:
            a, b = got[col], ref[col]
            if a.dtype.is_numeric() and b.dtype.is_numeric():
                pair = pl.DataFrame({"a": a, "b": b}).cast(pl.Float64).fill_nan(None)
                same = pair.select(
                    (pl.col("a").is_null() & pl.col("b").is_null())
                    | (
                        (pl.col("a") - pl.col("b")).abs()
                        <= rel_tol * pl.max_horizontal(pl.col("a").abs(), pl.col("b").abs(), 1.0)
                    ).fill_null(False)
                ).to_series()
            else:
                same = a.cast(pl.String).eq_missing(b.cast(pl.String))
            if not same.all():
                i = int((~same).arg_true()[0])
                problems.append(
                    f"{name}.{col}: {int((~same).sum())} värden skiljer, första på rad {i}: "
                    f"pipeline {a[i]!r}, pandas {b[i]!r} ({got.row(i)[:4]})"
                )
    return problems
