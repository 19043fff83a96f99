"""One benchmark measurement, run in a fresh process: `python -m benchmarks.stages STAGE ...`.

Each stage prints one JSON line (prefixed by RESULT_PREFIX) with its wall time, the rows it
handled and its peak memory. Peak memory is the resident-set high-water mark (VmHWM) of the
process, reset just before the timed part where Linux allows it (/proc/self/clear_refs), so it
is the peak *during* the stage, including the inputs the stage holds. Chart worker processes
are not included (their ru_maxrss counts the parent's pages at fork time, so it says nothing).

Stages (the pipeline's own public functions, nothing re-implemented):

- floor: the plain read with polars (each CSV read as text, headers renamed, concatenated,
  rows counted): the least any pipeline must do;
- read: `ingest.discover` + `ingest.load_export` of every file (a few at a time in threads,
  as `store.build_store` reads them);
- validate: per file `load_export` then `validate.validate_export`, validated episodes kept as
  `store.build_store` keeps them; the time is that of validate_export alone;
- report: `run.run_report` on fresh processed and reports folders (a pooled catalog:
  `run.run_pooled_report` for every förbund and the comparison, as a national network
  would); the pipeline's stage log lines split it into store (inläsning, sammanslagning,
  lager), compute (statistik, summed over förbund) and publish (publicering and jämförelse),
  each with its own peak memory (a pooled store's reports are published in worker
  processes, one per core, whose memory is not included either);
- nightly: `nightly.run_nightly` twice on the store the report stage left; the second run, a
  night with nothing new, is timed (and its stage log kept: it must not merge);
- pandas: the pandas reference (`benchmarks.pandas_reference`), tables written for comparison;
- duckdb: the same exact tables in DuckDB SQL over the same CSVs (`benchmarks.duckdb_reference`);
- example: `run.run_report` on a fresh copy of the example förbund (what `make report` does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import logging
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULT_PREFIX = "BENCH-RESULT "
STAGES = (
    "generate",
    "floor",
    "read",
    "validate",
    "report",
    "nightly",
    "pandas",
    "duckdb",
    "example",
)

# Stage names of pipeline.log and the benchmark stage each belongs to.
LOG_STAGES = {
    "inläsning": "store",
    "sammanslagning": "store",
    "lager": "store",
    "statistik": "compute",
    "publicering": "publish",
    "jämförelse": "publish",
}


# --- Memory ---------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset the resident-set high-water mark to the current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """Peak RSS since the last reset (VmHWM), else of the whole process (ru_maxrss)."""
    hwm = _status_kb("VmHWM")
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return hwm / 1024


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """(result, seconds, peak MB during the call)."""
    reset_peak()
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started, peak_mb()


# --- Stages ---------------------------------------------------------------------------------


def stage_generate(args: argparse.Namespace) -> dict[str, object]:
    from benchmarks.inputs import ensure_inputs, input_info

    folder, seconds, peak = timed(lambda: ensure_inputs(Path(args.work), args.size, args.seed))
    info = input_info(folder)
    return {"seconds": seconds, "peak_mb": peak, "folder": str(folder), **info}


def _utf8(data: bytes) -> bytes:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252").encode("utf-8")
    return data


def plain_read(raw: Path) -> int:
    """The floor: every CSV read by polars as text, headers renamed, concatenated, counted."""
    import polars as pl

    from pipeline.core.contract import HEADER_ALIASES, normalize_header

    frames = []
    for path in sorted(raw.rglob("*.csv")):
        data = _utf8(path.read_bytes())
        header = data[: data.find(b"\n")]
        separator = ";" if header.count(b";") > header.count(b",") else ","
        df = pl.read_csv(io.BytesIO(data), separator=separator, infer_schema=False)
        frames.append(df.rename(lambda h: HEADER_ALIASES.get(normalize_header(h), h)))
    return pl.concat(frames).height


def stage_floor(args: argparse.Namespace) -> dict[str, object]:
    rows, seconds, peak = timed(lambda: plain_read(Path(args.raw)))
    return {"seconds": seconds, "rows": rows, "peak_mb": peak}


def stage_read(args: argparse.Namespace) -> dict[str, object]:
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.core.config import READ_THREADS
    from pipeline.ingest import discover, load_export

    def run() -> tuple[int, int, float]:
        started = time.perf_counter()
        files = discover(Path(args.raw))
        discover_s = time.perf_counter() - started
        # As build_store reads: READ_THREADS files at a time, each dropped once counted.
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            rows = sum(export.rows for export in pool.map(load_export, files))
        return rows, len(files), discover_s

    (rows, n_files, discover_s), seconds, peak = timed(run)
    return {
        "seconds": seconds,
        "rows": rows,
        "files": n_files,
        "discover_s": discover_s,
        "peak_mb": peak,
    }


def stage_validate(args: argparse.Namespace) -> dict[str, object]:
    from pipeline.core.catalog import read_catalog
    from pipeline.core.config import CATALOG_FILE
    from pipeline.ingest import discover, load_export
    from pipeline.ingest.validate import validate_export

    raw = Path(args.raw)
    today = dt.date.fromisoformat(args.today)

    def run() -> dict[str, object]:
        ids = read_catalog(raw / CATALOG_FILE).ids
        read_s = validate_s = 0.0
        kept, quarantined = [], 0
        for file in discover(raw):
            started = time.perf_counter()
            export = load_export(file)
            read_s += time.perf_counter() - started
            for sheet in export.sheets:  # a loop over the file's tables (one for CSV)
                started = time.perf_counter()
                result = validate_export(sheet.text, file.relative, ids, today, sheet.sheet)
                validate_s += time.perf_counter() - started
                kept.append(result.episodes)  # build_store keeps every file's episodes
                quarantined += result.quarantine.height
        return {
            "read_s": read_s,
            "seconds": validate_s,
            "rows": sum(df.height for df in kept),
            "quarantined": quarantined,
        }

    result, total, peak = timed(run)
    return {**result, "total_s": total, "peak_mb": peak}


class _StageRecorder(logging.Handler):
    """Collects the pipeline's stage log lines: seconds and the peak memory of each stage."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stages: list[dict[str, object]] = []
        self.last = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", {}) or {}
        if "steg" not in fields:
            return
        now = time.perf_counter()
        self.stages.append(
            {
                "name": str(fields["steg"]),
                "logged_s": float(fields.get("sekunder", "nan")),
                "since_previous_s": now - self.last,
                "peak_mb": peak_mb(),
            }
        )
        reset_peak()
        self.last = now


def _run_report(raw: Path, processed: Path, reports: Path, period_year: int, today: dt.date):
    from pipeline.core import log
    from pipeline.core.catalog import read_catalog
    from pipeline.core.config import CATALOG_FILE, Settings
    from pipeline.core.period import Period
    from pipeline.jobs.run import run_pooled_report, run_report
    from pipeline.measures.statistics import compute_tables

    for folder in (processed, reports):
        shutil.rmtree(folder, ignore_errors=True)
    recorder = _StageRecorder()
    log.logger.addHandler(recorder)
    log.logger.setLevel(logging.INFO)
    period = Period.year(period_year)
    pooled_store = len(read_catalog(raw / CATALOG_FILE).forbund_ids) > 1
    try:
        settings = Settings(raw=raw, processed=processed, reports=reports, k=5)
        reset_peak()
        recorder.last = started = time.perf_counter()
        if pooled_store:
            result = run_pooled_report(settings, period, today=today)
        else:
            result = run_report(settings, period, today=today)
        seconds = time.perf_counter() - started
    finally:
        log.logger.removeHandler(recorder)
    if pooled_store:  # not timed: the pooled exact tables, for the pandas and DuckDB checks
        pooled = processed / period.label / "samtliga"
        pooled.mkdir(parents=True, exist_ok=True)
        tables = compute_tables(result.store.episodes, result.store.catalog, period)
        for name, table in tables.items():
            table.write_parquet(pooled / f"{name}.parquet")
    return result, seconds, recorder.stages


def _report_outputs(result) -> dict[str, object]:
    """Where a report (or a pooled store's reports) went, and how big they are."""
    from pipeline.jobs.run import PooledResult

    if not isinstance(result, PooledResult):
        return {
            "exact_dir": str(result.exact_dir),
            "report_dir": str(result.report_dir),
            "reports": 1,
            "charts": len(list((result.report_dir / "diagram").glob("*.svg"))),
            "html_mb": (result.report_dir / "rapport.html").stat().st_size / 1e6,
        }
    dirs = [r.report_dir for r in result.reports.values()] + [result.comparison_dir]
    return {
        "exact_dir": str(next(iter(result.reports.values())).exact_dir.parent / "samtliga"),
        "report_dir": str(result.comparison_dir),
        "reports": len(result.reports),
        "charts": sum(len(list((d / "diagram").glob("*.svg"))) for d in dirs),
        "html_mb": sum((d / "rapport.html").stat().st_size for d in dirs) / 1e6,
    }


def stage_report(args: argparse.Namespace) -> dict[str, object]:
    work = Path(args.scratch)
    result, seconds, stages = _run_report(
        Path(args.raw),
        work / "processed",
        work / "reports",
        args.year,
        dt.date.fromisoformat(args.today),
    )
    return {
        "seconds": seconds,
        "rows": result.store.episodes.height,
        "stages": stages,
        **_report_outputs(result),
        "peak_mb": max((s["peak_mb"] for s in stages), default=peak_mb()),
    }


def stage_nightly(args: argparse.Namespace) -> dict[str, object]:
    """A night with nothing new: `run_nightly` on the store the report stage left, twice;
    the second run (nothing changed since the first) is timed. Its stage log says whether
    it merged anything (it should not: the store is read from its own files)."""
    from pipeline.core import log
    from pipeline.core.config import Settings
    from pipeline.jobs.nightly import run_nightly

    work = Path(args.scratch)
    settings = Settings(raw=Path(args.raw), processed=work / "processed", reports=work / "natt")
    today = dt.date.fromisoformat(args.today)
    log.setup_logging(quiet=True)
    first = run_nightly(settings, today=today)  # the nightly periods' tables, once
    recorder = _StageRecorder()
    log.logger.addHandler(recorder)
    try:
        (code, seconds, peak) = timed(lambda: run_nightly(settings, today=today))
    finally:
        log.logger.removeHandler(recorder)
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "exit_codes": [first, code],
        "stages": [s["name"] for s in recorder.stages],
    }


def stage_pandas(args: argparse.Namespace) -> dict[str, object]:
    from benchmarks import pandas_reference as ref

    raw = Path(args.raw)
    split: dict[str, float] = {}
    (tables, rows), seconds, peak = timed(lambda: ref.run(raw, args.year, split))
    out = Path(args.scratch) / "pandas"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name, table in tables.items():
        table.to_parquet(out / f"{name}.parquet", index=False)
    return {"seconds": seconds, "rows": rows, "peak_mb": peak, "tables_dir": str(out), **split}


def stage_duckdb(args: argparse.Namespace) -> dict[str, object]:
    from benchmarks import duckdb_reference as ref

    split: dict[str, float] = {}
    (tables, rows), seconds, peak = timed(lambda: ref.run(Path(args.raw), args.year, split))
    out = Path(args.scratch) / "duckdb"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name, table in tables.items():
        table.write_parquet(out / f"{name}.parquet")
    return {"seconds": seconds, "rows": rows, "peak_mb": peak, "tables_dir": str(out), **split}


def stage_example(args: argparse.Namespace) -> dict[str, object]:
    """run_report on a fresh copy of the example raw folder (generated once, then copied)."""
    from pipeline.jobs.run import ensure_example

    setup_started = time.perf_counter()
    work = Path(args.scratch)
    template = work / "example_raw"
    if not (template / "insatser.toml").exists():
        shutil.rmtree(template, ignore_errors=True)
        ensure_example(template, allowed=True)
    raw = work / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.copytree(template, raw)
    setup_s = time.perf_counter() - setup_started
    result, seconds, stages = _run_report(
        raw, work / "processed", work / "reports", args.year, dt.date.fromisoformat(args.today)
    )
    return {
        "seconds": seconds,
        "rows": result.store.episodes.height,
        "stages": stages,
        "setup_s": setup_s,
        "peak_mb": max((s["peak_mb"] for s in stages), default=peak_mb()),
    }


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, object]]] = {
    "generate": stage_generate,
    "floor": stage_floor,
    "read": stage_read,
    "validate": stage_validate,
    "report": stage_report,
    "nightly": stage_nightly,
    "pandas": stage_pandas,
    "duckdb": stage_duckdb,
    "example": stage_example,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stages")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--raw", default="")
    parser.add_argument("--scratch", default="")
    parser.add_argument("--work", default="")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--today", default="2026-01-31")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    result = RUNNERS[args.stage](args)
    print(RESULT_PREFIX + json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
