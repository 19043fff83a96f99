"""The release history: what has been published under reports/, read back as a reader has it.

Every report folder `reports/<label>/` holds a release: its manifest (period, k) and its
tables (`tabeller/*.csv`). When a report is made again for the same period, the release it
replaces is kept in `reports/.utgivningar/<label>/<n>/` (tables and manifest only): it was
published, so readers may have it, and it still constrains what later reports may show.
The audit (`pipeline.publish.audit`) takes them all as `Release`s.

Design (docs/publicering.md, "Utgivningshistorik"):
- a release, once published, is frozen: a new report is protected against every earlier
  one, and never the other way round;
- a new version of the same period replaces the old one and is audited against it: where
  the data were revised in between, the same count differs, and a difference of 1..k−1
  between the two versions is hidden (it is a count of the persons added or removed);
- past years in the trend are shown exactly as they were first published (`frozen_trend`).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl

from pipeline.core.period import Period
from pipeline.publish.audit import Release

HISTORY_DIR = ".utgivningar"
MANIFEST = "manifest.json"
TABLE_DIR = "tabeller"


def read_release(folder: Path, current: bool = False) -> Release | None:
    """The release in a report folder, or None when it has no readable manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        period = Period(
            dt.date.fromisoformat(manifest["period"]["start"]),
            dt.date.fromisoformat(manifest["period"]["end"]),
        )
        k = int(manifest["k"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    tables = {
        path.stem: pl.read_csv(path, infer_schema=False)
        for path in sorted((folder / TABLE_DIR).glob("*.csv"))
    }
    label = manifest.get("utgava") or manifest["period"].get("label") or folder.name
    return Release(str(label), period, k, tables, current)


def release_folder(reports: Path, label: str, forbund: str | None = None) -> Path:
    """Where the release of `label` is: `reports/<label>/`, or for one förbund of a pooled
    store `reports/<label>/<forbund>/`."""
    return reports / label / forbund if forbund else reports / label


def published_releases(reports: Path, label: str, forbund: str | None = None) -> list[Release]:
    """Every release under `reports` a report for `label` must be protected against: the
    current release of every other period, and every earlier version kept in the history,
    those of `label` itself included (the one in `reports/<label>/` is about to be
    replaced and is archived first if it changes; its archived copy is then history).

    For one förbund of a pooled store, its own releases (`reports/*/<forbund>/`): its report
    holds only its own records, so only its own earlier releases constrain it (a sibling
    förbund's tables are about other persons)."""
    if not reports.exists():
        return []
    out = []
    for period_folder in sorted(
        p for p in reports.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        folder = period_folder / forbund if forbund else period_folder
        release = read_release(folder)
        if release is not None:
            if period_folder.name == label:  # the version about to be replaced: its own label
                release = Release(f"{label}#nu", release.period, release.k, release.tables)
            out.append(release)
    history = reports / HISTORY_DIR
    if history.exists():
        for folder in sorted(history.glob(f"*/{forbund}/*" if forbund else "*/*")):
            release = read_release(folder)
            if release is not None:
                out.append(release)
    return out


def archive_if_changed(
    reports: Path, label: str, new_tables: Path, forbund: str | None = None
) -> Path | None:
    """Keep the release that a new report for `label` (of `forbund`) is about to replace
    (its tables and manifest) in the history, unless its tables are the same bytes as
    `new_tables`; returns where, or None when nothing was kept."""
    folder = release_folder(reports, label, forbund)
    if not (folder / MANIFEST).exists():
        return None
    old = {p.name: p.read_bytes() for p in (folder / TABLE_DIR).glob("*.csv")}
    new = {p.name: p.read_bytes() for p in new_tables.glob("*.csv")}
    if old == new:
        return None
    target_root = release_folder(reports / HISTORY_DIR, label, forbund)
    number = 1 + max((int(p.name) for p in target_root.glob("*") if p.name.isdigit()), default=0)
    target = target_root / str(number)
    (target / TABLE_DIR).mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / MANIFEST, target / MANIFEST)
    for path in (folder / TABLE_DIR).glob("*.csv"):
        shutil.copy2(path, target / TABLE_DIR / path.name)
    # The version number makes the archived release's label its own in the audit.
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    manifest["utgava"] = f"{label}/{forbund}#{number}" if forbund else f"{label}#{number}"
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return target
