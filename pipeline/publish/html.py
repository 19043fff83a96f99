"""rapport.html: the follow-up chapter of the annual report, as one self-contained file.

Charts are embedded as SVG data URIs, the CSS is inline and there are no external links, so
the file can be mailed or put on an intranet as it is. Everything shown comes from the
published (suppressed) tables; data quality shows counts of rows, never ids or values.
The page has no timestamp, so the same input gives the same bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

import polars as pl

from pipeline.core.catalog import Catalog
from pipeline.core.config import BACKGROUND_PER_INSATS_MIN
from pipeline.core.contract import OUTCOME_MEASURES, TOTAL_INSATS_ID
from pipeline.core.period import Period
from pipeline.publish import style
from pipeline.publish.charts import ChartSpec, source_note
from pipeline.publish.disclosure import SECONDARY_MARK, primary_mark

CSS = """
:root { --text: #1a1a1a; --muted: #555; --line: #d9d9d9; --head: #eef2f7; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: var(--text);
  margin: 0; line-height: 1.5; background: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 2rem; margin: 0.5rem 0 0.2rem; }
h2 { font-size: 1.5rem; margin-top: 2.5rem; border-bottom: 2px solid var(--accent);
  padding-bottom: 0.2rem; }
h3 { font-size: 1.2rem; margin-top: 2rem; }
.lead { font-size: 1.1rem; color: var(--muted); margin-top: 0; }
.exempel { background: #B00020; color: #fff; font-weight: bold; padding: 0.8rem 1.2rem;
  font-size: 1.2rem; text-align: center; letter-spacing: 0.05em; }
.utan-data { background: #F0E442; color: #1a1a1a; font-weight: bold; padding: 0.8rem 1.2rem;
  font-size: 1.2rem; text-align: center; }
table { border-collapse: collapse; width: 100%; margin: 0.8rem 0 1.2rem; font-size: 0.92rem; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.35rem 0.5rem; vertical-align: top; }
th { background: var(--head); text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 0.1rem 0.55rem; border-radius: 0.8rem; font-size: 0.85rem;
  font-weight: bold; white-space: nowrap; }
.uppnatt { background: #009E73; color: #fff; }
.ej_uppnatt { background: #D55E00; color: #fff; }
.for_fa_deltagare { background: #e0e0e0; color: #333; }
.dold { background: #f4f4f4; color: #333; border: 1px dashed #888; }
figure { margin: 1.2rem 0 2rem; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 0.85rem; color: var(--muted); }
.not { font-size: 0.85rem; color: var(--muted); }
.nyckeltal { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 0.8rem 0; padding: 0; }
.nyckeltal div { border: 1px solid var(--line); border-radius: 0.4rem; padding: 0.5rem 0.9rem;
  min-width: 8.5rem; }
.nyckeltal dt { font-size: 0.8rem; color: var(--muted); }
.nyckeltal dd { margin: 0; font-size: 1.3rem; font-weight: bold; }
@media print { main { max-width: none; } h2 { page-break-before: always; }
  figure, table { page-break-inside: avoid; } }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[bool],
    caption: str | None = None,
    raw: bool = False,
) -> str:
    """An HTML table; cell texts are escaped unless `raw` (cells already HTML)."""
    head = "".join(
        f'<th scope="col"{" class=n" if n else ""}>{_e(h)}</th>'
        for h, n in zip(headers, numeric, strict=True)
    )
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=n' if n else ''}>{c if raw else _e(c)}</td>"
            for c, n in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(spec: ChartSpec, svg: bytes) -> str:
    data = base64.b64encode(svg).decode("ascii")
    return (
        f'<figure id="diagram-{_e(spec.name)}"><img src="data:image/svg+xml;base64,{data}" '
        f'alt="{_e(spec.alt)}"><figcaption>{_e(spec.title)}</figcaption></figure>'
    )


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


def _badge(bedomning: str | None) -> str:
    if bedomning is None:
        return (
            '<span class="badge dold" title="Bedömningen skulle tillsammans med de andra '
            f'tabellerna röja en dold uppgift">{_e(style.BEDOMNING_DOLD)}</span>'
        )
    return (
        f'<span class="badge {_e(bedomning)}">'
        f"{_e(style.label(bedomning, style.BEDOMNING_NAMN))}</span>"
    )


def summary_section(published: dict[str, pl.DataFrame], k: int) -> str:
    m = published.get("maluppfyllelse")
    if m is None or m.height == 0:
        return "<p>Inga mål finns i insatskatalogen.</p>"
    counts = {b: m.filter(pl.col("bedomning") == b).height for b in style.BEDOMNING_NAMN}
    open_count = m["bedomning"].null_count()
    intro = (
        f"<p>Förbundet följde upp {m.height} mål för {m['insats_id'].n_unique()} insatser. "
        f"{counts['uppnatt']} mål uppnåddes, {counts['ej_uppnatt']} uppnåddes inte och för "
        f"{counts['for_fa_deltagare']} var underlaget för litet för en bedömning "
        f"(färre än {k} avslutade deltagare)."
        + (
            f" För {open_count} kan bedömningen inte redovisas: den skulle tillsammans med "
            "de andra tabellerna röja ett dolt antal."
            if open_count
            else ""
        )
        + "</p>"
    )
    rows = [
        [
            _e(r["insats"]),
            _e(_mal_text(r["matt"], r["mal"])),
            _e(_utfall_text(r, k)),
            _e(style.count_text(r["namnare"])),
            _badge(r["bedomning"]),
        ]
        for r in m.iter_rows(named=True)
    ]
    table = _table(
        ["Insats", "Mål", "Utfall", "Bas (avslutade)", "Bedömning"],
        rows,
        [False, False, True, True, False],
        caption="Måluppfyllelse per insats",
        raw=True,
    )
    note = (
        '<p class="not">Andelsmål mäts bland deltagare som avslutat insatsen under perioden '
        "(utom de som flyttat eller avlidit); okänt utfall räknas som ej uppnått. KI = 95 % "
        "konfidensintervall (Wilson): med få deltagare är osäkerheten stor. "
        f"”dolt” = utfallet visas inte av röjandeskäl; ”färre än {k} av 28” = färre än {k} "
        "av de 28 nådde målet. Bedömningen visas när de publicerade talen ändå avgör den; "
        "”Kan inte redovisas” = bedömningen skulle röja det dolda antalet.</p>"
    )
    return intro + table + note


def _deltagare_table(published: dict[str, pl.DataFrame]) -> str:
    d = published.get("deltagare")
    if d is None:
        return ""
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
            style.count_text(r["deltagare"]),
            style.count_text(r["kvinnor"]),
            style.count_text(r["man"]),
            style.count_text(r["nya"]),
            style.count_text(r["avslutade"]),
            style.count_text(r["pagaende"]),
            style.number_text(r["arsplatser"], 1),
            style.number_text(r["median_dagar"], 0),
        ]
        for r in d.iter_rows(named=True)
    ]
    return _table(
        [
            "Insats",
            "Deltagare",
            "Kvinnor",
            "Män",
            "Nya",
            "Avslutade",
            "Pågående",
            "Årsplatser",
            "Mediantid, dagar",
        ],
        rows,
        [False] + [True] * 8,
        caption="Deltagare, insatsperioder och årsplatser",
    ) + (
        '<p class="not">Deltagare, kvinnor och män är personer; nya, avslutade och pågående är '
        "insatsperioder. Förbundet totalt räknar varje person en gång. Mediantid gäller "
        "avslutade insatsperioder.</p>"
    )


def _utfall_table(published: dict[str, pl.DataFrame], insats_id: str) -> str:
    u = published.get("utfall")
    if u is None:
        return ""
    u = u.filter(pl.col("insats_id") == insats_id)
    if u.height == 0:
        return ""
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


def _key_figures(published: dict[str, pl.DataFrame], insats_id: str) -> str:
    d = published.get("deltagare")
    if d is None:
        return ""
    r = d.filter(pl.col("insats_id") == insats_id)
    if r.height == 0:
        return ""
    row = r.row(0, named=True)
    items = [
        ("Deltagare", style.count_text(row["deltagare"])),
        ("Kvinnor", style.count_text(row["kvinnor"])),
        ("Män", style.count_text(row["man"])),
        ("Nya", style.count_text(row["nya"])),
        ("Avslutade", style.count_text(row["avslutade"])),
        ("Pågående", style.count_text(row["pagaende"])),
        ("Årsplatser", style.number_text(row["arsplatser"], 1)),
    ]
    body = "".join(f"<div><dt>{_e(a)}</dt><dd>{_e(b)}</dd></div>" for a, b in items)
    return f'<dl class="nyckeltal">{body}</dl>'


def _insats_goals(published: dict[str, pl.DataFrame], insats_id: str, k: int) -> str:
    m = published.get("maluppfyllelse")
    if m is None:
        return ""
    m = m.filter(pl.col("insats_id") == insats_id)
    if m.height == 0:
        return "<p>Insatsen har inga mål i katalogen.</p>"
    items = "".join(
        f"<li>{_e(_mal_text(r['matt'], r['mal']))} – utfall {_e(_utfall_text(r, k))} "
        f"{_badge(r['bedomning'])}</li>"
        for r in m.iter_rows(named=True)
    )
    return f"<ul>{items}</ul>"


def _bakgrund_tables(published: dict[str, pl.DataFrame]) -> str:
    b = published.get("bakgrund")
    if b is None:
        return ""
    b = b.filter(pl.col("insats_id") == TOTAL_INSATS_ID)
    parts = []
    for variabel in b["variabel"].unique(maintain_order=True).to_list():
        v = b.filter(pl.col("variabel") == variabel)
        rows = [
            [
                style.label(r["kategori"]),
                style.count_text(r["kvinnor"]),
                style.count_text(r["man"]),
                style.count_text(r["totalt"]),
            ]
            for r in v.iter_rows(named=True)
        ]
        parts.append(
            _table(
                ["Kategori", "Kvinnor", "Män", "Totalt"],
                rows,
                [False, True, True, True],
                caption=style.label(variabel, style.VARIABEL_NAMN),
            )
        )
    return "".join(parts)


def _fore_efter_table(published: dict[str, pl.DataFrame]) -> str:
    f = published.get("forsorjning_fore_efter")
    if f is None:
        return ""
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


def data_quality_section(files: pl.DataFrame, quarantine: pl.DataFrame) -> str:
    """Files read and rejected, and the rules and columns that quarantined values.

    Without counts: with one file per party and insats, rows are persons, and these counts
    are outside the disclosure control. The counts are in datakvalitet.md under processed/.
    """
    parts = []
    if files.height:
        rows = [
            [r["fil"], r["format"] or "", "Inläst" if r["status"] == "inlast" else "Avvisad"]
            for r in files.sort("fil").iter_rows(named=True)
        ]
        parts.append(
            _table(
                ["Fil", "Format", "Status"],
                rows,
                [False, False, False],
                caption="Inlästa filer",
            )
        )
    else:
        parts.append("<p>Ingen fil lästes in.</p>")
    rejected = files.filter(pl.col("status") != "inlast").sort("fil")
    if rejected.height:
        parts.append(
            _table(
                ["Avvisad fil", "Orsak"],
                [[r["fil"], r["meddelande"] or ""] for r in rejected.iter_rows(named=True)],
                [False, False],
                caption="Avvisade filer (hela filen lästes inte in)",
            )
        )
    if quarantine.height:
        q = (
            quarantine.group_by("regel_id", "kolumn")
            .agg(pl.col("regel").first())
            .sort("regel_id", "kolumn")
        )
        rows = [[r["regel"] or r["regel_id"], r["kolumn"]] for r in q.iter_rows(named=True)]
        parts.append(
            _table(
                ["Regel", "Kolumn"],
                rows,
                [False, False],
                caption="Regler som lade värden i karantän",
            )
        )
        parts.append(
            '<p class="not">Rader med fel läses inte in utan läggs i karantän hos förbundet '
            "för rättelse hos den part som lämnat uppgifterna. Antalet rader per fil och regel "
            "redovisas inte här: med en fil per part och insats är det antal personer. "
            "Förbundet har antalen i sin datakvalitetsrapport (datakvalitet.md).</p>"
        )
    else:
        parts.append("<p>Inga värden lades i karantän.</p>")
    return "".join(parts)


def about_section(catalog: Catalog, period: Period, k: int, code_version: str) -> str:
    return f"""
<p>Statistiken bygger på avidentifierade uppgifter om deltagarnas insatsperioder som parterna
lämnat till förbundet. En insatsperiod är en persons inskrivning i en insats. Perioden är
{_e(period.start.isoformat())} – {_e(period.end.isoformat())}.</p>
<ul>
<li><strong>Deltagare</strong>: personer med en insatsperiod som pågick någon gång under
perioden.</li>
<li><strong>Årsplatser</strong>: summan av inskrivna dagar under perioden delat med antalet dagar
i perioden, det vill säga hur många platser som i genomsnitt var fyllda.</li>
<li><strong>Utfall</strong>: andelen av de insatsperioder som avslutades under perioden (utom
flyttat och avliden) där deltagaren vid avslut hade nått målet. Avbrott ingår. Okänt utfall
räknas som ej uppnått och redovisas separat.</li>
<li><strong>Konfidensintervall</strong>: 95 % Wilson-intervall. Det visar hur mycket andelen kan
variera av slumpen när antalet deltagare är litet.</li>
</ul>
<h3>Röjandeskydd</h3>
<p>Ingen uppgift i rapporten ska kunna knytas till en enskild person. Antal mellan 1 och {k - 1}
visas som <strong>{_e(primary_mark(k))}</strong>. Där en dold uppgift annars kunde räknas fram
ur en summa (till exempel deltagare minus kvinnor, eller förbundet totalt minus övriga insatser)
döljs ytterligare en uppgift, markerad <strong>{_e(SECONDARY_MARK)}</strong> (den är alltid
minst {k}). Andelar vars täljare eller bas är dold visas inte. Noll visas alltid. Gränsen är
k = {k}.</p>
<p>Innan rapporten publiceras granskas den som en angripare skulle göra: alla publicerade
tabeller, tillsammans med förbundets tidigare publicerade rapporter, ställs upp som ett system
av ekvationer och olikheter (summor, könsfördelningar, förbundet totalt, bakgrund mot
avslutade och pågående, andelar och mål), och för varje dold uppgift räknas ut vilka värden den
fortfarande kan ha. Ingen dold uppgift får kunna bestämmas exakt, och inget antal mellan 1 och
{k - 1} får kunna räknas fram. Hittar granskningen något döljs fler uppgifter; går det inte
publiceras ingen rapport.</p>
<ul>
<li>En bedömning markerad <strong>För få deltagare</strong> har färre än {k} avslutade
deltagare i basen.</li>
<li><strong>Kan inte redovisas</strong>: utfallet är dolt och bedömningen skulle, tillsammans
med de andra tabellerna, avslöja hur många som nådde målet.</li>
<li>Ett utfall som <em>färre än {k} av 63</em> betyder att färre än {k} av de 63 avslutade
nådde målet.</li>
<li>Bakgrunden redovisas per kön bara för förbundet som helhet. För insatser med minst
{BACKGROUND_PER_INSATS_MIN} insatsperioder redovisas bakgrunden vid start utan
könsuppdelning; för mindre insatser redovisas den inte. Tomma celler i en tabell redovisas
inte alls.</li>
<li>Tidigare år i tidsserien visas som de först publicerades.</li>
</ul>
<p class="not">{_e(source_note(catalog))} Programversion: {_e(code_version)}.</p>
"""


def render_html(
    published: dict[str, pl.DataFrame],
    catalog: Catalog,
    period: Period,
    k: int,
    is_example: bool,
    charts: Sequence[tuple[ChartSpec, bytes]],
    files: pl.DataFrame,
    quarantine: pl.DataFrame,
    code_version: str,
    *,
    no_data: bool = False,
) -> str:
    """The whole report page as a string (charts as (spec, svg bytes)).

    With `no_data` (no accepted episode in the period) the page says so first.
    """
    figures = {spec.name: _figure(spec, svg) for spec, svg in charts}
    by_insats: dict[str | None, list[str]] = {}
    for spec, _svg in charts:
        by_insats.setdefault(spec.insats_id, []).append(spec.name)

    def fig(name: str) -> str:
        return figures.get(name, "")

    banner = (
        f'<div class="exempel" role="alert">{style.EXEMPEL_TEXT} – alla siffror i rapporten '
        "är påhittade och beskriver inga verkliga personer</div>"
        if is_example
        else ""
    )
    if no_data:
        banner += (
            '<div class="utan-data" role="alert">Rapporten saknar data: inga godkända '
            f"insatsperioder under perioden {_e(period.swedish)}. Alla tal nedan är noll. "
            "Se avsnittet Datakvalitet.</div>"
        )
    insats_sections = []
    names = dict(zip(catalog.insatser["insats_id"], catalog.insatser["insats"], strict=True))
    for iid in catalog.ids:
        charts_html = "".join(fig(n) for n in by_insats.get(iid, []))
        insats_sections.append(
            f'<section id="insats-{_e(iid)}"><h3>{_e(names[iid])}</h3>'
            f"{_key_figures(published, iid)}{_insats_goals(published, iid, k)}"
            f"{_utfall_table(published, iid)}{charts_html}</section>"
        )
    title = f"Uppföljning av insatser {period.swedish}"
    return f"""<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} – {_e(catalog.forbund)}{" – " + style.EXEMPEL_TEXT if is_example else ""}</title>
<style>{CSS}</style>
</head>
<body>
{banner}
<main>
<header>
<h1>{_e(title)}</h1>
<p class="lead">{_e(catalog.forbund)} – uppföljning av deltagarnas resultat mot målen i
verksamhetsplanen</p>
</header>
<section id="sammanfattning">
<h2>Sammanfattning: måluppfyllelse</h2>
{summary_section(published, k)}
{fig("maluppfyllelse")}
{fig("arsplatser")}
</section>
<section id="deltagare">
<h2>Deltagare</h2>
{_deltagare_table(published)}
{fig("deltagare_kon")}
{fig("utfall_kon")}
{fig("trend")}
</section>
<section id="insatser">
<h2>Insatserna</h2>
{"".join(insats_sections)}
</section>
<section id="bakgrund">
<h2>Bakgrund och försörjning, alla insatser</h2>
{fig("forsorjning_fore_efter")}
{_fore_efter_table(published)}
{fig("sysselsattning_efter")}
{fig("avslutsorsak")}
{_bakgrund_tables(published)}
</section>
<section id="datakvalitet">
<h2>Datakvalitet</h2>
{data_quality_section(files, quarantine)}
</section>
<section id="om">
<h2>Om statistiken</h2>
{about_section(catalog, period, k, code_version)}
</section>
</main>
</body>
</html>
"""
