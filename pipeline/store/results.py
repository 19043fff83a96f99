"""What a store build gives and the names of its files."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipeline.core.catalog import Catalog
from pipeline.core.contract import (
    COUNTED_SCHEMA,
    EPISODE_KEY,
    EPISODE_SCHEMA,
    FLAGGED_SCHEMA,
)
from pipeline.ingest import (
    KEY_SCHEMA,
)
from pipeline.store import views

DERIVED_FILE = views.DERIVED_FILE
DUPLICATES_FILE = "dubbletter.parquet"
FLAGGED_FILE = "flaggade_episoder.parquet"
STATE_FILE = "tillstand.json"
CACHE_DIR = ".cache"
# Bump when reading or validation rules change, so cached per-file results are not reused.
RULES_VERSION = "5"
# Order of a row in the merge: file number, sheet number and row, packed in one Int64.
POSITION = "_position"
CACHE_PARTS = ("episodes", "quarantine", "rejected_keys", "counted")
# A series of exports is cumulative when its latest export still carries at least this share
# of the episodes of the export before it (docs/antaganden.md, I15).
CUMULATIVE_SHARE = 0.8


# Fields that a cumulative export fills in when an episode ends; a later version that only
# adds these to an open episode is an ordinary update, not a conflict.
END_FIELDS = (
    "slutdatum",
    "forsorjning_efter",
    "sysselsattning_efter",
    "omfattning_efter",
    "avslutsorsak",
    "steg_slut",
    "narmare_arbete",
)


class InputsChanged(Exception):
    """The raw folder changed during a run; nothing of this run was written to the store."""


class RawFileChanged(InputsChanged):
    """A raw file changed while it was read (e.g. it was still being copied in)."""

    def __init__(self, relative: str) -> None:
        self.relative = relative
        super().__init__(
            f"Filen {relative} i råmappen ändrades medan den lästes (kopieras den fortfarande "
            "dit?). Inget ur den har sparats."
        )


@dataclass
class FileResult:
    """What one raw file gave: good episodes and the keys of its quarantined rows (both with
    their position in the file, `_position`), its quarantine and its log row."""

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    log_row: dict[str, object]
    date_dependent: bool = False
    rejected_keys: pl.DataFrame = field(default_factory=lambda: empty_keys())
    counted: pl.DataFrame = field(default_factory=lambda: empty_counted())  # COUNTED_SCHEMA


@dataclass
class StoreResult:
    """The outcome of a store build: what the caller reports and decides an exit code on."""

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    files: pl.DataFrame
    duplicates: pl.DataFrame
    catalog: Catalog
    changed: bool
    flagged: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FLAGGED_SCHEMA))
    files_reread: int = 0
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""  # of the inputs (tillstand.json holds it once written)
    # Counted participants (COUNTED_SCHEMA), one row per insats, year and slag.
    counted: pl.DataFrame = field(default_factory=lambda: empty_counted())

    @property
    def rejected_rows(self) -> int:
        return int(self.files["avvisade_rader"].sum())

    @property
    def rejected_files(self) -> int:
        return self.files.filter(pl.col("status") == "avvisad").height

    @property
    def files_read(self) -> int:
        return self.files.filter(pl.col("status") == "inlast").height


def empty_episodes() -> pl.DataFrame:
    return pl.DataFrame(schema={POSITION: pl.Int64, **EPISODE_SCHEMA})


def empty_keys() -> pl.DataFrame:
    return pl.DataFrame(schema={POSITION: pl.Int64, **{c: KEY_SCHEMA[c] for c in EPISODE_KEY}})


def empty_counted() -> pl.DataFrame:
    return pl.DataFrame(schema=COUNTED_SCHEMA)
