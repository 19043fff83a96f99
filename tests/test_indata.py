"""docs/indata.md, the parties' guide: it names every column, code, text and rule of the
contract, and its example rows are read in without a single error."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

from pipeline.core.contract import CODE_TEXTS, COLUMNS
from pipeline.ingest.validate import RULES
from pipeline.store import build_store

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "indata.md").read_text(encoding="utf-8")


def test_the_guide_names_every_column_code_text_and_rule():
    for column in COLUMNS:
        assert f"| {column.aliases[0]} | `{column.name}` |" in GUIDE
        for code in column.codes or ():
            assert f"| `{code}` | {CODE_TEXTS[code]} |" in GUIDE
    for rule, message in RULES.items():
        assert f"| `{rule}` | {message} |" in GUIDE


def test_the_guides_example_rows_are_read_in_whole(tmp_path: Path):
    example = re.search(r"## Exempel på bra rader\n\n```text\n(.*?)```", GUIDE, re.S).group(1)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "ingest" / "insatser.toml", raw)
    (raw / "2025-11_exempel.csv").write_text(example, encoding="utf-8")
    store = build_store(raw, tmp_path / "processed", dt.date(2026, 1, 1))
    assert store.quarantine.height == 0 and store.rejected_files == 0
    assert store.episodes.height == example.count("\n") - 1
