"""A pooled store (several förbund in one): a report per förbund, equal to the förbund's own
records run alone, and the comparison report built only from what those reports show."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline.core.config import EXAMPLE_MARKER, Settings
from pipeline.core.period import Period
from pipeline.example.generator import generate_pooled_example
from pipeline.jobs.cli import EXIT_FAILED, main
from pipeline.jobs.run import run_pooled_report
from pipeline.publish.comparison import POOLED_ID
from pipeline.publish.disclosure import numeric

PERIOD = Period.year(2025)
TODAY = dt.date(2026, 2, 1)
N_INSATSER = 27  # three förbund of nine insatser


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    base = tmp_path_factory.mktemp("pooled")
    raw = base / "raw"
    generate_pooled_example(raw, n_episodes=6_000, n_insatser=N_INSATSER, seed=11)
    (raw / EXAMPLE_MARKER).unlink()  # run as real inputs (no example marking)
    settings = Settings(raw=raw, processed=base / "processed", reports=base / "reports")
    return base, run_pooled_report(settings, PERIOD, today=TODAY)


def _own_records_alone(raw: Path, forbund: str, target: Path) -> Path:
    """A raw folder of one förbund: its files and its insatser of the pooled catalog."""
    target.mkdir(parents=True)
    shutil.copytree(raw / forbund, target / forbund)
    head, *blocks = (raw / "insatser.toml").read_text(encoding="utf-8").split("\n[[insats]]")
    mine = [b for b in blocks if f'forbund = "{forbund}"' in b]
    (target / "insatser.toml").write_text(
        head + "".join(f"\n[[insats]]{b}" for b in mine), encoding="utf-8"
    )
    return target


@pytest.mark.slow
def test_every_forbund_gets_its_report_and_there_is_one_comparison(pooled):
    base, result = pooled
    label = base / "reports" / PERIOD.label
    assert sorted(result.reports) == ["F001", "F002", "F003"]
    for forbund in result.reports:
        assert (label / forbund / "rapport.html").exists()
        assert (label / forbund / "rapport.docx").exists()
        assert (base / "processed" / PERIOD.label / forbund / "deltagare.csv").exists()
        shown = pl.read_csv(label / forbund / "tabeller" / "deltagare.csv", infer_schema=False)
        ids = set(shown["insats_id"]) - {"TOTALT"}
        assert ids == {i for i, f in result.store.catalog.forbund_of.items() if f == forbund}
    assert result.comparison_dir == label / "jamforelse"
    assert (label / "jamforelse" / "rapport.html").exists()
    assert len(list((label / "jamforelse" / "diagram").glob("tratt_*.svg"))) >= 4


@pytest.mark.slow
def test_the_comparison_holds_only_sums_of_what_the_forbund_reports_show(pooled):
    base, _ = pooled
    label = base / "reports" / PERIOD.label
    comparison = pl.read_csv(label / "jamforelse" / "tabeller" / "jamforelse.csv")
    forbund_rows = comparison.filter(pl.col("grupp") == "forbund")
    for row in forbund_rows.filter(pl.col("id") != POOLED_ID).iter_rows(named=True):
        utfall = pl.read_csv(label / row["id"] / "tabeller" / "utfall.csv", infer_schema=False)
        shown = utfall.filter(
            (pl.col("insats_id") == "TOTALT")
            & (pl.col("kon") == "alla")
            & (pl.col("matt") == row["matt"])
        ).select(numeric("namnare"), numeric("taljare"))
        assert shown.row(0) == (row["namnare"], row["taljare"])
    sums = (
        forbund_rows.filter(pl.col("id") != POOLED_ID)
        .group_by("matt")
        .agg(pl.col("namnare", "taljare").sum(), pl.len().cast(pl.Int64).alias("antal_visade"))
    )
    pooled_rows = forbund_rows.filter(pl.col("id") == POOLED_ID).select(sums.columns)
    assert pooled_rows.sort("matt").rows() == sums.sort("matt").rows()


@pytest.mark.slow
def test_a_forbunds_report_equals_its_own_records_run_alone(pooled, tmp_path: Path):
    base, _ = pooled
    alone_raw = _own_records_alone(base / "raw", "F002", tmp_path / "raw")
    settings = Settings(raw=alone_raw, processed=tmp_path / "processed", reports=tmp_path / "r")
    alone = run_pooled_report(settings, PERIOD, ["F002"], today=TODAY)
    assert alone.comparison_dir is None  # one förbund named: no comparison
    pooled_dir = base / "reports" / PERIOD.label / "F002"
    alone_dir = alone.reports["F002"].report_dir
    compared = 0
    for sub in ("tabeller", "diagram"):
        names = sorted(p.name for p in (pooled_dir / sub).iterdir())
        assert names == sorted(p.name for p in (alone_dir / sub).iterdir())
        for name in names:
            if name.endswith(".xlsx"):  # lists the store's input files, which differ
                continue
            assert (pooled_dir / sub / name).read_bytes() == (alone_dir / sub / name).read_bytes()
            compared += 1
    assert compared > 20
    exact = base / "processed" / PERIOD.label / "F002"
    for path in exact.glob("*.parquet"):
        assert pl.read_parquet(path).equals(
            pl.read_parquet(alone.reports["F002"].exact_dir / path.name)
        )


@pytest.mark.slow
def test_a_pooled_store_is_not_reported_as_one_and_an_unknown_forbund_is_named(pooled, capsys):
    base, _ = pooled
    args = ["report", "--raw", str(base / "raw"), "--processed", str(base / "processed")]
    args += ["--reports", str(base / "other"), "--year", "2025"]
    assert main(args) == EXIT_FAILED
    assert "--alla-forbund" in capsys.readouterr().err
    assert main([*args, "--forbund", "F9"]) == EXIT_FAILED
    assert "F9 finns inte" in capsys.readouterr().err
    assert not (base / "other" / "2025").exists()
