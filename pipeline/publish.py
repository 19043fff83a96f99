"""Publish the annual report: suppressed tables, charts, workbook, rapport.html and manifest.

`publish_report` is the one entry point (the CLI calls it). Everything it writes under
`<reports>/<label>/` has passed disclosure control (pipeline.disclosure); the exact tables
never leave the processed store. Every file is written atomically, and apart from
manifest.json's `created` field the bytes depend only on the input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl

from pipeline import style
from pipeline.atomic import write_bytes, write_text
from pipeline.catalog import Catalog
from pipeline.charts import chart_specs, render_charts
from pipeline.contract import TABLE_COLUMNS
from pipeline.disclosure import suppress_tables
from pipeline.html_report import render_html
from pipeline.manifest import (
    build_manifest,
    created_time,
    source_date,
    write_manifest,
)
from pipeline.period import Period
from pipeline.workbook import write_workbook

TABLE_DIR = "tabeller"
CHART_DIR = "diagram"
HTML_FILE = "rapport.html"
EXAMPLE_NOTE_FILE = "FIKTIVA_EXEMPELDATA.txt"
# Extensions of files this module writes; others in the report folder are left alone.
OWN_SUFFIXES = {".csv", ".xlsx", ".png", ".svg", ".txt", ".html", ".json"}


def workbook_name(period: Period) -> str:
    return f"uppfoljning_{period.label}.xlsx"


def table_csv(df: pl.DataFrame) -> bytes:
    """A published table as contract CSV: UTF-8, comma separated, dot decimals."""
    return df.write_csv(separator=",", line_terminator="\n", null_value="").encode("utf-8")


def _remove_stale(folder: Path, keep: set[Path]) -> None:
    """Remove files a previous run wrote that this run did not (e.g. a removed insats)."""
    if not folder.exists():
        return
    for path in folder.iterdir():
        if path.is_file() and path.suffix in OWN_SUFFIXES and path not in keep:
            path.unlink()


def publish_report(
    tables: dict[str, pl.DataFrame],
    catalog: Catalog,
    period: Period,
    reports_dir: Path,
    k: int,
    files: pl.DataFrame,
    quarantine: pl.DataFrame,
    is_example: bool,
    code_version: str,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the published report under `reports_dir / period.label`; return that folder."""
    say = progress or (lambda _msg: None)
    out = Path(reports_dir) / period.label
    table_dir, chart_dir = out / TABLE_DIR, out / CHART_DIR
    written: list[Path] = []

    say("Röjandeskydd och tabeller")
    link_year = period.start.year if period.is_calendar_year else None
    published = suppress_tables(tables, k, link_year)
    for name, df in published.items():
        path = table_dir / f"{name}.csv"
        write_bytes(path, table_csv(df.select(TABLE_COLUMNS[name])))
        written.append(path)
    if is_example:
        path = table_dir / EXAMPLE_NOTE_FILE
        write_text(
            path,
            f"{style.EXEMPEL_TEXT}\n\nTabellerna i den här mappen bygger på påhittade "
            "uppgifter och beskriver inga verkliga personer.\n",
        )
        written.append(path)

    say("Diagram")
    specs = chart_specs(published, catalog, period, k, is_example)
    chart_files = render_charts(specs, chart_dir)
    written += [chart_dir / name for names in chart_files for name in names]

    say("Arbetsbok")
    fixed = source_date()
    created_wb = fixed or dt.datetime.combine(period.end, dt.time(0, 0), tzinfo=dt.UTC)
    xlsx = table_dir / workbook_name(period)
    write_workbook(xlsx, published, catalog, period, k, is_example, created_wb, code_version)
    written.append(xlsx)

    say("Rapport (HTML)")
    svgs = [
        (spec, (chart_dir / names[-1]).read_bytes())
        for spec, names in zip(specs, chart_files, strict=True)
    ]
    html = render_html(
        published, catalog, period, k, is_example, svgs, files, quarantine, code_version
    )
    html_path = out / HTML_FILE
    write_text(html_path, html)
    written.append(html_path)

    keep = set(written)
    _remove_stale(table_dir, keep)
    _remove_stale(chart_dir, keep)

    say("Manifest")
    manifest = build_manifest(
        out, written, files, period, k, code_version, catalog.forbund, is_example, created_time()
    )
    written.append(write_manifest(out, manifest))
    # Atomic writes create private (0600) temporary files; a published report is readable.
    for path in written:
        path.chmod(0o644)
    return out
