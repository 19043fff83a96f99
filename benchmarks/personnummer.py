"""How often the personnummer rule rejects a file of honest pseudonyms (its false alarms).

    .venv/bin/python -m benchmarks.personnummer            # 10 000 files per scheme
    .venv/bin/python -m benchmarks.personnummer --files 1000

For each pseudonym scheme a party might invent, FILES files of KEYS random keys are made
(seeded) and judged exactly as ingest judges a column (`pipeline.core.personnummer`): a file is
rejected when a key holds a standalone personnummer-shaped number, or when the column's
glued look-alikes pass both tests of the prefixed-key rule. The rates are written to
benchmarks/personnummer.md, which the README quotes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import polars as pl

from pipeline.core import personnummer as pn

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "personnummer.md"
SEED = 20261201


def _luhn(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return nine + str((10 - total % 10) % 10)


def _date_serial(r: random.Random) -> str:
    day = dt.date(2020, 1, 1) + dt.timedelta(days=r.randrange(2500))
    return "P" + day.strftime("%y%m%d") + f"{r.randrange(10000):04d}"


def _prefixed(r: random.Random) -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=r.randrange(20000))
    return "P" + _luhn(born.strftime("%y%m%d") + f"{r.randrange(1000):03d}")


# name -> (make one key, an honest pseudonym scheme?)
SCHEMES: dict[str, tuple[Callable[[random.Random], str], bool]] = {
    "bokstav + 10 slumpsiffror (P4821590367)": (
        lambda r: "P" + f"{r.randrange(10**10):010d}",
        True,
    ),
    "UUID": (lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)), True),
    "hexhash, SHA-1 (40 tecken)": (
        lambda r: hashlib.sha1(str(r.random()).encode()).hexdigest(),
        True,
    ),
    "KT1-0042": (lambda r: f"KT{r.randrange(1, 10)}-{r.randrange(10000):04d}", True),
    "bokstäver + 12 slumpsiffror (AB482159036712)": (
        lambda r: "AB" + f"{r.randrange(10**12):012d}",
        True,
    ),
    "14 slumpsiffror (48215903671234)": (lambda r: f"{r.randrange(10**13, 10**14)}", True),
    "bokstav + datum + löpnummer (P2401150001)": (_date_serial, True),
    "bokstav + 9 siffror + egen kontrollsiffra": (
        lambda r: "P" + _luhn(f"{r.randrange(10**9):09d}"),
        True,
    ),
    "10 siffror utan bokstav (4821590367)": (lambda r: f"{r.randrange(10**10):010d}", False),
    "bokstav + personnummer (förbjudet)": (_prefixed, False),
    "årtal + personnummer (förbjudet)": (lambda r: "2024" + _prefixed(r)[1:], False),
}


def rejected_files(keys: list[str], files: int, per_file: int) -> tuple[int, int]:
    """(files rejected, of which by a standalone number), judged as scan_frame judges."""
    cells = pl.DataFrame({"text": keys}).with_row_index("id")
    file_of = pl.col("id") // per_file
    flagged = cells.filter(pn.candidate_filter(pl.col("text")))
    standalone = pn.standalone_numbers(flagged).select("id").unique().select(file=file_of).unique()
    glued = (
        pn.glued_numbers(flagged)
        .group_by(file=file_of)
        .agg(keys=pl.len(), dated=pl.col("dated").sum(), luhn=pl.col("luhn").sum())
    )
    prefixed = {
        r["file"]
        for r in glued.iter_rows(named=True)  # one row per file with look-alikes
        if pn.PrefixedColumn("id", r["keys"], r["dated"], r["luhn"]).is_personnummer
    }
    by_number = set(standalone["file"].to_list())
    return len(by_number | prefixed), len(by_number)


def measure(files: int, per_file: int) -> list[dict[str, object]]:
    rows = []
    for name, (make, honest) in SCHEMES.items():  # a loop over eight schemes
        rng = random.Random(SEED)
        started = time.perf_counter()
        keys = [make(rng) for _ in range(files * per_file)]
        rejected, standalone = rejected_files(keys, files, per_file)
        rows.append(
            {
                "schema": name,
                "hederligt": honest,
                "filer": files,
                "avvisade": rejected,
                "varav_fristaende": standalone,
                "andel": rejected / files,
                "sekunder": time.perf_counter() - started,
            }
        )
        print(f"{name}: {rejected} av {files} filer avvisade", flush=True)
    return rows


def _upper(rejected: int, files: int) -> float:
    """One-sided 95 % upper bound of a rate from `rejected` of `files` (exact; 3/n for 0)."""
    from scipy.stats import beta

    if not files or rejected >= files:
        return 1.0
    return float(beta.ppf(0.95, rejected + 1, files - rejected))


def render(rows: list[dict[str, object]], per_file: int) -> str:
    lines = [
        "# Personnummerregeln: falsklarm på pseudonymer",
        "",
        "Genererad av `python -m benchmarks.personnummer`; ändra inte för hand.",
        "",
        f"Varje schema: {rows[0]['filer']} filer med {per_file} slumpade nycklar var (seed "
        f"{SEED}), bedömda som inläsningen bedömer en kolumn. Falsklarm = en fil med ärliga "
        "pseudonymer som avvisas. Övre gräns = ensidig 95 % (exakt binomial).",
        "",
        "| nyckelschema | ärlig pseudonym | avvisade filer | varav fristående nummer | andel | "
        "övre gräns |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['schema']} | {'ja' if r['hederligt'] else 'nej'} | {r['avvisade']} av "
            f"{r['filer']} | {r['varav_fristaende']} | {float(r['andel']):.4%} | "
            f"{_upper(int(r['avvisade']), int(r['filer'])):.4%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.personnummer")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    rows = measure(args.files, args.keys)
    args.output.write_text(render(rows, args.keys), encoding="utf-8")
    print(f"Skrivet till {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
