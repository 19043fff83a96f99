"""The merge of every file's episodes (the last file in path order wins) and the episodes
kept with a warning."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import polars as pl

from pipeline.core.contract import (
    CANONICAL_COLUMNS,
    COUNTED_KEY,
    COUNTED_SCHEMA,
    EPISODE_KEY,
    EPISODE_SCHEMA,
    FLAGGED_SCHEMA,
)
from pipeline.ingest import (
    RawFile,
)
from pipeline.store.results import (
    CUMULATIVE_SHARE,
    END_FIELDS,
    POSITION,
    FileResult,
)

# --- Merging files -------------------------------------------------------------------------------


def merge_counted(per_file: list[pl.DataFrame]) -> pl.DataFrame:
    """Counted participants of files given in sorted path order: for each insats, year and
    slag the row of the last file that has it (a later file corrects an earlier one), sorted
    by the key.

    >>> a = pl.DataFrame({"insats_id": ["A"], "ar": [2025], "slag": ["anonyma"],
    ...                   "kvinnor": [1], "man": [2], "fil": ["a.csv"]})
    >>> merge_counted([a, a.with_columns(kvinnor=pl.lit(3), fil=pl.lit("b.csv"))]).rows()
    [('A', 2025, 'anonyma', 3, 2, 'b.csv')]
    """
    stacked = pl.concat([pl.DataFrame(schema=COUNTED_SCHEMA), *per_file], how="vertical_relaxed")
    return stacked.unique(COUNTED_KEY, keep="last", maintain_order=True).sort(COUNTED_KEY)


def _file_positions(per_file: list[pl.DataFrame]) -> pl.DataFrame:
    """The files' frames stacked in path order, `_position` made global (file number first)."""
    return pl.concat(
        [
            df.with_columns(pl.col(POSITION) + pl.lit(n << 48, pl.Int64))
            for n, df in enumerate(per_file)
        ],
        rechunk=False,
    )


def merge_episodes(per_file: list[pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Merge episodes of files given in sorted path order: last file wins, rows in file order.

    Each frame holds `_position` (its rows' place in the file) and the canonical columns; a
    frame without `_position` is taken in its row order. Returns (episodes, duplicates):
    episodes keep the winning version's global `_position`; `duplicates` lists every
    episode carried more than once with how many versions it had and whether they differ:
    `avslut_tillagt` when only an open episode was ended later (the ordinary cumulative
    export), `konflikt` otherwise.
    """
    if not per_file:
        return pl.DataFrame(schema={POSITION: pl.Int64, **EPISODE_SCHEMA}), empty_duplicates()
    per_file = [
        df if POSITION in df.columns else df.with_row_index(POSITION).cast({POSITION: pl.Int64})
        for df in per_file
    ]
    # Each file's rows are in file order and the files come in path order, so the stacked
    # frame is already in "last wins" order: no sort, and no window over every key (at
    # national scale the windows cost seconds); only repeated keys are looked at closer.
    stacked = _file_positions([df.select(POSITION, *CANONICAL_COLUMNS) for df in per_file])
    key = list(EPISODE_KEY)
    episode_key = pl.struct(key)
    order = ["insats_id", "deltagare_id", "startdatum"]
    # Keys are compared by a 64-bit hash first: only rows whose hash repeats are compared by
    # the key itself (two different keys with one hash are both kept, as they must be).
    repeated_mask = stacked.select(episode_key.hash().is_duplicated()).to_series()
    if not repeated_mask.any():
        episodes = stacked.sort(order)
        return episodes.cast(dict(EPISODE_SCHEMA)), empty_duplicates()
    repeated = stacked.filter(repeated_mask)
    episodes = pl.concat(
        [stacked.filter(~repeated_mask), repeated.filter(episode_key.is_last_distinct())]
    ).sort(order)
    del stacked
    repeated = repeated.drop(POSITION)
    single = repeated.select(episode_key.is_unique()).to_series()
    if single.all():  # only hash collisions: no episode was carried twice
        return episodes.cast(dict(EPISODE_SCHEMA)), empty_duplicates()
    repeated = repeated.filter(~single)
    is_winner = episode_key.is_last_distinct()
    start_fields = [c for c in CANONICAL_COLUMNS if c not in END_FIELDS]
    winners = repeated.filter(is_winner)
    earlier = repeated.filter(~is_winner)
    compared = earlier.join(winners, on=key, suffix="_senast", nulls_equal=True)

    def same(cols: list[str]) -> pl.Expr:
        return pl.all_horizontal(
            pl.col(c).eq_missing(pl.col(f"{c}_senast")) for c in cols if c not in key
        )

    kind = (
        pl.when(same(list(CANONICAL_COLUMNS)))
        .then(pl.lit("identisk"))
        .when(same(start_fields) & pl.col("slutdatum").is_null())
        .then(pl.lit("avslut_tillagt"))
        .otherwise(pl.lit("konflikt"))
    )
    duplicates = (
        compared.with_columns(kind.alias("skillnad"))
        .group_by(key)
        .agg(
            (pl.len() + 1).alias("versioner"),
            pl.when((pl.col("skillnad") == "konflikt").any())
            .then(pl.lit("konflikt"))
            .when((pl.col("skillnad") == "avslut_tillagt").any())
            .then(pl.lit("avslut_tillagt"))
            .otherwise(pl.lit("identisk"))
            .alias("skillnad"),
        )
        .with_columns(pl.col("versioner").cast(pl.Int64))
        .sort(key)
    )
    return episodes.cast(dict(EPISODE_SCHEMA)), duplicates


# --- Episodes kept with a warning -------------------------------------------------------------

_DATE_PART = re.compile(r"(?:19|20)[0-9]{2}(?:[-_.]?[0-9]{2}){0,2}")


def export_series(relative: str) -> str:
    """Which export series a file belongs to: its folder and its name without dates.

    A party's cumulative exports differ only in their date (docs/antaganden.md, I15).

    >>> export_series("kommun/2025-06_export.csv") == export_series("kommun/2024-12_export.xlsx")
    True
    >>> export_series("a/2025_x.csv") == export_series("b/2025_x.csv")
    False
    """
    path = PurePosixPath(relative)
    stem = _DATE_PART.sub("", path.stem).strip(" -_.").lower()
    return f"{path.parent.as_posix()}/{stem}"


def flag_episodes(
    episodes: pl.DataFrame, results: list[FileResult], files: list[RawFile]
) -> pl.DataFrame:
    """Episodes kept with a warning (FLAGGED_SCHEMA): a newer version was quarantined, or the
    latest export of the series that carried them no longer does.

    `episodes` hold the winning version's global `_position` (merge_episodes); `results` and
    `files` are in path order.
    """
    key = list(EPISODE_KEY)
    if not results:
        return pl.DataFrame(schema=FLAGGED_SCHEMA)
    names = pl.DataFrame(
        {"_file": list(range(len(files))), "fil": [f.relative for f in files]},
        schema={"_file": pl.Int64, "fil": pl.String},
    )
    winners = episodes.select(*key, pl.col(POSITION).alias("_won"))
    rejected = _file_positions([r.rejected_keys for r in results])
    newer = (
        rejected.group_by(key)
        .agg(pl.col(POSITION).max())
        .join(winners, on=key)
        .filter(pl.col(POSITION) > pl.col("_won"))
        .select(
            *key, flagga=pl.lit("nyare_version_i_karantan"), _file=pl.col(POSITION) // (1 << 48)
        )
    )
    read = [i for i, r in enumerate(results) if r.log_row["status"] == "inlast"]
    members: dict[str, list[int]] = {}
    for i in read:  # a loop over files
        members.setdefault(export_series(files[i].relative), []).append(i)
    gone = []
    for series in members.values():  # a loop over series of exports
        if len(series) < 2:
            continue
        *earlier, last = series
        carried = pl.concat(
            [results[last].episodes.select(key), results[last].rejected_keys.select(key)]
        ).unique()
        previous = results[earlier[-1]].episodes.select(key).unique()
        # Only a cumulative series repeats what it sent before; an incremental one (each
        # export holds what is new) would flag nearly everything, so it is left alone.
        kept_share = previous.join(carried, on=key).height / max(previous.height, 1)
        if kept_share < CUMULATIVE_SHARE:
            continue
        won_here = winners.filter((pl.col("_won") // (1 << 48)).is_in(earlier))
        gone.append(
            won_here.join(carried, on=key, how="anti").select(
                *key, flagga=pl.lit("saknas_i_senaste_exporten"), _file=pl.lit(last, pl.Int64)
            )
        )
    flagged = pl.concat([newer.cast({"_file": pl.Int64}), *gone])
    return (
        flagged.join(names, on="_file", how="left")
        .select(FLAGGED_SCHEMA.names())
        .sort("insats_id", "deltagare_id", "startdatum", "flagga")
        .cast(dict(FLAGGED_SCHEMA))
    )


def empty_duplicates() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "deltagare_id": pl.String,
            "insats_id": pl.String,
            "startdatum": pl.Date,
            "versioner": pl.Int64,
            "skillnad": pl.String,
        }
    )
