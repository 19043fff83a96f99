"""The comparison report of a pooled store: each förbund's (and each kind of insats's) share
against the pooled share in funnel plots, and the trend per förbund.

Design (docs/publicering.md, "Jämförelse mellan förbund"): every number in the comparison is
a published number of a förbund's own report, or a sum of such numbers. The comparison is
built from the förbund reports as they were written under reports/ (read back as a reader
has them), never from the exact tables, so it adds nothing a reader could not already add up
from the förbund reports: a förbund's hidden cell cannot be recovered by subtracting the
others from a pooled total, because the pooled total is the sum of the *shown* cells only
(and says how many were not shown). `audit_comparison` proves it for every release by
recomputing each cell from the förbund reports on disk.

Funnel limits (Spiegelhalter 2005, normal approximation): around the pooled share p, at base
n, p ± z·√(p(1−p)/n) with z = 1.96 (95 %) and 3.09 (99.8 %), clipped to 0–1. A förbund
outside the 99.8 % limits differs from the pooled share more than chance would explain at
its size; one inside is not ranked: there is no league table.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import polars as pl

from pipeline.core.atomic import write_bytes, write_text
from pipeline.core.catalog import Catalog
from pipeline.core.config import COMPARISON_DIR
from pipeline.core.contract import OUTCOME_MEASURES, TOTAL_INSATS_ID
from pipeline.core.hashing import file_sha256
from pipeline.core.period import Period
from pipeline.publish import style
from pipeline.publish.audit import Release
from pipeline.publish.charts import ChartSpec, render_charts
from pipeline.publish.disclosure import DisclosureError, numeric
from pipeline.publish.manifest import created_time
from pipeline.publish.releases import read_release, release_folder

TABLE_DIR = "tabeller"
CHART_DIR = "diagram"
HTML_FILE = "rapport.html"
MANIFEST = "manifest.json"
# The pooled row of each group and measure: the sum of the shown rows.
POOLED_ID = "SAMTLIGA"
Z_95, Z_998 = 1.959964, 3.090232

SHARES_SCHEMA = pl.Schema(
    {
        "grupp": pl.String(),
        "id": pl.String(),
        "namn": pl.String(),
        "matt": pl.String(),
        "namnare": pl.Int64(),
        "taljare": pl.Int64(),
    }
)
TREND_SCHEMA = pl.Schema(
    {
        "id": pl.String(),
        "namn": pl.String(),
        "ar": pl.Int64(),
        "matt": pl.String(),
        "namnare": pl.Int64(),
        "taljare": pl.Int64(),
    }
)


# --- The comparison's numbers, from the förbund reports as published -------------------------


def forbund_releases(reports: Path, label: str, forbund_ids: list[str]) -> dict[str, Release]:
    """The current release of each förbund's report of `label`, read back from reports/."""
    releases = {}
    for forbund_id in forbund_ids:
        release = read_release(release_folder(reports, label, forbund_id))
        if release is None:
            raise DisclosureError(
                f"jämförelsen: förbundet {forbund_id} har ingen publicerad rapport för {label}"
            )
        releases[forbund_id] = release
    return releases


def _shown(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose base and numerator are both published numbers (as Int64)."""
    return (
        frame.with_columns(numeric("namnare"), numeric("taljare"))
        .drop_nulls(["namnare", "taljare"])
        .with_columns(pl.col("namnare", "taljare").cast(pl.Int64))
    )


def shown_shares(releases: dict[str, Release], catalog: Catalog) -> pl.DataFrame:
    """Per förbund and per kind of insats (insatstyp), per outcome measure: the shown base
    (namnare) and numerator (taljare) of all persons (kön alla), SHARES_SCHEMA.

    A förbund's row is its report's total row; a kind's is the sum over the insatser of that
    kind, in every förbund, whose base and numerator are both shown.

    >>> from pipeline.core.catalog import parse_catalog
    >>> c = parse_catalog('[[insats]]\\nid="A"\\nnamn="a"\\nforbund="F1"\\ninsatstyp="T"\\n')
    >>> utfall = pl.DataFrame({"insats_id": ["TOTALT", "A"], "kon": ["alla"] * 2,
    ...     "matt": ["narmare_arbete"] * 2, "namnare": ["40", "40"], "taljare": ["12", "<5"]})
    >>> r = Release("2025/F1", None, 5, {"utfall": utfall})
    >>> shown_shares({"F1": r}, c).rows()
    [('forbund', 'F1', 'F1', 'narmare_arbete', 40, 12)]
    """
    kinds = catalog.insatstyp
    frames = []
    for forbund_id, release in releases.items():
        utfall = release.tables.get("utfall")
        if utfall is None:
            continue
        rows = _shown(utfall.filter(pl.col("kon") == "alla"))
        frames.append(
            rows.filter(pl.col("insats_id") == TOTAL_INSATS_ID).select(
                pl.lit("forbund").alias("grupp"),
                pl.lit(forbund_id).alias("id"),
                pl.lit(catalog.forbundsnamn.get(forbund_id, forbund_id)).alias("namn"),
                "matt",
                "namnare",
                "taljare",
            )
        )
        frames.append(
            rows.filter(pl.col("insats_id").is_in(list(kinds)))
            .with_columns(pl.col("insats_id").replace_strict(kinds).alias("id"))
            .select(
                pl.lit("insatstyp").alias("grupp"),
                "id",
                pl.col("id").alias("namn"),
                "matt",
                "namnare",
                "taljare",
            )
        )
    shares = pl.concat([pl.DataFrame(schema=SHARES_SCHEMA), *frames])
    return (
        shares.group_by("grupp", "id", "namn", "matt", maintain_order=True)
        .agg(pl.col("namnare", "taljare").sum())
        .filter(pl.col("matt").is_in(OUTCOME_MEASURES))
        .sort("grupp", "matt", "id")
    )


def funnel_limits(pooled: pl.Expr, base: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    """The funnel's (lower, upper) limits around `pooled` at `base`, clipped to 0–1.

    >>> df = pl.DataFrame({"p": [0.5], "n": [100]})
    >>> lo, hi = funnel_limits(pl.col("p"), pl.col("n"), 1.959964)
    >>> [round(v, 4) for v in df.select(lo.alias("lo"), hi.alias("hi")).row(0)]
    [0.402, 0.598]
    """
    half = z * (pooled * (1 - pooled) / base).sqrt()
    return (pooled - half).clip(0.0, 1.0), (pooled + half).clip(0.0, 1.0)


def with_funnel(shares: pl.DataFrame) -> pl.DataFrame:
    """Each row's share, the pooled share of its group and measure (sum of the shown rows)
    with the funnel limits at its base, and where it lies (`lage`); then one pooled row
    (id SAMTLIGA) per group and measure."""
    keys = ["grupp", "matt"]
    pooled = pl.col("taljare").sum().over(keys) / pl.col("namnare").sum().over(keys)
    lo95, hi95 = funnel_limits(pl.col("samlad_andel"), pl.col("namnare"), Z_95)
    lo998, hi998 = funnel_limits(pl.col("samlad_andel"), pl.col("namnare"), Z_998)
    andel = pl.col("andel")
    rows = (
        shares.filter(pl.col("namnare") > 0)
        .with_columns(
            (pl.col("taljare") / pl.col("namnare")).alias("andel"), pooled.alias("samlad_andel")
        )
        .with_columns(
            lo95.alias("undre_95"),
            hi95.alias("ovre_95"),
            lo998.alias("undre_998"),
            hi998.alias("ovre_998"),
        )
        .with_columns(
            pl.when(andel > pl.col("ovre_998"))
            .then(pl.lit("over_998"))
            .when(andel > pl.col("ovre_95"))
            .then(pl.lit("over_95"))
            .when(andel < pl.col("undre_998"))
            .then(pl.lit("under_998"))
            .when(andel < pl.col("undre_95"))
            .then(pl.lit("under_95"))
            .otherwise(pl.lit("inom"))
            .alias("lage")
        )
    )
    totals = rows.group_by(keys, maintain_order=True).agg(
        pl.lit(POOLED_ID).alias("id"),
        pl.lit("Samtliga (summan av de visade)").alias("namn"),
        pl.col("namnare", "taljare").sum(),
        pl.len().alias("antal_visade"),
    )
    totals = totals.with_columns(
        (pl.col("taljare") / pl.col("namnare")).alias("andel"),
        (pl.col("taljare") / pl.col("namnare")).alias("samlad_andel"),
    )
    out = pl.concat([rows, totals], how="diagonal_relaxed")
    return out.select(
        "grupp",
        "id",
        "namn",
        "matt",
        "namnare",
        "taljare",
        pl.col("andel", "samlad_andel", "undre_95", "ovre_95", "undre_998", "ovre_998").round(4),
        "lage",
        "antal_visade",
    ).sort("grupp", "matt", pl.col("id") == POOLED_ID, "id")


def shown_trend(releases: dict[str, Release], catalog: Catalog) -> pl.DataFrame:
    """Each förbund's total row of its report's trend (the years and measure it shows), and
    per year and measure the sum of the shown förbund (id SAMTLIGA), with shares."""
    frames = []
    for forbund_id, release in releases.items():
        trend = release.tables.get("trend")
        if trend is None:
            continue
        frames.append(
            _shown(trend.filter(pl.col("insats_id") == TOTAL_INSATS_ID)).select(
                pl.lit(forbund_id).alias("id"),
                pl.lit(catalog.forbundsnamn.get(forbund_id, forbund_id)).alias("namn"),
                pl.col("ar").cast(pl.Int64),
                "matt",
                "namnare",
                "taljare",
            )
        )
    rows = pl.concat([pl.DataFrame(schema=TREND_SCHEMA), *frames]).filter(pl.col("namnare") > 0)
    totals = rows.group_by("ar", "matt").agg(
        pl.lit(POOLED_ID).alias("id"),
        pl.lit("Samtliga (summan av de visade)").alias("namn"),
        pl.col("namnare", "taljare").sum(),
    )
    return (
        pl.concat([rows, totals.select(TREND_SCHEMA.names())])
        .with_columns((pl.col("taljare") / pl.col("namnare")).round(4).alias("andel"))
        .sort("matt", pl.col("id") == POOLED_ID, "id", "ar")
    )


def comparison_tables(releases: dict[str, Release], catalog: Catalog) -> dict[str, pl.DataFrame]:
    """The comparison's published tables, from the förbund releases."""
    return {
        "jamforelse": with_funnel(shown_shares(releases, catalog)),
        "jamforelse_trend": shown_trend(releases, catalog),
    }


def audit_comparison(folder: Path, releases: dict[str, Release], catalog: Catalog) -> None:
    """The comparison's tables as written under `folder` are exactly those the förbund
    releases give (every count a sum of shown counts): else DisclosureError.

    Because each count is such a sum, a linear programme over the förbund reports and the
    comparison together has the same feasible set as over the förbund reports alone, and
    each förbund report was audited (with its own history) before it was published."""
    expected = comparison_tables(releases, catalog)
    for name, table in expected.items():
        path = folder / TABLE_DIR / f"{name}.csv"
        written = pl.read_csv(path, infer_schema=False)
        counts = ["namnare", "taljare"]
        if written.select(counts).rows() != table.select(pl.col(counts).cast(pl.String)).rows():
            raise DisclosureError(
                f"jämförelsen: {name}.csv innehåller antal som inte är summor av de publicerade "
                "förbundsrapporternas antal"
            )


# --- Charts ----------------------------------------------------------------------------------


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width))


GROUP_TEXT = {"forbund": "förbund", "insatstyp": "slag av insats"}


def funnel_spec(
    table: pl.DataFrame, grupp: str, matt: str, period: Period, k: int, example: bool
) -> ChartSpec | None:
    """The funnel plot of one group and measure: each unit's share against its base, with the
    pooled share and the 95 % and 99,8 % limits."""
    rows = table.filter(
        (pl.col("grupp") == grupp) & (pl.col("matt") == matt) & (pl.col("id") != POOLED_ID)
    )
    if rows.height == 0:
        return None
    pooled = float(rows["samlad_andel"][0])
    measure = style.MATT_NAMN.get(matt, matt)
    outside = rows.filter(pl.col("lage").str.ends_with("998"))["namn"].to_list()
    return ChartSpec(
        name=f"tratt_{grupp}_{matt}",
        kind="tratt",
        title=measure,
        subtitle=f"{rows.height} {GROUP_TEXT[grupp]} mot den samlade andelen "
        f"{style.procent(pooled)} – {period.swedish}",
        footnote=_wrap(
            "Varje punkt är ett "
            + ("förbund" if grupp == "forbund" else "slag av insats")
            + ": andelen av de avslutade deltagarna mot antalet avslutade (basen). Linjerna "
            "är 95 % och 99,8 % kontrollgränser kring den samlade andelen (summan av de "
            f"visade). Tal som är dolda av röjandeskäl (färre än {k}) ingår inte.",
            125,
        ),
        alt=f"Trattdiagram för {measure.lower()}: {rows.height} {GROUP_TEXT[grupp]}, "
        f"samlad andel {style.procent(pooled)}; utanför 99,8 %-gränserna: "
        f"{', '.join(outside) if outside else 'inga'}.",
        data={
            "pooled": pooled,
            "bases": rows["namnare"].to_list(),
            "shares": rows["andel"].to_list(),
            "names": rows["namn"].to_list(),
            "outside": rows["lage"].str.ends_with("998").to_list(),
            "z": [Z_95, Z_998],
        },
        example=example,
        rows=10,
    )


def trend_spread_spec(
    trend: pl.DataFrame, matt: str, period: Period, k: int, example: bool
) -> ChartSpec | None:
    """The trend of one measure per förbund (thin lines) and of all shown (thick)."""
    rows = trend.filter(pl.col("matt") == matt)
    if rows.height == 0:
        return None
    years = sorted(rows["ar"].unique().to_list())
    series = [
        {"id": i, "values": [dict(zip(g["ar"], g["andel"], strict=True)).get(y) for y in years]}
        for (i,), g in rows.partition_by("id", as_dict=True, maintain_order=True).items()
    ]
    measure = style.MATT_NAMN.get(matt, matt)
    return ChartSpec(
        name=f"trend_{matt}",
        kind="spridning",
        title=f"{measure} per år",
        subtitle=f"{len(series) - 1} förbund och samtliga visade – {period.swedish}",
        footnote=_wrap(
            "Tunna linjer: ett förbund vardera; tjock linje: samtliga visade. År och förbund "
            f"där talen är dolda av röjandeskäl (färre än {k}) saknas.",
            125,
        ),
        alt=f"Linjediagram över {measure.lower()} per år för {len(series) - 1} förbund.",
        data={"years": years, "series": series, "pooled_id": POOLED_ID},
        example=example,
        rows=10,
    )


def comparison_specs(
    tables: dict[str, pl.DataFrame], period: Period, k: int, example: bool
) -> list[ChartSpec]:
    specs = [
        funnel_spec(tables["jamforelse"], grupp, matt, period, k, example)
        for grupp in GROUP_TEXT
        for matt in OUTCOME_MEASURES
    ]
    trend = tables["jamforelse_trend"]
    specs += [
        trend_spread_spec(trend, matt, period, k, example)
        for matt in sorted(trend["matt"].unique().to_list())
    ]
    return [s for s in specs if s is not None]


# --- Writing the comparison report ------------------------------------------------------------


def publish_comparison(
    catalog: Catalog,
    period: Period,
    k: int,
    reports: Path,
    example: bool,
    code_version: str,
) -> Path:
    """Write `<reports>/<label>/jamforelse/` from the förbund reports already published for
    the period, audit it, and swap it in whole; returns the folder."""
    from pipeline.publish.html import render_comparison_html
    from pipeline.publish.report import recover, replace_folder

    label = period.label
    releases = forbund_releases(reports, label, catalog.forbund_ids)
    tables = comparison_tables(releases, catalog)
    out = Path(reports) / label / COMPARISON_DIR
    recover(out)
    staging = out.with_name(f".{out.name}.ny-{os.getpid()}")
    staging.mkdir(parents=True)
    try:
        written = []
        for name, table in tables.items():
            path = staging / TABLE_DIR / f"{name}.csv"
            write_bytes(path, table.write_csv().encode("utf-8"))
            written.append(path)
        audit_comparison(staging, releases, catalog)
        specs = comparison_specs(tables, period, k, example)
        files = render_charts(specs, staging / CHART_DIR)
        written += [staging / CHART_DIR / n for names in files for n in names]
        svgs = [
            (s, (staging / CHART_DIR / names[-1]).read_bytes())
            for s, names in zip(specs, files, strict=True)
        ]
        page = render_comparison_html(tables, svgs, period, k, example, len(releases))
        write_text(staging / HTML_FILE, page)
        written.append(staging / HTML_FILE)
        manifest = {
            "created": created_time().isoformat().replace("+00:00", "Z"),
            "code_version": code_version,
            "jamforelse": True,
            "forbund": catalog.forbund_ids,
            "period": {"label": label, "start": str(period.start), "end": str(period.end)},
            "k": k,
            "outputs": [
                {"fil": p.relative_to(staging).as_posix(), "sha256": file_sha256(p)}
                for p in sorted(written)
            ],
        }
        write_text(staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        for path in [*written, staging / MANIFEST]:
            path.chmod(0o644)
        for folder in (staging, staging / TABLE_DIR, staging / CHART_DIR):
            if folder.exists():
                folder.chmod(0o755)
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
