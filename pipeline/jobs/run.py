"""The one entry point that builds the whole publication: inputs → store → tables → report.

`run_report` is what `make report` and `python -m pipeline report` call; notebooks can call
it too. Each stage lives in its own module; this module only orders them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import polars as pl

from pipeline.core import atomic, log, progress
from pipeline.core.catalog import Catalog
from pipeline.core.config import CATALOG_FILE, DEFAULT_RAW, EXAMPLE_MARKER, Settings
from pipeline.core.contract import TOTAL_INSATS_ID
from pipeline.core.period import Period
from pipeline.ingest import discover
from pipeline.store import StoreResult, build_store

EXAMPLE_FILES = ".exempelfiler.json"  # hashes of the generated example, to detect mixing


class InputError(Exception):
    """The raw folder cannot be used as it is; the message says what to do (Swedish)."""


class NoData(InputError):
    """No export could be read at all: nothing to report (the store's datakvalitet.md says why)."""


@dataclass(frozen=True)
class ReportResult:
    period: Period
    store: StoreResult
    tables: dict[str, pl.DataFrame]
    exact_dir: Path
    report_dir: Path
    is_example: bool
    no_data: bool = False  # no accepted episode in the period: the report says so


def default_period(today: dt.date | None = None) -> Period:
    """The last complete calendar year: what the årsredovisning is about."""
    today = today or dt.date.today()
    return Period.year(today.year - 1)


def code_version() -> str:
    """The git commit of the code when run from a checkout, else the package version."""
    from importlib.metadata import version

    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        described = ""
    return f"{version('finsam-pipeline')}+{described}" if described else version("finsam-pipeline")


def is_default_raw(raw: Path) -> bool:
    """The raw folder is the default one (data/raw), the only one example data may fill."""
    return Path(raw).resolve() == DEFAULT_RAW.resolve()


def has_inputs(raw: Path) -> bool:
    """Anything the pipeline would read: the catalog or an export."""
    if not raw.exists():
        return False
    return (raw / CATALOG_FILE).exists() or bool(discover(raw))


def write_example(raw: Path, *, pooled: bool = False, n_episodes: int | None = None):
    """Write the fictitious example förbund (`pooled`: a store of 30 förbund) and record its
    files' hashes (to detect mixing)."""
    from pipeline.example.generator import (
        POOLED_EPISODES,
        generate_example,
        generate_pooled_example,
    )

    if pooled:
        summary = generate_pooled_example(raw, n_episodes or POOLED_EPISODES)
    else:
        summary = generate_example(raw)
    hashes = {f.relative: f.sha256 for f in discover(raw)}
    atomic.write_text(raw / EXAMPLE_FILES, json.dumps(hashes, indent=2, sort_keys=True))
    return summary


def ensure_example(raw: Path, *, allowed: bool) -> bool:
    """Generate the fictitious example förbund into an empty raw folder. True if generated.

    Only when `allowed` (the default raw folder, `make report` on a fresh clone): a folder
    the user named that is missing or empty is an error, never filled with fiction.
    """
    if not raw.exists() and not allowed:
        raise InputError(
            f"Råmappen {raw} finns inte. Ange mappen med exporterna och insatser.toml med "
            "--raw (eller RAW=... för make)."
        )
    if has_inputs(raw):
        return False
    if not allowed:
        raise InputError(
            f"Råmappen {raw} är tom: lägg parternas exporter och insatser.toml där. "
            "Exempeldata skrivs bara till data/raw (make report) eller med make example."
        )
    log.warning("Råmappen är tom: genererar exempelförbundet med FIKTIVA data", mapp=str(raw))
    summary = write_example(raw)
    log.info("exempeldata skrivna", filer=len(summary.files), episoder=summary.n_episodes)
    return True


def is_example_input(raw: Path) -> bool:
    """True when the raw folder holds the example; refuses a mix of example and real files."""
    if not (raw / EXAMPLE_MARKER).exists():
        return False
    try:
        generated = json.loads((raw / EXAMPLE_FILES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        generated = {}
    foreign = [f.relative for f in discover(raw) if generated.get(f.relative) != f.sha256]
    if foreign:
        raise InputError(
            f"Råmappen {raw} innehåller både exempeldata ({EXAMPLE_MARKER}) och andra filer "
            f"({', '.join(foreign[:5])}{' …' if len(foreign) > 5 else ''}). Exempel och riktiga "
            "data blandas aldrig: töm råmappen på exempeldata (alla filer som genererades) "
            "innan riktiga exporter läggs in."
        )
    return True


def write_exact_tables(tables: dict[str, pl.DataFrame], exact_dir: Path) -> None:
    """The exact, unsuppressed tables for the förbund's own analysts (never under reports/)."""
    for name, table in tables.items():
        atomic.write_with(exact_dir / f"{name}.parquet", table.write_parquet)
        atomic.write_with(exact_dir / f"{name}.csv", table.write_csv)


FINSAM_FILE = "uppfoljning_finsam"


def write_uppfoljning_finsam(frame: pl.DataFrame, exact_dir: Path) -> None:
    """uppfoljning_finsam.csv and .xlsx (exact, for the förbund's report to the national
    system; never under reports/). The workbook's second sheet says which field each column
    fills."""
    from pipeline.measures.finsam import FINSAM_FIELDS

    atomic.write_with(exact_dir / f"{FINSAM_FILE}.csv", frame.write_csv)

    def workbook(path: Path) -> None:
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path))
        wb.set_properties({"title": "Uppföljning Finsam", "created": dt.datetime(2000, 1, 1)})
        bold = wb.add_format({"bold": True, "bg_color": "#EEF2F7"})
        data = wb.add_worksheet("Uppföljning Finsam")
        data.write_row(0, 0, frame.columns, bold)
        for i, row in enumerate(frame.iter_rows(), start=1):  # one row per insats
            for j, value in enumerate(row):
                if isinstance(value, int | float):
                    data.write_number(i, j, value)
                elif value is not None:
                    data.write_string(i, j, str(value))
        data.set_column(0, len(frame.columns) - 1, 18)
        fields = wb.add_worksheet("Fält")
        fields.write_row(0, 0, ["Kolumn", "Fält i Uppföljning Finsam"], bold)
        for i, (column, text) in enumerate(FINSAM_FIELDS.items(), start=1):
            fields.write_string(i, 0, column)
            fields.write_string(i, 1, text)
        fields.set_column(0, 0, 32)
        fields.set_column(1, 1, 80)
        wb.close()

    atomic.write_with(exact_dir / f"{FINSAM_FILE}.xlsx", workbook)


def ensure_word_template(template: Path | None) -> None:
    """The förbund's Word template, when named, must be a .docx that can be read: checked
    before anything is built, so that a misspelt path does not cost a whole run."""
    if template is None:
        return
    import zipfile

    if not template.is_file():
        raise InputError(f"Word-mallen {template} finns inte (--word-mall).")
    if not zipfile.is_zipfile(template) or template.suffix.lower() not in (".docx", ".dotx"):
        raise InputError(
            f"Word-mallen {template} är inte en Word-fil (.docx). Spara mallen som "
            "Word-dokument (.docx) och ange den igen med --word-mall."
        )


def ensure_some_input(store: StoreResult, processed: Path) -> None:
    """NoData when not one export could be read: a report of zeros would say nothing true."""
    if store.files_read:
        return
    if store.files.height:
        why = f"ingen av de {store.files.height} filerna i råmappen kunde läsas in (alla avvisades)"
    else:
        why = "råmappen innehåller inga exporter, bara insatskatalogen"
    raise NoData(
        f"INGEN RAPPORT: {why}. Se {processed / 'datakvalitet.md'} för varför, rätta filerna "
        "och kör igen."
    )


def run_report(
    settings: Settings,
    period: Period,
    *,
    today: dt.date | None = None,
    example_if_empty: bool | None = None,
) -> ReportResult:
    """Build the store, the exact tables and the published report for one period.

    The fictitious example is generated into an empty raw folder only when it is the
    default one (or `example_if_empty`). NoData (nothing published) when not one export
    could be read; a period without a single accepted episode gives a report marked as
    without data (`no_data`). A pooled store (insatser of several förbund) is reported per
    förbund (`run_pooled_report`): one report over all of them would give the pooled totals
    that a förbund's suppressed cells could be read from.
    """
    store, example = _store(settings, today, example_if_empty)
    if len(store.catalog.forbund_ids) > 1:
        raise InputError(
            f"Insatskatalogen gäller {len(store.catalog.forbund_ids)} förbund (forbund per "
            "insats): ange --forbund ID för ett förbunds rapport eller --alla-forbund för "
            "en rapport per förbund och jämförelserapporten."
        )
    return _report(settings, period, store, store.catalog, example)


@dataclass(frozen=True)
class PooledResult:
    """The reports of a pooled store: one per förbund, and the comparison (all förbund)."""

    period: Period
    store: StoreResult
    reports: dict[str, ReportResult]
    comparison_dir: Path | None
    is_example: bool

    @property
    def no_data(self) -> bool:
        return all(r.no_data for r in self.reports.values())


def run_pooled_report(
    settings: Settings,
    period: Period,
    forbund: list[str] | None = None,
    *,
    today: dt.date | None = None,
) -> PooledResult:
    """One report per förbund of a pooled store (`forbund`: those named; None: all of them,
    and the comparison report under `<reports>/<label>/jamforelse/`).

    A förbund's report is built from its own insatser's episodes only, exactly as if its
    records had been run alone; its exact tables go to `<processed>/<label>/<forbund>/`.
    """
    from pipeline.publish.comparison import publish_comparison

    store, example = _store(settings, today, example_if_empty=False)
    known = store.catalog.forbund_ids
    if not known:
        raise InputError(
            'Insatskatalogen anger inget förbund per insats (forbund = "ID"): lagret är '
            "ett förbunds eget. Kör rapporten utan --forbund/--alla-forbund."
        )
    chosen = known if forbund is None else forbund
    unknown = [f for f in chosen if f not in known]
    if unknown:
        raise InputError(
            f"Förbundet {', '.join(unknown)} finns inte i insatskatalogen (förbund: "
            f"{', '.join(known)})."
        )
    prepared = {}
    for forbund_id in chosen:  # a loop over förbund: each one's exact tables
        log.info(f"Förbundet {forbund_id}", forbund=forbund_id)
        prepared[forbund_id] = _prepare(
            settings, period, store, store.catalog.for_forbund(forbund_id), example, forbund_id
        )
    with log.stage("publicering", period=period.label, forbund=len(chosen)):
        report_dirs = _publish_all(prepared, settings.reports)
    reports = {
        forbund_id: ReportResult(
            period, store, p.tables, p.exact_dir, report_dirs[forbund_id], example, p.no_data
        )
        for forbund_id, p in prepared.items()
    }
    comparison = None
    if forbund is None:
        with log.stage("jämförelse", period=period.label):
            comparison = publish_comparison(
                store.catalog, period, settings.k, settings.reports, example, code_version()
            )
    return PooledResult(period, store, reports, comparison, example)


def _store(
    settings: Settings, today: dt.date | None, example_if_empty: bool | None
) -> tuple[StoreResult, bool]:
    """The store built from the raw folder (the example generated into an empty default
    folder), and whether it is the example."""
    ensure_word_template(settings.word_template)
    allowed = is_default_raw(settings.raw) if example_if_empty is None else example_if_empty
    ensure_example(settings.raw, allowed=allowed)
    example = is_example_input(settings.raw)
    store = build_store(settings.raw, settings.processed, today)
    ensure_some_input(store, settings.processed)
    return store, example


def own_records(store: StoreResult, catalog: Catalog) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The episodes and counted participants of the insatser of `catalog` (one förbund's
    out of a pooled store; all of them for a förbund's own)."""
    if len(catalog.ids) == store.catalog.insatser.height:
        return store.episodes, store.counted
    mine = pl.col("insats_id").is_in(catalog.ids)
    return store.episodes.filter(mine), store.counted.filter(mine)


def _tables(
    episodes: pl.DataFrame, counted: pl.DataFrame, catalog: Catalog, period: Period, k: int
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame | None]:
    """The exact tables of the period, and the Uppföljning Finsam table of a calendar year."""
    from pipeline.measures.costs import has_money, kostnad_table
    from pipeline.measures.finsam import uppfoljning_finsam
    from pipeline.measures.statistics import compute_tables

    tables = compute_tables(episodes, catalog, period, k=k)
    year = period.start.year
    # Money is per calendar year (the catalog's budget and kostnad): costs only then.
    if period.is_calendar_year and has_money(catalog, year):
        tables["kostnad"] = kostnad_table(
            tables["deltagare"], tables["maluppfyllelse"], catalog, year
        )
    finsam = None
    if period.is_calendar_year:  # the national system takes calendar years
        finsam = uppfoljning_finsam(tables["deltagare"], catalog, year, counted)
    return tables, finsam


@dataclass(frozen=True)
class _Prepared:
    """One report's inputs to publishing: its exact tables and context."""

    tables: dict[str, pl.DataFrame]
    context: object  # pipeline.publish.context.ReportContext (imported late: publish is heavy)
    exact_dir: Path
    no_data: bool


def _report(
    settings: Settings,
    period: Period,
    store: StoreResult,
    catalog: Catalog,
    example: bool,
) -> ReportResult:
    """Exact tables and the published report of a förbund's own store."""
    from pipeline.publish.report import publish_report

    p = _prepare(settings, period, store, catalog, example)
    with log.stage("publicering", period=period.label):
        report_dir = publish_report(
            p.tables, p.context, settings.reports, progress=lambda message: log.info(message)
        )
    return ReportResult(period, store, p.tables, p.exact_dir, report_dir, example, p.no_data)


def _prepare(
    settings: Settings,
    period: Period,
    store: StoreResult,
    catalog: Catalog,
    example: bool,
    forbund: str | None = None,
) -> _Prepared:
    """The exact tables of `catalog`'s insatser (of `forbund`), written to the processed
    folder, and the context their report is published with."""
    from pipeline.publish.context import ReportContext

    episodes, counted = own_records(store, catalog)
    with log.stage("statistik", period=period.label) as counts:
        tables, finsam = _tables(episodes, counted, catalog, period, settings.k)
        exact_dir = settings.processed / period.label
        if forbund:
            exact_dir = exact_dir / forbund
        write_exact_tables(tables, exact_dir)
        counts["tabeller"] = len(tables)
        if finsam is not None:
            write_uppfoljning_finsam(finsam, exact_dir)
    total = tables["deltagare"].filter(pl.col("insats_id") == TOTAL_INSATS_ID)
    no_data = int(total["deltagare"].sum()) == 0
    if no_data:
        log.warning(
            f"Inga godkända insatsperioder under perioden {period.swedish}"
            + (f" för förbundet {forbund}" if forbund else "")
            + ": rapporten märks som utan data",
            period=period.label,
        )
    context = ReportContext(
        catalog,
        period,
        settings.k,
        store.files,
        store.quarantine,
        example,
        code_version(),
        no_data,
        settings.word_template,
    )
    return _Prepared(tables, context, exact_dir, no_data)


def publish_workers(reports: int) -> int:
    """Processes that publish a pooled store's reports side by side: one per core, at most
    one per report. Each report is independent (its own folder, history and audit)."""
    return max(1, min(os.cpu_count() or 1, reports))


def _publish_all(prepared: dict[str, _Prepared], reports_dir: Path) -> dict[str, Path]:
    """Publish every förbund's report, in spawned processes when there are cores for it
    (each draws its charts itself, one process per report); forbund → its folder."""
    from pipeline.publish.report import publish_report

    workers = publish_workers(len(prepared))
    if workers == 1:
        return {
            f: publish_report(
                p.tables, p.context, reports_dir, progress=lambda m: log.info(m), forbund=f
            )
            for f, p in prepared.items()
        }
    done: dict[str, Path] = {}
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_quiet_worker
    ) as pool:
        futures = {
            pool.submit(_publish_one, p.tables, p.context, reports_dir, f): f
            for f, p in prepared.items()
        }
        for future in as_completed(futures):  # a loop over förbund as their reports finish
            forbund_id = futures[future]
            done[forbund_id] = future.result()
            log.info(f"Förbundet {forbund_id}: rapporten publicerad", forbund=forbund_id)
    return {f: done[f] for f in prepared}


def _quiet_worker() -> None:
    """A publishing process draws no progress bars (they would cross the parent's)."""
    progress.set_quiet(True)


def _publish_one(tables, context, reports_dir: Path, forbund: str) -> Path:
    """One förbund's report, in a publishing process (charts drawn in this process)."""
    from pipeline.publish.report import publish_report

    return publish_report(tables, context, reports_dir, forbund=forbund, parallel_charts=False)
