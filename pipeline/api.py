"""The Python API for analysts' notebooks: load the store, compute any table, open DuckDB.

Everything here is a thin re-export or a one-line convenience over the stage modules, so a
notebook and the batch report use the very same definitions.

>>> import pipeline as fp
>>> sorted(name for name in fp.__all__ if name.endswith("_table"))[:3]
['bakgrund_table', 'deltagare_table', 'forsorjning_fore_efter_table']
"""

# ruff: noqa: F401 (this module re-exports; the public names are listed in pipeline.__all__)
from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline.core.catalog import Catalog, read_catalog
from pipeline.core.config import DUCKDB_FILE, EPISODES_FILE, Settings
from pipeline.core.period import Period
from pipeline.jobs.run import run_report
from pipeline.measures.statistics import (
    bakgrund_table,
    compute_tables,
    deltagare_table,
    forsorjning_fore_efter_table,
    maluppfyllelse_table,
    tid_i_insats_table,
    trend_table,
    utfall_kon_table,
    utfall_table,
)
from pipeline.store import build_store


def load_episodes(processed: str | Path = "data/processed", *, lazy: bool = False):
    """The store's episodes (episoder.parquet) as a DataFrame, or a LazyFrame with lazy=True."""
    path = Path(processed) / EPISODES_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} saknas: kör `make ingest` eller `make report` först")
    return pl.scan_parquet(path) if lazy else pl.read_parquet(path)


def load_catalog(raw: str | Path = "data/raw") -> Catalog:
    """The insats catalog (insatser.toml) of the raw folder."""
    return read_catalog(Path(raw) / "insatser.toml")


def connect(processed: str | Path = "data/processed") -> duckdb.DuckDBPyConnection:
    """The analysts' DuckDB database, read-only (the nightly job replaces the file safely)."""
    path = Path(processed) / DUCKDB_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} saknas: kör `make ingest` eller `make report` först")
    return duckdb.connect(str(path), read_only=True)
