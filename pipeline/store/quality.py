"""datakvalitet.md: the readable data-quality summary (files, rules, counts; never a value)."""

from __future__ import annotations

import polars as pl

from pipeline.core.config import (
    QUARANTINE_CSV,
)
from pipeline.core.contract import (
    FLAGS,
)
from pipeline.store.results import (
    FLAGGED_FILE,
)

# --- The data-quality summary --------------------------------------------------------------------


def _md(text: object) -> str:
    """A table cell of Markdown: pipes and line breaks would break the table."""
    return str(text).replace("|", "/").replace("\n", " ")


def _overview(
    files: pl.DataFrame, duplicates: pl.DataFrame, episodes: pl.DataFrame, flagged: pl.DataFrame
) -> list[str]:
    """The heading, a loud line when nothing could be read, and the counts."""
    lines = ["# Datakvalitet", ""]
    read = files.filter(pl.col("status") == "inlast")
    if read.height == 0:
        lines += [
            "**INGA DATA: ingen fil kunde läsas in.**"
            if files.height
            else "**INGA DATA: råmappen innehåller inga exporter.**",
            "",
        ]
    lines.append(
        f"- Filer: {files.height} ({read.height} inlästa, {files.height - read.height} avvisade)"
    )
    lines.append(
        f"- Rader: {int(read['rader'].sum() or 0)} lästa, "
        f"{int(read['godkanda_rader'].sum() or 0)} godkända, "
        f"{int(read['avvisade_rader'].sum() or 0)} i karantän, "
        f"{int(read['tomma_rader'].sum() or 0)} tomma (överhoppade)"
    )
    lines.append(f"- Episoder i lagret: {episodes.height}")
    counts = duplicates.group_by("skillnad").len()
    by_kind = dict(zip(counts["skillnad"].to_list(), counts["len"].to_list(), strict=True))
    lines.append(
        f"- Episoder i flera filer: {duplicates.height} (identiska {by_kind.get('identisk', 0)}, "
        f"avslut tillagt senare {by_kind.get('avslut_tillagt', 0)}, "
        f"konflikter {by_kind.get('konflikt', 0)}: senaste filen gäller)"
    )
    lines.append(f"- Episoder med varning: {flagged.height} (se nedan)")
    return lines


def _file_lines(files: pl.DataFrame) -> list[str]:
    """One row per file: status, encoding, rows, message."""
    lines: list[str] = []
    lines += [
        "",
        "## Filer",
        "",
        "| fil | status | teckenkodning | rader | godkända | i karantän | meddelande |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in files.iter_rows(named=True):  # one row per file
        rows_read = row["rader"] if row["rader"] is not None else "–"
        message = " ".join(m for m in (row["meddelande"], row["anmarkningar"]) if m)
        lines.append(
            f"| {_md(row['fil'])} | {row['status']} | {row['teckenkodning'] or ''} | "
            f"{rows_read} | {row['godkanda_rader']} | {row['avvisade_rader']} | {_md(message)} |"
        )
    return lines


def _rule_lines(quarantine: pl.DataFrame) -> list[str]:
    """Quarantined values per rule and column."""
    lines: list[str] = []
    if quarantine.height:
        summary = (
            quarantine.group_by("regel_id", "regel", "kolumn")
            .agg(pl.len().alias("antal"), pl.col("fil").n_unique().alias("filer"))
            .sort("antal", "regel_id", "kolumn", descending=[True, False, False])
        )
        lines += ["", "## Fel per regel och kolumn", "", "| regel | kolumn | antal | filer |"]
        lines.append("|---|---|---:|---:|")
        for row in summary.iter_rows(named=True):  # one row per rule and column
            lines.append(
                f"| {_md(row['regel'])} | {_md(row['kolumn'])} | {row['antal']} | {row['filer']} |"
            )
        lines += [
            "",
            f"Varje fel finns med fil, blad, rad, kolumn och värde i {QUARANTINE_CSV} "
            "(personnummer visas aldrig, bara maskerade).",
        ]
    return lines


def _flag_lines(flagged: pl.DataFrame) -> list[str]:
    """Episodes kept with a warning, per insats."""
    lines: list[str] = []
    if flagged.height:
        per_insats = flagged.group_by("insats_id", "flagga").len().sort("insats_id", "flagga")
        lines += [
            "",
            "## Episoder med varning",
            "",
            "Episoderna finns kvar i lagret och räknas i statistiken; rätta dem hos parten. "
            f"Varje episod finns i {FLAGGED_FILE}.",
            "",
            "| insats | varning | episoder |",
            "|---|---|---:|",
        ]
        for row in per_insats.iter_rows(named=True):  # one row per insats and warning
            lines.append(f"| {row['insats_id']} | {FLAGS[row['flagga']]} | {row['len']} |")
    return lines


def data_quality_markdown(
    files: pl.DataFrame,
    quarantine: pl.DataFrame,
    duplicates: pl.DataFrame,
    episodes: pl.DataFrame,
    flagged: pl.DataFrame,
) -> str:
    """A readable Swedish summary of the latest ingest, for the förbund's analyst.

    It names files, sheets, columns, rules and counts; never an id or a value.
    """
    return (
        "\n".join(
            [
                *_overview(files, duplicates, episodes, flagged),
                *_file_lines(files),
                *_rule_lines(quarantine),
                *_flag_lines(flagged),
            ]
        )
        + "\n"
    )
