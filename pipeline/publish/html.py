"""rapport.html: the follow-up chapter of the annual report, as one self-contained file.

Charts are embedded as SVG data URIs, the CSS is inline and there are no external links, so
the file can be mailed or put on an intranet as it is. Everything shown comes from the
published (suppressed) tables; data quality shows counts of rows, never ids or values.
The page has no timestamp, so the same input gives the same bytes.

The page is the Jinja2 template `templates/rapport.html.j2` (with autoescape: every value
is escaped, none is trusted as HTML); this module only gathers the values it shows.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from functools import cache

import jinja2
import markupsafe
import polars as pl

from pipeline.core.config import BACKGROUND_PER_INSATS_MIN
from pipeline.core.contract import OUTCOME_MEASURES, TOTAL_INSATS_ID
from pipeline.publish import style
from pipeline.publish.charts import ChartSpec
from pipeline.publish.context import ReportContext
from pipeline.publish.disclosure import SECONDARY_MARK, primary_mark
from pipeline.publish.legend import source_note

Table = dict[str, object]  # headers, rows, numeric, caption: what the template's table draws


def _escaped(value: object) -> object:
    """Every inserted value escaped as the standard library does (' as &#x27;, " as &quot;),
    so the page's bytes do not depend on the template engine's own choice of entities;
    markup the templates made (macros) is kept as it is."""
    if isinstance(value, markupsafe.Markup):
        return value
    return markupsafe.Markup(html.escape(str(value), quote=True))


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.publish", "templates"),
        autoescape=True,
        finalize=_escaped,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _table(
    headers: Sequence[str],
    rows: list[list[object]],
    numeric: Sequence[bool],
    caption: str | None = None,
) -> Table:
    return {"headers": headers, "rows": rows, "numeric": numeric, "caption": caption}


def _figure(spec: ChartSpec, svg: bytes) -> dict[str, str]:
    data = base64.b64encode(svg).decode("ascii")
    return {"name": spec.name, "data": data, "alt": spec.alt, "title": spec.title}


def _share_text(share: float | None, lo: float | None, hi: float | None) -> str:
    if share is None:
        return ""
    text = style.procent(share)
    if lo is not None and hi is not None:
        text += f" (95 % KI {style.decimal(lo * 100, 0)}–{style.procent(hi)})"
    return text


def _mal_text(matt: str, mal: float) -> str:
    name = style.label(matt, style.MATT_NAMN)
    if matt in OUTCOME_MEASURES:
        return f"{name}: minst {style.procent(mal)}"
    return (
        f"{name}: minst {style.decimal(mal, 0) if float(mal).is_integer() else style.decimal(mal)}"
    )


def _utfall_text(row: dict, k: int) -> str:
    if row["matt"] in OUTCOME_MEASURES:
        if row["utfall"] is None:
            if row["bedomning"] == "for_fa_deltagare":
                return "–"
            base, reached = row["namnare"], row["taljare"]
            if reached == primary_mark(k) and base is not None and base.isdigit():
                # Says no more than the published "<k": the share itself is not shown.
                return f"färre än {k} av {style.count_text(base)}"
            return "dolt"
        return _share_text(float(row["utfall"]), row["ki_lag"], row["ki_hog"])
    if row["matt"] == "deltagare":
        return style.count_text(row["utfall"])
    return style.number_text(row["utfall"], 1)


def _bedomning(bedomning: str | None) -> dict[str, str | None]:
    """A bedömning as the template's badge draws it (None: left open by the disclosure
    control)."""
    if bedomning is None:
        return {"code": None, "label": style.BEDOMNING_DOLD}
    return {"code": bedomning, "label": style.label(bedomning, style.BEDOMNING_NAMN)}


def _float(value: object) -> float | None:
    return None if value is None or value == "" else float(value)


def _summary(published: dict[str, pl.DataFrame], k: int) -> dict[str, object] | None:
    m = published.get("maluppfyllelse")
    if m is None or m.height == 0:
        return None
    counts = {b: m.filter(pl.col("bedomning") == b).height for b in style.BEDOMNING_NAMN}
    rows = [
        [
            r["insats"],
            _mal_text(r["matt"], r["mal"]),
            _utfall_text(r, k),
            style.count_text(r["taljare"]),
            style.count_text(r["namnare"]),
            style.procent(_float(r["andel_okand"])),
            _bedomning(r["bedomning"]),
        ]
        for r in m.iter_rows(named=True)
    ]
    return {
        "goals": m.height,
        "insatser": m["insats_id"].n_unique(),
        "uppnatt": counts["uppnatt"],
        "ej_uppnatt": counts["ej_uppnatt"],
        "for_fa": counts["for_fa_deltagare"],
        "open": m["bedomning"].null_count(),
        "table": _table(
            ["Insats", "Mål", "Utfall", "Nådde målet", "Bas", "Okänt", "Bedömning"],
            rows,
            [False, False, True, True, True, True, False],
            caption="Måluppfyllelse per insats",
        ),
    }


def _deltagare_table(published: dict[str, pl.DataFrame]) -> Table | None:
    d = published.get("deltagare")
    if d is None:
        return None
    tid = published.get("tid_i_insats")
    if tid is not None:
        d = d.join(
            tid.select("insats_id", "median_dagar"),
            on="insats_id",
            how="left",
            maintain_order="left",
        )
    else:
        d = d.with_columns(median_dagar=pl.lit(None, pl.String))
    rows = [
        [
            r["insats"],
            *(style.count_text(r[c]) for c in ("deltagare", "kvinnor", "man", "nya")),
            *(style.count_text(r[c]) for c in ("avslutade", "pagaende")),
            style.number_text(r["arsplatser"], 1),
            style.number_text(r["median_dagar"], 0),
        ]
        for r in d.iter_rows(named=True)
    ]
    headers = ["Insats", "Deltagare", "Kvinnor", "Män", "Nya", "Avslutade", "Pågående"]
    return _table(
        [*headers, "Årsplatser", "Mediantid, dagar"],
        rows,
        [False] + [True] * 8,
        caption="Deltagare, insatsperioder och årsplatser",
    )


def _utfall_table(published: dict[str, pl.DataFrame], insats_id: str) -> Table | None:
    u = published.get("utfall")
    if u is None:
        return None
    u = u.filter(pl.col("insats_id") == insats_id)
    if u.height == 0:
        return None
    rows = []
    for matt in [m for m in OUTCOME_MEASURES if m in set(u["matt"].to_list())]:
        cells = [style.label(matt, style.MATT_NAMN)]
        for kon in ("alla", "K", "M"):
            r = u.filter((pl.col("matt") == matt) & (pl.col("kon") == kon))
            if r.height == 0:
                cells += ["", ""]
                continue
            row = r.row(0, named=True)
            share = _share_text(row["andel"], row["ki_lag"], row["ki_hog"]) or "dolt"
            cells += [share, style.count_text(row["namnare"])]
        alla = u.filter((pl.col("matt") == matt) & (pl.col("kon") == "alla"))
        okand = alla["andel_okand"][0] if alla.height else None
        cells.append(style.procent(okand) if okand is not None else "dolt")
        rows.append(cells)
    return _table(
        ["Mått", "Alla", "Bas", "Kvinnor", "Bas", "Män", "Bas", "Okänt utfall"],
        rows,
        [False] + [True] * 7,
        caption="Utfall per mått och kön",
    )


def _key_figures(published: dict[str, pl.DataFrame], insats_id: str) -> list | None:
    d = published.get("deltagare")
    if d is None:
        return None
    r = d.filter(pl.col("insats_id") == insats_id)
    if r.height == 0:
        return None
    row = r.row(0, named=True)
    return [
        ("Deltagare", style.count_text(row["deltagare"])),
        ("Kvinnor", style.count_text(row["kvinnor"])),
        ("Män", style.count_text(row["man"])),
        ("Nya", style.count_text(row["nya"])),
        ("Avslutade", style.count_text(row["avslutade"])),
        ("Pågående", style.count_text(row["pagaende"])),
        ("Årsplatser", style.number_text(row["arsplatser"], 1)),
    ]


def _insats_goals(published: dict[str, pl.DataFrame], insats_id: str, k: int) -> list | None:
    """The insats's goals (an empty list: none in the catalog; None: no goal table)."""
    m = published.get("maluppfyllelse")
    if m is None:
        return None
    return [
        {
            "mal": _mal_text(r["matt"], r["mal"]),
            "utfall": _utfall_text(r, k),
            "bedomning": _bedomning(r["bedomning"]),
        }
        for r in m.filter(pl.col("insats_id") == insats_id).iter_rows(named=True)
    ]


def _insatser(
    published: dict[str, pl.DataFrame],
    context: ReportContext,
    figures: dict[str, dict[str, str]],
    charts: Sequence[tuple[ChartSpec, bytes]],
) -> list[dict[str, object]]:
    catalog = context.catalog
    names = dict(zip(catalog.insatser["insats_id"], catalog.insatser["insats"], strict=True))
    return [
        {
            "id": iid,
            "name": names[iid],
            "strukturovergripande": catalog.inriktning[iid] == "strukturovergripande",
            "key_figures": _key_figures(published, iid),
            "goals": _insats_goals(published, iid, context.k),
            "utfall": _utfall_table(published, iid),
            "figures": [figures[spec.name] for spec, _svg in charts if spec.insats_id == iid],
        }
        for iid in catalog.ids
    ]


def _kostnad_table(published: dict[str, pl.DataFrame]) -> Table | None:
    """Costs per insats; an insats with several share targets has a row per target."""
    costs = published.get("kostnad")
    if costs is None:
        return None
    first = pl.col("insats_id").is_first_distinct()
    rows = [
        [
            r["insats"] if r["_first"] else "",
            style.kronor_text(r["kostnad"]) if r["_first"] else "",
            style.kronor_text(r["budget"]) if r["_first"] else "",
            style.kronor_text(r["kostnad_per_deltagare"]) if r["_first"] else "",
            style.kronor_text(r["kostnad_per_arsplats"]) if r["_first"] else "",
            style.label(r["matt"], style.MATT_NAMN),
            style.count_text(r["uppnadde"]) if r["matt"] else "",
            style.kronor_text(r["kostnad_per_uppnadd"]),
        ]
        for r in costs.with_columns(_first=first).iter_rows(named=True)
    ]
    headers = ["Insats", "Kostnad", "Budget", "Per deltagare", "Per årsplats"]
    return _table(
        [*headers, "Andelsmål", "Nådde målet", "Per nådd"],
        rows,
        [False, True, True, True, True, False, True, True],
        caption="Kostnad (utfall) och budget under året, per deltagare, årsplats och resultat",
    )


def _bakgrund_tables(published: dict[str, pl.DataFrame]) -> list[Table]:
    b = published.get("bakgrund")
    if b is None:
        return []
    b = b.filter(pl.col("insats_id") == TOTAL_INSATS_ID)
    return [
        _table(
            ["Kategori", "Kvinnor", "Män", "Totalt"],
            [
                [
                    style.label(r["kategori"]),
                    *(style.count_text(r[c]) for c in ("kvinnor", "man", "totalt")),
                ]
                for r in b.filter(pl.col("variabel") == variabel).iter_rows(named=True)
            ],
            [False, True, True, True],
            caption=style.label(variabel, style.VARIABEL_NAMN),
        )
        for variabel in b["variabel"].unique(maintain_order=True).to_list()
    ]


def _fore_efter_table(published: dict[str, pl.DataFrame]) -> Table | None:
    f = published.get("forsorjning_fore_efter")
    if f is None:
        return None
    f = f.filter(pl.col("insats_id") == TOTAL_INSATS_ID)
    rows = [
        [
            style.label(r["forsorjning_fore"]),
            style.label(r["forsorjning_efter"]),
            style.count_text(r["antal"]),
        ]
        for r in f.iter_rows(named=True)
    ]
    return _table(
        ["Försörjning före start", "Försörjning vid avslut", "Antal"],
        rows,
        [False, False, True],
        caption="Försörjning före och efter, alla insatser (kombinationer med deltagare)",
    )


def data_quality(files: pl.DataFrame, quarantine: pl.DataFrame) -> dict[str, Table | None]:
    """Files read and rejected, and the rules and columns that quarantined values.

    Without counts: with one file per party and insats, rows are persons, and these counts
    are outside the disclosure control. The counts are in datakvalitet.md under processed/.
    """
    listed = [
        [r["fil"], r["format"] or "", "Inläst" if r["status"] == "inlast" else "Avvisad"]
        for r in files.sort("fil").iter_rows(named=True)
    ]
    rejected = files.filter(pl.col("status") != "inlast").sort("fil")
    rules = (
        quarantine.group_by("regel_id", "kolumn")
        .agg(pl.col("regel").first())
        .sort("regel_id", "kolumn")
    )
    return {
        "files": _table(["Fil", "Format", "Status"], listed, [False] * 3, "Inlästa filer")
        if files.height
        else None,
        "rejected": _table(
            ["Avvisad fil", "Orsak"],
            [[r["fil"], r["meddelande"] or ""] for r in rejected.iter_rows(named=True)],
            [False, False],
            caption="Avvisade filer (hela filen lästes inte in)",
        )
        if rejected.height
        else None,
        "rules": _table(
            ["Regel", "Kolumn"],
            [[r["regel"] or r["regel_id"], r["kolumn"]] for r in rules.iter_rows(named=True)],
            [False, False],
            caption="Regler som lade värden i karantän",
        )
        if quarantine.height
        else None,
    }


def render_html(
    published: dict[str, pl.DataFrame],
    context: ReportContext,
    charts: Sequence[tuple[ChartSpec, bytes]],
) -> str:
    """The whole report page as a string (charts as (spec, svg bytes)).

    With `context.no_data` (no accepted episode in the period) the page says so first.
    """
    c = context
    figures = {spec.name: _figure(spec, svg) for spec, svg in charts}
    return (
        _environment()
        .get_template("rapport.html.j2")
        .render(
            title=f"Uppföljning av insatser {c.period.swedish}",
            forbund=c.catalog.forbund,
            is_example=c.is_example,
            exempel_text=style.EXEMPEL_TEXT,
            no_data=c.no_data,
            period_swedish=c.period.swedish,
            k=c.k,
            figures=figures,
            summary=_summary(published, c.k),
            deltagare=_deltagare_table(published),
            kostnad=_kostnad_table(published),
            insatser=_insatser(published, c, figures, charts),
            fore_efter=_fore_efter_table(published),
            bakgrund=_bakgrund_tables(published),
            quality=data_quality(c.files, c.quarantine),
            period_start=c.period.start.isoformat(),
            period_end=c.period.end.isoformat(),
            primary_mark=primary_mark(c.k),
            secondary_mark=SECONDARY_MARK,
            background_per_insats_min=BACKGROUND_PER_INSATS_MIN,
            source_note=source_note(c.catalog.forbund),
            code_version=c.code_version,
        )
    )


# --- The comparison report of a pooled store --------------------------------------------------

LAGE_TEXT = {
    "inom": "inom gränserna",
    "over_95": "över 95 %-gränsen",
    "over_998": "över 99,8 %-gränsen",
    "under_95": "under 95 %-gränsen",
    "under_998": "under 99,8 %-gränsen",
}


def _comparison_table(jamforelse: pl.DataFrame, grupp: str, matt: str) -> Table | None:
    rows = jamforelse.filter((pl.col("grupp") == grupp) & (pl.col("matt") == matt))
    if rows.height == 0:
        return None
    unit = "Förbund" if grupp == "forbund" else "Slag av insats"
    return _table(
        [unit, "Bas", "Nådde", "Andel", "95 % gränser", "Läge"],
        [
            [
                r["namn"],
                style.heltal(r["namnare"]),
                style.heltal(r["taljare"]),
                style.procent(r["andel"]),
                ""
                if r["lage"] is None
                else f"{style.procent(r['undre_95'])}–{style.procent(r['ovre_95'])}",
                LAGE_TEXT.get(r["lage"], f"{r['antal_visade']} visade"),
            ]
            for r in rows.iter_rows(named=True)
        ],
        [False, True, True, True, True, False],
        caption=f"{style.MATT_NAMN.get(matt, matt)} per "
        + ("förbund" if grupp == "forbund" else "slag av insats"),
    )


def render_comparison_html(
    tables: dict[str, pl.DataFrame],
    charts: Sequence[tuple[ChartSpec, bytes]],
    period,
    k: int,
    is_example: bool,
    n_forbund: int,
) -> str:
    """The comparison report's page (jamforelse/rapport.html)."""
    figures = {spec.name: _figure(spec, svg) for spec, svg in charts}
    jamforelse = tables["jamforelse"]
    sections = [
        {
            "matt": style.MATT_NAMN.get(matt, matt),
            "groups": [
                {
                    "figure": figures.get(f"tratt_{grupp}_{matt}"),
                    "table": _comparison_table(jamforelse, grupp, matt),
                }
                for grupp in ("forbund", "insatstyp")
            ],
        }
        for matt in OUTCOME_MEASURES
        if jamforelse.filter(pl.col("matt") == matt).height
    ]
    trends = [f for name, f in figures.items() if name.startswith("trend_")]
    return (
        _environment()
        .get_template("jamforelse.html.j2")
        .render(
            title=f"Jämförelse mellan förbund {period.swedish}",
            is_example=is_example,
            exempel_text=style.EXEMPEL_TEXT,
            n_forbund=n_forbund,
            k=k,
            sections=sections,
            trends=trends,
        )
    )
