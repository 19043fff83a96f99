"""Uppföljningspipeline för samordningsförbund (Finsam).

The Python API for notebooks (see `pipeline.api`)::

    import pipeline as fp
    episoder = fp.load_episodes("data/processed")
    katalog = fp.load_catalog("data/raw")
    tabeller = fp.compute_tables(episoder, katalog, fp.Period.year(2025))

The API is loaded on first use, so that a stage module (e.g. the chart workers, which run
in spawned processes) imports only what it needs.
"""

from __future__ import annotations

from typing import Any

# The public API, defined in pipeline.api.
__all__ = [
    "Catalog",
    "Period",
    "Settings",
    "bakgrund_table",
    "build_store",
    "compute_tables",
    "connect",
    "deltagare_table",
    "forsorjning_fore_efter_table",
    "load_catalog",
    "load_episodes",
    "maluppfyllelse_table",
    "read_catalog",
    "run_report",
    "tid_i_insats_table",
    "trend_table",
    "utfall_kon_table",
    "utfall_table",
]


def __getattr__(name: str) -> Any:
    # Only API names load pipeline.api; any other name (a submodule being imported, say)
    # must fail fast, or `from pipeline import style` would recurse into here.
    if name in __all__:
        from pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
