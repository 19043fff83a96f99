"""Charts of the published (suppressed) tables: PNG for print and SVG for the web report.

Every chart is described by a `ChartSpec` of plain data (picklable), drawn by one top-level
function on a `matplotlib.figure.Figure` (never pyplot, never matplotlib.use()) with fixed
sizes from `pipeline.publish.style`, and written with fixed metadata so that the bytes are the same
from run to run. Many charts are drawn in spawned processes.

Charts only draw numbers that are visible in the published tables: a hidden share or count
is not drawn, and the chart says so where it would have been.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import textwrap
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import matplotlib
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.core.atomic import write_bytes
from pipeline.core.catalog import Catalog
from pipeline.core.config import MAX_INSATSER_WITH_CHARTS
from pipeline.core.contract import FORSORJNING, OUTCOME_MEASURES, TOTAL_INSATS_ID
from pipeline.core.period import Period
from pipeline.core.progress import progress
from pipeline.publish import style
from pipeline.publish.disclosure import numeric
from pipeline.publish.legend import chart_note, source_note

# More charts than this are drawn in parallel processes.
PARALLEL_THRESHOLD = 12

RC = {
    "svg.hashsalt": "finsam-uppfoljning",
    "svg.fonttype": "path",
    "font.family": style.FONT_FAMILY,
    "font.size": style.TEXT_STORLEK,
    "axes.edgecolor": style.GRA,
    "axes.labelcolor": style.TEXTFARG,
    "xtick.color": style.TEXTFARG,
    "ytick.color": style.TEXTFARG,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": False,
}


@dataclass(frozen=True)
class ChartSpec:
    """One chart as plain data: what to draw (`kind`, `data`) and its texts."""

    name: str  # file stem under diagram/
    kind: str  # key of RENDERERS
    title: str
    subtitle: str
    footnote: str
    alt: str  # a sentence describing the chart, for the report's alt text
    data: dict[str, Any] = field(default_factory=dict)
    example: bool = False
    rows: int = 1  # bars or rows, for the figure height
    insats_id: str | None = None  # the insats the chart belongs to, None for the förbund
    png: bool = True  # also a print-resolution PNG (the SVG is always written)


# --- Drawing ----------------------------------------------------------------------------------


def _pct_axis(ax, axis: str = "x") -> None:
    fmt = FuncFormatter(lambda v, _pos: style.procent(v))
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(fmt)


def _count_axis(ax, axis: str = "x") -> None:
    fmt = FuncFormatter(lambda v, _pos: style.heltal(v))
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(fmt)
    target.set_major_locator(MaxNLocator(integer=True, nbins=6))


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _frame(spec: ChartSpec) -> tuple[Figure, Any]:
    """A figure of fixed size with title, subtitle, footnote and one axes placed inside."""
    height = style.chart_height(spec.rows)
    fig = Figure(figsize=(style.BREDD, height), dpi=style.DPI)
    FigureCanvasAgg(fig)
    top_in, bottom_in = 0.95, 0.55 + 0.13 * spec.footnote.count("\n") + 0.35
    fig.subplots_adjust(
        left=style.VANSTER,
        right=style.HOGER,
        top=1 - top_in / height,
        bottom=bottom_in / height,
    )
    ax = fig.add_subplot(1, 1, 1)
    fig.text(
        0.02,
        1 - 0.18 / height,
        spec.title,
        fontsize=style.TITEL_STORLEK,
        weight="bold",
        va="top",
        color=style.TEXTFARG,
    )
    fig.text(
        0.02,
        1 - 0.50 / height,
        spec.subtitle,
        fontsize=style.UNDERTITEL_STORLEK,
        va="top",
        color=style.TEXTFARG,
    )
    fig.text(
        0.02, 0.12 / height, spec.footnote, fontsize=style.FOTNOT_STORLEK, va="bottom", color="#444"
    )
    if spec.example:
        fig.text(
            0.98,
            1 - 0.18 / height,
            style.EXEMPEL_TEXT,
            fontsize=10,
            weight="bold",
            ha="right",
            va="top",
            color="white",
            bbox={"boxstyle": "square,pad=0.3", "fc": style.EXEMPEL_FARG, "ec": "none"},
        )
    return fig, ax


def _row_labels(ax, labels: Sequence[str]) -> list[float]:
    ys = list(range(len(labels)))[::-1]
    ax.set_yticks(ys, [_wrap(label, 30) for label in labels])
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.tick_params(axis="y", length=0)
    return ys


def _draw_andel_mot_mal(fig: Figure, ax, spec: ChartSpec) -> None:
    d = spec.data
    ys = _row_labels(ax, d["labels"])
    ax.set_xlim(0, 1.12)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    _pct_axis(ax)
    ax.grid(axis="x", color=style.LJUSGRA, lw=0.8)
    ax.set_axisbelow(True)
    for y, share, lo, hi, target, note in zip(
        ys, d["share"], d["lo"], d["hi"], d["target"], d["note"], strict=True
    ):
        if target is not None:
            ax.plot([target, target], [y - 0.36, y + 0.36], color=style.MALFARG, lw=2.2)
        if share is None:
            ax.text(0.01, y, note, va="center", fontsize=8.5, color=style.GRA, style="italic")
            continue
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=style.HUVUDFARG, lw=2.5, alpha=0.45)
        ax.plot([share], [y], "o", color=style.HUVUDFARG, ms=8)
        ax.text(
            min(max(share, hi or share) + 0.02, 1.0),
            y + 0.12,
            f"{style.procent(share)} {note}".strip(),
            va="bottom",
            fontsize=8.5,
        )
    ax.plot([], [], "o", color=style.HUVUDFARG, label="Utfall")
    ax.plot([], [], color=style.HUVUDFARG, lw=2.5, alpha=0.45, label="95 % konfidensintervall")
    ax.plot([], [], color=style.MALFARG, lw=2.2, label="Mål")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8)


def _bar_labels(ax, ys, values, markers, height, offset, xmax) -> None:
    for y, v, mk in zip(ys, values, markers, strict=True):
        if v is None:
            ax.text(xmax * 0.005, y + offset, mk or "", va="center", fontsize=8, color=style.GRA)
        else:
            ax.text(v + xmax * 0.01, y + offset, style.heltal(v), va="center", fontsize=8)


def _draw_grupperade_staplar(fig: Figure, ax, spec: ChartSpec) -> None:
    d = spec.data
    ys = _row_labels(ax, d["labels"])
    series = d["series"]
    n = len(series)
    height = 0.8 / n
    values = [v for s in series for v in s["values"] if v is not None]
    share = d.get("share", False)
    xmax = 1.0 if share else max([*values, 1]) * 1.15
    ax.set_xlim(0, xmax * (1.1 if share else 1))
    for i, s in enumerate(series):
        offset = (n - 1) / 2 * height - i * height
        bars = [v if v is not None else 0 for v in s["values"]]
        ax.barh(
            [y + offset for y in ys], bars, height=height * 0.92, color=s["color"], label=s["name"]
        )
        for y, v, mk in zip(ys, s["values"], s["markers"], strict=True):
            if v is None:
                ax.text(
                    xmax * 0.005, y + offset, mk or "", va="center", fontsize=7.5, color=style.GRA
                )
            else:
                text = style.procent(v) if share else style.heltal(v)
                ax.text(v + xmax * 0.01, y + offset, text, va="center", fontsize=7.5)
    if share:
        _pct_axis(ax)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    else:
        _count_axis(ax)
    ax.grid(axis="x", color=style.LJUSGRA, lw=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=n, frameon=False, fontsize=8)


def _draw_staplar(fig: Figure, ax, spec: ChartSpec) -> None:
    d = spec.data
    ys = _row_labels(ax, d["labels"])
    values = [v for v in d["values"] if v is not None]
    xmax = max([*values, 5]) * 1.15
    ax.set_xlim(0, xmax)
    ax.barh(ys, [v if v is not None else 0 for v in d["values"]], height=0.65, color=d["color"])
    _bar_labels(ax, ys, d["values"], d["markers"], 0.65, 0.0, xmax)
    targets = d.get("targets")
    if targets:
        for y, t in zip(ys, targets, strict=True):
            if t is not None:
                ax.plot([t, t], [y - 0.42, y + 0.42], color=style.MALFARG, lw=2.2)
        ax.plot([], [], color=style.MALFARG, lw=2.2, label="Mål")
        ax.set_xlim(0, max([*values, *[t for t in targets if t is not None], 5]) * 1.15)
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    _count_axis(ax)
    ax.grid(axis="x", color=style.LJUSGRA, lw=0.8)
    ax.set_axisbelow(True)
    if d.get("xlabel"):
        ax.set_xlabel(d["xlabel"])


def _draw_fore_efter(fig: Figure, ax, spec: ChartSpec) -> None:
    d = spec.data
    rows, cols = d["rows"], d["cols"]
    values = d["values"]  # rows × cols, None = hidden or absent
    markers = d["markers"]
    vmax = max([v for r in values for v in r if v is not None] + [1])
    cmap = matplotlib.colormaps["Blues"]
    for i in range(len(rows)):
        for j in range(len(cols)):
            v, mk = values[i][j], markers[i][j]
            y = len(rows) - 1 - i
            if v is None and mk:
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        (j - 0.5, y - 0.5), 1, 1, fc=style.LJUSGRA, ec="white", hatch="///", lw=1
                    )
                )
                ax.text(j, y, mk, ha="center", va="center", fontsize=8, color=style.TEXTFARG)
            elif v is not None:
                colour = cmap(0.15 + 0.85 * v / vmax)
                ax.add_patch(
                    matplotlib.patches.Rectangle((j - 0.5, y - 0.5), 1, 1, fc=colour, ec="white")
                )
                dark = v / vmax > 0.55
                ax.text(
                    j,
                    y,
                    style.heltal(v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else style.TEXTFARG,
                )
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(-0.5, len(rows) - 0.5)
    ax.set_xticks(range(len(cols)), [_wrap(c, 12) for c in cols], fontsize=7.5)
    ax.set_yticks(range(len(rows))[::-1], [_wrap(r, 30) for r in rows])
    ax.tick_params(length=0)
    ax.set_xlabel("Försörjning vid avslut")
    ax.set_ylabel("Försörjning före start")
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)


def _year_axis(ax, years: Sequence[int], top: float) -> None:
    """Years along x, shares 0..top along y with a light grid: the frame of a trend chart."""
    ax.set_ylim(0, top)
    ax.set_xlim(min(years) - 0.5, max(years) + 0.5)
    ax.set_xticks(years, [str(y) for y in years])
    _pct_axis(ax, "y")
    ax.grid(axis="y", color=style.LJUSGRA, lw=0.8)
    ax.set_axisbelow(True)


def _draw_trend(fig: Figure, ax, spec: ChartSpec) -> None:
    d = spec.data
    years = d["years"]
    for s in d["series"]:
        xs = [y for y, v in zip(years, s["values"], strict=True) if v is not None]
        vs = [v for v in s["values"] if v is not None]
        ax.plot(xs, vs, "o-", color=s["color"], lw=2, ms=6, label=s["name"])
        for x, v in zip(xs, vs, strict=True):
            ax.text(x, v + 0.03, style.procent(v), ha="center", fontsize=7.5, color=s["color"])
    if not any(v is not None for s in d["series"] for v in s["values"]):
        ax.text(
            sum(years) / len(years),
            0.5,
            "Inget år kan visas: utfallen är dolda av röjandeskäl.",
            ha="center",
            va="center",
            fontsize=10,
            color=style.GRA,
            style="italic",
        )
    _year_axis(ax, years, top=1.08)
    if d.get("ylabel"):
        ax.set_ylabel(d["ylabel"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)


def _draw_tratt(fig: Figure, ax, spec: ChartSpec) -> None:
    """Funnel plot: shares against bases, with control limits around the pooled share."""
    import numpy as np

    d = spec.data
    top = max(d["bases"]) * 1.08
    n = np.linspace(max(1.0, min(d["bases"]) * 0.5), top, 200)
    p = d["pooled"]
    for z, dash in zip(d["z"], ("--", ":"), strict=True):
        half = z * np.sqrt(p * (1 - p) / n)
        for limit in (np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)):
            ax.plot(n, limit, dash, color=style.GRA, lw=1.2)
    ax.axhline(p, color=style.HUVUDFARG, lw=1.5)
    colors = [style.MALFARG if out else style.HUVUDFARG for out in d["outside"]]
    ax.scatter(d["bases"], d["shares"], s=22, c=colors, zorder=3, edgecolors="white", lw=0.5)
    for x, y, name, out in zip(d["bases"], d["shares"], d["names"], d["outside"], strict=True):
        if out:  # only units outside the 99,8 % limits are named: no league table
            ax.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.02)
    _pct_axis(ax, "y")
    _count_axis(ax, "x")
    ax.set_xlabel("Avslutade deltagare (bas)")
    ax.set_ylabel("Andel")
    ax.grid(color=style.LJUSGRA, lw=0.8)
    ax.set_axisbelow(True)
    ax.plot([], [], "--", color=style.GRA, label="95 % kontrollgräns")
    ax.plot([], [], ":", color=style.GRA, label="99,8 % kontrollgräns")
    ax.plot([], [], color=style.HUVUDFARG, label="samlad andel")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)


def _draw_spridning(fig: Figure, ax, spec: ChartSpec) -> None:
    """One thin line per unit and a thick one for all of them together."""
    d = spec.data
    years = d["years"]
    for s in d["series"]:
        pooled = s["id"] == d["pooled_id"]
        xs = [y for y, v in zip(years, s["values"], strict=True) if v is not None]
        vs = [v for v in s["values"] if v is not None]
        ax.plot(
            xs,
            vs,
            "o-" if pooled else "-",
            color=style.HUVUDFARG if pooled else style.GRA,
            lw=2.5 if pooled else 0.8,
            alpha=1.0 if pooled else 0.6,
            zorder=3 if pooled else 2,
            label="Samtliga" if pooled else None,
        )
    _year_axis(ax, years, top=1.02)
    ax.plot([], [], "-", color=style.GRA, lw=0.8, label="ett förbund")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)


RENDERERS = {
    "andel_mot_mal": _draw_andel_mot_mal,
    "grupperade_staplar": _draw_grupperade_staplar,
    "staplar": _draw_staplar,
    "fore_efter": _draw_fore_efter,
    "trend": _draw_trend,
    "tratt": _draw_tratt,
    "spridning": _draw_spridning,
}


def draw(spec: ChartSpec) -> Figure:
    """The figure of one chart (not saved)."""
    with matplotlib.rc_context(RC):
        fig, ax = _frame(spec)
        if spec.kind in ("trend", "tratt", "spridning"):
            fig.subplots_adjust(left=0.10, right=0.75 if spec.kind != "trend" else 0.70)
        if spec.kind == "fore_efter":
            fig.subplots_adjust(left=0.27)
        RENDERERS[spec.kind](fig, ax, spec)
    return fig


def render_chart(spec: ChartSpec, out_dir: Path) -> tuple[str, ...]:
    """Draw one chart and write `<name>.svg` and, if `spec.png`, `<name>.png` (print
    resolution). Returns the file names written, the SVG last."""
    out_dir = Path(out_dir)
    written = []
    with matplotlib.rc_context(RC):
        fig = draw(spec)
        if spec.png:
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=style.DPI, metadata={"Software": None})
            write_bytes(out_dir / f"{spec.name}.png", png.getvalue())
            written.append(f"{spec.name}.png")
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
    write_bytes(out_dir / f"{spec.name}.svg", svg.getvalue())
    return (*written, f"{spec.name}.svg")


def _warm_up() -> None:
    """A drawing process's first task: load matplotlib's fonts and renderers."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(1, 1), dpi=style.DPI)
        fig.add_subplot().set_title("Åå")
        fig.savefig(io.BytesIO(), format="png")
        fig.savefig(io.BytesIO(), format="svg")


@contextlib.contextmanager
def chart_pool(
    expected: int, threshold: int = PARALLEL_THRESHOLD
) -> Iterator[ProcessPoolExecutor | None]:
    """Spawned processes to draw `expected` charts in, started at once, so that their
    start (Python, polars and matplotlib: about a second each) overlaps the work before the
    drawing; None when `expected` is no more than `threshold` (drawn here, in this process)."""
    if expected <= threshold:
        yield None
        return
    workers = max(1, min(os.cpu_count() or 1, 4, expected // 4))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        for _ in range(workers):  # each task starts one more process
            pool.submit(_warm_up)
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def render_charts(
    specs: Sequence[ChartSpec],
    out_dir: Path,
    threshold: int = PARALLEL_THRESHOLD,
    parallel: bool = True,
    pool: ProcessPoolExecutor | None = None,
) -> list[tuple[str, ...]]:
    """Render every chart; when there are more than `threshold`, in `pool`'s processes
    (`chart_pool`), or, `parallel`, in processes started for them."""
    if len(specs) <= threshold or not (parallel or pool):
        return [render_chart(s, out_dir) for s in progress(specs, "Ritar diagram")]
    if pool is None:
        with chart_pool(len(specs), threshold) as own:
            return render_charts(specs, out_dir, threshold, pool=own)
    drawn = pool.map(render_chart, specs, repeat(out_dir), chunksize=2)
    return list(progress(drawn, "Ritar diagram", total=len(specs)))


# --- What to draw: specs from the published tables --------------------------------------------


def _footnote(base: str, catalog: Catalog, k: int) -> str:
    return _wrap(f"{base} {source_note(catalog.forbund)} {chart_note(k)}", 125)


def _num(df: pl.DataFrame, col: str) -> list[float | None]:
    return df.select(numeric(col))[col].to_list()


def _text(df: pl.DataFrame, col: str) -> list[str | None]:
    return df[col].cast(pl.String).to_list()


def _marker(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        float(text)
    except ValueError:
        return text
    return None


def _safe_name(insats_id: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in insats_id)
    return keep or "insats"


def maluppfyllelse_spec(
    published: dict[str, pl.DataFrame], catalog: Catalog, period: Period, k: int, example: bool
) -> ChartSpec | None:
    m = published["maluppfyllelse"].filter(pl.col("matt").is_in(list(OUTCOME_MEASURES)))
    if m.height == 0:
        return None
    shares = m.with_columns(utfall=pl.col("utfall").cast(pl.Float64, strict=False))
    notes = []
    for b, n in zip(_text(m, "bedomning"), _text(m, "namnare"), strict=True):
        if b == "for_fa_deltagare":
            notes.append("För få deltagare för att visa utfallet")
        elif n is not None and _marker(n) is None:
            notes.append(f"(n = {style.count_text(n)})")
        else:
            notes.append("Utfallet dolt av röjandeskäl")
    shown = shares["utfall"].to_list()
    notes = [
        note if s is not None or note.startswith("För få") else "Utfallet dolt av röjandeskäl"
        for s, note in zip(shown, notes, strict=True)
    ]
    labels = [
        f"{ins}: {style.label(matt, style.MATT_NAMN).lower()}"
        for ins, matt in zip(m["insats"].to_list(), m["matt"].to_list(), strict=True)
    ]
    return ChartSpec(
        name="maluppfyllelse",
        kind="andel_mot_mal",
        title=f"Utfall mot mål per insats, {period.swedish}",
        subtitle=catalog.forbund,
        footnote=_footnote(
            "Andel av deltagare som avslutat under perioden (utom flyttat och avliden). "
            "Linjen kring punkten är ett 95 % konfidensintervall (Wilson).",
            catalog,
            k,
        ),
        alt="Utfall mot mål för varje insats och mått, med konfidensintervall och mållinje.",
        data={
            "labels": labels,
            "share": shown,
            "lo": m["ki_lag"].to_list(),
            "hi": m["ki_hog"].to_list(),
            "target": m["mal"].to_list(),
            "note": notes,
        },
        example=example,
        rows=m.height,
    )


def deltagare_kon_spec(published, catalog, period, k, example) -> ChartSpec:
    d = published["deltagare"]
    return ChartSpec(
        name="deltagare_kon",
        kind="grupperade_staplar",
        title=f"Deltagare per kön och insats, {period.swedish}",
        subtitle=catalog.forbund,
        footnote=_footnote(
            "Personer med en insats som pågick någon gång under perioden. En person kan delta "
            "i flera insatser men räknas en gång i förbundet totalt.",
            catalog,
            k,
        ),
        alt="Antal kvinnor och män per insats.",
        data={
            "labels": d["insats"].to_list(),
            "series": [
                {
                    "name": "Kvinnor",
                    "color": style.KVINNOR_FARG,
                    "values": _num(d, "kvinnor"),
                    "markers": [_marker(t) for t in _text(d, "kvinnor")],
                },
                {
                    "name": "Män",
                    "color": style.MAN_FARG,
                    "values": _num(d, "man"),
                    "markers": [_marker(t) for t in _text(d, "man")],
                },
            ],
        },
        example=example,
        rows=d.height * 2,
    )


def _first_share_matt(catalog: Catalog, insats_id: str) -> str:
    mal = catalog.mal.filter((pl.col("insats_id") == insats_id) & (pl.col("typ") == "andel"))
    return mal["matt"][0] if mal.height else "aktivitet_sysselsattning"


def utfall_kon_spec(published, catalog, period, k, example) -> ChartSpec | None:
    u = published["utfall"]
    ids = [*catalog.ids, TOTAL_INSATS_ID]
    wanted = pl.DataFrame({"insats_id": ids, "matt": [_first_share_matt(catalog, i) for i in ids]})
    rows = wanted.join(u, on=["insats_id", "matt"], how="inner", maintain_order="left")
    if rows.height == 0:
        return None
    by_kon = {kon: rows.filter(pl.col("kon") == kon) for kon in ("K", "M")}
    base = by_kon["K"]
    labels = [
        f"{ins}: {style.label(matt, style.MATT_NAMN).lower()}"
        for ins, matt in zip(base["insats"].to_list(), base["matt"].to_list(), strict=True)
    ]
    series = []
    for kon, name, colour in (("K", "Kvinnor", style.KVINNOR_FARG), ("M", "Män", style.MAN_FARG)):
        part = base.select("insats_id", "matt").join(
            by_kon[kon], on=["insats_id", "matt"], how="left", maintain_order="left"
        )
        values = part["andel"].to_list()
        series.append(
            {
                "name": name,
                "color": colour,
                "values": values,
                "markers": ["dolt" if v is None else None for v in values],
            }
        )
    return ChartSpec(
        name="utfall_kon",
        kind="grupperade_staplar",
        title=f"Utfall per kön, {period.swedish}",
        subtitle=f"{catalog.forbund} – varje insats med sitt första mål",
        footnote=_footnote(
            "Andel av deltagare som avslutat under perioden (utom flyttat och avliden). "
            "”dolt” = andelen visas inte av röjandeskäl.",
            catalog,
            k,
        ),
        alt="Andel kvinnor och män som nått utfallet, per insats.",
        data={"labels": labels, "series": series, "share": True},
        example=example,
        rows=base.height * 2,
    )


def arsplatser_spec(published, catalog, period, k, example) -> ChartSpec:
    d = published["deltagare"].filter(pl.col("insats_id") != TOTAL_INSATS_ID)
    targets = catalog.mal.filter(pl.col("matt") == "arsplatser").select(
        "insats_id", pl.col("mal").alias("_mal")
    )
    d = d.join(targets, on="insats_id", how="left", maintain_order="left")
    return ChartSpec(
        name="arsplatser",
        kind="staplar",
        title=f"Årsplatser mot mål, {period.swedish}",
        subtitle=catalog.forbund,
        footnote=_footnote(
            "Årsplatser = summan av inskrivna dagar under perioden delat med periodens dagar.",
            catalog,
            k,
        ),
        alt="Årsplatser per insats med mål där insatsen har ett.",
        data={
            "labels": d["insats"].to_list(),
            "values": _num(d, "arsplatser"),
            "markers": [_marker(t) for t in _text(d, "arsplatser")],
            "targets": d["_mal"].to_list(),
            "color": style.HUVUDFARG,
            "xlabel": "Årsplatser",
        },
        example=example,
        rows=d.height,
    )


def kostnad_spec(published, catalog, period, k, example) -> ChartSpec | None:
    """Kostnad per deltagare per insats; a hidden one is marked as its count is."""
    costs = published["kostnad"].filter(pl.col("insats_id") != TOTAL_INSATS_ID)
    costs = costs.unique("insats_id", keep="first", maintain_order=True).filter(
        # Insatser with records (a strukturövergripande one has no deltagare cell) and
        # persons: a hidden count (`<5`, `..`) is kept and marked.
        pl.col("kostnad").is_not_null()
        & pl.col("deltagare").is_not_null()
        & (numeric("deltagare").fill_null(1) > 0)
    )
    if costs.height == 0:
        return None
    return ChartSpec(
        name="kostnad",
        kind="staplar",
        title=f"Kostnad per deltagare, {period.swedish}",
        subtitle=catalog.forbund,
        footnote=_footnote(
            "Insatsens kostnad (utfall) under året delad med antalet deltagare (personer).",
            catalog,
            k,
        ),
        alt="Kostnad per deltagare i kronor per insats.",
        data={
            "labels": costs["insats"].to_list(),
            "values": [
                None if v is None else v / 1000 for v in costs["kostnad_per_deltagare"].to_list()
            ],
            "markers": [
                None if v is not None else _marker(t)
                for v, t in zip(
                    costs["kostnad_per_deltagare"].to_list(), _text(costs, "deltagare"), strict=True
                )
            ],
            "color": style.HUVUDFARG,
            "xlabel": "Tusen kronor per deltagare",
        },
        example=example,
        rows=costs.height,
    )


def bakgrund_spec(
    published, catalog, period, k, example, insats_id: str, variabel: str, name: str, base: str
) -> ChartSpec | None:
    b = published["bakgrund"].filter(
        (pl.col("insats_id") == insats_id) & (pl.col("variabel") == variabel)
    )
    if b.height == 0:
        return None
    insats = b["insats"][0]
    titel = style.label(variabel, style.VARIABEL_NAMN)
    return ChartSpec(
        name=name,
        kind="staplar",
        title=f"{titel}, {period.swedish}",
        subtitle=f"{insats} – {catalog.forbund}"
        if insats_id != TOTAL_INSATS_ID
        else catalog.forbund,
        footnote=_footnote(base, catalog, k),
        alt=f"{titel} för {insats}: antal per kategori.",
        data={
            "labels": [style.label(c) for c in b["kategori"].to_list()],
            "values": _num(b, "totalt"),
            "markers": [_marker(t) for t in _text(b, "totalt")],
            "color": style.EFTER_FARG if variabel.endswith("_efter") else style.HUVUDFARG,
            "xlabel": "Antal",
        },
        example=example,
        rows=b.height,
        insats_id=None if insats_id == TOTAL_INSATS_ID else insats_id,
    )


def fore_efter_spec(published, catalog, period, k, example) -> ChartSpec | None:
    f = published["forsorjning_fore_efter"].filter(pl.col("insats_id") == TOTAL_INSATS_ID)
    if f.height == 0:
        return None
    present_rows = set(f["forsorjning_fore"].to_list())
    present_cols = set(f["forsorjning_efter"].to_list())
    order = [*FORSORJNING, "uppgift_saknas"]
    extra_r = sorted(present_rows - set(order))
    extra_c = sorted(present_cols - set(order))
    rows = [c for c in order if c in present_rows] + extra_r
    cols = [c for c in order if c in present_cols] + extra_c
    lookup = {
        (a, b): t
        for a, b, t in zip(
            f["forsorjning_fore"].to_list(),
            f["forsorjning_efter"].to_list(),
            _text(f, "antal"),
            strict=True,
        )
    }
    values, markers = [], []
    for r in rows:
        vr, mr = [], []
        for c in cols:
            t = lookup.get((r, c))
            mk = _marker(t)
            vr.append(None if t is None or mk else float(t))
            mr.append(mk)
        values.append(vr)
        markers.append(mr)
    return ChartSpec(
        name="forsorjning_fore_efter",
        kind="fore_efter",
        title=f"Försörjning före och efter insatsen, {period.swedish}",
        subtitle=f"{catalog.forbund} – alla insatser",
        footnote=_footnote(
            "Antal avslutade deltagare per kombination av försörjning före start och vid "
            "avslut. Tomma rutor = inga deltagare.",
            catalog,
            k,
        ),
        alt="Korstabell över försörjning före start och vid avslut för förbundet.",
        data={
            "rows": [style.label(r) for r in rows],
            "cols": [style.label(c) for c in cols],
            "values": values,
            "markers": markers,
        },
        example=example,
        rows=max(len(rows), 6),
    )


def trend_spec(
    published, catalog, period, k, example, insats_id: str | None = None
) -> ChartSpec | None:
    t = published["trend"]
    if insats_id is not None:
        t = t.filter(pl.col("insats_id") == insats_id)
    if t.height == 0:
        return None
    years = sorted(set(t["ar"].to_list()))
    series = []
    order = [*catalog.ids, TOTAL_INSATS_ID]
    ids = [i for i in order if i in set(t["insats_id"].to_list())]
    for n, iid in enumerate(ids):
        part = t.filter(pl.col("insats_id") == iid)
        by_year = dict(zip(part["ar"].to_list(), part["andel"].to_list(), strict=True))
        matt = part["matt"][0]
        colour = style.TEXTFARG if iid == TOTAL_INSATS_ID else style.SERIEFARGER[n % 6]
        series.append(
            {
                "name": _wrap(
                    f"{part['insats'][0]} ({style.label(matt, style.MATT_NAMN).lower()})", 28
                ),
                "color": colour,
                "values": [by_year.get(y) for y in years],
            }
        )
    hidden = sum(v is None for s in series for v in s["values"])
    note = f" {hidden} år visas inte (dolda eller saknas)." if hidden else ""
    name = "trend" if insats_id is None else f"insats_{_safe_name(insats_id)}_trend"
    subtitle = catalog.forbund if insats_id is None else f"{t['insats'][0]} – {catalog.forbund}"
    return ChartSpec(
        name=name,
        kind="trend",
        title=f"Utfall per år, {years[0]}–{years[-1]}",
        subtitle=subtitle,
        footnote=_footnote(
            "Andel av deltagare som avslutat under respektive kalenderår (utom flyttat och "
            f"avliden), för insatsens första mål.{note}",
            catalog,
            k,
        ),
        alt="Utfallets andel per kalenderår.",
        data={"years": years, "series": series, "ylabel": "Andel"},
        example=example,
        rows=8,
        insats_id=insats_id,
    )


ENDED_BASE = "Deltagare som avslutat under perioden."


def _per_insats(make: Callable[..., ChartSpec | None], *extra: object, **named: object):
    """A per-insats chart: SVG only (it illustrates an insats section of the HTML)."""

    def spec(*args: object) -> ChartSpec | None:
        s = make(*args, *extra, **named)
        return None if s is None else dataclasses.replace(s, png=False)

    return spec


def chart_plan(tables: Collection[str], catalog: Catalog) -> list[Callable[..., ChartSpec | None]]:
    """The charts of a report with tables of these names: for each, the function of
    (published, catalog, period, k, example) that gives its spec, or None when there is
    nothing to draw (the plan is an upper bound of the charts). Known before the tables
    are protected, so that the processes that draw them can start while the audit runs."""
    plan: list[Callable[..., ChartSpec | None]] = []
    if "maluppfyllelse" in tables:
        plan.append(maluppfyllelse_spec)
    if "deltagare" in tables:
        plan += [deltagare_kon_spec, arsplatser_spec]
    if "utfall" in tables:
        plan.append(utfall_kon_spec)
    if "forsorjning_fore_efter" in tables:
        plan.append(fore_efter_spec)
    if "bakgrund" in tables:
        for variabel in ("sysselsattning_efter", "avslutsorsak"):
            plan.append(partial(bakgrund_spec, **_bakgrund(TOTAL_INSATS_ID, variabel, variabel)))
    if "trend" in tables:
        plan.append(trend_spec)
    if "kostnad" in tables:
        plan.append(kostnad_spec)
    # Per-insats charts illustrate the report's insats sections (SVG, embedded in the HTML);
    # the print-resolution PNGs are made for the förbund-wide charts, which go into the
    # årsredovisning. A pooled national store has hundreds of insatser: no per-insats charts.
    if len(catalog.ids) <= MAX_INSATSER_WITH_CHARTS:
        for iid in catalog.ids:
            stem = f"insats_{_safe_name(iid)}"
            if "bakgrund" in tables:
                for variabel in ("sysselsattning_efter", "avslutsorsak"):
                    named = _bakgrund(iid, variabel, f"{stem}_{variabel}")
                    plan.append(_per_insats(bakgrund_spec, **named))
            if "trend" in tables:
                plan.append(_per_insats(trend_spec, insats_id=iid))
    return plan


def _bakgrund(insats_id: str, variabel: str, name: str) -> dict[str, str]:
    return {"insats_id": insats_id, "variabel": variabel, "name": name, "base": ENDED_BASE}


def chart_specs(
    published: dict[str, pl.DataFrame],
    catalog: Catalog,
    period: Period,
    k: int,
    example: bool,
) -> list[ChartSpec]:
    """Every chart of the report, drawn from the published (suppressed) tables."""
    specs = (
        make(published, catalog, period, k, example) for make in chart_plan(published, catalog)
    )
    return [s for s in specs if s is not None]
