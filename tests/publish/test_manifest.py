"""manifest.json: inputs, outputs with sha256, and the only timestamp of a report."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from pipeline.publish.manifest import build_manifest, created_time, source_date, write_manifest
from tests.fixtures.publicering import tabeller as fx


def test_source_date_epoch_fixes_the_time():
    assert created_time({"SOURCE_DATE_EPOCH": "1767139200"}) == dt.datetime(
        2025, 12, 31, tzinfo=dt.UTC
    )
    assert source_date({"SOURCE_DATE_EPOCH": ""}) is None
    now = created_time({})
    assert abs((dt.datetime.now(tz=dt.UTC) - now).total_seconds()) < 5


def test_manifest_lists_inputs_and_hashes_outputs(tmp_path):
    (tmp_path / "tabeller").mkdir()
    a = tmp_path / "tabeller" / "deltagare.csv"
    b = tmp_path / "rapport.html"
    a.write_bytes(b"insats_id\nA\n")
    b.write_bytes(b"<html></html>")
    created = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)
    m = build_manifest(tmp_path, [b, a], fx.context(), created)
    assert m["created"] == "2025-12-31T00:00:00Z"
    assert m["k"] == 5 and m["code_version"] == "v1" and m["example_data"] is True
    assert m["period"] == {"label": "2025", "start": "2025-01-01", "end": "2025-12-31", "days": 365}
    assert [i["fil"] for i in m["inputs"]] == [
        "2025-06_kommun.csv",
        "2025-12_region.xlsx",
        "trasig.csv",
    ]
    # Row counts per file are counts of persons: never in a published manifest.
    assert set(m["inputs"][0]) == {"fil", "sha256", "format", "status", "meddelande"}
    assert "input_rows" not in m and "rejected_rows" not in m
    assert m["outputs"] == [
        {
            "fil": "rapport.html",
            "sha256": hashlib.sha256(b"<html></html>").hexdigest(),
            "bytes": 13,
        },
        {
            "fil": "tabeller/deltagare.csv",
            "sha256": hashlib.sha256(b"insats_id\nA\n").hexdigest(),
            "bytes": 12,
        },
    ]
    path = write_manifest(tmp_path, m)
    assert json.loads(path.read_text(encoding="utf-8")) == m
