"""Publish the annual report: suppressed tables, charts, workbook, rapport.html and manifest.

`publish_report` is the one entry point (the CLI calls it). Everything it writes under
`<reports>/<label>/` comes from tables that passed disclosure control and its audit against
every release already published (pipeline.publish.protect); the exact tables never leave the
processed store. A report that replaces one of the same period keeps the old tables in the
release history (pipeline.publish.releases). The report is written into a new folder and swapped in
whole, and apart from manifest.json's `created` field the bytes depend only on the input.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl

from pipeline.core.atomic import write_bytes, write_text
from pipeline.core.period import Period
from pipeline.publish import style
from pipeline.publish.audit import Release
from pipeline.publish.charts import chart_plan, chart_pool, chart_specs, render_charts
from pipeline.publish.context import ReportContext
from pipeline.publish.html import render_html
from pipeline.publish.manifest import (
    build_manifest,
    created_time,
    source_date,
    write_manifest,
)
from pipeline.publish.protect import protect_release
from pipeline.publish.releases import archive_if_changed, published_releases, release_folder
from pipeline.publish.word import WORD_FILE, WordInfo, write_word
from pipeline.publish.workbook import write_workbook

TABLE_DIR = "tabeller"
CHART_DIR = "diagram"
HTML_FILE = "rapport.html"
EXAMPLE_NOTE_FILE = "FIKTIVA_EXEMPELDATA.txt"
# Extensions of files this module writes; others in the report folder are carried over.
OWN_SUFFIXES = {".csv", ".xlsx", ".png", ".svg", ".txt", ".html", ".json", ".docx"}


def workbook_name(period: Period) -> str:
    return f"uppfoljning_{period.label}.xlsx"


# --- Replacing a report as a whole -----------------------------------------------------------

_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing directories atomically (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.ny-*")) + sorted(
        out.parent.glob(f".{out.name}.gammal-*")
    )


def recover(out: Path) -> None:
    """Undo what a run killed while replacing `out` left behind: a report folder that was
    moved aside but not replaced is put back; half-written new folders are removed."""
    old = sorted(out.parent.glob(f".{out.name}.gammal-*"))
    if old and not out.exists():
        os.rename(old[-1], out)
    for path in _leftovers(out):
        shutil.rmtree(path, ignore_errors=True)


def replace_folder(new: Path, out: Path) -> None:
    """Put the complete folder `new` in the place of `out`, so that a reader (or a crash)
    sees either the old report or the new one, never a mix."""
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new)  # `new` now holds the old report
        return
    aside = out.with_name(f".{out.name}.gammal-{os.getpid()}")
    os.rename(out, aside)
    os.rename(new, out)
    shutil.rmtree(aside)


def _carry_over(out: Path, staging: Path) -> None:
    """Files someone else put in the report folder (not of a kind this module writes) are
    kept in the new report."""
    if not out.exists():
        return
    for path in out.rglob("*"):
        if path.is_file() and path.suffix not in OWN_SUFFIXES:
            target = staging / path.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def publish_report(
    tables: dict[str, pl.DataFrame],
    context: ReportContext,
    reports_dir: Path,
    progress: Callable[[str], None] | None = None,
    forbund: str | None = None,
    parallel_charts: bool = True,
) -> Path:
    """Write the published report under `reports_dir / period.label` (one förbund of a
    pooled store: `… / period.label / forbund`); return that folder.

    The report is built in a new folder beside the old one and swapped in whole: a full
    disk or a crash while writing leaves the previous report as it was. `parallel_charts`:
    many charts may be drawn in spawned processes (off where this already is one of several
    publishing processes).
    """
    say = progress or (lambda _msg: None)
    label = context.period.label
    out = release_folder(Path(reports_dir), label, forbund)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    # Everything already published, earlier versions of this period included: the new
    # release must not give away anything together with them (pipeline.publish.releases).
    history = published_releases(Path(reports_dir), label, forbund)
    staging = out.with_name(f".{out.name}.ny-{os.getpid()}")
    staging.mkdir()
    try:
        _write_report(staging, tables, history, context, say, parallel_charts)
        _carry_over(out, staging)
        staging.chmod(0o755)
        archive_if_changed(Path(reports_dir), label, staging / TABLE_DIR, forbund)
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_tables(table_dir: Path, protected_csv: dict[str, bytes], is_example: bool) -> list[Path]:
    """The tables as the audit read them, and the example note."""
    written = []
    for name, data in protected_csv.items():
        path = table_dir / f"{name}.csv"
        write_bytes(path, data)
        written.append(path)
    if is_example:
        path = table_dir / EXAMPLE_NOTE_FILE
        write_text(
            path,
            f"{style.EXEMPEL_TEXT}\n\nTabellerna i den här mappen bygger på påhittade "
            "uppgifter och beskriver inga verkliga personer.\n",
        )
        written.append(path)
    return written


def _write_report(
    out: Path,
    tables: dict[str, pl.DataFrame],
    history: list[Release],
    context: ReportContext,
    say: Callable[[str], None],
    parallel_charts: bool = True,
) -> None:
    """Every file of the report, written into the (new, empty) folder `out`."""
    c = context
    table_dir, chart_dir = out / TABLE_DIR, out / CHART_DIR

    # Many charts: the processes that draw them start now and load while the audit runs.
    expected = len(chart_plan(tables, c.catalog)) if parallel_charts else 0
    with chart_pool(expected) as pool:
        say("Röjandeskydd och granskning mot tidigare utgåvor")
        protected = protect_release(tables, c.k, c.period, history, progress=say)
        published = protected.tables
        say(
            f"Granskningen godkände utgåvan efter {protected.rounds} omgång(ar), "
            f"mot {len(protected.history)} tidigare utgåvor"
        )
        written = _write_tables(table_dir, protected.csv, c.is_example)

        say("Diagram")
        specs = chart_specs(published, c.catalog, c.period, c.k, c.is_example)
        chart_files = render_charts(specs, chart_dir, parallel=False, pool=pool)
        written += [chart_dir / name for names in chart_files for name in names]

    say("Arbetsbok")
    fixed = source_date()
    created_wb = fixed or dt.datetime.combine(c.period.end, dt.time(0, 0), tzinfo=dt.UTC)
    xlsx = table_dir / workbook_name(c.period)
    write_workbook(xlsx, published, c, created_wb)
    written.append(xlsx)

    say("Rapport (HTML)")
    svgs = [
        (spec, (chart_dir / names[-1]).read_bytes())
        for spec, names in zip(specs, chart_files, strict=True)
    ]
    html_path = out / HTML_FILE
    page = render_html(published, c, svgs)
    write_text(html_path, page)
    written.append(html_path)

    say("Rapport (Word)")
    pngs = {
        spec.name: chart_dir / name
        for spec, names in zip(specs, chart_files, strict=True)
        for name in names
        if name.endswith(".png")
    }
    info = WordInfo(
        title=f"Uppföljning av insatser {c.period.swedish}",
        author=c.catalog.forbund,
        created=created_wb,
        example_text=style.EXEMPEL_TEXT if c.is_example else None,
    )
    written.append(write_word(out / WORD_FILE, page, pngs, info, c.word_template))

    say("Manifest")
    manifest = build_manifest(out, written, c, created_time())
    written.append(write_manifest(out, manifest))
    # Atomic writes create private (0600) temporary files; a published report is readable.
    for path in written:
        path.chmod(0o644)
    for folder in (table_dir, chart_dir):
        if folder.exists():
            folder.chmod(0o755)
