"""The processed store: current, validated episodes and the record of what was rejected
(`build_store`; the files it writes are listed in `pipeline.store.build`)."""

from pipeline.store.build import build_store
from pipeline.store.database import read_state
from pipeline.store.merge import merge_episodes
from pipeline.store.results import END_FIELDS, InputsChanged, RawFileChanged, StoreResult

__all__ = [
    "END_FIELDS",
    "InputsChanged",
    "RawFileChanged",
    "StoreResult",
    "build_store",
    "merge_episodes",
    "read_state",
]
