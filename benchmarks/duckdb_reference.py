"""The exact tables in SQL over the same CSV files, as a data engineer would write them in
DuckDB instead of a pipeline: the benchmark's second yardstick beside pandas.

`run(raw, year)` sniffs each export's separator, encoding and headings (the one thing SQL
cannot do by itself), reads every group of alike files with one `read_csv`, keeps the last
file's version of each episode, and computes `deltagare` and the counts of `utfall`
(namnare, taljare, antal_okand per insats, kön and measure) for the calendar year from the
contract's definitions, independently of the pipeline and of the pandas reference. Like the
pandas reference it assumes valid inputs: nothing is validated or quarantined.
"""

from __future__ import annotations

import datetime as dt
import time
import tomllib
from collections import defaultdict
from pathlib import Path

import duckdb
import polars as pl

from pipeline.core.contract import HEADER_ALIASES, TOTAL_INSATS_ID, normalize_header

ARBETE_STUDIER = "('arbete', 'arbete_med_stod', 'studier')"
ARBETE_STUDIER_ARBETSSOKANDE = "('arbete', 'arbete_med_stod', 'studier', 'arbetssokande')"
AKTIVITET = (
    "('arbete', 'arbete_med_stod', 'studier', 'arbetssokande', 'arbetstraning_praktik', "
    "'rehabilitering')"
)
COLUMNS = (
    "deltagare_id",
    "insats_id",
    "kon",
    "startdatum",
    "slutdatum",
    "avslutsorsak",
    "sysselsattning_fore",
    "sysselsattning_efter",
    "omfattning_fore",
    "omfattning_efter",
    "steg_start",
    "steg_slut",
    "narmare_arbete",
)


def _sniff(path: Path) -> tuple[str, str, tuple[str, ...]]:
    """(separator, DuckDB encoding, headings) of one export, from its first line."""
    with open(path, "rb") as fh:
        first = fh.readline()
    sep = ";" if first.count(b";") > first.count(b",") else ","
    try:
        text, encoding = first.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = first.decode("cp1252"), "latin-1"  # å, ä, ö alike in both
    return sep, encoding, tuple(h.strip() for h in text.rstrip("\r\n").split(sep))


def _episodes_sql(raw: Path) -> str:
    """One SELECT of every export's columns by canonical name, with each file's rank."""
    files = sorted(raw.rglob("*.csv"))
    groups: dict[tuple, list[tuple[int, Path]]] = defaultdict(list)
    for rank, path in enumerate(files):
        groups[_sniff(path)].append((rank, path))
    selects = []
    for (sep, encoding, headings), members in groups.items():
        canonical = {HEADER_ALIASES.get(normalize_header(h), h): h for h in headings}
        cols = ", ".join(
            f'"{canonical[c]}" AS {c}' if c in canonical else f"NULL AS {c}" for c in COLUMNS
        )
        ranks = " ".join(f"WHEN '{p.as_posix()}' THEN {r}" for r, p in members)
        paths = ", ".join(f"'{p.as_posix()}'" for _, p in members)
        selects.append(
            f"SELECT {cols}, CASE filename {ranks} END AS fil "
            f"FROM read_csv([{paths}], delim='{sep}', encoding='{encoding}', header=true, "
            "all_varchar=true, filename=true)"
        )
    return " UNION ALL ".join(selects)


def run(raw: Path, year: int, timings: dict[str, float] | None = None):
    """`deltagare` and the counts of `utfall` for calendar year `year` (polars frames), and the
    number of episodes kept."""
    started = time.perf_counter()
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    catalog = tomllib.loads((raw / "insatser.toml").read_text(encoding="utf-8"))
    ids = ", ".join(f"'{e['id']}'" for e in catalog["insats"])
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE TEMP TABLE episoder AS
        SELECT deltagare_id, insats_id, kon, CAST(startdatum AS DATE) AS startdatum,
               CAST(slutdatum AS DATE) AS slutdatum, avslutsorsak, sysselsattning_fore,
               sysselsattning_efter, CAST(omfattning_fore AS INT) AS omfattning_fore,
               CAST(omfattning_efter AS INT) AS omfattning_efter,
               CAST(steg_start AS INT) AS steg_start, CAST(steg_slut AS INT) AS steg_slut,
               narmare_arbete
        FROM ({_episodes_sql(raw)})
        QUALIFY row_number() OVER (
            PARTITION BY insats_id, deltagare_id, startdatum ORDER BY fil DESC) = 1
        """
    )
    read_done = time.perf_counter()
    n = con.execute("SELECT count(*) FROM episoder").fetchone()[0]
    s, e = f"DATE '{start}'", f"DATE '{end}'"
    days = (end - start).days + 1
    con.execute(
        f"""
        CREATE TEMP TABLE deltar AS
        WITH kon_person AS (
            SELECT deltagare_id,
                   last(kon ORDER BY coalesce(avslutsorsak, '') <> 'felregistrering',
                        startdatum, insats_id) AS kon_person
            FROM episoder GROUP BY deltagare_id)
        SELECT episoder.*, kon_person FROM episoder JOIN kon_person USING (deltagare_id)
        WHERE coalesce(avslutsorsak, '') <> 'felregistrering' AND insats_id IN ({ids})
        """
    )
    deltagare = con.sql(
        f"""
        WITH ov AS (
            SELECT *, coalesce(slutdatum, {e}) AS slut FROM deltar
            WHERE startdatum <= {e} AND coalesce(slutdatum, {e}) >= {s}),
        rows AS (SELECT insats_id, * EXCLUDE (insats_id) FROM ov
                 UNION ALL SELECT '{TOTAL_INSATS_ID}', * EXCLUDE (insats_id) FROM ov)
        SELECT insats_id,
               count(DISTINCT deltagare_id) AS deltagare,
               count(DISTINCT deltagare_id) FILTER (kon_person = 'K') AS kvinnor,
               count(DISTINCT deltagare_id) FILTER (kon_person = 'M') AS man,
               count(*) FILTER (startdatum BETWEEN {s} AND {e}) AS nya,
               count(*) FILTER (slutdatum BETWEEN {s} AND {e}) AS avslutade,
               count(*) FILTER (slutdatum IS NULL OR slutdatum > {e}) AS pagaende,
               sum(date_diff('day', greatest(startdatum, {s}), least(slut, {e})) + 1)
                   / {days} AS arsplatser
        FROM rows GROUP BY insats_id ORDER BY insats_id
        """
    ).pl()
    reached = {
        "arbete_studier": f"sysselsattning_efter IN {ARBETE_STUDIER}",
        "arbete_studier_arbetssokande": f"sysselsattning_efter IN {ARBETE_STUDIER_ARBETSSOKANDE}",
        "aktivitet_sysselsattning": f"sysselsattning_efter IN {AKTIVITET}",
        "narmare_arbete": f"coalesce(steg_slut > steg_start, false) OR narmare_arbete = 'ja' "
        f"OR (sysselsattning_efter IN {ARBETE_STUDIER} AND (coalesce(sysselsattning_fore, '') "
        f"NOT IN {ARBETE_STUDIER} OR coalesce(omfattning_efter > omfattning_fore, false)))",
    }
    unknown_efter = "(sysselsattning_efter IS NULL OR sysselsattning_efter = 'okand')"
    unknown = dict.fromkeys(reached, unknown_efter) | {
        "narmare_arbete": f"(steg_start IS NULL OR steg_slut IS NULL) AND (narmare_arbete IS NULL "
        f"OR narmare_arbete = 'okand') AND {unknown_efter}"
    }
    measures = " UNION ALL ".join(
        f"SELECT insats_id, kon, '{m}' AS matt, count(*) AS namnare, "
        f"count(*) FILTER ({reached[m]}) AS taljare, count(*) FILTER ({unknown[m]}) AS antal_okand "
        "FROM base GROUP BY ALL"
        for m in reached
    )
    utfall = con.sql(
        f"""
        WITH ended AS (
            SELECT * FROM deltar WHERE slutdatum BETWEEN {s} AND {e}
            AND avslutsorsak NOT IN ('flyttat', 'avliden')),
        by_insats AS (SELECT insats_id, * EXCLUDE (insats_id) FROM ended
                      UNION ALL SELECT '{TOTAL_INSATS_ID}', * EXCLUDE (insats_id) FROM ended),
        base AS (SELECT * EXCLUDE (kon), kon_person AS kon FROM by_insats
                 UNION ALL SELECT * EXCLUDE (kon), 'alla' AS kon FROM by_insats)
        SELECT * FROM ({measures}) ORDER BY insats_id, kon, matt
        """
    ).pl()
    if timings is not None:
        timings["read_s"] = read_done - started
        timings["compute_s"] = time.perf_counter() - read_done
    return {"deltagare": deltagare, "utfall": utfall}, n


def compare_with_pipeline(
    reference: dict[str, pl.DataFrame], exact: dict[str, pl.DataFrame]
) -> list[str]:
    """Differences between the SQL counts and the pipeline's exact tables (empty: equal)."""
    problems = []
    d_cols = ["deltagare", "kvinnor", "man", "nya", "avslutade", "pagaende"]
    got = exact["deltagare"].select("insats_id", *d_cols, "arsplatser")
    joined = got.join(reference["deltagare"], on="insats_id", how="inner", suffix="_sql")
    for col in d_cols:
        bad = joined.filter(pl.col(col) != pl.col(f"{col}_sql")).height
        if bad:
            problems.append(f"deltagare.{col}: {bad} rader skiljer")
    far = joined.filter((pl.col("arsplatser") - pl.col("arsplatser_sql")).abs() > 1e-6).height
    if far:
        problems.append(f"deltagare.arsplatser: {far} rader skiljer")
    keys = ["insats_id", "kon", "matt"]
    u = exact["utfall"].select(*keys, "namnare", "taljare", "antal_okand")
    ref = reference["utfall"].with_columns(
        pl.col("namnare", "taljare", "antal_okand").cast(pl.Int64)
    )
    both = u.filter(pl.col("namnare") > 0).join(ref, on=keys, how="full", suffix="_sql")
    for col in ("namnare", "taljare", "antal_okand"):
        bad = both.filter(~pl.col(col).eq_missing(pl.col(f"{col}_sql"))).height
        if bad:
            problems.append(f"utfall.{col}: {bad} rader skiljer")
    return problems
