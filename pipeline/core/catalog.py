"""The insats catalog (`insatser.toml` in the raw folder): insatser and their targets.

A target (mål) is either a share (`andel`, 0–1) of one outcome measure or a volume
(`antal`) of årsplatser or deltagare (contract section 2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import polars as pl

from pipeline.core.contract import OUTCOME_MEASURES, VOLUME_MEASURES
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
    """

    insatser: pl.DataFrame
    mal: pl.DataFrame
    forbund: str = "Samordningsförbundet"

    @property
    def ids(self) -> list[str]:
        return self.insatser["insats_id"].to_list()


INSATSER_SCHEMA = pl.Schema({"insats_id": pl.String(), "insats": pl.String()})
MAL_SCHEMA = pl.Schema(
    {"insats_id": pl.String(), "matt": pl.String(), "mal": pl.Float64(), "typ": pl.String()}
)


def parse_catalog(text: str, source: str = "insatser.toml") -> Catalog:
    """Parse and check the catalog text; every problem is named with the insats it concerns.

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
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: kan inte läsas som TOML: {exc}") from exc
    entries = data.get("insats")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: inga [[insats]] hittades")
    insatser: list[tuple[str, str]] = []
    mal: list[tuple[str, str, float, str]] = []
    problems: list[str] = []
    for n, entry in enumerate(entries, start=1):
        insats_id = str(entry.get("id", "")).strip()
        namn = str(entry.get("namn", "")).strip()
        if not insats_id or not namn:
            problems.append(f"insats nr {n}: id och namn krävs")
            continue
        if insats_id in {i for i, _ in insatser}:
            problems.append(f"insats {insats_id}: id förekommer flera gånger")
        insatser.append((insats_id, namn))
        for target in entry.get("mal", []):
            matt = target.get("matt")
            if matt in OUTCOME_MEASURES and "andel" in target:
                andel = target["andel"]
                if not isinstance(andel, int | float) or not 0 <= andel <= 1:
                    problems.append(f"insats {insats_id}: andel för {matt} måste vara 0–1")
                    continue
                mal.append((insats_id, matt, float(andel), "andel"))
            elif matt in VOLUME_MEASURES and "antal" in target:
                antal = target["antal"]
                if not isinstance(antal, int | float) or antal < 0:
                    problems.append(f"insats {insats_id}: antal för {matt} måste vara ≥ 0")
                    continue
                mal.append((insats_id, matt, float(antal), "antal"))
            else:
                problems.append(
                    f"insats {insats_id}: okänt mål {target!r} (andel för "
                    f"{', '.join(OUTCOME_MEASURES)}; antal för {', '.join(VOLUME_MEASURES)})"
                )
    if problems:
        raise CatalogError(f"{source}: " + "; ".join(problems))
    return Catalog(
        insatser=pl.DataFrame(insatser, schema=INSATSER_SCHEMA, orient="row"),
        mal=pl.DataFrame(mal, schema=MAL_SCHEMA, orient="row"),
        forbund=str(data.get("forbund", "Samordningsförbundet")).strip() or "Samordningsförbundet",
    )


def read_catalog(path: str | Path) -> Catalog:
    """The catalog file at `path` (a str or a Path)."""
    path = Path(path)
    if not path.exists():
        raise CatalogError(f"{path}: insatskatalogen saknas (insatser.toml i råmappen)")
    return parse_catalog(path.read_text(encoding="utf-8"), source=str(path))
