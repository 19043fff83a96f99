"""Synthetic raw folders for the benchmark: fictitious episodes written as party CSV exports.

`ensure_inputs(work, n_episodes, seed)` returns a raw folder under `work` that holds
`insatser.toml` and one CSV export per förbund and year, written from
`pipeline.example.generator.generate_episodes` (fictitious, seeded). A folder is reused when its
`KLAR.json` (written last) names the same parameters, so re-runs do not regenerate.

The files are a mix of what parties really send (contract section 1):

- Windows-1252, semicolon, CRLF, Swedish headings (Excel in Sweden);
- UTF-8 with BOM, comma, Swedish headings;
- UTF-8, comma, canonical headings.

Exports overlap as real ones do: the export of year Y (`Y-12_export.csv`, as known at the
end of Y) holds the episodes that started in Y and those from earlier years that were still
open when Y began. An episode open at a year end is therefore repeated, open, in the next
year's export, whose version wins (files in path order; `avslut_tillagt` duplicates). The
last export holding an episode shows it as generated, so the store holds exactly the
`n_episodes` generated episodes. Every row is valid; the pandas reference reads the same
files and must give the same tables.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.core import atomic
from pipeline.core.config import CATALOG_FILE
from pipeline.example.generator import (
    SWEDISH_HEADINGS,
    export_snapshot,
    generate_episodes,
    generic_catalog_text,
)

START_YEAR, END_YEAR = 2021, 2025
N_INSATSER = 270  # 30 förbund of nine insatser: a few hundred insatser, as nationally
DEFAULT_SEED = 20260101
DONE_FILE = "KLAR.json"


@dataclass(frozen=True)
class CsvFormat:
    """How one förbund's system writes its exports."""

    name: str
    encoding: str
    separator: str
    line_terminator: str
    bom: bool
    swedish_headings: bool


FORMATS = (
    CsvFormat("cp1252_semikolon_svenska", "cp1252", ";", "\r\n", False, True),
    CsvFormat("utf8_bom_komma_svenska", "utf-8", ",", "\n", True, True),
    CsvFormat("utf8_komma_kanoniska", "utf-8", ",", "\n", False, False),
)


def format_of(forbund_index: int) -> CsvFormat:
    """The export format of the i-th förbund (a fixed cycle over FORMATS)."""
    return FORMATS[forbund_index % len(FORMATS)]


def csv_bytes(table: pl.DataFrame, fmt: CsvFormat) -> bytes:
    """One export file's bytes: codes as text, headings and encoding of the format."""
    text_table = table.with_columns(pl.col(pl.Enum).cast(pl.String))
    if fmt.swedish_headings:
        text_table = text_table.rename(SWEDISH_HEADINGS)
    text = text_table.write_csv(separator=fmt.separator, line_terminator=fmt.line_terminator)
    return (("\ufeff" if fmt.bom else "") + text).encode(fmt.encoding)


def year_export(episodes: pl.DataFrame, year: int) -> pl.DataFrame:
    """The export of `year`: episodes started in it or still open when it began, as known at
    its end (later ends not yet known)."""
    started = pl.col("startdatum").dt.year()
    carried = (started < year) & (
        pl.col("slutdatum").is_null() | (pl.col("slutdatum") >= dt.date(year, 1, 1))
    )
    return export_snapshot(episodes.filter((started == year) | carried), dt.date(year, 12, 31))


def folder_name(n_episodes: int, seed: int, n_insatser: int = N_INSATSER) -> str:
    return f"n{n_episodes}_s{seed}_i{n_insatser}_{START_YEAR}-{END_YEAR}"


def _params(n_episodes: int, seed: int, n_insatser: int) -> dict[str, object]:
    return {
        "n_episodes": n_episodes,
        "seed": seed,
        "n_insatser": n_insatser,
        "start_year": START_YEAR,
        "end_year": END_YEAR,
        "formats": [f.name for f in FORMATS],
        "layout": "arsexport_med_pagaende",
    }


def is_complete(folder: Path, n_episodes: int, seed: int, n_insatser: int = N_INSATSER) -> bool:
    try:
        done = json.loads((folder / DONE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return done.get("params") == _params(n_episodes, seed, n_insatser)


def write_inputs(
    folder: Path, n_episodes: int, seed: int, n_insatser: int = N_INSATSER
) -> dict[str, object]:
    """Generate the episodes and write the raw folder under `folder/raw`; returns KLAR.json."""
    if folder.exists():
        shutil.rmtree(folder)
    raw = folder / "raw"
    episodes = generate_episodes(n_episodes, n_insatser, seed, START_YEAR, END_YEAR)
    atomic.write_text(raw / CATALOG_FILE, generic_catalog_text(n_insatser, seed))
    forbund = sorted(episodes["forbund"].unique().to_list())
    n_files = n_rows = total_bytes = 0
    for (fb,), group in sorted(episodes.partition_by("forbund", as_dict=True).items()):
        fmt = format_of(forbund.index(fb))
        for year in range(START_YEAR, END_YEAR + 1):
            data = csv_bytes(year_export(group, year), fmt)
            atomic.write_bytes(raw / fb / f"{year}-12_export.csv", data)
            n_files += 1
            n_rows += data.count(b"\n") - 1
            total_bytes += len(data)
    done = {
        "params": _params(n_episodes, seed, n_insatser),
        "files": n_files,
        "rows": n_rows,
        "bytes": total_bytes,
        "persons": episodes["deltagare_id"].n_unique(),
    }
    atomic.write_text(folder / DONE_FILE, json.dumps(done, indent=2, sort_keys=True))
    return done


def ensure_inputs(
    work: Path, n_episodes: int, seed: int = DEFAULT_SEED, n_insatser: int = N_INSATSER
) -> Path:
    """The folder holding `raw/` for this size and seed, generated only when missing."""
    folder = work / "inputs" / folder_name(n_episodes, seed, n_insatser)
    if not is_complete(folder, n_episodes, seed, n_insatser):
        write_inputs(folder, n_episodes, seed, n_insatser)
    return folder


def input_info(folder: Path) -> dict[str, object]:
    return json.loads((folder / DONE_FILE).read_text(encoding="utf-8"))
