"""Smoke test of the benchmark (benchmarks/) at 2 000 episodes, and the pandas cross-check.

The pandas reference computes deltagare, utfall and maluppfyllelse independently of
pipeline.measures.definitions/statistics; equal tables on the same files cross-check the measures.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks import pandas_reference, stages
from benchmarks.inputs import END_YEAR, START_YEAR, ensure_inputs, input_info
from benchmarks.run import Measure, SizeResult, evaluate
from pipeline.core.period import Period
from pipeline.example.generator import generate_episodes
from pipeline.measures.statistics import compute_tables
from pipeline.store import build_store

N = 2_000
N_INSATSER = 18  # two förbund: ten files, so that the test takes seconds
TODAY = dt.date(END_YEAR + 1, 1, 31)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_inputs(tmp_path_factory.mktemp("bench"), N, seed=7, n_insatser=N_INSATSER)


def _stage(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    stages.main(list(argv))
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(stages.RESULT_PREFIX)
    return json.loads(line[len(stages.RESULT_PREFIX) :])


def test_inputs_are_cached_and_read_plainly(inputs: Path):
    info = input_info(inputs)
    assert info["params"]["n_episodes"] == N
    assert info["rows"] > N  # episodes open at a year end are repeated in the next export
    marker = (inputs / "KLAR.json").stat().st_mtime_ns
    assert ensure_inputs(inputs.parent.parent, N, 7, N_INSATSER) == inputs  # reused, not rewritten
    assert (inputs / "KLAR.json").stat().st_mtime_ns == marker
    assert stages.plain_read(inputs / "raw") == info["rows"]


def test_stages_run_and_count_every_row(inputs: Path, capsys: pytest.CaptureFixture[str]):
    raw = str(inputs / "raw")
    read = _stage(capsys, "read", "--raw", raw)
    validate = _stage(capsys, "validate", "--raw", raw, "--today", TODAY.isoformat())
    assert read["rows"] == validate["rows"] == input_info(inputs)["rows"]
    assert validate["quarantined"] == 0
    assert read["peak_mb"] > 0 and validate["seconds"] > 0


def test_nightly_stage_times_a_night_without_merging(inputs: Path, tmp_path: Path, capsys):
    args = ("--raw", str(inputs / "raw"), "--scratch", str(tmp_path), "--today", TODAY.isoformat())
    out = _stage(capsys, "nightly", *args)
    assert out["exit_codes"] == [0, 0]
    assert "inläsning" in out["stages"] and "sammanslagning" not in out["stages"]
    assert out["seconds"] > 0


@pytest.mark.slow
def test_example_stage_runs_make_reports_job(tmp_path: Path, capsys):
    out = _stage(capsys, "example", "--scratch", str(tmp_path), "--today", TODAY.isoformat())
    assert out["rows"] == 2600 and out["seconds"] > 0
    assert [s["name"] for s in out["stages"]][-1] == "publicering"


def test_pandas_reference_gives_the_pipelines_exact_tables(inputs: Path, tmp_path: Path):
    raw = inputs / "raw"
    store = build_store(raw, tmp_path / "processed", TODAY)
    # The last export holding an episode shows it as generated: the store is the generator's.
    generated = generate_episodes(N, N_INSATSER, 7, START_YEAR, END_YEAR)
    key = ["insats_id", "deltagare_id", "startdatum"]
    assert store.episodes.sort(key).equals(generated.sort(key))
    assert store.quarantine.height == 0
    assert set(store.duplicates["skillnad"]) <= {"avslut_tillagt", "identisk"}
    exact = compute_tables(store.episodes, store.catalog, Period.year(END_YEAR))
    reference, rows = pandas_reference.run(raw, END_YEAR)
    assert rows == N
    as_polars = {name: pl.from_pandas(df) for name, df in reference.items()}
    assert pandas_reference.compare_tables(exact, as_polars) == []
    # The comparison is not blind: one count off by one is found and named.
    utfall = as_polars["utfall"]
    as_polars["utfall"] = utfall.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.col("taljare") + 1)
        .otherwise(pl.col("taljare"))
        .alias("taljare")
    )
    problems = pandas_reference.compare_tables(exact, as_polars)
    assert len(problems) == 1 and problems[0].startswith("utfall.taljare: 1 värden")


def _result(size: int, **seconds: float) -> SizeResult:
    result = SizeResult(size, {})
    result.stages = {name: Measure(s, size, 100.0) for name, s in seconds.items()}
    return result


def test_targets_met_and_missed():
    results = {
        1_000_000: _result(1_000_000, floor=2.0, data_path=3.0, publish=4.0),
        10_000_000: _result(10_000_000, floor=10.0, data_path=31.0),
    }
    results[10_000_000].stages["store"] = Measure(20.0, 10_000_000, 3500.0)
    results[1_000_000].raw["nightly"] = {"seconds": 0.4, "stages": ["inläsning", "tabeller"]}
    targets = evaluate(results, {"make_report_s": 2.2, "seconds": 1.5})
    assert [t.status for t in targets] == ["MISSED", "MISSED", "MISSED", "MET", "MET"]
    # The worst size decides: 1.5 × at 1 M, 3.1 × at 10 M.
    assert targets[0].detail == "1 M: 3.0 s mot 2.0 s = 1.50 ×, 10 M: 31.0 s mot 10.0 s = 3.10 ×"
    assert targets[1].detail == "högst 3500 MB (store)"
    assert targets[2].detail == "4.0 s mot 3.0 s = 1.33 ×"
    assert targets[3].detail == "1 M: 0.40 s"
    results[10_000_000].stages["data_path"] = Measure(19.0, 10_000_000, 100.0)
    results[1_000_000].stages["publish"] = Measure(2.5, 1_000_000, 100.0)
    # A night with nothing new that merges anyway misses, whatever its time.
    results[10_000_000].raw["nightly"] = {"seconds": 0.1, "stages": ["sammanslagning"]}
    statuses = [t.status for t in evaluate(results, None)]
    assert statuses == ["MET", "MISSED", "MET", "MISSED", "NOT RUN"]
