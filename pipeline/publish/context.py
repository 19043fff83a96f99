"""What a report is about, as one value: the period, k, the catalog, the inputs and their
quarantine, the example marking and the code version (every part of a publication reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.core.catalog import Catalog
from pipeline.core.period import Period


@dataclass(frozen=True)
class ReportContext:
    """The report's context; `files` is the store's file log, `quarantine` its rejected
    values (only counts of them are published)."""

    catalog: Catalog
    period: Period
    k: int
    files: pl.DataFrame
    quarantine: pl.DataFrame
    is_example: bool
    code_version: str
    no_data: bool = False  # no accepted episode in the period: the report says so first
    word_template: Path | None = None  # the förbund's .docx whose styles rapport.docx takes
