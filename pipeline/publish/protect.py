"""Protecting a release: suppression, then the audit, until the audit passes.

The suppression engine (`pipeline.publish.disclosure`) hides small counts and the cells that would
let a reader subtract them back, one equation at a time. The audit (`pipeline.publish.audit`) reads
the tables as they will be written, together with every release already published, and
finds what a reader can still work out. Each finding names visible cells of the new release
that take part in it; one of them is hidden (as a secondary suppression) and the engine runs
again, so that its own equations protect the newly hidden cell too. The loop ends when the
audit passes, or refuses (`DisclosureError`) when a finding has no cell left to hide or the
rounds run out: nothing is then published.

Once it passes, a target whose share is hidden gets the bedömning the published tables
imply (audit: `AuditResult.implied`), which tells a reader nothing new; a bedömning they do
not imply stays empty. A last audit reads the tables with those bedömningar.

docs/publicering.md describes the rules for readers.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from pipeline.core.config import BACKGROUND_PER_INSATS_MIN
from pipeline.core.contract import TABLE_COLUMNS, TOTAL_INSATS_ID
from pipeline.core.period import Period
from pipeline.measures.statistics import START_VARIABLES
from pipeline.publish.audit import AuditResult, Inconsistent, Release, audit, culprits
from pipeline.publish.disclosure import (
    COUNT_COLUMNS,
    OUTCOME_BASE_COLUMNS,
    SECONDARY_MARK,
    DisclosureError,
    published_costs,
    suppress_tables,
)

# Rounds of audit and further suppression before the publisher gives up. On the example
# förbund a single release passes within 8 rounds and nested tertials within 13.
MAX_ROUNDS = 25

# Rounds a finding may survive further hiding before the rows of its cells are left out.
WITHHOLD_AFTER = 4

# Columns left out with a withheld row besides its counts: what would bound them.
WITHHELD_WITH = {
    "maluppfyllelse": ("utfall", "ki_lag", "ki_hog", "andel_okand", "bedomning"),
    "utfall": ("andel", "ki_lag", "ki_hog", "andel_okand"),
    "utfall_kon": ("andel_kvinnor", "andel_man", "skillnad_procentenheter"),
    "trend": ("andel",),
}

# Tables whose count cells make up the "outcome cells" of the hidden-share measure.
OUTCOME_TABLES = ("utfall", "utfall_kon", "maluppfyllelse", "trend")


def table_csv(df: pl.DataFrame) -> bytes:
    """A published table as contract CSV: UTF-8, comma separated, dot decimals."""
    return df.write_csv(separator=",", line_terminator="\n", null_value="").encode("utf-8")


def read_published(data: bytes) -> pl.DataFrame:
    """A published CSV as a reader has it: every cell a string."""
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


@dataclass(frozen=True)
class ProtectedRelease:
    """A release that passed the audit: what to write and what the audit found."""

    tables: dict[str, pl.DataFrame]  # the published tables (count columns as String)
    csv: dict[str, bytes]  # the files as written: what the audit read
    audit: AuditResult
    rounds: int  # audits run before it passed (1: the engine alone sufficed)
    forced: tuple[tuple[str, int, str], ...]  # cells the audit asked to hide
    history: tuple[str, ...]  # labels of the earlier releases it was audited with
    frozen_trend_rows: frozenset[int]  # trend rows copied from earlier releases


def link_year(period: Period) -> int | None:
    """The trend year that is the period itself (a period starting on 1 January): its
    trend row and the period's outcome rows are the same counts.

    >>> link_year(Period(dt.date(2025, 1, 1), dt.date(2025, 4, 30)))
    2025
    >>> link_year(Period(dt.date(2025, 3, 1), dt.date(2025, 12, 31))) is None
    True
    """
    start = dt.date(period.end.year, 1, 1)
    return period.end.year if period.start == start else None


def frozen_trend(
    trend: pl.DataFrame, period: Period, history: Sequence[Release]
) -> tuple[pl.DataFrame, frozenset[int]]:
    """The published trend with every earlier full year as it was first published.

    A year counts as published when an earlier release's period reached the year's end and
    its trend has a row for every insats and measure of this trend's year. Returns the trend
    and the numbers of the copied rows; they cannot be hidden further (they are out).
    """
    if trend.height == 0:
        return trend, frozenset()
    years = set(trend["ar"].cast(pl.Int64).to_list()) - {period.end.year}
    frozen = []
    for release in sorted(history, key=lambda r: r.period.end):  # earliest first
        earlier = release.tables.get("trend")
        if earlier is None or earlier.height == 0:
            continue
        for year in sorted(years):
            if release.period.end < dt.date(year, 12, 31):
                continue
            rows = earlier.filter(pl.col("ar").cast(pl.Int64) == year)
            wanted = trend.filter(pl.col("ar").cast(pl.Int64) == year).select("insats_id", "matt")
            if wanted.join(rows, on=["insats_id", "matt"], how="anti").height == 0:
                frozen.append(rows.join(wanted, on=["insats_id", "matt"], how="semi"))
                years.discard(year)
    if not frozen:
        return trend, frozenset()
    copied = pl.concat(frozen).select(trend.columns).cast(dict(trend.schema), strict=False)
    key = ["insats_id", "ar", "matt"]
    order = trend.select(key).with_row_index("_order")
    merged = pl.concat(
        [
            trend.join(copied, on=key, how="anti").with_columns(_copied=pl.lit(False)),
            copied.with_columns(_copied=pl.lit(True)),
        ]
    )
    merged = merged.join(order, on=key).sort("_order").drop("_order")
    rows = frozenset(merged.with_row_index("_r").filter("_copied")["_r"].to_list())
    return merged.drop("_copied"), rows


def published_detail(
    tables: dict[str, pl.DataFrame], min_episodes: int = BACKGROUND_PER_INSATS_MIN
) -> dict[str, pl.DataFrame]:
    """The exact tables cut to the detail that is published (docs/publicering.md).

    Background per insats splits a few dozen persons over 66 categories and two kön: cell
    suppression over it and its links would hide most of it, so the published report shows
    it as follows: the förbund (TOTALT) by kön; for an insats with at least `min_episodes`
    episodes in the period (avslutade + pågående) the background at start, without the kön
    split (its status at the end is what its outcome tables show); for smaller insatser
    nothing. Försörjning före → efter (a sparse 5 × 5 table) only for the förbund.
    The audit counts what is left out as derivable quantities, so leaving out adds no risk.

    >>> b = pl.DataFrame({"insats_id": ["A", "B", "B", "TOTALT"],
    ...     "variabel": ["utbildning", "utbildning", "avslutsorsak", "utbildning"],
    ...     "kvinnor": [1, 9, 9, 10], "man": [2, 30, 30, 32], "totalt": [3, 39, 39, 42]})
    >>> d = pl.DataFrame({"insats_id": ["A", "B", "TOTALT"], "avslutade": [3, 20, 23],
    ...     "pagaende": [0, 30, 30]})
    >>> published_detail({"bakgrund": b, "deltagare": d})["bakgrund"].rows()
    [('B', 'utbildning', None, None, 39), ('TOTALT', 'utbildning', 10, 32, 42)]
    """
    out = dict(tables)
    total = pl.col("insats_id") == TOTAL_INSATS_ID
    if "bakgrund" in tables:
        large: list[str] = []
        if "deltagare" in tables:
            d = tables["deltagare"]
            episodes = pl.col("avslutade") + pl.col("pagaende")
            large = d.filter(episodes >= min_episodes)["insats_id"].to_list()
        at_start = pl.col("variabel").is_in(list(START_VARIABLES))
        b = tables["bakgrund"].filter(total | (pl.col("insats_id").is_in(large) & at_start))
        out["bakgrund"] = b.with_columns(
            pl.when(total).then(pl.col(c)).otherwise(None).alias(c) for c in ("kvinnor", "man")
        )
    if "forsorjning_fore_efter" in tables:
        out["forsorjning_fore_efter"] = tables["forsorjning_fore_efter"].filter(total)
    return out


def protect_release(
    tables: dict[str, pl.DataFrame],
    k: int,
    period: Period,
    history: Sequence[Release] = (),
    *,
    max_rounds: int = MAX_ROUNDS,
    progress: Callable[[str], None] | None = None,
) -> ProtectedRelease:
    """Suppress `tables` (the exact tables of docs/tabeller.md) until the audit over them
    and every earlier release in `history` passes; raise DisclosureError if it cannot."""
    say = progress or (lambda _msg: None)
    label = period.label
    tables = published_detail(tables)
    # The cost table is derived from what is published, never suppressed on its own.
    costs = tables.pop("kostnad", None)
    forced: set[tuple[str, int, str]] = set()
    withheld: set[tuple[str, int]] = set()  # rows left out, where nothing else helps
    seen: dict[str, int] = defaultdict(int)  # finding → rounds it has been found in
    hints: list[dict] = []  # the last audit's solutions: most hold after more hiding
    for round_no in range(1, max_rounds + 1):
        published, frozen_rows = _suppressed(tables, k, period, history, forced, withheld, costs)
        csv, result = _audited(published, k, period, history, hints)
        if result.passed:
            break
        hints = result.points
        findings = _current(result)
        for finding in findings:
            seen[finding.name] += 1
        new, rows = _cells_to_hide(findings, result, label, forced, frozen_rows, seen)
        say(
            f"Granskning {round_no}: {len(findings)} fynd, döljer {len(new)} celler till"
            + (f" och utelämnar {len(rows - withheld)} rader" if rows - withheld else "")
        )
        if not new and rows <= withheld:
            raise DisclosureError(
                "Röjandekontrollen hittar inget mer att dölja: "
                + findings[0].describe()
                + "; ingen rapport publicerades."
            )
        forced |= new
        withheld |= rows
    else:
        raise DisclosureError(
            f"Röjandekontrollen gick inte igenom efter {max_rounds} omgångar; "
            "ingen rapport publicerades. " + _describe(result)
        )
    if result.implied:
        # An implied bedömning adds no relation the tables do not already imply; still, the
        # tables as written are audited once more, and where that audit (whose integer
        # programs have a work limit, erring towards findings) does not pass, the
        # bedömningar stay open: the release that passed is published.
        filled = _with_assessments(published, result.implied)
        filled_csv, filled_result = _audited(filled, k, period, history, result.points)
        if filled_result.passed:
            published, csv, result = filled, filled_csv, filled_result
    return ProtectedRelease(
        tables=published,
        csv=csv,
        audit=result,
        rounds=round_no,
        forced=tuple(sorted(forced)),
        history=tuple(r.label for r in history),
        frozen_trend_rows=frozen_rows,
    )


def _suppressed(
    tables, k, period, history, forced, withheld=frozenset(), costs=None
) -> tuple[dict[str, pl.DataFrame], frozenset[int]]:
    published = _withhold(suppress_tables(tables, k, link_year(period), forced), withheld)
    frozen_rows: frozenset[int] = frozenset()
    if "trend" in published:
        published["trend"], frozen_rows = frozen_trend(published["trend"], period, history)
    if costs is not None:
        published["kostnad"] = published_costs(costs, published)
    return published, frozen_rows


def _audited(published, k, period, history, hints=()) -> tuple[dict[str, bytes], AuditResult]:
    csv = {name: table_csv(df.select(TABLE_COLUMNS[name])) for name, df in published.items()}
    release = Release(
        period.label, period, k, {n: read_published(b) for n, b in csv.items()}, current=True
    )
    try:
        return csv, audit([*history, release], hints)
    except Inconsistent as exc:  # the new tables contradict themselves: a defect upstream
        raise DisclosureError(
            "De publicerade tabellerna motsäger varandra och kan inte granskas; ingen rapport "
            "publicerades. Kör om med samma indata och anmäl felet om det kvarstår."
        ) from exc


def _current(result: AuditResult):
    return [f for f in result.findings if f.current]


def _withhold(published, rows: set[tuple[str, int]]) -> dict[str, pl.DataFrame]:
    """Leave the count cells of some rows out (empty): what a reader does not see at all,
    not even as `<k`, bounds nothing."""
    out = dict(published)
    for table in sorted({t for t, _ in rows}):
        numbers = [n for t, n in rows if t == table]
        df = out[table].with_row_index("_r")
        left_out = pl.col("_r").is_in(numbers)
        # A goal's outcome (a count for a volume target) and its bedömning go with it.
        columns = (*COUNT_COLUMNS[table], *WITHHELD_WITH.get(table, ()))
        out[table] = df.with_columns(
            pl.when(left_out).then(None).otherwise(pl.col(c)).alias(c) for c in columns
        ).drop("_r")
    return out


def _cells_to_hide(
    findings, result, label, fixed, frozen_rows, seen
) -> tuple[set[tuple[str, int, str]], set[tuple[str, int]]]:
    """Visible cells that break the findings' derivations: a greedy multi-cover over the
    findings' culprits (the cell in most of them first, then not an outcome base, then
    the smallest count). A finding found again after its culprits were hidden needs as
    many cells as the rounds it has been found in: its derivation had other routes.

    A finding with no visible cell left to hide is pinned by what hidden cells say
    (each at least 1, `<k` at most k−1) against zeros and sums: the rows of its hidden
    cells are then left out (second value returned), as are those of a finding that
    survived WITHHOLD_AFTER rounds of hiding."""
    options: list[set[tuple[str, int, str]]] = []
    need: list[int] = []
    value: dict[tuple[str, int, str], float] = {}
    rows: set[tuple[str, int]] = set()

    def keep(ref) -> bool:  # already hidden on request, or a frozen trend row
        key = (ref.table, ref.row, ref.column)
        return key in fixed or (ref.table == "trend" and ref.row in frozen_rows)

    for finding in findings:
        found = set()
        for ref in culprits(result, finding, label, keep=keep):
            key = (ref.table, ref.row, ref.column)
            found.add(key)
            value[key] = result.model.visible.get(ref, 0.0) if result.model else 0.0
        if not found or seen.get(finding.name, 1) >= WITHHOLD_AFTER:
            rows |= _rows_of(result, finding, label)
        if not found:
            continue
        options.append(found)
        need.append(min(seen.get(finding.name, 1), len(found)))
    chosen: set[tuple[str, int, str]] = set()
    while any(n > 0 for n in need):
        counts: dict[tuple[str, int, str], int] = defaultdict(int)
        for found, n in zip(options, need, strict=True):
            if n > 0:
                for key in found - chosen:
                    counts[key] += 1
        best = min(counts, key=lambda c: (-counts[c], c[2] in OUTCOME_BASE_COLUMNS, value[c], c))
        chosen.add(best)
        need = [n - (best in found) for found, n in zip(options, need, strict=True)]
    return chosen | _copies(chosen, result, label, keep), rows


def _rows_of(result, finding, label) -> set[tuple[str, int]]:
    """The rows of the release's hidden cells whose counts make up the finding."""
    model = result.model
    if finding.cell is not None and finding.cell.release == label:
        return {(finding.cell.table, finding.cell.row)}
    if model is None:
        return set()
    variables = {v for v, _ in finding.target.terms}
    return {
        (ref.table, ref.row)
        for ref, terms in model.cells.items()
        if ref.release == label and ref not in model.visible and variables & set(terms)
    }


def _copies(chosen, result, label, keep) -> set[tuple[str, int, str]]:
    """The visible cells of the release that show the same count as a chosen cell (the
    outcome base in utfall, utfall_kon, maluppfyllelse and trend): hiding one copy alone
    would protect nothing."""
    model = result.model
    if model is None:
        return set()
    same: dict[frozenset, list] = defaultdict(list)
    for ref, terms in model.cells.items():
        if ref.release == label and ref in model.visible and not keep(ref):
            same[frozenset(terms.items())].append(ref)
    out = set()
    for ref, terms in model.cells.items():
        if ref.release == label and (ref.table, ref.row, ref.column) in chosen:
            out |= {(c.table, c.row, c.column) for c in same.get(frozenset(terms.items()), ())}
    return out


def _with_assessments(published, implied: dict[int, str]) -> dict[str, pl.DataFrame]:
    rows = pl.DataFrame(
        {"_r": list(implied), "_implied": list(implied.values())},
        schema={"_r": pl.UInt32, "_implied": pl.String},
    )
    goals = (
        published["maluppfyllelse"]
        .with_row_index("_r")
        .join(rows, on="_r", how="left")
        .with_columns(pl.coalesce("bedomning", "_implied").alias("bedomning"))
        .drop("_r", "_implied")
    )
    return {**published, "maluppfyllelse": goals}


def _describe(result: AuditResult) -> str:
    found = _current(result)
    shown = "; ".join(f.describe() for f in found[:5])
    more = f" (och {len(found) - 5} till)" if len(found) > 5 else ""
    return f"{len(found)} uppgifter kan räknas fram: {shown}{more}."


def hidden_share(published: dict[str, pl.DataFrame], tables: Sequence[str]) -> tuple[int, int]:
    """(hidden, all) count cells of the named published tables; zero counts are cells too."""
    hidden = total = 0
    for name in tables:
        df = published.get(name)
        if df is None:
            continue
        for col in COUNT_COLUMNS[name]:
            values = df[col].cast(pl.String)
            total += values.len() - values.null_count()
            hidden += int((values.str.starts_with("<") | (values == SECONDARY_MARK)).sum())
    return hidden, total
