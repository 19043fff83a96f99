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

import json
import shutil
from pathlib import Path

from pipeline.core import atomic
from pipeline.core.config import CATALOG_FILE
from pipeline.example.generator import POOLED_FORMATS as FORMATS
from pipeline.example.generator import (
    generate_episodes,
    generic_catalog_text,
    write_pooled_files,
)

START_YEAR, END_YEAR = 2021, 2025
N_INSATSER = 270  # 30 förbund of nine insatser: a few hundred insatser, as nationally
DEFAULT_SEED = 20260101
DONE_FILE = "KLAR.json"


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
    files = write_pooled_files(raw, episodes, START_YEAR, END_YEAR)
    done = {
        "params": _params(n_episodes, seed, n_insatser),
        "files": len(files),
        "rows": sum(rows for _, rows in files),
        "bytes": sum(path.stat().st_size for path, _ in files),
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
    catalog = folder / "raw" / CATALOG_FILE
    text = generic_catalog_text(n_insatser, seed)  # the catalog follows the code, files do not
    if catalog.read_text(encoding="utf-8") != text:
        atomic.write_text(catalog, text)
    return folder


def input_info(folder: Path) -> dict[str, object]:
    return json.loads((folder / DONE_FILE).read_text(encoding="utf-8"))
