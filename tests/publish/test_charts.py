"""Charts: drawn from published tables only, Swedish texts, deterministic bytes."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from pipeline.core.period import Period
from pipeline.publish import charts
from pipeline.publish.charts import (
    ChartSpec,
    chart_plan,
    chart_pool,
    chart_specs,
    render_chart,
    render_charts,
)
from pipeline.publish.disclosure import suppress_tables
from tests.fixtures.publicering import tabeller as fx


@pytest.fixture(scope="module")
def published():
    return suppress_tables(fx.tables(), 5, link_year=2025)


@pytest.fixture(scope="module")
def specs(published):
    return chart_specs(published, fx.catalog(), Period.year(2025), 5, True)


def spec_named(specs, name) -> ChartSpec:
    return next(s for s in specs if s.name == name)


def test_every_board_chart_is_there(specs):
    names = {s.name for s in specs}
    assert {
        "maluppfyllelse",
        "deltagare_kon",
        "utfall_kon",
        "arsplatser",
        "forsorjning_fore_efter",
        "avslutsorsak",
        "trend",
        "insats_A_avslutsorsak",
        "insats_A_trend",
        "insats_B_trend",
    } <= names
    for s in specs:
        assert "år 2025" in s.title or "2024–2025" in s.title, s.title
        assert "Samordningsförbundet Exempeldalen" in s.subtitle
        assert "bearbetning Samordningsförbundet Exempeldalen" in s.footnote.replace("\n", " ")
        assert s.example


def test_suppressed_numbers_are_not_drawn(specs):
    kon = spec_named(specs, "deltagare_kon").data
    women, men = kon["series"]
    # Beta has 3 women and 4 men: published as "<5", so nothing is drawn and the marker shown.
    assert women["values"] == [13.0, None, 15.0]
    assert women["markers"] == [None, "<5", None]
    assert men["values"] == [10.0, None, 14.0]
    goal = spec_named(specs, "maluppfyllelse").data
    # Alfa's taljare is secondary-suppressed and Beta's is < 5: neither share is drawn.
    assert goal["share"] == [None, None]
    assert goal["target"] == [0.5, 0.4]
    # A hidden share is published as "för få deltagare" (its bedömning is hidden too).
    assert all("dolt" in n or n.startswith("För få") for n in goal["note"])


def test_visible_numbers_are_drawn_with_k_3(published):
    lax = suppress_tables(fx.tables(), 3, link_year=2025)
    specs = chart_specs(lax, fx.catalog(), Period.year(2025), 3, False)
    goal = spec_named(specs, "maluppfyllelse").data
    # With k = 3 Beta's 3 of 6 (complement 3) is shown: 50 %.
    assert goal["share"][1] == pytest.approx(0.5)
    assert goal["lo"][1] == pytest.approx(fx.wilson(3, 6)[0], abs=1e-4)
    assert not spec_named(specs, "trend").example


def test_chart_files_are_identical_between_runs(tmp_path, specs):
    spec = spec_named(specs, "maluppfyllelse")
    first = tmp_path / "a"
    second = tmp_path / "b"
    render_chart(spec, first)
    render_chart(spec, second)
    for suffix in ("png", "svg"):
        a = (first / f"maluppfyllelse.{suffix}").read_bytes()
        b = (second / f"maluppfyllelse.{suffix}").read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
    svg = (first / "maluppfyllelse.svg").read_text()
    assert "<dc:date>" not in svg
    png = (first / "maluppfyllelse.png").read_bytes()
    assert b"matplotlib" not in png.lower()
    # Print resolution: 200 dpi on an 8 inch wide figure.
    assert int.from_bytes(png[16:20], "big") == 1600


@pytest.mark.slow
def test_parallel_rendering_gives_the_same_files(tmp_path, specs):
    serial, parallel = tmp_path / "s", tmp_path / "p"
    render_charts(specs[:4], serial, threshold=100)
    render_charts(specs[:4], parallel, threshold=1)
    # The report's way: processes started before the specs are known (while the audit runs).
    early = tmp_path / "e"
    with chart_pool(4, threshold=1) as pool:
        assert pool is not None
        render_charts(specs[:4], early, threshold=1, pool=pool)
    for spec in specs[:4]:
        for suffix in ("png", "svg"):
            name = f"{spec.name}.{suffix}"
            assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
            assert (serial / name).read_bytes() == (early / name).read_bytes(), name


def test_no_drawing_processes_for_few_charts():
    with chart_pool(12, threshold=12) as pool:
        assert pool is None


def test_chart_plan_is_known_before_protection(published, specs):
    # The plan (from the tables' names only) is what decides early whether to start drawing
    # processes: an upper bound of the charts, some of which have nothing to draw.
    plan = chart_plan(published, fx.catalog())
    assert len(plan) >= len(specs)
    only_volume = {n: t for n, t in published.items() if n != "maluppfyllelse"}
    fewer = chart_specs(only_volume, fx.catalog(), Period.year(2025), 5, False)
    assert len(chart_plan(only_volume, fx.catalog())) == len(plan) - 1
    assert len(fewer) == len(specs) - 1


def test_fore_efter_matrix_keeps_markers(specs):
    d = spec_named(specs, "forsorjning_fore_efter").data
    assert d["rows"] == ["Sjukpenning", "A-kassa", "Försörjningsstöd"]
    assert d["cols"] == [
        "Sjukpenning",
        "A-kassa",
        "Försörjningsstöd",
        "Ingen offentlig försörjning",
    ]
    # TOTALT sjukpenning → sjukpenning is 2: hidden with "<5"; absent combinations are None.
    assert d["values"][0][0] is None and d["markers"][0][0] == "<5"
    assert d["values"][0][1] is None and d["markers"][0][1] is None


def test_swedish_number_format_on_axes():
    spec = ChartSpec(
        name="x",
        kind="staplar",
        title="T",
        subtitle="S",
        footnote="F",
        alt="A",
        data={"labels": ["a"], "values": [1234.0], "markers": [None], "color": "#000"},
    )
    fig = charts.draw(spec)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert any("\u00a0" in label for label in labels), labels
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "1\u00a0234" in texts


def test_no_chart_without_share_targets(published):
    only_volume = dict(published)
    only_volume["maluppfyllelse"] = published["maluppfyllelse"].filter(
        pl.col("matt").is_in(["arsplatser", "deltagare"])
    )
    specs = chart_specs(only_volume, fx.catalog(), Period.year(2025), 5, False)
    assert "maluppfyllelse" not in {s.name for s in specs}


@pytest.mark.slow
def test_png_for_foerbund_charts_svg_for_insats_charts(tmp_path, specs):
    files = render_charts(specs, tmp_path, threshold=100)
    for spec, names in zip(specs, files, strict=True):
        expected = (
            (f"{spec.name}.png", f"{spec.name}.svg")
            if spec.insats_id is None
            else (f"{spec.name}.svg",)
        )
        assert names == expected, spec.name
        assert all((tmp_path / n).exists() for n in names)
    assert any(s.insats_id for s in specs) and any(s.insats_id is None for s in specs)


def test_no_per_insats_charts_for_a_pooled_national_store(monkeypatch, published):
    monkeypatch.setattr(charts, "MAX_INSATSER_WITH_CHARTS", 1)
    specs = chart_specs(published, fx.catalog(), Period.year(2025), 5, False)
    assert specs and all(s.insats_id is None for s in specs)
