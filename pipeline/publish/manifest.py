"""manifest.json: what a published report was made from and what it contains.

Inputs (from the file log) with their sha256 and status, the code version, period and k,
the sha256 of every output file, and the time the report was made. That time is the only
timestamp of a report: it is taken from SOURCE_DATE_EPOCH when set (reproducible builds),
else from the clock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.core.atomic import write_text
from pipeline.core.hashing import file_sha256
from pipeline.publish.context import ReportContext

MANIFEST_FILE = "manifest.json"


def source_date(environ: Mapping[str, str] | None = None) -> dt.datetime | None:
    """The time fixed by SOURCE_DATE_EPOCH (UTC), or None when it is not set.

    >>> source_date({"SOURCE_DATE_EPOCH": "0"}).isoformat()
    '1970-01-01T00:00:00+00:00'
    >>> source_date({}) is None
    True
    """
    env = os.environ if environ is None else environ
    value = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def created_time(environ: Mapping[str, str] | None = None) -> dt.datetime:
    """SOURCE_DATE_EPOCH if set, else now (UTC, whole seconds)."""
    fixed = source_date(environ)
    return fixed or dt.datetime.now(tz=dt.UTC).replace(microsecond=0)


def build_manifest(
    report_dir: Path,
    outputs: Iterable[Path],
    context: ReportContext,
    created: dt.datetime,
) -> dict:
    """The manifest as a dict; `outputs` are paths under `report_dir`.

    No row counts per file: with one file per party and insats they are counts of persons,
    which only the disclosure control may publish (counts stay in datakvalitet.md under
    processed/)."""
    inputs = [
        {
            "fil": r["fil"],
            "sha256": r["sha256"],
            "format": r["format"],
            "status": r["status"],
            "meddelande": r["meddelande"],
        }
        for r in context.files.sort("fil").iter_rows(named=True)
    ]
    out = [
        {
            "fil": p.relative_to(report_dir).as_posix(),
            "sha256": file_sha256(p),
            "bytes": p.stat().st_size,
        }
        for p in sorted(outputs, key=lambda p: p.relative_to(report_dir).as_posix())
    ]
    period = context.period
    return {
        "created": created.isoformat().replace("+00:00", "Z"),
        "code_version": context.code_version,
        "forbund": context.catalog.forbund,
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "days": period.days,
        },
        "k": context.k,
        "example_data": context.is_example,
        "inputs": inputs,
        "outputs": out,
        "utan_data": context.no_data,
    }


def write_manifest(report_dir: Path, manifest: dict) -> Path:
    path = report_dir / MANIFEST_FILE
    write_text(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return path
