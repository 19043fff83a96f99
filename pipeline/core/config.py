"""Configuration in one place: folders, the disclosure threshold and run-wide settings.

Defaults follow the data contract (data/raw, data/processed, reports, k = 5). The
environment can override k (FINSAM_K) so that a förbund with a stricter policy sets it once
for every run, the nightly job included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RAW = Path("data/raw")
DEFAULT_PROCESSED = Path("data/processed")
DEFAULT_REPORTS = Path("reports")
DEFAULT_K = 5

# Files in the processed store.
EPISODES_FILE = "episoder.parquet"
COUNTED_FILE = "raknade_deltagare.parquet"  # counted participants (contract section 5)
QUARANTINE_FILE = "karantan.parquet"
QUARANTINE_CSV = "karantan.csv"
DATA_QUALITY_FILE = "datakvalitet.md"
FILE_LOG_FILE = "inlasta_filer.parquet"
DUCKDB_FILE = "finsam.duckdb"
CATALOG_FILE = "insatser.toml"
EXAMPLE_MARKER = "EXEMPELDATA.txt"
# The comparison report of a pooled store, beside the förbund reports (reports/<label>/).
COMPARISON_DIR = "jamforelse"

# Less detail where bases are small (docs/publicering.md, "Mindre detalj"): the published
# background (bakgrund) per insats is shown for insatser with at least this many episodes in
# the period, without the kön split; the förbund as a whole is shown by kön. Försörjning
# före → efter is shown for the förbund only.
BACKGROUND_PER_INSATS_MIN = 50

# A report with more insatser than this (a pooled national store) gets no per-insats charts:
# hundreds of charts would make the report slow and its HTML page unreadable.
MAX_INSATSER_WITH_CHARTS = 40
# Raw files read at the same time by the store (polars releases the GIL, so two or three
# files in threads use the cores that one file of ten thousand rows leaves idle).
READ_THREADS = 3


def _k_from_env() -> int:
    value = os.environ.get("FINSAM_K")
    if value is None:
        return DEFAULT_K
    k = int(value)
    if k < 1:
        raise ValueError(f"FINSAM_K måste vara minst 1, fick {k}")
    return k


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads and writes, the disclosure threshold k, and the förbund's
    Word template whose styles rapport.docx takes (None: Word's default styles)."""

    raw: Path = DEFAULT_RAW
    processed: Path = DEFAULT_PROCESSED
    reports: Path = DEFAULT_REPORTS
    k: int = field(default_factory=_k_from_env)
    word_template: Path | None = None
