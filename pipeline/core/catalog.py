"""The insats catalog (`insatser.toml` in the raw folder): insatser and their targets.

A target (mål) is either a share (`andel`, 0–1) of one outcome measure or a volume
(`antal`) of årsplatser or deltagare (contract section 2).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.core.config import COMPARISON_DIR
from pipeline.core.contract import OUTCOME_MEASURES, TOTAL_INSATS_ID, VOLUME_MEASURES
from pipeline.core.personnummer import texts_with_personnummer


def target_fraction(value: float) -> tuple[int, int]:
    """A target (mål) as an exact fraction (numerator, denominator): 0.3 is 3/10, not the
    float nearest it, so that a count is compared with it exactly (2 450 days in a 98-day
    period are 25 årsplatser, no less).

    >>> target_fraction(0.3), target_fraction(25.0), target_fraction(12.5)
    ((3, 10), (25, 1), (25, 2))
    """
    exact = Fraction(repr(float(value))).limit_denominator(10**6)
    return exact.numerator, exact.denominator


class CatalogError(ValueError):
    """The insats catalog is missing or breaks the contract."""


@dataclass(frozen=True)
class Catalog:
    """`insatser`: insats_id, insats (name). `mal`: insats_id, matt, mal, typ ('andel'|'antal').

    `forbund` is the förbund's name for titles, from an optional top-level `forbund = "…"`.
    In a pooled store (a region's or the nation's förbund together) every insats names its
    förbund (`profil.forbund`, an ID) and `forbundsnamn` may give each ID its name.
    """

    insatser: pl.DataFrame
    mal: pl.DataFrame
    forbund: str = "Samordningsförbundet"
    # Optional per insats (contract section 5): inriktning and målgrupp (PROFIL_SCHEMA), and
    # per year budget, kostnad (utfall) in kronor and budgeterade deltagare (EKONOMI_SCHEMA).
    profil: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROFIL_SCHEMA))
    ekonomi: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EKONOMI_SCHEMA))
    forbundsnamn: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return self.insatser["insats_id"].to_list()

    @property
    def structural_ids(self) -> list[str]:
        """The strukturövergripande insatser: no participant records, only counted persons."""
        return [i for i, kind in self.inriktning.items() if kind == "strukturovergripande"]

    @property
    def with_records(self) -> pl.DataFrame:
        """`insatser` without the strukturövergripande ones: the rows of every table that
        counts participant records."""
        return self.insatser.filter(~pl.col("insats_id").is_in(self.structural_ids))

    @property
    def inriktning(self) -> dict[str, str]:
        """Every insats's inriktning (individinriktad when the catalog does not say)."""
        given = dict(self.profil.select("insats_id", "inriktning").drop_nulls().iter_rows())
        return {i: given.get(i, "individinriktad") for i in self.ids}

    @property
    def forbund_of(self) -> dict[str, str]:
        """The förbund (ID) each insats belongs to; empty when the catalog is one förbund's."""
        return dict(self.profil.select("insats_id", "forbund").drop_nulls().iter_rows())

    @property
    def forbund_ids(self) -> list[str]:
        """The förbund of a pooled catalog, sorted; empty for one förbund's own catalog."""
        return sorted(set(self.forbund_of.values()))

    @property
    def insatstyp(self) -> dict[str, str]:
        """The kind of each insats that has one (`insatstyp`, for comparisons across förbund)."""
        return dict(self.profil.select("insats_id", "insatstyp").drop_nulls().iter_rows())

    def for_forbund(self, forbund_id: str) -> Catalog:
        """The catalog of one förbund of a pooled store: its insatser only, titled with its
        name (from `forbundsnamn`, else the ID).

        >>> c = parse_catalog('''
        ... [[insats]]
        ... id = "A1"
        ... namn = "Kompetensteam"
        ... forbund = "F01"
        ... [[insats]]
        ... id = "B1"
        ... namn = "Stödteam"
        ... forbund = "F02"
        ... ''')
        >>> one = c.for_forbund("F02")
        >>> one.ids, one.forbund, one.forbund_ids
        (['B1'], 'F02', ['F02'])
        """
        if forbund_id not in self.forbund_ids:
            known = ", ".join(self.forbund_ids) or "inga (katalogen är ett förbunds egen)"
            raise CatalogError(
                f"förbundet {_shown(forbund_id)} finns inte i insatskatalogen (förbund: {known})"
            )
        ids = [i for i, f in self.forbund_of.items() if f == forbund_id]
        mine = pl.col("insats_id").is_in(ids)
        return Catalog(
            insatser=self.insatser.filter(mine),
            mal=self.mal.filter(mine),
            forbund=self.forbundsnamn.get(forbund_id, forbund_id),
            profil=self.profil.filter(mine),
            ekonomi=self.ekonomi.filter(mine),
            forbundsnamn={k: v for k, v in self.forbundsnamn.items() if k == forbund_id},
        )


INSATSER_SCHEMA = pl.Schema({"insats_id": pl.String(), "insats": pl.String()})
INRIKTNINGAR = ("individinriktad", "strukturovergripande")
PROFIL_SCHEMA = pl.Schema(
    {
        "insats_id": pl.String(),
        "inriktning": pl.String(),
        "malgrupp": pl.String(),
        "forbund": pl.String(),
        "insatstyp": pl.String(),
    }
)
EKONOMI_SCHEMA = pl.Schema(
    {
        "insats_id": pl.String(),
        "ar": pl.Int32(),
        "budget": pl.Float64(),
        "kostnad": pl.Float64(),
        "budgeterade_deltagare": pl.Int64(),
    }
)
# Years a budget may be given for, and the most kronor a figure may be (a typing error above).
FIRST_BUDGET_YEAR, LAST_BUDGET_YEAR = 2000, 2099
MAX_KRONOR = 10_000_000_000
MAL_SCHEMA = pl.Schema(
    {"insats_id": pl.String(), "matt": pl.String(), "mal": pl.Float64(), "typ": pl.String()}
)


# --- The declared model of insatser.toml ----------------------------------------------------

_STRICT = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, allow_inf_nan=False)
# A volume target above this is a typing error (and would overflow the exact comparison).
MAX_ANTAL = 1_000_000
# A förbund's ID in a pooled catalog: a plain folder name (no path, no dots).
FORBUND_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
# The keys each level of the file may have, named in the message for an unknown key.
_KEYS = {
    0: "forbund, forbundsnamn, insats",
    2: (
        "id, namn, mal, inriktning, malgrupp, budget, kostnad, budgeterade_deltagare, forbund, "
        "insatstyp"
    ),
    4: "matt, andel, antal",
}


def _shown(text: str) -> str:
    """A value from the catalog quoted in a message only when it is plain printable text
    (the file has passed the personnummer scan)."""
    return f"'{text}'" if text.isprintable() and len(text) <= 40 else "(värdet visas inte)"


class _Target(BaseModel):
    """One target: a share (`andel`, 0–1) of an outcome measure or a volume (`antal` ≥ 0)."""

    model_config = _STRICT
    matt: str
    andel: float | None = None
    antal: float | None = None

    @model_validator(mode="after")
    def _known(self) -> _Target:
        if self.andel is not None and self.antal is not None:
            raise ValueError("ange antingen andel eller antal, inte båda")
        if self.matt in OUTCOME_MEASURES and self.andel is not None:
            if not 0 <= self.andel <= 1:
                raise ValueError(f"andel för {self.matt} måste vara 0–1")
        elif self.matt in VOLUME_MEASURES and self.antal is not None:
            if not 0 <= self.antal <= MAX_ANTAL:
                raise ValueError(
                    f"antal för {self.matt} måste vara 0–{MAX_ANTAL:_}".replace("_", " ")
                )
        else:
            raise ValueError(
                f"okänt mål {_shown(self.matt)} (andel för {', '.join(OUTCOME_MEASURES)}; "
                f"antal för {', '.join(VOLUME_MEASURES)})"
            )
        return self


def _per_year(values: dict[str, float], what: str, whole: bool) -> dict[str, float]:
    """A table keyed by year (`{ 2025 = 1200000 }`): four-digit years, amounts ≥ 0."""
    for year, amount in values.items():
        if not (year.isdigit() and FIRST_BUDGET_YEAR <= int(year) <= LAST_BUDGET_YEAR):
            raise ValueError(
                f"{what}: {_shown(year)} är inget år ({FIRST_BUDGET_YEAR}–{LAST_BUDGET_YEAR})"
            )
        if not 0 <= amount <= MAX_KRONOR or (whole and amount != int(amount)):
            kind = "ett heltal" if whole else "ett belopp"
            raise ValueError(f"{what} för {year} måste vara {kind} ≥ 0")
    return values


class _Insats(BaseModel):
    model_config = _STRICT
    id: str = Field(min_length=1)
    namn: str = Field(min_length=1)
    mal: list[_Target] = []
    inriktning: str = "individinriktad"
    malgrupp: str | None = None
    budget: dict[str, float] = {}
    kostnad: dict[str, float] = {}
    budgeterade_deltagare: dict[str, float] = {}
    forbund: str | None = Field(default=None, min_length=1)
    insatstyp: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _forbund_is_a_folder_name(self) -> _Insats:
        # The ID names the förbund's folders under reports/ and processed/.
        if self.forbund is not None and (
            not FORBUND_ID.fullmatch(self.forbund) or self.forbund == COMPARISON_DIR
        ):
            raise ValueError(
                f"forbund {_shown(self.forbund)} går inte som id: bokstäver A–Z, siffror, - och "
                f"_ (högst 40 tecken, inte {COMPARISON_DIR})"
            )
        return self

    @model_validator(mode="after")
    def _profile_and_money(self) -> _Insats:
        if self.inriktning not in INRIKTNINGAR:
            raise ValueError(
                f"inriktning {_shown(self.inriktning)} finns inte (tillåtna: "
                f"{', '.join(INRIKTNINGAR)})"
            )
        if self.inriktning == "strukturovergripande" and self.mal:
            raise ValueError(
                "en strukturövergripande insats har inga deltagaruppgifter och kan inte ha mål "
                "som mäts på deltagare (ta bort mal)"
            )
        _per_year(self.budget, "budget", whole=False)
        _per_year(self.kostnad, "kostnad", whole=False)
        _per_year(self.budgeterade_deltagare, "budgeterade_deltagare", whole=True)
        return self

    @model_validator(mode="after")
    def _not_the_total(self) -> _Insats:
        if self.id == TOTAL_INSATS_ID:
            raise ValueError(f"id {TOTAL_INSATS_ID} är förbundets totalrad; välj ett annat id")
        return self

    @model_validator(mode="after")
    def _one_target_per_measure(self) -> _Insats:
        measures = [t.matt for t in self.mal]
        twice = sorted({m for m in measures if measures.count(m) > 1})
        if twice:
            raise ValueError(f"mål för {', '.join(twice)} anges flera gånger")
        return self


class _CatalogFile(BaseModel):
    model_config = _STRICT
    forbund: str = "Samordningsförbundet"
    forbundsnamn: dict[str, str] = {}
    insats: list[_Insats] = Field(min_length=1)

    @model_validator(mode="after")
    def _pooled_or_not(self) -> _CatalogFile:
        # A pooled store is split by the insatser's förbund: one without would be in no report.
        named = [i.forbund is not None for i in self.insats]
        if any(named) and not all(named):
            missing = ", ".join(_shown(i.id) for i in self.insats if i.forbund is None)
            raise ValueError(
                'när en insats anger sitt förbund (forbund = "ID") måste alla göra det; '
                f"forbund saknas för {missing}"
            )
        unknown = sorted(set(self.forbundsnamn) - {i.forbund for i in self.insats})
        if unknown:
            raise ValueError(
                f"forbundsnamn: {', '.join(map(_shown, unknown))} är inget förbund som någon "
                "insats anger"
            )
        return self


# Pydantic's error types in Swedish (the ones a hand-written insatser.toml can give).
_ERRORS_SV = {
    "extra_forbidden": "okänd nyckel (stavfel?)",
    "missing": "saknas",
    "string_type": "måste vara text inom citattecken",
    "string_too_short": "får inte vara tom",
    "float_type": "måste vara ett tal",
    "finite_number": "måste vara ett ändligt tal",
    "list_type": "måste vara en lista [ … ]",
    "model_type": "måste vara en tabell { … }",
    "model_attributes_type": "måste vara en tabell { … }",
    "too_short": "får inte vara tom",
    "dict_type": "måste vara en tabell per år, t.ex. { 2025 = 1200000 }",
}


def _where(location: tuple, data: dict) -> str:
    """'insats nr 2 (SOC), mal nr 1, andel' for a pydantic error location."""
    parts = []
    entries = data.get("insats") if isinstance(data.get("insats"), list) else []
    for n, key in enumerate(location):
        if isinstance(key, int):
            parts[-1] = f"{parts[-1]} nr {key + 1}"
            if n == 1 and key < len(entries) and isinstance(entries[key], dict):
                insats_id = entries[key].get("id")
                if isinstance(insats_id, str) and insats_id.strip():
                    parts[-1] += f" ({_shown(insats_id.strip())})".replace("'", "")
        else:
            parts.append(str(key))
    return ", ".join(parts)


def _swedish(error: ValidationError, data: dict) -> str:
    messages = []
    for e in error.errors():
        if e["type"] == "value_error":
            text = str(e["ctx"]["error"]) if "ctx" in e else e["msg"]
        else:
            text = _ERRORS_SV.get(e["type"], "ogiltigt värde")
        if e["type"] == "extra_forbidden":
            text += f"; tillåtna här: {_KEYS.get(len(e['loc']) - 1, '')}"
        where = _where(tuple(e["loc"]), data)
        messages.append(f"{where}: {text}" if where else text)
    return "; ".join(dict.fromkeys(messages))


def parse_catalog(text: str, source: str = "insatser.toml") -> Catalog:
    """Parse and check the catalog text against the declared model; every problem is named
    with the insats and key it concerns, in Swedish.

    >>> c = parse_catalog('''
    ... [[insats]]
    ... id = "SOC"
    ... namn = "Sociala företag"
    ... mal = [ { matt = "narmare_arbete", andel = 0.5 }, { matt = "arsplatser", antal = 25 } ]
    ... ''')
    >>> c.mal.rows()
    [('SOC', 'narmare_arbete', 0.5, 'andel'), ('SOC', 'arsplatser', 25.0, 'antal')]
    """
    lines = text.splitlines()
    found = [n for n, hit in enumerate(texts_with_personnummer(lines), start=1) if hit]
    if found:
        # The catalog's names are published: a personnummer in it must stop the run.
        raise CatalogError(
            f"{source}: rad {found[0]} innehåller ett personnummer eller samordningsnummer "
            "(det visas inte). Ta bort det ur insatskatalogen och kör igen."
        )
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: a 5 000-digit number
        at = re.search(r"line (\d+), column (\d+)", str(exc))
        where = f" (rad {at[1]}, kolumn {at[2]})" if at else ""
        raise CatalogError(
            f"{source}: kan inte läsas som TOML{where}. Kontrollera citattecken, likhetstecken, "
            "hakparenteser och tal (ett tal får inte vara orimligt långt)."
        ) from None
    if not data.get("insats"):
        raise CatalogError(f"{source}: inga [[insats]] hittades")
    try:
        model = _CatalogFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{source}: {_swedish(exc, data)}") from None
    ids = [i.id for i in model.insats]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise CatalogError(f"{source}: insats {', '.join(twice)}: id förekommer flera gånger")
    mal = [
        (i.id, t.matt, float(t.andel if t.andel is not None else t.antal), _kind(t))
        for i in model.insats
        for t in i.mal
    ]
    return Catalog(
        insatser=pl.DataFrame(
            [(i.id, i.namn) for i in model.insats], schema=INSATSER_SCHEMA, orient="row"
        ),
        mal=pl.DataFrame(mal, schema=MAL_SCHEMA, orient="row"),
        forbund=model.forbund or "Samordningsförbundet",
        profil=pl.DataFrame(
            [(i.id, i.inriktning, i.malgrupp, i.forbund, i.insatstyp) for i in model.insats],
            schema=PROFIL_SCHEMA,
            orient="row",
        ),
        ekonomi=_economy(model.insats),
        forbundsnamn=dict(model.forbundsnamn),
    )


def _economy(insatser: list[_Insats]) -> pl.DataFrame:
    """One row per insats and year that has any of budget, kostnad, budgeterade deltagare."""
    rows = [
        (
            i.id,
            int(year),
            i.budget.get(year),
            i.kostnad.get(year),
            None if year not in i.budgeterade_deltagare else int(i.budgeterade_deltagare[year]),
        )
        for i in insatser
        for year in sorted({*i.budget, *i.kostnad, *i.budgeterade_deltagare})
    ]
    return pl.DataFrame(rows, schema=EKONOMI_SCHEMA, orient="row")


def _kind(target: _Target) -> str:
    return "andel" if target.andel is not None else "antal"


def read_catalog(path: str | Path) -> Catalog:
    """The catalog file at `path` (a str or a Path)."""
    path = Path(path)
    if not path.exists():
        raise CatalogError(f"{path}: insatskatalogen saknas (insatser.toml i råmappen)")
    return parse_catalog(path.read_text(encoding="utf-8"), source=str(path))
