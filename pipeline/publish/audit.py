"""The audit: what a reader can work out from everything published, cell by cell.

Independent of the suppression engine (`pipeline.publish.disclosure`): it reads the published
tables as written (strings: "12", "<5", ".."), knows only what docs/tabeller.md and
docs/matt.md tell any reader, and asks linear programs (HiGHS, through highspy) for the range
each hidden count can still take. It is what τ-ARGUS and sdcTable call the audit of a
suppression pattern, done over every table of every release at once.

The reader's model
------------------
Every published count stands for a *quantity*: persons or episodes of an insats in a period.
Counts of episodes that start or end in a period are additive over time, so they are sums
over *atoms*, the pieces into which all published periods cut the timeline (a tertial and
the year make the atoms Jan–Apr and May–Dec). Counts of persons, of episodes overlapping a
period and of episodes open at its end are quantities of that period, linked to those of
other periods by inequalities. The relations (`_Builder.relations`) are those a reader can
read off the definitions: kön splits; TOTALT as the sum over insatser (episodes) or between
their largest and their sum (distinct persons); the background variables summing to the
episodes overlapping the period (start) or ended in it (end); the outcome base as the ended
episodes less those who moved or died; nested outcome measures and their link to
sysselsättning at the end; shares that pin their numerators; targets with their assessment;
the same number in several tables; trend rows as periods of their own.

What must hold
--------------
- no hidden count is pinned to one value (`hemlig_fast`);
- no derived count is pinned to a value in 1..k−1 (`harledd_liten`): the complements of a
  share (not reached, unknown), those who moved or died, a difference between nested
  measures or nested periods, an atom of time, and the hidden parts of a sum taken together.

A hidden count is at least 1 (zero is always shown); `<k` means 1..k−1 and `..` at least
k (a small count is always shown as `<k`). Ranges are those of
the linear relaxation rounded inwards to integers; where the relations have fractional
coefficients (shares, targets), narrow ranges are confirmed as integer programs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipeline.core.catalog import target_fraction
from pipeline.core.contract import COLUMN_BY_NAME, FORSORJNING, TOTAL_INSATS_ID
from pipeline.core.period import Period
from pipeline.measures.definitions import ALDERSGRUPP_LABELS

SECONDARY = ".."
INF = math.inf
# Rounding of published shares (4 decimals): a share s stands for numerator/base in s ± this.
SHARE_HALF_STEP = 0.00005
# Time for one integer program (a share or target component the relaxation leaves narrow):
# past it, the solver's bound and best solution decide, erring on the side of a finding.
MIP_SECONDS = 5.0
# The same as a count of branch-and-bound nodes: a limit of work, not of time, so that the
# same tables give the same audit (and the same published report) on any machine. The time
# limit above is only a safety net.
MIP_NODES = 200
# Time for one integer sample of a component with fractional relations (any integer
# solution found is a feasible point, optimal or not).
SAMPLE_MIP_SECONDS = 5.0
SAMPLE_MIP_NODES = 20  # a sample needs a feasible point, not an optimum
# Årsplatser are published with 2 decimals: a value v stands for v ± this.
PLACES_HALF_STEP = 0.005 + 1e-9
# A cost per person is published in whole kronor: a value c stands for c ± this.
COST_HALF_STEP = 0.5 + 1e-9
COST_PER = {
    "deltagare": "kostnad_per_deltagare",
    "arsplatser": "kostnad_per_arsplats",
    "uppnadde": "kostnad_per_uppnadd",
}
# Integer solutions kept per component as starts for its integer programs.
MAX_POINTS = 256
# Upper bound on every count while sampling feasible solutions (far above any förbund).
SAMPLE_BOX = 1e6
START_VARIABLES = (
    "aldersgrupp",
    "utbildning",
    "tid_offentlig_forsorjning",
    "forsorjning_fore",
    "sysselsattning_fore",
)
END_VARIABLES = ("forsorjning_efter", "sysselsattning_efter", "avslutsorsak")
OUTSIDE_BASE = ("flyttat", "avliden")
UNKNOWN_CODES = ("okand", "uppgift_saknas")
# The sysselsättning codes each nested measure counts (contract section 3).
MEASURE_CODES = {
    "arbete_studier": ("arbete", "arbete_med_stod", "studier"),
    "arbete_studier_arbetssokande": ("arbete", "arbete_med_stod", "studier", "arbetssokande"),
    "aktivitet_sysselsattning": (
        "arbete",
        "arbete_med_stod",
        "studier",
        "arbetssokande",
        "arbetstraning_praktik",
        "rehabilitering",
    ),
}
NESTED = tuple(MEASURE_CODES)
FORSORJNING_CODES = (*FORSORJNING, "uppgift_saknas")


def _categories(variable: str) -> tuple[str, ...]:
    """A background variable's categories as published (docs/tabeller.md): its codes
    (felregistrering counts nowhere), then uppgift_saknas."""
    codes = ALDERSGRUPP_LABELS if variable == "aldersgrupp" else COLUMN_BY_NAME[variable].codes
    return (*(c for c in codes or () if c != "felregistrering"), "uppgift_saknas")


START_CODES = {v: _categories(v) for v in START_VARIABLES}
END_CODES = {v: _categories(v) for v in END_VARIABLES}
KON = ("K", "M")
# Families of quantities counted over atoms of time (episodes that start or end in them).
ADDITIVE = frozenset({"nya", "avsl", "bas", "upp", "okand", "slut", "slutkon", "ff"})

Span = tuple[dt.date, dt.date]  # an inclusive period
Terms = dict[int, float]


@dataclass(frozen=True)
class Release:
    """One published report: its period, its k and its tables as published (strings).

    `current` marks the release being decided: only its cells can still be hidden.
    """

    label: str
    period: Period
    k: int
    tables: dict[str, pl.DataFrame]
    current: bool = False


@dataclass(frozen=True)
class CellRef:
    """Where a published cell is: release label, table, row number, column."""

    release: str
    table: str
    row: int
    column: str


@dataclass(frozen=True)
class Target:
    """A count the audit bounds: a hidden cell or a derived count (a linear expression)."""

    name: str
    kind: str  # "hemlig" (a hidden cell) or "harledd" (a derived count)
    terms: tuple[tuple[int, float], ...]
    k: int
    cell: CellRef | None
    current: bool


@dataclass(frozen=True)
class Finding:
    """A count the published tables give away."""

    name: str
    rule: str  # "hemlig_fast" or "harledd_liten"
    value: int
    cell: CellRef | None
    current: bool
    target: Target

    def describe(self) -> str:
        what = "den dolda uppgiften" if self.rule == "hemlig_fast" else "antalet"
        return f"{what} {self.name} kan räknas fram: {self.value}"


@dataclass
class AuditResult:
    """The findings, the range of every target, and what it took."""

    findings: list[Finding]
    ranges: dict[str, tuple[int, int]]
    targets: int
    programs: int  # linear programs solved
    model: Model | None = None
    inconsistent: bool = False  # releases contradict each other (data revised in between)
    # Row → bedömning that the tables imply, for targets of the current release published
    # without one (`_Builder.open_assessment`): publishing it reveals nothing more.
    implied: dict[int, str] = field(default_factory=dict)
    solver: _Solver | None = field(default=None, repr=False)
    points: list[dict] = field(default_factory=list, repr=False)  # integer solutions seen

    @property
    def passed(self) -> bool:
        return not any(f.current for f in self.findings)


# --- The linear model ----------------------------------------------------------------------


class Model:
    """Non-negative integer (or continuous) variables and linear constraints low ≤ a·x ≤ high.

    It also remembers which published cell stands for which expression, so that a finding
    can be traced to the visible cells that give it away (`pipeline.publish.disclosure` hides one).
    """

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.continuous: set[int] = set()
        self.rows: list[tuple[Terms, float, float]] = []
        self.cells: dict[CellRef, Terms] = {}  # every published count cell
        self.visible: dict[CellRef, float] = {}  # the visible ones, with their value
        self._by_var: dict[int, list[int]] | None = None
        self.cell_row: dict[CellRef, int] = {}  # a visible cell → the equality it gives
        self._indexed_rows = 0

    def rows_with(self, v: int) -> list[int]:
        """The relations a variable takes part in (indexed on first use)."""
        if getattr(self, "_by_var", None) is None or self._indexed_rows != len(self.rows):
            by_var: dict[int, list[int]] = defaultdict(list)
            for n, (terms, _, _) in enumerate(self.rows):
                for u in terms:
                    by_var[u].append(n)
            self._by_var, self._indexed_rows = by_var, len(self.rows)
        return self._by_var.get(v, [])

    def cells_with(self) -> dict[int, list[CellRef]]:
        """Variable → the published cells whose count it is part of."""
        out: dict[int, list[CellRef]] = defaultdict(list)
        for ref, terms in self.cells.items():
            for v in terms:
                out[v].append(ref)
        return out

    def key_of(self, v: int) -> tuple:
        if len(getattr(self, "_keys", ())) != len(self.index):
            self._keys = list(self.index)  # insertion order: position = variable number
        return self._keys[v]

    def var(self, key: tuple, *, continuous: bool = False) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.index)
            if continuous:
                self.continuous.add(found)
        return found

    def add(self, terms: Terms, low: float, high: float) -> None:
        terms = {v: c for v, c in terms.items() if c != 0}
        if terms:
            self.rows.append((terms, low, high))

    def eq(self, terms: Terms, value: float = 0.0) -> None:
        self.add(terms, value, value)

    def le(self, terms: Terms, value: float = 0.0) -> None:
        self.add(terms, -INF, value)


def _plus(*parts: Terms, scale: float = 1.0) -> Terms:
    out: dict[int, float] = defaultdict(float)
    for part in parts:
        for v, c in part.items():
            out[v] += c * scale
    return dict(out)


def _minus(a: Terms, b: Terms) -> Terms:
    return _plus(a, {v: -c for v, c in b.items()})


# --- Periods and atoms ------------------------------------------------------------------------


def trend_span(period: Period, year: int) -> Span:
    """What a trend row stands for: its calendar year, ended at the report's end."""
    return dt.date(year, 1, 1), min(dt.date(year, 12, 31), period.end)


def atoms(spans: Iterable[Span]) -> list[Span]:
    """The pieces into which the spans cut the timeline (each inside some span).

    >>> [f"{a:%m-%d}..{b:%m-%d}" for a, b in atoms([(dt.date(2025, 1, 1), dt.date(2025, 4, 30)),
    ...     (dt.date(2025, 1, 1), dt.date(2025, 12, 31))])]
    ['01-01..04-30', '05-01..12-31']
    """
    spans = set(spans)
    one = dt.timedelta(days=1)
    cuts = sorted({s for s, _ in spans} | {e + one for _, e in spans})
    pieces = [(a, b - one) for a, b in itertools.pairwise(cuts)]
    return [p for p in pieces if any(s <= p[0] and p[1] <= e for s, e in spans)]


def _inside(inner: Span, outer: Span) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


# --- Published cells ----------------------------------------------------------------------------


def parse_count(text: str | None, k: int) -> tuple[float, float] | None:
    """A published count as (low, high): "12" → (12, 12), "<5" → (1, 4), ".." → (k, ∞).

    A secondary suppression is at least k: a count of 1..k−1 is always shown as "<k" and
    zero is always shown, as docs/publicering.md tells every reader.

    >>> parse_count("<5", 5), parse_count("..", 5), parse_count("0", 5)
    ((1.0, 4.0), (5.0, inf), (0.0, 0.0))
    """
    if text is None or text == "":
        return None
    if text == SECONDARY:
        return float(k), INF
    if text.startswith("<"):
        return 1.0, float(int(text[1:]) - 1)
    value = float(text)
    return value, value


def _number(text: str | None) -> float | None:
    if text is None or text == "" or text == SECONDARY:
        return None
    return float(text)


# --- Building the model from releases ---------------------------------------------------------


def _against_target(value: Terms, base: Terms | None, mal: float) -> tuple[Terms, float]:
    """A target as `expression ≥ floor` in integers: den·value − num·base ≥ 0 for a share
    num/den of a base, den·value ≥ num for a volume."""
    num, den = target_fraction(mal)
    scaled = {v: c * den for v, c in value.items()}
    if base is None:
        return scaled, float(num)
    return _plus(scaled, {v: -c * num for v, c in base.items()}), 0.0


class _Builder:
    def __init__(self, releases: Sequence[Release]) -> None:
        self.releases = list(releases)
        self.model = Model()
        self.targets: list[Target] = []
        self.k = min(r.k for r in self.releases)
        ids: set[str] = set()
        spans: set[Span] = set()
        for r in self.releases:  # a loop over releases
            spans.add((r.period.start, r.period.end))
            for name, table in r.tables.items():
                # The cost table also lists strukturövergripande insatser, which have no
                # records (the report says so): they are no part of any count's total.
                if "insats_id" in table.columns and name != "kostnad":
                    ids.update(table["insats_id"].to_list())
            trend = r.tables.get("trend")
            if trend is not None and trend.height:
                spans.update(trend_span(r.period, int(y)) for y in set(trend["ar"].to_list()))
        self.individual = sorted(ids - {TOTAL_INSATS_ID})
        self.insatser = [*self.individual, TOTAL_INSATS_ID]
        self.atoms = atoms(spans)
        self.spans = sorted(spans)
        self.current_spans: set[Span] = set()
        # What was published where: (family, span) pairs, to know which relations matter.
        self.published: set[tuple[str, Span]] = set()
        self.sums: list[tuple[Terms, list[tuple[CellRef, Terms, bool]], bool]] = []
        self.open_assessments: list[tuple[int, tuple[Terms, float]]] = []

    # Quantities --------------------------------------------------------------------------

    def additive(self, key: tuple, span: Span) -> Terms:
        """An additive count (episodes starting or ending) over a span: a sum of atoms."""
        return {self.model.var((*key, a)): 1.0 for a in self.atoms if _inside(a, span)}

    def point(self, key: tuple, span: Span, *, continuous: bool = False) -> Terms:
        """A count of the span itself (persons, overlapping or open episodes)."""
        return {self.model.var((*key, span), continuous=continuous): 1.0}

    def overlapping(self, insats: str, span: Span) -> Terms:
        """Episodes overlapping a span: those ended in it and those open at its end."""
        return _plus(self.additive(("avsl", insats), span), self.point(("pag", insats), span))

    # Cells ---------------------------------------------------------------------------------

    def cell(
        self, release: Release, table: str, row: int, column: str, text, terms: Terms
    ) -> tuple[CellRef, bool] | None:
        """A published count: its value, or its bounds and a target when hidden."""
        parsed = parse_count(text, release.k)
        if parsed is None:
            return None
        low, high = parsed
        ref = CellRef(release.label, table, row, column)
        self.model.cells[ref] = terms
        if low == high:
            self.model.cell_row[ref] = len(self.model.rows)
            self.model.eq(terms, low)
            self.model.visible[ref] = low
            return ref, False
        self.model.add(terms, low, high)
        name = f"{release.label}/{table}[{row}].{column}"
        self.targets.append(
            Target(name, "hemlig", tuple(terms.items()), release.k, ref, release.current)
        )
        return ref, True

    def derived(self, name: str, terms: Terms, current: bool) -> None:
        if terms:
            self.targets.append(
                Target(name, "harledd", tuple(terms.items()), self.k, None, current)
            )

    def share(self, value: float | None, numerator: Terms, base: Terms, slack: float) -> None:
        """A published share, rounded: numerator ∈ (share ± slack) × base."""
        if value is None:
            return
        self.model.le(_plus(numerator, {v: -(value + slack) * c for v, c in base.items()}))
        self.model.add(
            _plus(numerator, {v: -(value - slack) * c for v, c in base.items()}), 0.0, INF
        )

    def assessment(
        self, text: str | None, value: Terms, base: Terms | None, mal: float, k: int
    ) -> None:
        """A published bedömning: uppnått is value ≥ mål (× base for a share), ej uppnått is
        below it, för få deltagare is a base under k."""
        if not text:
            return
        scaled, floor = _against_target(value, base, mal)
        integral = base is not None or all(v not in self.model.continuous for v in value)
        if text == "uppnatt":
            self.model.add(scaled, floor, INF)
        elif text == "ej_uppnatt":
            self.model.le(scaled, floor - (1.0 if integral else 1e-6))
        elif text == "for_fa_deltagare" and base is not None:
            self.model.add(base, 0.0, float(k - 1))

    def open_assessment(self, row: int, value: Terms, base: Terms | None, mal: float) -> None:
        """A target of the current release published without its bedömning: whether the
        tables imply one is decided after the audit (`AuditResult.implied`)."""
        self.open_assessments.append((row, _against_target(value, base, mal)))

    def sum_group(self, total: Terms, parts: list[tuple[CellRef, Terms, bool]], current: bool):
        """Published parts of a total a reader knows: the hidden parts together are a count."""
        self.sums.append((total, parts, current))

    # Tables --------------------------------------------------------------------------------

    def read(self, release: Release) -> None:
        span = (release.period.start, release.period.end)
        if release.current:
            self.current_spans.add(span)
        # The cost table last: it repeats counts of the others and bounds them further.
        for name, table in sorted(release.tables.items(), key=lambda nt: nt[0] == "kostnad"):
            reader = getattr(self, f"_read_{name}", None)
            if reader is not None and table.height:
                reader(release, span, table.with_row_index("_r"))

    def _read_deltagare(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        self.published.update({("pers", span), ("deltagare", span), ("avsl", span)})
        totals: dict[str, list] = defaultdict(list)
        for row in t.iter_rows(named=True):  # one row per insats
            i, n = row["insats_id"], row["_r"]
            persons = {kon: self.point(("pers", i, kon), span) for kon in ("alla", *KON)}
            cells = {
                "deltagare": persons["alla"],
                "kvinnor": persons["K"],
                "man": persons["M"],
                "nya": self.additive(("nya", i), span),
                "avslutade": self.additive(("avsl", i), span),
                "pagaende": self.point(("pag", i), span),
            }
            got = {c: self.cell(r, "deltagare", n, c, row[c], terms) for c, terms in cells.items()}
            kon_parts = [(got[c][0], cells[c], got[c][1]) for c in ("kvinnor", "man") if got[c]]
            self.sum_group(cells["deltagare"], kon_parts, r.current)
            for c in ("nya", "avslutade", "pagaende"):
                if got[c] and i != TOTAL_INSATS_ID:
                    totals[c].append((got[c][0], cells[c], got[c][1]))
            ap = _number(row["arsplatser"])
            places = self.point(("ap", i), span, continuous=True)
            if ap is not None:
                self.model.add(places, ap - PLACES_HALF_STEP, ap + PLACES_HALF_STEP)
        for c, parts in totals.items():
            key = ("nya", "avsl")[c == "avslutade"] if c != "pagaende" else "pag"
            total = (
                self.point(("pag", TOTAL_INSATS_ID), span)
                if c == "pagaende"
                else self.additive((key, TOTAL_INSATS_ID), span)
            )
            self.sum_group(total, parts, r.current)

    def _read_tid_i_insats(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        for row in t.iter_rows(named=True):
            terms = self.additive(("avsl", row["insats_id"]), span)
            self.cell(r, "tid_i_insats", row["_r"], "avslutade", row["avslutade"], terms)

    def _outcome(self, i: str, kon: str, matt: str, span: Span) -> tuple[Terms, Terms, Terms]:
        return (
            self.additive(("bas", i, kon), span),
            self.additive(("upp", i, kon, matt), span),
            self.additive(("okand", i, kon, matt), span),
        )

    def _read_utfall(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        self.published.add(("utfall", span))
        groups: dict[tuple, dict[str, tuple]] = defaultdict(dict)
        for row in t.iter_rows(named=True):  # insats × kön × mått
            i, kon, matt, n = row["insats_id"], row["kon"], row["matt"], row["_r"]
            base, reached, unknown = self._outcome(i, kon, matt, span)
            for column, terms in (
                ("namnare", base),
                ("taljare", reached),
                ("antal_okand", unknown),
            ):
                got = self.cell(r, "utfall", n, column, row[column], terms)
                if got:
                    groups[(column, matt, i)][kon] = (got[0], terms, got[1])
                    groups[(column, matt, kon, "insatser")][i] = (got[0], terms, got[1])
            self.share(_number(row["andel"]), reached, base, SHARE_HALF_STEP)
            self.share(_number(row["andel_okand"]), unknown, base, SHARE_HALF_STEP)
            self._complements(f"{r.label}/utfall {i} {kon} {matt}", base, reached, unknown, r)
        for key, members in groups.items():
            if key[-1] == "insatser":
                parts = [v for i, v in members.items() if i != TOTAL_INSATS_ID]
                if TOTAL_INSATS_ID in members:
                    self.sum_group(members[TOTAL_INSATS_ID][1], parts, r.current)
            elif "alla" in members:
                self.sum_group(
                    members["alla"][1], [members[k] for k in KON if k in members], r.current
                )

    def _complements(self, name: str, base: Terms, reached: Terms, unknown: Terms, r: Release):
        self.derived(f"{name}: ej uppnått", _minus(base, reached), r.current)
        self.derived(f"{name}: känt utfall", _minus(base, unknown), r.current)

    def _read_utfall_kon(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        for row in t.iter_rows(named=True):
            i, matt, n = row["insats_id"], row["matt"], row["_r"]
            shares = {}
            for kon, suffix in (("K", "kvinnor"), ("M", "man")):
                base, reached, _ = self._outcome(i, kon, matt, span)
                self.cell(r, "utfall_kon", n, f"namnare_{suffix}", row[f"namnare_{suffix}"], base)
                shares[kon] = (_number(row[f"andel_{suffix}"]), reached, base)
                self.share(shares[kon][0], reached, base, SHARE_HALF_STEP)
            diff = _number(row["skillnad_procentenheter"])
            (a_k, reached_k, base_k), (a_m, reached_m, base_m) = shares["K"], shares["M"]
            if diff is not None and (a_k is None) != (a_m is None):
                # One share hidden, the other and the difference shown: the hidden one follows.
                if a_k is None:
                    self.share(a_m + diff, reached_k, base_k, 3 * SHARE_HALF_STEP)
                else:
                    self.share(a_k - diff, reached_m, base_m, 3 * SHARE_HALF_STEP)

    def _read_maluppfyllelse(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        for row in t.iter_rows(named=True):
            i, matt, n, mal = row["insats_id"], row["matt"], row["_r"], float(row["mal"])
            base: Terms | None = None
            if matt in NESTED or matt == "narmare_arbete":
                base, value, unknown = self._outcome(i, "alla", matt, span)
                self.cell(r, "maluppfyllelse", n, "namnare", row["namnare"], base)
                self.cell(r, "maluppfyllelse", n, "taljare", row["taljare"], value)
                self.share(_number(row["utfall"]), value, base, SHARE_HALF_STEP)
                self.share(_number(row["andel_okand"]), unknown, base, SHARE_HALF_STEP)
            elif matt == "deltagare":
                value = self.point(("pers", i, "alla"), span)
                self.cell(r, "maluppfyllelse", n, "utfall", row["utfall"], value)
            elif matt == "arsplatser":
                value = self.point(("ap", i), span, continuous=True)
                places = _number(row["utfall"])
                if places is not None:
                    self.model.add(value, places - PLACES_HALF_STEP, places + PLACES_HALF_STEP)
            else:
                continue
            self.assessment(row["bedomning"], value, base, mal, r.k)
            if r.current and not row["bedomning"]:
                self.open_assessment(n, value, base, mal)

    def _read_kostnad(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        """The cost table repeats counts of deltagare and maluppfyllelse, and a cost per
        person c of a kostnad K shown beside it (both whole kronor) bounds its count:
        (K − ½)/(c + ½) ≤ count ≤ (K + ½)/(c − ½)."""
        for row in t.iter_rows(named=True):  # one row per insats and share target
            i, n = row["insats_id"], row["_r"]
            if i not in self.insatser:  # strukturövergripande: money only
                continue
            counts = {
                "deltagare": self.point(("pers", i, "alla"), span),
                "arsplatser": self.point(("ap", i), span, continuous=True),
            }
            self.cell(r, "kostnad", n, "deltagare", row["deltagare"], counts["deltagare"])
            places = _number(row["arsplatser"])
            if places is not None:
                self.model.add(
                    counts["arsplatser"], places - PLACES_HALF_STEP, places + PLACES_HALF_STEP
                )
            if row["matt"] in NESTED or row["matt"] == "narmare_arbete":
                counts["uppnadde"] = self._outcome(i, "alla", row["matt"], span)[1]
                self.cell(r, "kostnad", n, "uppnadde", row["uppnadde"], counts["uppnadde"])
            kostnad = _number(row["kostnad"])
            for count, terms in counts.items():
                each = _number(row[COST_PER[count]])
                if kostnad is None or each is None or kostnad <= 0:
                    continue
                # Kostnad is published in whole kronor too: K ± ½ over c ± ½.
                low_k, high_k = max(kostnad - COST_HALF_STEP, 0.0), kostnad + COST_HALF_STEP
                high = high_k / (each - COST_HALF_STEP) if each > COST_HALF_STEP else INF
                self.model.add(terms, low_k / (each + COST_HALF_STEP), high)

    def _read_bakgrund(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        self.published.add(("bakgrund", span))
        groups: dict[tuple, list] = defaultdict(list)
        for row in t.iter_rows(named=True):  # insats × variabel × kategori
            i, var, cat, n = row["insats_id"], row["variabel"], row["kategori"], row["_r"]
            at = self.point if var in START_VARIABLES else self.additive
            family = "start" if var in START_VARIABLES else "slut"
            by_kon = {kon: at((family, i, var, cat, kon), span) for kon in KON}
            terms = {"kvinnor": by_kon["K"], "man": by_kon["M"], "totalt": _plus(*by_kon.values())}
            got = {c: self.cell(r, "bakgrund", n, c, row[c], terms[c]) for c in terms}
            kon_parts = [(got[c][0], terms[c], got[c][1]) for c in ("kvinnor", "man") if got[c]]
            self.sum_group(terms["totalt"], kon_parts, r.current)
            for c in terms:
                if got[c]:
                    groups[(i, var, c)].append((got[c][0], terms[c], got[c][1]))
                    if i != TOTAL_INSATS_ID:
                        groups[(var, cat, c, "insatser")].append((got[c][0], terms[c], got[c][1]))
        for key, parts in groups.items():
            if key[-1] == "insatser":
                var, cat, c = key[:3]
                at = self.point if var in START_VARIABLES else self.additive
                family = "start" if var in START_VARIABLES else "slut"
                kons = KON if c == "totalt" else (("K",) if c == "kvinnor" else ("M",))
                total = _plus(*(at((family, TOTAL_INSATS_ID, var, cat, k), span) for k in kons))
                self.sum_group(total, parts, r.current)
            else:
                i, var, c = key
                self.sum_group(self._category_total(i, var, c, span), parts, r.current)

    def _category_total(self, i: str, var: str, column: str, span: Span) -> Terms:
        """What a background variable's categories add up to: episodes overlapping the span
        (start) or ended in it (end), of one kön or both."""
        kons = KON if column == "totalt" else (("K",) if column == "kvinnor" else ("M",))
        if var in START_VARIABLES:
            return _plus(*(self.point(("ovkon", i, k), span) for k in kons))
        return _plus(*(self.additive(("slutkon", i, k), span) for k in kons))

    def _read_forsorjning_fore_efter(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        self.published.add(("ff", span))
        listed = set()
        for row in t.iter_rows(named=True):
            i, fore, efter = row["insats_id"], row["forsorjning_fore"], row["forsorjning_efter"]
            listed.add((i, fore, efter))
            terms = self.additive(("ff", i, fore, efter), span)
            self.cell(r, "forsorjning_fore_efter", row["_r"], "antal", row["antal"], terms)
        # Only combinations with episodes are listed: every other one of a listed insats is
        # known to be 0 (an insats left out of the table is not known to have none).
        for i in sorted({i for i, _, _ in listed}):
            for fore in FORSORJNING_CODES:
                for efter in FORSORJNING_CODES:
                    if (i, fore, efter) not in listed:
                        self.model.eq(self.additive(("ff", i, fore, efter), span), 0.0)

    def _read_trend(self, r: Release, span: Span, t: pl.DataFrame) -> None:
        for row in t.iter_rows(named=True):  # insats × år
            i, matt, n = row["insats_id"], row["matt"], row["_r"]
            year_span = trend_span(r.period, int(row["ar"]))
            self.published.update({("pers", year_span), ("trend", year_span)})
            if r.current:
                self.current_spans.add(year_span)
            base = self.additive(("bas", i, "alla"), year_span)
            reached = self.additive(("upp", i, "alla", matt), year_span)
            persons = self.point(("pers", i, "alla"), year_span)
            self.cell(r, "trend", n, "deltagare", row["deltagare"], persons)
            self.cell(r, "trend", n, "namnare", row["namnare"], base)
            self.cell(r, "trend", n, "taljare", row["taljare"], reached)
            self.share(_number(row["andel"]), reached, base, SHARE_HALF_STEP)
            self.derived(
                f"{r.label}/trend {i} {row['ar']}: ej uppnått", _minus(base, reached), r.current
            )

    # Relations ------------------------------------------------------------------------------

    def relations(self) -> None:
        """Every relation a reader knows, where published tables make it matter: at each
        atom of time inside a span with outcome or background tables, and for each span."""
        for a in self.atoms:  # a loop over the few atoms of time
            around = {table for table, s in self.published if _inside(a, s)}
            self._atom_relations(a, around)
        for span in self.spans:
            tables = {table for table, s in self.published if s == span}
            self._span_relations(span, tables)
        self._nested_spans()

    def _atom_relations(self, a: Span, around: set[str]) -> None:
        m, var = self.model, self.model.var
        outcome = "utfall" in around
        ended = "bakgrund" in around or "ff" in around
        for i in self.insatser:
            if outcome:
                self._outcome_relations(i, a)
            if not ended:
                continue
            # Ended episodes: by kön, by every end variable, and the base within them.
            by_kon = {kon: var(("slutkon", i, kon, a)) for kon in KON}
            m.eq({var(("avsl", i, a)): 1, by_kon["K"]: -1, by_kon["M"]: -1})
            for kon in KON:
                for v in END_VARIABLES:
                    cells = {var(("slut", i, v, c, kon, a)): 1.0 for c in END_CODES[v]}
                    m.eq(_plus(cells, {by_kon[kon]: -1.0}))
                if outcome:
                    self._base_relations(i, kon, a)
            if "ff" in around:
                for efter in FORSORJNING_CODES:
                    cells = {var(("ff", i, fore, efter, a)): 1.0 for fore in FORSORJNING_CODES}
                    both = {var(("slut", i, "forsorjning_efter", efter, k, a)): -1.0 for k in KON}
                    m.eq(_plus(cells, both))
        # TOTALT is the sum over insatser of every count of episodes.
        totals = {
            k[:-1] for k in m.index if k[0] in ADDITIVE and k[1] == TOTAL_INSATS_ID and k[-1] == a
        }
        for key in sorted(totals):
            family, _, *rest = key
            parts = {var((family, i, *rest, a)): -1.0 for i in self.individual}
            m.eq(_plus({var((*key, a)): 1.0}, parts))

    def _outcome_relations(self, i: str, a: Span) -> None:
        """The outcome base and its parts by kön, and the measures inside it."""
        m, var = self.model, self.model.var
        kons = ("alla", *KON)
        base = {kon: var(("bas", i, kon, a)) for kon in kons}
        m.eq({base["alla"]: 1, base["K"]: -1, base["M"]: -1})
        for matt in (*NESTED, "narmare_arbete"):
            for family in ("upp", "okand"):
                q = {kon: var((family, i, kon, matt, a)) for kon in kons}
                m.eq({q["alla"]: 1, q["K"]: -1, q["M"]: -1})
            for kon in kons:  # reached and unknown are apart, and both in the base
                reached, unknown = var(("upp", i, kon, matt, a)), var(("okand", i, kon, matt, a))
                m.le({reached: 1, unknown: 1, base[kon]: -1})
        for kon in kons:
            for lower, upper in itertools.pairwise(NESTED):
                m.le({var(("upp", i, kon, lower, a)): 1, var(("upp", i, kon, upper, a)): -1})
                m.eq({var(("okand", i, kon, lower, a)): 1, var(("okand", i, kon, upper, a)): -1})

    def _base_relations(self, i: str, kon: str, a: Span) -> None:
        """The base is the ended episodes less those who moved or died; a measure counts
        those of the base who ended with one of its sysselsättning codes."""
        m, var = self.model, self.model.var
        reasons = {
            c: var(("slut", i, "avslutsorsak", c, kon, a)) for c in END_CODES["avslutsorsak"]
        }
        in_base = {v: 1.0 for c, v in reasons.items() if c not in OUTSIDE_BASE}
        m.eq(_plus(in_base, {var(("bas", i, kon, a)): -1.0}))
        moved = {reasons[c]: 1.0 for c in OUTSIDE_BASE}
        for matt, codes in MEASURE_CODES.items():
            for family, counted in (("upp", codes), ("okand", UNKNOWN_CODES)):
                ended_with = {
                    var(("slut", i, "sysselsattning_efter", c, kon, a)): 1.0 for c in counted
                }
                q = {var((family, i, kon, matt, a)): 1.0}
                m.le(_minus(q, ended_with))  # at most the ended ones with those codes
                m.le(_minus(_minus(ended_with, moved), q))  # at least those less the moved

    def _span_relations(self, span: Span, tables: set[str]) -> None:
        m, var = self.model, self.model.var
        if "pers" not in tables and "bakgrund" not in tables:
            return
        background = "bakgrund" in tables
        for i in self.insatser:
            persons = {kon: var(("pers", i, kon, span)) for kon in ("alla", *KON)}
            m.eq({persons["alla"]: 1, persons["K"]: -1, persons["M"]: -1})
            if "deltagare" not in tables:
                continue
            over = self.overlapping(i, span)
            # Every episode of the period was open at its start or started in it: those open
            # at a date are the same count in every release whose period starts then.
            opening = var(("oppna", i, (span[0], span[0])))
            m.eq(_minus(over, _plus(self.additive(("nya", i), span), {opening: 1.0})))
            m.le(_minus({persons["alla"]: 1.0}, over))  # a person has an episode at least
            places = self.point(("ap", i), span, continuous=True)
            m.le(_minus(places, over))  # an episode fills at most one place
            if not background:
                continue
            ov_kon = {kon: var(("ovkon", i, kon, span)) for kon in KON}
            m.eq(_minus(over, {ov_kon["K"]: 1, ov_kon["M"]: 1}))
            for kon in KON:
                m.le({persons[kon]: 1, ov_kon[kon]: -1})
                m.le(_minus(self.additive(("slutkon", i, kon), span), {ov_kon[kon]: 1}))
                for v in START_VARIABLES:
                    cells = {var(("start", i, v, c, kon, span)): 1.0 for c in START_CODES[v]}
                    m.eq(_plus(cells, {ov_kon[kon]: -1.0}))
            if "ff" in tables:
                for fore in FORSORJNING_CODES:  # ended episodes are overlapping ones
                    ended = _plus(
                        *(self.additive(("ff", i, fore, e), span) for e in FORSORJNING_CODES)
                    )
                    started = {
                        var(("start", i, "forsorjning_fore", fore, k, span)): 1.0 for k in KON
                    }
                    m.le(_minus(ended, started))
        total = TOTAL_INSATS_ID
        for kon in ("alla", *KON):
            whole = var(("pers", total, kon, span))
            parts = [var(("pers", i, kon, span)) for i in self.individual]
            for p in parts:  # distinct persons: at least the largest insats, at most all
                m.le({p: 1, whole: -1})
            m.le(_plus({whole: 1.0}, {p: -1.0 for p in parts}))
        if "deltagare" in tables:
            for family in ("pag", "ap"):
                cont = family == "ap"
                parts = {var((family, i, span), continuous=cont): -1.0 for i in self.individual}
                m.eq(_plus({var((family, total, span), continuous=cont): 1.0}, parts))
        if background:
            for v in START_VARIABLES:
                for c in START_CODES[v]:
                    for kon in KON:
                        parts = {var(("start", i, v, c, kon, span)): -1.0 for i in self.individual}
                        m.eq(_plus({var(("start", total, v, c, kon, span)): 1.0}, parts))

    def _nested_spans(self) -> None:
        """A span inside another: no more persons, no more overlapping episodes; with the
        same start, the persons added are at most the episodes started in between."""
        m, var = self.model, self.model.var
        with_persons = sorted({s for table, s in self.published if table == "pers"})
        for inner, outer in itertools.permutations(with_persons, 2):
            if not _inside(inner, outer):
                continue
            between = [a for a in self.atoms if _inside(a, outer) and not _inside(a, inner)]
            current = outer in self.current_spans or inner in self.current_spans
            for i in self.insatser:
                small, big = var(("pers", i, "alla", inner)), var(("pers", i, "alla", outer))
                m.le({small: 1, big: -1})
                if inner[0] == outer[0]:
                    m.le(
                        _plus({big: 1.0, small: -1.0}, {var(("nya", i, a)): -1.0 for a in between})
                    )
                self.derived(
                    f"personer {i} tillkomna {inner[1]}–{outer[1]}",
                    {big: 1.0, small: -1.0},
                    current,
                )

    # Derived counts ------------------------------------------------------------------------

    def derived_counts(self) -> None:
        """Derived counts to check besides the hidden cells (module docstring)."""
        var = self.model.var
        current = self.current_spans
        for span in self.spans:
            if ("utfall", span) not in self.published and ("trend", span) not in self.published:
                continue
            for i in self.insatser:
                if ("deltagare", span) in self.published:
                    moved = _minus(
                        self.additive(("avsl", i), span), self.additive(("bas", i, "alla"), span)
                    )
                    self.derived(f"flyttat/avlidit {i} {span[0]}–{span[1]}", moved, span in current)
                for kon in ("alla", *KON):
                    for lower, upper in itertools.pairwise(NESTED):
                        diff = _minus(
                            self.additive(("upp", i, kon, upper), span),
                            self.additive(("upp", i, kon, lower), span),
                        )
                        self.derived(
                            f"{upper}−{lower} {i} {kon} {span[0]}–{span[1]}", diff, span in current
                        )
        # Atoms of time that are no published span, inside a span that contains another.
        published_spans = {s for _, s in self.published}

        def concerns_current(when: Span) -> bool:
            """Whether the current release takes part in giving a count of `when` away:
            inside its period or containing it, or beside it inside an earlier, longer
            period (the year minus a new Jan–Aug is Sep–Dec)."""
            return any(
                _inside(when, c)
                or _inside(c, when)
                or any(_inside(c, s) and _inside(when, s) for s in published_spans)
                for c in current
            )

        for a in self.atoms:
            if a in published_spans:
                continue
            is_current = concerns_current(a)
            for family in ("nya", "avsl", "bas"):
                for i in self.insatser:
                    key = (family, i, a) if family != "bas" else (family, i, "alla", a)
                    if key in self.model.index:
                        self.derived(f"{family} {i} {a[0]}–{a[1]}", {var(key): 1.0}, is_current)
        for _, parts, is_current in self.sums:
            hidden = [terms for _, terms, is_hidden in parts if is_hidden]
            if len(hidden) >= 2:
                self.derived("dolda delar av en summa", _plus(*hidden), is_current)
        # Every quantity of the model counts the persons or episodes of a group: none may be
        # pinned to 1..k−1, published or not (a split left unpublished, a row left out).
        single = {t.terms[0][0] for t in self.targets if len(t.terms) == 1}
        for key, v in list(self.model.index.items()):
            if v in self.model.continuous or v in single:
                continue
            when = key[-1]
            is_current = concerns_current(when)
            name = " ".join(str(part) for part in key[:-1]) + f" {when[0]}–{when[1]}"
            self.derived(name, {v: 1.0}, is_current)


# --- Solving ------------------------------------------------------------------------------------


class _Solver:
    """Fixes what the equations settle outright, splits the rest into independent parts,
    and bounds each target over its parts with linear programs."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.fixed: dict[int, float] = {}
        self.programs = 0
        self._propagate()
        self._components()

    def _propagate(self) -> None:
        """Equalities left with one unknown settle it; repeated until nothing changes."""
        self.reason: dict[int, int] = {}  # a settled count → the equality that settled it
        rows = self.model.rows
        free_count = [len(terms) for terms, _, _ in rows]
        by_var: dict[int, list[int]] = defaultdict(list)
        for n, (terms, _, _) in enumerate(rows):
            for v in terms:
                by_var[v].append(n)
        queue = [n for n, c in enumerate(free_count) if c == 1]
        while queue:  # a work list over equations, each settled at most once
            n = queue.pop()
            terms, low, high = rows[n]
            if low != high:
                continue
            free = [v for v in terms if v not in self.fixed]
            if len(free) != 1:
                continue
            v = free[0]
            rest = sum(c * self.fixed[u] for u, c in terms.items() if u != v)
            self.fixed[v] = (low - rest) / terms[v]
            self.reason[v] = n
            for m in by_var[v]:
                free_count[m] -= 1
                if free_count[m] == 1:
                    queue.append(m)
        self.by_var = by_var
        for terms, low, high in rows:  # relations settled entirely must hold
            if all(v in self.fixed for v in terms):
                value = sum(c * self.fixed[v] for v, c in terms.items())
                if not low - 1e-6 <= value <= high + 1e-6:
                    raise Inconsistent("settled relations contradict each other")

    def _components(self) -> None:
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for terms, _, _ in self.model.rows:
            free = [v for v in terms if v not in self.fixed]
            for v in free[1:]:
                a, b = find(free[0]), find(v)
                if a != b:
                    parent[a] = b
            if free:
                find(free[0])
        self.root = {v: find(v) for v in parent}
        members: dict[int, list[int]] = defaultdict(list)
        for v, r in self.root.items():
            members[r].append(v)
        self.members = members
        self.rows_of: dict[int, list[int]] = defaultdict(list)
        for n, (terms, _, _) in enumerate(self.model.rows):
            free = [v for v in terms if v not in self.fixed]
            if free:
                self.rows_of[self.root[free[0]]].append(n)
        self._programs: dict[int, tuple] = {}

    def _program(self, root: int) -> _Program:
        """The linear program of one component, built once and solved many times."""
        if root not in self._programs:
            self._programs[root] = _Program(
                self.model, self.fixed, self.members[root], self.rows_of[root]
            )
        return self._programs[root]

    def bound(
        self,
        terms: Iterable[tuple[int, float]],
        stop_outside: tuple[float, float] | None = None,
    ) -> tuple[float, float]:
        """(min, max) of a linear expression over everything the relations allow.

        With `stop_outside=(a, b)`, the maximum is not sought (returned as infinity) when
        the minimum is a or less, or b or more: the caller only asks whether the expression
        is pinned strictly between them.
        """
        constant, parts = self._split(terms)
        low = constant
        for root, part in parts.items():
            if root < 0:
                ((_, c),) = part.items()
                low = low - INF if c < 0 else low
                continue
            low += self._program(root).optimize(part, 1.0, False)
            self.programs += 1
        if stop_outside is not None and not stop_outside[0] + 1e-6 < low < stop_outside[1] - 1e-6:
            return low, INF
        high = constant
        for root, part in parts.items():
            if root < 0:
                ((_, c),) = part.items()
                high = high + INF if c > 0 else high
                continue
            high += -self._program(root).optimize(part, -1.0, False)
            self.programs += 1
        return low, high

    def _split(self, terms: Iterable[tuple[int, float]]) -> tuple[float, dict[int, dict]]:
        """A linear expression as its settled part (a constant) and its parts per component;
        a quantity nothing constrains is a part of its own, keyed −1 − v."""
        constant = 0.0
        parts: dict[int, dict[int, float]] = defaultdict(dict)
        for v, c in terms:
            if v in self.fixed:
                constant += c * self.fixed[v]
            elif v in self.root:
                parts[self.root[v]][v] = c
            else:
                parts[-1 - v][v] = c
        return constant, parts

    def points(self) -> list[dict]:
        """Integer solutions of the whole model by quantity key (each component's i-th
        solution, with the settled counts), for the next audit's `hints`."""
        programs = [p for p in self._programs.values() if p.points]
        if not programs:
            return []
        settled = {self.model.key_of(v): value for v, value in self.fixed.items()}
        out = []
        for i in range(max(len(p.points) for p in programs)):
            point = dict(settled)
            for p in programs:
                x = p.points[i % len(p.points)]
                keys = (self.model.key_of(v) for v in p.columns)
                point.update(zip(keys, x.tolist(), strict=True))
            out.append(point)
        return out

    def integer_side(self, terms: Iterable[tuple[int, float]], sign: float) -> tuple[float, float]:
        """Over the integer solutions, with sign 1: (a lower bound of the expression's
        minimum, the lowest value seen); with sign −1: (an upper bound of its maximum, the
        highest value seen). Bound and value agree when the integer programs were solved
        within MIP_SECONDS; "seen" is ±∞ (the wrong way) when none found a solution in time,
        and ∓∞ (the right way) when the expression is unbounded that way."""
        constant, parts = self._split(terms)
        bound = seen = sign * constant
        for root, part in parts.items():
            if root < 0:  # unconstrained (only its sign is known)
                ((_, c),) = part.items()
                if c * sign < 0:  # open that way
                    return -sign * INF, -sign * INF
                continue
            low, incumbent = self._program(root).integer_optimum(part, sign)
            self.programs += 1
            bound, seen = bound + low, seen + incumbent
        return sign * bound, sign * seen

    def certificate(self, terms: Iterable[tuple[int, float]]) -> set[int] | None:
        """The relations (model rows) that pin an expression: those with a non-zero dual
        in its minimum and its maximum, and the equalities that settled the counts they
        use. None where an integer program decided (no duals)."""
        terms = list(terms)
        rows: set[int] = set()
        parts: dict[int, dict[int, float]] = defaultdict(dict)
        for v, c in terms:
            if v in self.root and v not in self.fixed:
                parts[self.root[v]][v] = c
        for root, part in parts.items():
            program = self._program(root)
            if program.fractional:
                return None
            for sign in (1.0, -1.0):
                rows |= program.binding(part, sign)
        settled = [v for v, _ in terms if v in self.fixed]
        settled += [v for n in rows for v in self.model.rows[n][0] if v in self.fixed]
        while settled:  # back along the equalities that settled each count
            v = settled.pop()
            n = self.reason.get(v)
            if n is None or n in rows:
                continue
            rows.add(n)
            settled += [u for u in self.model.rows[n][0] if u in self.fixed and u != v]
        return rows

    def fractional(self, terms: Iterable[tuple[int, float]]) -> bool:
        """Whether any of the expression's components has a coefficient other than ±1."""
        roots = {self.root[v] for v, _ in terms if v in self.root and v not in self.fixed}
        return any(self._program(r).fractional for r in roots)

    def sample(
        self,
        targets: list[tuple[tuple[int, float], ...]],
        small: list[int | None],
        rounds: int = 6,
        pushes: int = 8,
        hints: Sequence[dict] = (),
    ) -> list[list[int]]:
        """For each target, the integer values it takes in a few feasible solutions, sorted.

        Solutions of an earlier audit of the same quantities (`hints`, full assignments by
        quantity) first, where they satisfy this model's relations: hiding more only widens
        the feasible set, so most still do. Then solutions for random objectives; then,
        while some targets are still open,
        objectives that push the open ones (randomly weighted) down and up together. A
        target is settled by two different values, or, for a derived count (`small[n]` =
        k), by one value outside 1..k−1. Most counts are far from pinned: this spares them
        their own programs.
        """

        rng = np.random.default_rng(20261201)
        seen: list[set[int]] = [set() for _ in targets]
        self._evaluators: dict[int, tuple] = {}
        by_root = self._targets_by_root(targets)

        def settled(n: int) -> bool:
            values, k = seen[n], small[n]
            return len(values) >= 2 or (k is not None and bool(values) and not 0 < min(values) < k)

        for root, members in by_root.items():  # a loop over components with targets
            self._sample_component(
                root, members, targets, seen, settled, rng, hints, rounds, pushes
            )
        self._seen = seen
        self._absorbed = {root: len(self._program(root).points) for root in self._evaluators}
        return [sorted(values) for values in seen]

    def _targets_by_root(self, targets: list[tuple[tuple[int, float], ...]]) -> dict:
        """root → the targets lying wholly within that one component (others need programs)."""
        by_root: dict[int, list[int]] = defaultdict(list)
        for n, terms in enumerate(targets):
            roots = {self.root[v] for v, _ in terms if v not in self.fixed and v in self.root}
            if len(roots) == 1 and all(v in self.root or v in self.fixed for v, _ in terms):
                by_root[roots.pop()].append(n)

        return by_root

    def _sample_component(
        self,
        root: int,
        members: list[int],
        targets: list[tuple[tuple[int, float], ...]],
        seen: list[set[int]],
        settled,
        rng: np.random.Generator,
        hints: Sequence[dict],
        rounds: int,
        pushes: int,
    ) -> None:
        """Sample one component: earlier solutions, random objectives, then pushes on its
        open targets; every integer value a target takes is added to `seen`."""
        from scipy.sparse import csr_matrix

        program = self._program(root)
        # Vertices of a component with fractional relations are rarely integral: there
        # the samples are integer programs' solutions.
        integer = program.fractional
        row, col, coef, constant = [], [], [], np.zeros(len(members))
        for i, n in enumerate(members):
            for v, c in targets[n]:
                if v in self.fixed:
                    constant[i] += c * self.fixed[v]
                else:
                    row.append(i)
                    col.append(program.columns[v])
                    coef.append(c)
        matrix = csr_matrix((coef, (row, col)), shape=(len(members), len(program.columns)))
        self._evaluators[root] = (members, matrix, constant)

        def record(objective: dict[int, float], at=(program, matrix, constant, members)):
            program, matrix, constant, members = at
            self.programs += 1
            x = program.solution(objective, program.fractional)
            if x is None:
                return
            values = matrix @ x + constant
            whole = np.abs(values - np.round(values)) < 1e-6
            for i in np.flatnonzero(whole):  # a loop over the targets' values
                seen[members[i]].add(round(float(values[i])))

        keys = [self.model.key_of(v) for v in program.columns]
        for hint in hints:  # a loop over a few dozen earlier solutions
            x = np.array([hint.get(key, np.nan) for key in keys], dtype=np.float64)
            if np.isnan(x).any() or not program.feasible(x):
                continue
            program._keep(x)
            values = matrix @ x + constant
            for i in range(len(members)):  # a loop over the targets' values
                seen[members[i]].add(round(float(values[i])))
        randoms = 2 if integer else rounds
        # Random objectives always: earlier solutions may all be alike.
        for _ in range(randoms):
            weights = rng.normal(size=len(program.columns))
            record(dict(zip(program.columns, weights, strict=True)))
        open_targets = [i for i, n in enumerate(members) if not settled(n)]
        for _ in range(pushes):
            if not open_targets:
                break
            weights = rng.uniform(0.5, 1.5, size=len(open_targets))
            push = weights @ matrix[open_targets]
            objective = {v: push[j] for v, j in program.columns.items() if push[j]}
            record(objective)
            record({v: -c for v, c in objective.items()})
            still = [i for i in open_targets if not settled(members[i])]
            if len(still) == len(open_targets):
                break  # a push that settles nothing: the rest are for the programs
            open_targets = still

    def absorb(self) -> None:
        """Add the values of the integer solutions found since (by integer programs of
        single targets, each an extreme point) to every target of their component: one
        such solution often settles the targets after it without programs of their own."""
        for root, (members, matrix, constant) in self._evaluators.items():
            program = self._programs[root]
            start = self._absorbed.get(root, 0)
            for x in program.points[start:]:  # a loop over the few new solutions
                values = matrix @ x + constant
                for i in range(len(members)):  # a loop over the targets' values
                    self._seen[members[i]].add(round(float(values[i])))
            self._absorbed[root] = len(program.points)

    def seen(self, n: int) -> list[int]:
        """The values target n has taken in the solutions seen so far, sorted."""
        return sorted(self._seen[n])


class _Program:
    """One component's linear program in HiGHS: loaded once, re-solved per objective (the
    last basis starts the next solve), and as an integer program on request.

    `fractional`: some relation has a coefficient other than ±1 (a share, a target). Where
    all are ±1 (sums, splits, bounds) the program's vertices are integral and its ranges
    are those of the integer program.
    """

    def __init__(self, model: Model, fixed: dict[int, float], members, rows: list[int]) -> None:
        import highspy

        self.columns = {v: j for j, v in enumerate(sorted(members))}
        starts, index, value, lows, highs = [0], [], [], [], []
        col_low = np.zeros(len(self.columns))
        col_high = np.full(len(self.columns), INF)
        self.fractional = False
        self.row_ids: list[int] = []  # LP row → model row
        self.bound_rows: dict[int, list[int]] = defaultdict(list)  # column → model rows
        for n in rows:
            terms, low, high = model.rows[n]
            constant = sum(c * fixed[v] for v, c in terms.items() if v in fixed)
            free = [(v, c) for v, c in terms.items() if v not in fixed]
            if len(free) == 1:
                # A bound on one count (a target or a share against a visible base): a
                # column bound, rounded inwards for an integer count, not a fractional row.
                (v, c), j = free[0], self.columns[free[0][0]]
                a, b = sorted(((low - constant) / c, (high - constant) / c))
                if v not in model.continuous:
                    a = math.ceil(a - 1e-9) if a > -INF else a
                    b = math.floor(b + 1e-9) if b < INF else b
                col_low[j], col_high[j] = max(col_low[j], a), min(col_high[j], b)
                self.bound_rows[j].append(n)
                continue
            for v, c in free:
                index.append(self.columns[v])
                value.append(c)
                self.fractional |= abs(c) != 1.0
            starts.append(len(index))
            lows.append(low - constant)
            highs.append(high - constant)
            self.row_ids.append(n)
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.columns)
        lp.num_row_ = len(lows)
        lp.col_cost_ = np.zeros(lp.num_col_)
        lp.col_lower_ = col_low
        lp.col_upper_ = np.minimum(col_high, inf)
        lp.row_lower_ = np.maximum(np.array(lows, dtype=np.float64), -inf)
        lp.row_upper_ = np.minimum(np.array(highs, dtype=np.float64), inf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
        from scipy.sparse import csr_matrix

        self._check = (
            csr_matrix(
                (lp.a_matrix_.value_, lp.a_matrix_.index_, lp.a_matrix_.start_),
                shape=(lp.num_row_, lp.num_col_),
            ),
            np.asarray(lp.row_lower_, dtype=np.float64),
            np.asarray(lp.row_upper_, dtype=np.float64),
            col_low.copy(),
            col_high.copy(),
        )
        kinds = highspy.HighsVarType
        self.integer = [
            kinds.kContinuous if v in model.continuous else kinds.kInteger for v in self.columns
        ]
        self._integer_mask = np.array([v not in model.continuous for v in self.columns], bool)
        self._highs = {exact: self._solver(lp, exact) for exact in (False, True)}
        # Samples come from the program inside a box: still feasible points, but a random
        # objective has an optimum even where the counts are unbounded.
        lp.col_upper_ = np.minimum(col_high, SAMPLE_BOX)
        self._highs["box"] = self._solver(lp, False)
        self._lp_box = lp  # the integer version of the box is made when first needed
        self.points: list[np.ndarray] = []  # integer solutions seen

    def _solver(self, lp, exact: bool):
        highs = _new_highs()
        highs.setOptionValue("output_flag", False)
        if not exact:
            # Only the objective changes between solves: primal simplex from the last basis
            # (still feasible), without presolve, which would discard it.
            highs.setOptionValue("presolve", "off")
            highs.setOptionValue("simplex_strategy", 4)
        highs.passModel(lp)
        if exact and self.integer:
            highs.setOptionValue("mip_max_nodes", MIP_NODES)
            highs.setOptionValue("time_limit", MIP_SECONDS)
            n = len(self.integer)
            highs.changeColsIntegrality(n, np.arange(n, dtype=np.int32), self.integer)
        return highs

    def _run(self, objective: dict[int, float], sign: float, exact: bool | str):
        import highspy

        highs = self._highs[exact]
        cost = np.zeros(len(self.columns))
        for v, c in objective.items():
            cost[self.columns[v]] = sign * c
        highs.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
        highs.run()
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            raise Inconsistent("infeasible")
        return highs, status

    def optimize(self, objective: dict[int, float], sign: float, exact: bool) -> float:
        """The minimum of sign × objective (−∞ when unbounded below)."""
        import highspy

        highs, status = self._run(objective, sign, exact)
        unbounded = (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        )
        if status in unbounded:
            return -INF
        return highs.getInfo().objective_function_value

    def integer_optimum(self, objective: dict[int, float], sign: float) -> tuple[float, float]:
        """(bound, incumbent) of the minimum of sign × objective over the integers:
        bound ≤ minimum ≤ incumbent, equal when the integer program was solved within
        MIP_SECONDS; the incumbent is +∞ when no integer solution was found in time."""
        import highspy

        if self.points:  # start from the best integer solution seen: a first incumbent
            cost = np.zeros(len(self.columns))
            for v, c in objective.items():
                cost[self.columns[v]] = sign * c
            start = min(self.points, key=lambda x: float(cost @ x))
            solution = highspy.HighsSolution()
            solution.col_value = start.tolist()
            solution.value_valid = True
            self._highs[True].setSolution(solution)
        highs, status = self._run(objective, sign, True)
        if highs.getInfo().primal_solution_status == 2:
            self._keep(np.array(highs.getSolution().col_value))
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return -INF, -INF
        info = highs.getInfo()
        if status == highspy.HighsModelStatus.kOptimal:
            return info.objective_function_value, info.objective_function_value
        found = info.primal_solution_status == 2  # a feasible integer solution
        incumbent = info.objective_function_value if found else INF
        return max(info.mip_dual_bound, -INF), incumbent

    def binding(self, objective: dict[int, float], sign: float) -> set[int]:
        """Model rows with a non-zero dual at the optimum of sign × objective."""
        highs, _ = self._run(objective, sign, False)
        solution = highs.getSolution()
        rows = {self.row_ids[i] for i, d in enumerate(solution.row_dual) if abs(d) > 1e-9}
        for j, d in enumerate(solution.col_dual):
            if abs(d) > 1e-9:
                rows.update(self.bound_rows.get(j, ()))
        return rows

    def solution(self, objective: dict[int, float], integer: bool = False) -> np.ndarray | None:
        """A feasible point inside the box that is optimal (or, as an integer program out
        of time, the best found) for the objective; None when there is none."""
        import highspy

        kind = "box integer" if integer else "box"
        if kind not in self._highs:
            highs = self._highs[kind] = self._solver(self._lp_box, True)
            highs.setOptionValue("mip_max_nodes", SAMPLE_MIP_NODES)
            highs.setOptionValue("time_limit", SAMPLE_MIP_SECONDS)
        highs, status = self._run(objective, 1.0, kind)
        optimal = status == highspy.HighsModelStatus.kOptimal
        found = integer and highs.getInfo().primal_solution_status == 2
        if not (optimal or found):
            return None
        x = np.array(highs.getSolution().col_value)
        if integer or not self.fractional:  # vertices without fractional rows are integral
            self._keep(x)
        return x

    def feasible(self, x: np.ndarray) -> bool:
        """Whether a point satisfies every relation of the component (integers in integer
        columns): a point from an earlier, stricter model of the same quantities."""
        matrix, row_low, row_high, col_low, col_high = self._check
        if np.any(x < col_low - 1e-6) or np.any(x > col_high + 1e-6):
            return False
        if np.any(np.abs(x - np.round(x))[self._integer_mask] > 1e-6):
            return False
        values = matrix @ x
        return bool(np.all(values >= row_low - 1e-6) and np.all(values <= row_high + 1e-6))

    def _keep(self, x: np.ndarray) -> None:
        """Remember an integer solution (a start for later integer programs)."""
        whole = np.where(self._integer_mask, np.round(x), x)
        if np.all(np.abs(x - whole) < 1e-6) and len(self.points) < MAX_POINTS:
            self.points.append(whole)


_BANNER_SHOWN = False


def _new_highs():
    """A HiGHS instance. The first one of a process prints HiGHS's banner to the C-level
    standard output, where it would land in the report's output and the logs: it is sent
    to /dev/null."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SHOWN = True
    return highs


class Inconsistent(Exception):
    """The published tables contradict each other (releases made from revised data)."""


def _integer_range(low: float, high: float) -> tuple[int, int]:
    lo = -(10**12) if low == -INF else math.ceil(low - 1e-6)
    hi = 10**12 if high == INF else math.floor(high + 1e-6)
    return lo, hi


def _judge(
    builder: _Builder, solver: _Solver, hints: Sequence[dict] = ()
) -> tuple[list[Finding], dict[str, tuple[int, int]]]:
    findings, ranges = [], {}
    solver.sample(
        [t.terms for t in builder.targets],
        [t.k if t.kind == "harledd" else None for t in builder.targets],
        hints=hints,
    )
    for n, target in enumerate(builder.targets):  # hidden and derived counts
        values = solver.seen(n)
        if len(values) >= 2:  # two feasible integer values seen: not pinned
            ranges[target.name] = (values[0], values[-1])
            continue
        if target.kind == "harledd" and values and not 1 <= values[0] <= target.k - 1:
            # A derived count that can be 0 or k or more is no finding, pinned or not (its
            # range is not sought).
            continue
        fractional = solver.fractional(target.terms)
        # A derived count that can be 0 (or k or more) is no finding whatever its range, so
        # its maximum is not sought; with fractional coefficients the relaxation's minimum
        # may be below the integers' minimum, so there only "k or more" stops the search.
        stop = None
        if target.kind == "harledd":
            stop = (-INF, target.k) if fractional else (0.0, target.k)
        low, high = _integer_range(*solver.bound(target.terms, stop_outside=stop))
        if fractional and low < high <= low + target.k:
            # Shares and targets (coefficients other than ±1): the relaxation may be wider
            # than what integers allow, so a narrow range is decided by integer programs.
            # (A relaxation pinned to one integer needs no check: the true counts are one
            # integer solution.)
            low, high, pinned = _integer_decision(solver, target, values)
            solver.absorb()
            ranges[target.name] = (low, high)
            if pinned is None:
                continue
        ranges[target.name] = (low, high)
        if low != high:
            continue
        if target.kind == "hemlig":
            findings.append(
                Finding(target.name, "hemlig_fast", low, target.cell, target.current, target)
            )
        elif 1 <= low <= target.k - 1:
            findings.append(
                Finding(target.name, "harledd_liten", low, None, target.current, target)
            )
    return findings, ranges


def _integer_decision(
    solver: _Solver, target: Target, sampled: list[int]
) -> tuple[int, int, int | None]:
    """(low, high, pinned value or None) of a target over the integers, as far as it
    matters; `sampled` are values seen in feasible solutions. Not pinned as soon as two
    different values are seen, or, for a derived count, one outside 1..k−1. When the
    integer programs run out of time without that, the target counts as pinned to the
    value seen (or, with none, to the smallest value in 1..k−1 its bounds allow): the
    publisher then hides more rather than risk a disclosure."""
    harledd = target.kind == "harledd"
    values = set(sampled)

    def settled() -> bool:
        return len(values) >= 2 or (harledd and any(not 0 < v < target.k for v in values))

    low, seen_low = solver.integer_side(target.terms, 1.0)
    lo = -(10**12) if low == -INF else math.ceil(low - 1e-6)
    if seen_low == -INF or (harledd and lo >= target.k):
        return lo, 10**12, None  # unbounded below, or a derived count of k or more
    if seen_low < INF:
        values.add(round(seen_low))
    if settled():
        return lo, max(values), None
    high, seen_high = solver.integer_side(target.terms, -1.0)
    hi = 10**12 if high == INF else math.floor(high + 1e-6)
    if seen_high == INF:
        return lo, hi, None
    if seen_high > -INF:
        values.add(round(seen_high))
    if settled():
        return lo, hi, None
    value = values.pop() if values else min(max(lo, 1), hi)
    return value, value, value


def _build(releases: Sequence[Release]) -> _Builder:
    builder = _Builder(releases)
    for release in releases:
        builder.read(release)
    builder.relations()
    builder.derived_counts()
    return builder


def audit(releases: Sequence[Release], hints: Sequence[dict] = ()) -> AuditResult:
    """Every count the releases give away (module docstring). The current release is the
    one with `current=True`; earlier ones constrain it and are protected by it too.
    `hints`: `AuditResult.points` of an earlier audit of the same releases with fewer
    cells hidden (only a speed-up: each is checked against the relations before use).

    When the releases contradict each other (made from revised data), each is audited on
    its own and, across releases, the differences of the same count in nested periods are
    checked as a reader would subtract them.
    """
    builder = _build(releases)
    try:
        solver = _Solver(builder.model)
        findings, ranges = _judge(builder, solver, hints)
    except Inconsistent:
        if len(releases) == 1:
            raise
        return _audit_revised(releases)
    implied = _implied(builder, solver)
    return AuditResult(
        findings,
        ranges,
        len(builder.targets),
        solver.programs,
        builder.model,
        implied=implied,
        solver=solver,
        points=solver.points(),
    )


def _implied(builder: _Builder, solver: _Solver) -> dict[int, str]:
    """The bedömning every open target has in all that the relations allow, if it has one.
    The linear relaxation is wider than the integers, so an answer from it holds for them."""
    out = {}
    for row, (terms, floor) in builder.open_assessments:
        low, high = solver.bound(tuple(terms.items()))
        if low >= floor - 1e-7:
            out[row] = "uppnatt"
        elif high < floor - 1e-7:
            out[row] = "ej_uppnatt"
    return out


def _audit_revised(releases: Sequence[Release]) -> AuditResult:
    """Releases made from revised data. When only earlier versions of the current period
    disagree with it, the rest are still audited together and the versions compared cell
    by cell; else each release is audited on its own (`_audit_apart`)."""
    current = next((r for r in releases if r.current), None)
    if current is not None:
        span = (current.period.start, current.period.end)
        versions = [r for r in releases if not r.current and (r.period.start, r.period.end) == span]
        rest = [r for r in releases if r not in versions]
        if versions and len(rest) < len(releases):
            try:
                result = audit(rest)
            except Inconsistent:
                return _audit_apart(releases)
            if not result.inconsistent:
                result.findings += _apparent_differences(current, versions)
                result.inconsistent = True
                return result
    return _audit_apart(releases)


def _audit_apart(releases: Sequence[Release]) -> AuditResult:
    results = [audit([r]) for r in releases]
    findings = [f for res in results for f in res.findings]
    ranges = {name: rng for res in results for name, rng in res.ranges.items()}
    current = next((r for r in releases if r.current), None)
    mine = next((res for res, r in zip(results, releases, strict=True) if r.current), None)
    if current is not None:
        findings += _apparent_differences(current, [r for r in releases if not r.current])
    return AuditResult(
        findings,
        ranges,
        sum(res.targets for res in results),
        sum(res.programs for res in results),
        mine.model if mine else None,
        inconsistent=True,
        implied=mine.implied if mine else {},
        solver=mine.solver if mine else None,
    )


# The columns that say which row a published row is (the same in every version).
ROW_KEYS = ("insats_id", "kon", "matt", "variabel", "kategori")


def _whole(column: str) -> pl.Expr:
    """A published cell as a visible whole count, else null (hidden, empty, not a count)."""
    value = pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value == value.round(0)).then(value)


def _apparent_differences(current: Release, earlier: list[Release]) -> list[Finding]:
    """Visible counts of the same row and column in nested (or the same) periods of two
    releases whose difference is 1..k−1: what a reader would take for the count in between,
    or for the persons a revision added or removed."""
    out = []
    mine = (current.period.start, current.period.end)
    for other in earlier:
        theirs = (other.period.start, other.period.end)
        if not (_inside(mine, theirs) or _inside(theirs, mine)):
            continue
        for name in ("deltagare", "utfall", "bakgrund", "tid_i_insats"):
            a, b = current.tables.get(name), other.tables.get(name)
            if a is None or b is None:
                continue
            keys = [c for c in ROW_KEYS if c in a.columns and c in b.columns]
            pairs = a.with_row_index("_r").join(b, on=keys, how="inner", suffix="_annan")
            for column in a.columns:
                if column in keys or column == "insats" or f"{column}_annan" not in pairs.columns:
                    continue
                # Visible whole counts only ("<5", "..", shares and text become null).
                diff = pairs.select(
                    "_r",
                    d=(_whole(column) - _whole(f"{column}_annan")).abs(),
                ).filter(pl.col("d").is_between(1, current.k - 1))
                for row, d in diff.iter_rows():  # a loop over the small differences found
                    ref = CellRef(current.label, name, row, column)
                    target = Target(f"{name}[{row}].{column}", "harledd", (), current.k, ref, True)
                    out.append(Finding(target.name, "harledd_liten", int(d), ref, True, target))
    return out


# --- What gives a finding away --------------------------------------------------------------------


def culprits(
    result: AuditResult,
    finding: Finding,
    release: str,
    depth: int = 6,
    keep: Callable[[CellRef], bool] = lambda _ref: False,
) -> list[CellRef]:
    """Visible non-zero cells of `release` that take part in giving the finding away,
    leaving out those the caller must `keep` visible.

    The cells of the relations that pin it (the solver's certificate) come first; else
    those whose quantities share a relation with the finding's quantities (smallest
    values first) and, where all of those are hidden or kept, one relation further, up to
    `depth` steps. A finding about a visible cell (two releases that cannot be linked) is
    that cell.
    """
    model = result.model
    if not finding.target.terms or model is None:
        return [finding.cell] if finding.cell and finding.cell.release == release else []
    rows = result.solver.certificate(finding.target.terms) if result.solver else None
    if rows:
        found = {
            ref
            for ref, n in model.cell_row.items()
            if n in rows and ref.release == release and model.visible[ref] > 0 and not keep(ref)
        }
        if found:
            return sorted(
                found, key=lambda ref: (model.visible[ref], ref.table, ref.row, ref.column)
            )
    cells_of = model.cells_with()
    seen_vars = {v for v, _ in finding.target.terms}
    frontier = set(seen_vars)
    seen_rows: set[int] = set()
    for _ in range(depth):
        rows = {n for v in frontier for n in model.rows_with(v)} - seen_rows
        seen_rows |= rows
        reached = {u for n in rows for u in model.rows[n][0]}
        frontier = reached - seen_vars
        seen_vars |= reached
        found = {
            ref
            for v in seen_vars
            for ref in cells_of.get(v, ())
            if ref.release == release and model.visible.get(ref, 0) > 0 and not keep(ref)
        }
        if found:
            return sorted(
                found, key=lambda ref: (model.visible[ref], ref.table, ref.row, ref.column)
            )
        if not frontier:
            break
    return []
