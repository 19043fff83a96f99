"""A fictitious example förbund, generated deterministically from a seed.

`generate_example(raw)` writes what a förbund's raw folder holds after five years of
follow-up: the insats catalog (`insatser.toml`), a marker file saying the data are
fictitious (`EXEMPELDATA.txt`) and the cumulative year-end exports of three parties in the
formats parties really send (semicolon CSV in Windows-1252 with Swedish headings, one
UTF-8 CSV with BOM and commas, XLSX with date cells, Parquet with canonical names).
`make report` calls it when the raw folder holds no inputs.

`generate_episodes(...)` is the same generator at any scale (many förbund, millions of
episodes) for the benchmarks. Both are vectorized with numpy and polars: the only Python
loops run over insatser, categories, parties or years, never over rows.

The model, in short (docs/exempeldata.md has the details): every insats follows one of nine
archetypes modelled on a real verksamhetsplan (size, episode length, who takes part and how
often they reach work). A person has one to three episodes that follow each other in time
(re-entries, sometimes in another insats). Background is drawn per insats (försörjning) and
then conditionally (tid i offentlig försörjning and sysselsättning given försörjning). The
outcome is an ordered latent score: the insats's effect plus background plus noise, lowered
by an avbrott; its value decides sysselsättning efter, steps on the ladder and "närmare
arbete".

>>> df = generate_episodes(1_000, 9, seed=1, start_year=2023, end_year=2024)
>>> df.height, df.schema == EPISODE_SCHEMA
(1000, True)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from pipeline.core import atomic
from pipeline.core.config import CATALOG_FILE, EXAMPLE_MARKER
from pipeline.core.contract import (
    ALDER_MAX,
    ALDER_MIN,
    AVSLUTSORSAK,
    COLUMNS,
    EPISODE_SCHEMA,
    FORSORJNING,
    KON,
    NARMARE_ARBETE,
    SYSSELSATTNING,
    TID_OFFENTLIG_FORSORJNING,
    UTBILDNING,
)

DEFAULT_SEED = 20251231
EXAMPLE_START_YEAR, EXAMPLE_END_YEAR = 2021, 2025
EXAMPLE_EPISODES = 2_600
EXAMPLE_FORBUND = "Samordningsförbundet Exempelbygden (fiktivt exempel)"
# Fictitious municipalities (none is a Swedish kommun) and their share of the participants.
EXAMPLE_KOMMUNER = (
    ("Norrby", 0.38),
    ("Sjöstad", 0.24),
    ("Åbacka", 0.16),
    ("Västerlid", 0.13),
    ("Ekdala", 0.09),
)
ID_PREFIX = "EX-"
# Fixed creation time written into XLSX metadata, so that the same seed gives the same bytes.
_XLSX_CREATED = dt.datetime(2026, 1, 2, 8, 0, 0)

_EPOCH = dt.date(1970, 1, 1)
_ARBETE_STUDIER = (
    SYSSELSATTNING.index("arbete"),
    SYSSELSATTNING.index("arbete_med_stod"),
    SYSSELSATTNING.index("studier"),
)


# --- Archetypes: the nine insatser of the example förbund ------------------------------------
#
# Probabilities follow the code lists of pipeline.core.contract in order:
#   UTBILDNING   forgymnasial, gymnasial, eftergymnasial, okand
#   FORSORJNING  sjukpenning, sjukersattning, aktivitetsersattning, a_kassa, aktivitetsstod,
#                etableringsersattning, forsorjningsstod, ingen_offentlig, okand
#   AVSLUTSORSAK enligt_plan, avbrott_eget_val, avbrott_sjukdom, avbrott_annat, flyttat,
#                avliden, felregistrering


@dataclass(frozen=True)
class Archetype:
    """One kind of insats: who takes part, for how long, and how often they reach work."""

    insats_id: str
    namn: str
    part: str  # the party whose export carries the insats (a folder under raw)
    vikt: float  # relative number of episodes
    andel_kvinnor: float
    medelalder: float
    median_dagar: float  # median episode length
    spridning_dagar: float  # sigma of log(episode length)
    effekt: float  # shift of the latent outcome score
    utbildning: tuple[float, ...]
    forsorjning: tuple[float, ...]
    avslut: tuple[float, ...]
    arbete_studier: tuple[float, float, float]  # split of work/studies outcomes
    andel_praktik: float  # arbetstraning_praktik rather than rehabilitering
    steg_start: tuple[float, ...] | None  # distribution over steps 1–7, or no step ladder
    narmare: bool  # the party assesses "närmare arbete" (ja/nej)
    omfattning: bool  # the party records omfattning (% of full time)
    andel_okand: float  # share of ended episodes with unknown outcome
    mal: tuple[tuple[str, str, float], ...]  # (matt, "andel"|"antal", value)


_AVSLUT_VANLIG = (0.71, 0.09, 0.08, 0.05, 0.045, 0.005, 0.01)

ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        insats_id="KOMP",
        namn="Kompetensteam",
        part="regionen",
        vikt=0.23,
        andel_kvinnor=0.62,
        medelalder=40,
        median_dagar=160,
        spridning_dagar=0.5,
        effekt=0.05,
        utbildning=(0.30, 0.45, 0.20, 0.05),
        forsorjning=(0.22, 0.05, 0.08, 0.04, 0.12, 0.04, 0.33, 0.08, 0.04),
        avslut=_AVSLUT_VANLIG,
        arbete_studier=(0.45, 0.30, 0.25),
        andel_praktik=0.45,
        steg_start=None,
        narmare=True,
        omfattning=False,
        andel_okand=0.04,
        mal=(("aktivitet_sysselsattning", "andel", 0.5),),
    ),
    Archetype(
        insats_id="PROC",
        namn="Processledare unga vuxna",
        part="arbetsformedlingen",
        vikt=0.09,
        andel_kvinnor=0.50,
        medelalder=26,
        median_dagar=230,
        spridning_dagar=0.5,
        effekt=-0.15,
        utbildning=(0.45, 0.45, 0.07, 0.03),
        forsorjning=(0.03, 0.00, 0.25, 0.05, 0.27, 0.05, 0.30, 0.03, 0.02),
        avslut=(0.66, 0.14, 0.06, 0.07, 0.05, 0.00, 0.02),
        arbete_studier=(0.35, 0.20, 0.45),
        andel_praktik=0.55,
        steg_start=None,
        narmare=True,
        omfattning=False,
        andel_okand=0.06,
        mal=(("narmare_arbete", "andel", 0.5),),
    ),
    Archetype(
        insats_id="PLATT",
        namn="Plattform för vägen till arbete",
        part="arbetsformedlingen",
        vikt=0.29,
        andel_kvinnor=0.55,
        medelalder=33,
        median_dagar=190,
        spridning_dagar=0.45,
        effekt=0.6,
        utbildning=(0.35, 0.40, 0.20, 0.05),
        forsorjning=(0.03, 0.02, 0.05, 0.08, 0.35, 0.15, 0.27, 0.03, 0.02),
        avslut=_AVSLUT_VANLIG,
        arbete_studier=(0.55, 0.25, 0.20),
        andel_praktik=0.70,
        steg_start=None,
        narmare=False,
        omfattning=False,
        andel_okand=0.05,
        mal=(("arbete_studier_arbetssokande", "andel", 0.5), ("deltagare", "antal", 200)),
    ),
    Archetype(
        insats_id="FORST",
        namn="Förstegsplatser",
        part="kommunerna",
        vikt=0.075,
        andel_kvinnor=0.58,
        medelalder=36,
        median_dagar=280,
        spridning_dagar=0.45,
        effekt=0.15,
        utbildning=(0.42, 0.40, 0.12, 0.06),
        forsorjning=(0.05, 0.05, 0.08, 0.03, 0.15, 0.05, 0.52, 0.05, 0.02),
        avslut=_AVSLUT_VANLIG,
        arbete_studier=(0.40, 0.35, 0.25),
        andel_praktik=0.65,
        steg_start=(0.30, 0.40, 0.25, 0.05, 0, 0, 0),
        narmare=False,
        omfattning=False,
        andel_okand=0.03,
        mal=(("narmare_arbete", "andel", 0.5), ("arsplatser", "antal", 25)),
    ),
    Archetype(
        insats_id="UTV",
        namn="Utvecklingsanställningar",
        part="kommunerna",
        vikt=0.055,
        andel_kvinnor=0.52,
        medelalder=32,
        median_dagar=360,
        spridning_dagar=0.3,
        effekt=0.15,
        utbildning=(0.35, 0.48, 0.12, 0.05),
        forsorjning=(0.02, 0.02, 0.05, 0.10, 0.40, 0.10, 0.28, 0.02, 0.01),
        avslut=(0.78, 0.07, 0.06, 0.04, 0.035, 0.005, 0.01),
        arbete_studier=(0.40, 0.50, 0.10),
        andel_praktik=0.70,
        steg_start=(0, 0, 0.30, 0.50, 0.20, 0, 0),
        narmare=False,
        omfattning=True,
        andel_okand=0.02,
        mal=(("arbete_studier", "andel", 0.4), ("arsplatser", "antal", 30)),
    ),
    Archetype(
        insats_id="ISA",
        namn="ISA – individanpassat stöd till arbete",
        part="regionen",
        vikt=0.075,
        andel_kvinnor=0.48,
        medelalder=32,
        median_dagar=400,
        spridning_dagar=0.5,
        effekt=0.6,
        utbildning=(0.40, 0.42, 0.13, 0.05),
        forsorjning=(0.05, 0.12, 0.18, 0.02, 0.08, 0.02, 0.45, 0.05, 0.03),
        avslut=_AVSLUT_VANLIG,
        arbete_studier=(0.60, 0.30, 0.10),
        andel_praktik=0.50,
        steg_start=None,
        narmare=True,
        omfattning=True,
        andel_okand=0.04,
        mal=(("arbete_studier", "andel", 0.3),),
    ),
    Archetype(
        insats_id="SOC",
        namn="Sociala företag",
        part="kommunerna",
        vikt=0.03,
        andel_kvinnor=0.55,
        medelalder=42,
        median_dagar=460,
        spridning_dagar=0.45,
        effekt=-0.25,
        utbildning=(0.45, 0.38, 0.10, 0.07),
        forsorjning=(0.08, 0.30, 0.22, 0.02, 0.06, 0.02, 0.22, 0.05, 0.03),
        avslut=(0.74, 0.06, 0.10, 0.04, 0.045, 0.005, 0.01),
        arbete_studier=(0.25, 0.60, 0.15),
        andel_praktik=0.60,
        steg_start=(0.15, 0.35, 0.35, 0.15, 0, 0, 0),
        narmare=False,
        omfattning=True,
        andel_okand=0.05,
        mal=(("narmare_arbete", "andel", 0.5), ("arsplatser", "antal", 25)),
    ),
    Archetype(
        insats_id="ODLA",
        namn="Odlingsprojektet Gröna rum",
        part="kommunerna",
        vikt=0.03,
        andel_kvinnor=0.70,
        medelalder=45,
        median_dagar=170,
        spridning_dagar=0.35,
        effekt=-0.1,
        utbildning=(0.35, 0.40, 0.20, 0.05),
        forsorjning=(0.35, 0.15, 0.05, 0.02, 0.05, 0.02, 0.25, 0.08, 0.03),
        avslut=_AVSLUT_VANLIG,
        arbete_studier=(0.45, 0.35, 0.20),
        andel_praktik=0.25,
        steg_start=(0.35, 0.40, 0.20, 0.05, 0, 0, 0),
        narmare=False,
        omfattning=False,
        andel_okand=0.06,
        mal=(("narmare_arbete", "andel", 0.5), ("aktivitet_sysselsattning", "andel", 0.4)),
    ),
    Archetype(
        insats_id="FONT",
        namn="Fontänhuset (klubbhus)",
        part="regionen",
        vikt=0.02,
        andel_kvinnor=0.55,
        medelalder=43,
        median_dagar=520,
        spridning_dagar=0.4,
        effekt=-0.45,
        utbildning=(0.35, 0.40, 0.20, 0.05),
        forsorjning=(0.10, 0.40, 0.20, 0.01, 0.04, 0.01, 0.17, 0.05, 0.02),
        avslut=(0.70, 0.10, 0.10, 0.03, 0.045, 0.015, 0.01),
        arbete_studier=(0.40, 0.40, 0.20),
        andel_praktik=0.40,
        steg_start=None,
        narmare=True,
        omfattning=False,
        andel_okand=0.08,
        mal=(("narmare_arbete", "andel", 0.3), ("deltagare", "antal", 60)),
    ),
)

# The parties of the example förbund (folders under raw; formats in export_format).
PARTIES = ("arbetsformedlingen", "kommunerna", "regionen")

# Background given forsorjning_fore (rows in FORSORJNING order).
# Columns: TID_OFFENTLIG_FORSORJNING order (ingen … over_10_ar, okand).
_TID_GIVEN_FORSORJNING = np.array(
    [
        (0.02, 0.35, 0.30, 0.23, 0.06, 0.02, 0.02),  # sjukpenning
        (0.00, 0.01, 0.04, 0.20, 0.35, 0.38, 0.02),  # sjukersattning
        (0.00, 0.05, 0.15, 0.45, 0.30, 0.03, 0.02),  # aktivitetsersattning
        (0.02, 0.60, 0.25, 0.10, 0.02, 0.00, 0.01),  # a_kassa
        (0.02, 0.25, 0.30, 0.28, 0.10, 0.03, 0.02),  # aktivitetsstod
        (0.05, 0.45, 0.35, 0.13, 0.00, 0.00, 0.02),  # etableringsersattning
        (0.02, 0.20, 0.25, 0.30, 0.15, 0.06, 0.02),  # forsorjningsstod
        (0.75, 0.10, 0.05, 0.04, 0.02, 0.01, 0.03),  # ingen_offentlig
        (0.05, 0.10, 0.10, 0.10, 0.05, 0.05, 0.55),  # okand
    ]
)
# Columns: SYSSELSATTNING order (arbete, arbete_med_stod, studier, arbetssokande,
# arbetstraning_praktik, rehabilitering, ingen, okand).
_SYSSELSATTNING_GIVEN_FORSORJNING = np.array(
    [
        (0.35, 0.02, 0.02, 0.05, 0.03, 0.35, 0.16, 0.02),  # sjukpenning
        (0.03, 0.05, 0.01, 0.03, 0.08, 0.25, 0.53, 0.02),  # sjukersattning
        (0.01, 0.03, 0.08, 0.05, 0.15, 0.25, 0.41, 0.02),  # aktivitetsersattning
        (0.05, 0.02, 0.03, 0.80, 0.05, 0.02, 0.02, 0.01),  # a_kassa
        (0.01, 0.03, 0.03, 0.55, 0.30, 0.03, 0.04, 0.01),  # aktivitetsstod
        (0.01, 0.01, 0.30, 0.40, 0.20, 0.02, 0.05, 0.01),  # etableringsersattning
        (0.02, 0.02, 0.03, 0.30, 0.13, 0.10, 0.38, 0.02),  # forsorjningsstod
        (0.20, 0.05, 0.15, 0.20, 0.05, 0.05, 0.28, 0.02),  # ingen_offentlig
        (0.05, 0.02, 0.03, 0.10, 0.05, 0.05, 0.20, 0.50),  # okand
    ]
)
# Effects on the latent outcome score.
_EFFEKT_TID = np.array([0.4, 0.3, 0.1, -0.1, -0.35, -0.55, 0.0])
_EFFEKT_UTBILDNING = np.array([-0.2, 0.0, 0.25, 0.0])
_EFFEKT_AVBROTT = -0.9
# Latent score thresholds: above _T_ARBETE work or studies, above _T_SOKANDE job seeking,
# above _T_AKTIVITET arbetsträning/rehabilitering, else no occupation.
_T_ARBETE, _T_SOKANDE, _T_AKTIVITET = 1.0, 0.4, -0.5
_T_NARMARE = 0.2  # assessed "närmare arbete" = ja above this score
# Episode lengths (days from start to end) and gaps before a re-entry.
_DAGAR_MIN, _DAGAR_MAX = 30, 730
_FELREG_DAGAR_MAX = 14
# Number of episodes per person: P(at least 2), P(3).
_P_MINST_TVA, _P_TRE = 0.17, 0.04
_MAX_AR = 40  # longest span of years between a person's first and last start
_P_SAMMA_INSATS = 0.55  # a re-entry in the same insats rather than another of the förbund
# Share of values left empty by the parties, per optional column.
_SAKNAS = {
    "kommun": 0.01,
    "utbildning": 0.03,
    "tid_offentlig_forsorjning": 0.02,
    "forsorjning_fore": 0.02,
    "sysselsattning_fore": 0.01,
    "forsorjning_efter": 0.03,
    "omfattning": 0.05,
    "steg": 0.04,
    "narmare_arbete": 0.03,
}

# Columns that hold what is known only at the end of an episode.
END_COLUMNS = (
    "slutdatum",
    "avslutsorsak",
    "forsorjning_efter",
    "sysselsattning_efter",
    "omfattning_efter",
    "steg_slut",
    "narmare_arbete",
)


# --- Profiles: one row of parameters per insats -----------------------------------------------


@dataclass(frozen=True)
class _Profiles:
    """Archetype parameters as arrays, one row per insats (insatser of a förbund contiguous)."""

    insats_id: list[str]
    forbund: list[str] | None  # name per förbund, None for a single förbund without a name
    forbund_of: np.ndarray  # förbund index per insats
    vikt: np.ndarray
    andel_kvinnor: np.ndarray
    medelalder: np.ndarray
    median_dagar: np.ndarray
    spridning_dagar: np.ndarray
    effekt: np.ndarray
    utbildning: np.ndarray  # (n_insatser, 4)
    forsorjning: np.ndarray  # (n_insatser, 9)
    avslut: np.ndarray  # (n_insatser, 7)
    arbete_studier: np.ndarray  # (n_insatser, 3)
    andel_praktik: np.ndarray
    steg_start: np.ndarray  # (n_insatser, 7); rows of zeros where there is no ladder
    har_steg: np.ndarray
    narmare: np.ndarray
    omfattning: np.ndarray
    andel_okand: np.ndarray
    kommuner: list[str]  # names; kommun j of förbund f is kommuner[f * max_kommuner + j]
    kommun_vikt: np.ndarray  # (n_forbund, max_kommuner), rows sum to 1


def _archetype_arrays(archetypes: list[Archetype]) -> dict[str, np.ndarray]:
    def col(name: str) -> np.ndarray:  # a vector, or a table for tuple-valued fields
        return np.array([getattr(a, name) for a in archetypes], dtype=np.float64)

    steg = np.array([a.steg_start if a.steg_start is not None else (0.0,) * 7 for a in archetypes])
    return {
        **{
            n: col(n)
            for n in (
                "vikt",
                "andel_kvinnor",
                "medelalder",
                "median_dagar",
                "spridning_dagar",
                "effekt",
                "andel_praktik",
                "andel_okand",
            )
        },
        **{n: col(n) for n in ("utbildning", "forsorjning", "avslut", "arbete_studier")},
        "steg_start": steg,
        "har_steg": np.array([a.steg_start is not None for a in archetypes]),
        "narmare": np.array([a.narmare for a in archetypes]),
        "omfattning": np.array([a.omfattning for a in archetypes]),
    }


def _example_profiles() -> _Profiles:
    arrays = _archetype_arrays(list(ARCHETYPES))
    names = [k for k, _ in EXAMPLE_KOMMUNER]
    return _Profiles(
        insats_id=[a.insats_id for a in ARCHETYPES],
        forbund=None,
        forbund_of=np.zeros(len(ARCHETYPES), dtype=np.int64),
        kommuner=names,
        kommun_vikt=np.array([[w for _, w in EXAMPLE_KOMMUNER]]),
        **arrays,
    )


def _generic_profiles(n_insatser: int, rng: np.random.Generator) -> _Profiles:
    """Insatser cycling through the archetypes with random sizes and effects; nine per förbund."""
    per_forbund = len(ARCHETYPES)
    archetype_of = np.arange(n_insatser) % per_forbund
    arrays = {k: v[archetype_of] for k, v in _archetype_arrays(list(ARCHETYPES)).items()}
    n_forbund = math.ceil(n_insatser / per_forbund)
    forbund_of = np.arange(n_insatser) // per_forbund
    # Förbund differ in size, and so do their insatser.
    arrays["vikt"] = (
        arrays["vikt"]
        * rng.lognormal(0.0, 0.7, n_forbund)[forbund_of]
        * rng.lognormal(0.0, 0.6, n_insatser)
    )
    arrays["effekt"] = arrays["effekt"] + rng.normal(0.0, 0.25, n_insatser)
    arrays["median_dagar"] = arrays["median_dagar"] * rng.lognormal(0.0, 0.15, n_insatser)
    arrays["andel_kvinnor"] = np.clip(
        arrays["andel_kvinnor"] + rng.normal(0.0, 0.03, n_insatser), 0.3, 0.8
    )
    # Each förbund covers one to six kommuner with random shares.
    max_kommuner = 6
    n_kommuner = rng.integers(1, max_kommuner + 1, n_forbund)
    kommun_vikt = rng.gamma(2.0, size=(n_forbund, max_kommuner))
    kommun_vikt[np.arange(max_kommuner)[None, :] >= n_kommuner[:, None]] = 0.0
    kommun_vikt /= kommun_vikt.sum(axis=1, keepdims=True)
    id_width = max(4, len(str(n_insatser)))
    forbund_width = max(3, len(str(n_forbund)))
    return _Profiles(
        insats_id=[f"I{i + 1:0{id_width}d}" for i in range(n_insatser)],
        forbund=[f"F{f + 1:0{forbund_width}d}" for f in range(n_forbund)],
        forbund_of=forbund_of,
        kommuner=[
            f"Kommun {f + 1:0{forbund_width}d}-{j + 1}"
            for f in range(n_forbund)
            for j in range(max_kommuner)
        ],
        kommun_vikt=kommun_vikt,
        **arrays,
    )


# --- Vectorized draws ------------------------------------------------------------------------


def _draw(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """One categorical draw per row from the row `group` of the probability table `probs`.

    Vectorized inverse-CDF sampling: a loop over categories, never over rows.
    """
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(group.shape[0])
    out = np.zeros(group.shape[0], dtype=np.int64)
    for k in range(probs.shape[1] - 1):
        out += u >= cdf[group, k]
    return out


def _weighted_within(
    rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Indices drawn in [lo, hi) with the weights whose cumulative sums (0 first) are `cum`."""
    x = cum[lo] + rng.random(lo.shape[0]) * (cum[hi] - cum[lo])
    return np.clip(np.searchsorted(cum, x, side="right") - 1, lo, hi - 1)


def _enum(values: tuple[str, ...], codes: np.ndarray, missing: np.ndarray | None) -> pl.Series:
    series = pl.Series(values, dtype=pl.Enum(values)).gather(codes)
    return series.set(pl.Series(missing), None) if missing is not None else series


def _with_nulls(series: pl.Series, missing: np.ndarray) -> pl.Series:
    return series.set(pl.Series(missing), None)


def _episode_chains(
    profiles: _Profiles, n_episodes: int, rng: np.random.Generator, start_day: int, end_day: int
) -> dict[str, np.ndarray]:
    """Persons and their chains of episodes: insats, reason for ending, length and start.

    Every person's first episode starts inside the window, so n_episodes persons always give
    at least n_episodes episodes; the first n_episodes in person order are kept."""
    n_ins = len(profiles.insats_id)
    n_persons = n_episodes
    u = rng.random(n_persons)
    per_person = 1 + (u < _P_MINST_TVA) + (u < _P_TRE)
    cum_w = np.concatenate(([0.0], np.cumsum(profiles.vikt)))
    first_ins = _weighted_within(
        rng, cum_w, np.zeros(n_persons, dtype=np.int64), np.full(n_persons, n_ins)
    )
    person = np.repeat(np.arange(n_persons), per_person)
    n_all = person.shape[0]
    first_row = np.cumsum(per_person) - per_person
    seq = np.arange(n_all) - first_row[person]

    # Re-entries: the same insats, or another of the same förbund (weighted by size).
    ins_lo = np.searchsorted(profiles.forbund_of, np.arange(profiles.forbund_of.max() + 1))
    ins_hi = np.append(ins_lo[1:], n_ins)
    ins = first_ins[person]
    f = profiles.forbund_of[ins]
    other = _weighted_within(rng, cum_w, ins_lo[f], ins_hi[f])
    reentry_elsewhere = (seq > 0) & (rng.random(n_all) >= _P_SAMMA_INSATS)
    ins = np.where(reentry_elsewhere, other, ins)

    # Reason for ending (used if the episode ends inside the window) and episode length.
    orsak = _draw(rng, profiles.avslut, ins)
    felreg = orsak == AVSLUTSORSAK.index("felregistrering")
    dagar = np.clip(
        rng.lognormal(np.log(profiles.median_dagar[ins]), profiles.spridning_dagar[ins]),
        _DAGAR_MIN,
        _DAGAR_MAX,
    ).astype(np.int64)
    dagar = np.where(felreg, rng.integers(0, _FELREG_DAGAR_MAX + 1, n_all), dagar)
    gap = 14 + rng.exponential(150.0, n_all).astype(np.int64)

    # Start dates: the first uniform in the window, each next one after the previous end.
    first_start = rng.integers(start_day, end_day + 1, n_persons)
    step = dagar + gap
    offset = np.cumsum(step) - step
    offset = offset - offset[first_row[person]]
    startdag = first_start[person] + offset

    keep = np.flatnonzero(startdag <= end_day)[:n_episodes]
    chains = {
        name: a[keep]
        for name, a in {
            "person": person,
            "ins": ins,
            "orsak": orsak,
            "felreg": felreg,
            "dagar": dagar,
            "startdag": startdag,
        }.items()
    }
    chains["first_ins"] = first_ins[: int(chains["person"].max()) + 1]
    return chains


def _person_attributes(
    profiles: _Profiles,
    rng: np.random.Generator,
    person: np.ndarray,
    first_ins: np.ndarray,
    startdag: np.ndarray,
) -> dict[str, np.ndarray]:
    """Kön, utbildning, kommun (per person) and age at each start (per episode), drawn
    from the person's first insats and förbund."""
    n_used = first_ins.shape[0]
    kon = (rng.random(n_used) >= profiles.andel_kvinnor[first_ins]).astype(np.int64)
    utbildning = _draw(rng, profiles.utbildning, first_ins)
    kommun = (
        _draw(rng, profiles.kommun_vikt, profiles.forbund_of[first_ins])
        + profiles.forbund_of[first_ins] * profiles.kommun_vikt.shape[1]
    )
    startar = _year_of_days(startdag)
    first_year = np.full(n_used, np.iinfo(np.int64).max)
    np.minimum.at(first_year, person, startar)
    last_year = np.zeros(n_used, dtype=np.int64)
    np.maximum.at(last_year, person, startar)
    # Age at the first start from a beta distribution on 16–67 around the insats's mean age,
    # capped so that the age at every later start stays within the contract's range.
    concentration = 7.0
    a = concentration * (profiles.medelalder[first_ins] - ALDER_MIN) / (ALDER_MAX - ALDER_MIN)
    alder_forst = ALDER_MIN + np.floor(
        rng.beta(a, concentration - a) * (ALDER_MAX - ALDER_MIN + 1)
    ).astype(np.int64)
    alder_forst = np.clip(alder_forst, ALDER_MIN, ALDER_MAX - (last_year - first_year))
    fodelsear = first_year - alder_forst
    return {
        "kon": kon,
        "utbildning": utbildning,
        "kommun": kommun,
        "fodelsear": fodelsear,
        "alder": startar - fodelsear[person],
    }


def _background(
    profiles: _Profiles, rng: np.random.Generator, ins: np.ndarray
) -> dict[str, np.ndarray]:
    """Försörjning, time in public support, sysselsättning, omfattning and steg at start."""
    n = ins.shape[0]
    forsorjning_fore = _draw(rng, profiles.forsorjning, ins)
    tid = _draw(rng, _TID_GIVEN_FORSORJNING, forsorjning_fore)
    syss_fore = _draw(rng, _SYSSELSATTNING_GIVEN_FORSORJNING, forsorjning_fore)
    fore_arbete_studier = np.isin(syss_fore, _ARBETE_STUDIER)
    omf_fore = np.where(
        fore_arbete_studier, rng.choice([25, 50, 75, 100], n, p=[0.35, 0.35, 0.15, 0.15]), 0
    )
    steg_start = _draw(rng, np.where(profiles.har_steg[:, None], profiles.steg_start, 1.0), ins)
    return {
        "forsorjning_fore": forsorjning_fore,
        "tid": tid,
        "syss_fore": syss_fore,
        "omf_fore": omf_fore,
        "steg_start": steg_start,
    }


def _outcomes(
    profiles: _Profiles,
    rng: np.random.Generator,
    chains: dict[str, np.ndarray],
    person: dict[str, np.ndarray],
    background: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """A latent outcome score per episode and what it decides at the end."""
    ins, orsak = chains["ins"], chains["orsak"]
    n = ins.shape[0]
    alder = person["alder"]
    avbrott = np.isin(
        orsak,
        [AVSLUTSORSAK.index(c) for c in ("avbrott_eget_val", "avbrott_sjukdom", "avbrott_annat")],
    )
    z = (
        profiles.effekt[ins]
        + _EFFEKT_TID[background["tid"]]
        + _EFFEKT_UTBILDNING[person["utbildning"][chains["person"]]]
        + np.where(alder >= 55, -0.3, np.where(alder < 25, 0.1, 0.0))
        + np.where(avbrott, _EFFEKT_AVBROTT, 0.0)
        + rng.standard_normal(n)
    )
    arbete_studier = np.asarray(_ARBETE_STUDIER)[_draw(rng, profiles.arbete_studier, ins)]
    praktik = np.where(
        rng.random(n) < profiles.andel_praktik[ins],
        SYSSELSATTNING.index("arbetstraning_praktik"),
        SYSSELSATTNING.index("rehabilitering"),
    )
    syss_efter = np.select(
        [z > _T_ARBETE, z > _T_SOKANDE, z > _T_AKTIVITET],
        [arbete_studier, SYSSELSATTNING.index("arbetssokande"), praktik],
        SYSSELSATTNING.index("ingen"),
    )
    not_assessed = np.isin(
        orsak, [AVSLUTSORSAK.index(c) for c in ("flyttat", "avliden", "felregistrering")]
    )
    okand_utfall = (rng.random(n) < profiles.andel_okand[ins]) | (
        not_assessed & (rng.random(n) < 0.8)
    )
    syss_efter = np.where(okand_utfall, SYSSELSATTNING.index("okand"), syss_efter)
    efter_arbete_studier = np.isin(syss_efter, _ARBETE_STUDIER)
    omf_efter = np.where(
        efter_arbete_studier, rng.choice([25, 50, 75, 100], n, p=[0.2, 0.35, 0.2, 0.25]), 0
    )
    # One step up for a score around 0.3, more for higher, down for lower.
    steg_slut = np.clip(
        background["steg_start"]
        + 1
        + np.rint(z + 0.2 + 0.3 * rng.standard_normal(n)).astype(np.int64),
        1,
        7,
    )
    steg_slut = np.where(
        syss_efter == SYSSELSATTNING.index("arbete"),
        7,
        np.where(efter_arbete_studier, np.maximum(steg_slut, 6), steg_slut),
    )
    narmare = np.where(z > _T_NARMARE, NARMARE_ARBETE.index("ja"), NARMARE_ARBETE.index("nej"))
    narmare = np.where(okand_utfall, NARMARE_ARBETE.index("okand"), narmare)
    forsorjning_efter = _forsorjning_efter(rng, background["forsorjning_fore"], syss_efter)
    forsorjning_efter = np.where(okand_utfall, FORSORJNING.index("okand"), forsorjning_efter)
    return {
        "syss_efter": syss_efter,
        "omf_efter": omf_efter,
        "steg_slut": steg_slut,
        "narmare": narmare,
        "forsorjning_efter": forsorjning_efter,
        "not_assessed": not_assessed,
    }


def _simulate(
    profiles: _Profiles, n_episodes: int, rng: np.random.Generator, start: dt.date, end: dt.date
) -> pl.DataFrame:
    """The core generator: `n_episodes` episodes in canonical columns, every rule satisfied.
    The draws are made in a fixed order (chains, persons, background, outcomes, ids), so the
    same seed gives the same episodes."""
    start_day = (start - _EPOCH).days
    end_day = (end - _EPOCH).days
    c = _episode_chains(profiles, n_episodes, rng, start_day, end_day)
    person = c["person"]
    p = _person_attributes(profiles, rng, person, c["first_ins"], c["startdag"])
    b = _background(profiles, rng, c["ins"])
    o = _outcomes(profiles, rng, c, p, b)
    n_used = c["first_ins"].shape[0]

    # What is known at the end of the window: later ends are ongoing episodes.
    slutdag = c["startdag"] + c["dagar"]
    person_ids = rng.permutation(n_used) + 1

    # Rows sorted by startdatum, insats, deltagare: one argsort of a composite integer key.
    pid = person_ids[person]
    order = np.argsort(_composite_key([c["startdag"] - start_day, c["ins"], pid]))
    # Narrow dtypes first: gathers from arrays that fit in the CPU cache are several times
    # faster at ten million rows.
    i8, i16, i32 = np.int8, np.int16, np.int32
    columns = {
        "pid": (pid, i32),
        "ins": (c["ins"], i32),
        "startdag": (c["startdag"], i32),
        "slutdag": (slutdag, i32),
        "pagar": (slutdag > end_day, np.bool_),
        "svarsbortfall": (c["felreg"] | o["not_assessed"], np.bool_),
        "kon": (p["kon"][person], i8),
        "fodelsear": (p["fodelsear"][person], i16),
        "kommun": (p["kommun"][person], i32),
        "utbildning": (p["utbildning"][person], i8),
        "tid": (b["tid"], i8),
        "forsorjning_fore": (b["forsorjning_fore"], i8),
        "forsorjning_efter": (o["forsorjning_efter"], i8),
        "syss_fore": (b["syss_fore"], i8),
        "syss_efter": (o["syss_efter"], i8),
        "omf_fore": (b["omf_fore"], i8),
        "omf_efter": (o["omf_efter"], i8),
        "orsak": (c["orsak"], i8),
        "steg_start": (b["steg_start"] + 1, i8),
        "steg_slut": (o["steg_slut"], i8),
        "narmare": (o["narmare"], i8),
    }
    episode = {name: values.astype(dtype)[order] for name, (values, dtype) in columns.items()}
    return _episode_frame(episode, profiles, rng, n_used)


def _composite_key(parts: list[np.ndarray]) -> np.ndarray:
    """One int64 per row ordering like the tuple of the non-negative integer `parts`."""
    key = np.zeros(parts[0].shape[0], dtype=np.int64)
    capacity = 1
    for part in parts:
        span = int(part.max()) + 1
        capacity *= span
        if capacity >= 2**62:
            raise ValueError("för många kombinationer för en sorteringsnyckel")
        key = key * span + part
    return key


def _episode_frame(
    e: dict[str, np.ndarray], profiles: _Profiles, rng: np.random.Generator, n_persons: int
) -> pl.DataFrame:
    """Typed columns from the code arrays; the parties' empty values drawn here."""
    n = e["pid"].shape[0]

    def saknas(column: str) -> np.ndarray:
        return rng.random(n) < _SAKNAS[column]

    ins, pagar, bortfall = e["ins"], e["pagar"], e["svarsbortfall"]
    har_steg = profiles.har_steg[ins]
    har_omf = profiles.omfattning[ins]
    id_width = max(6, len(str(n_persons)))
    columns = {
        "deltagare_id": ID_PREFIX + pl.Series(e["pid"]).cast(pl.String).str.zfill(id_width),
        "insats_id": pl.Series(profiles.insats_id).gather(ins),
        "kon": _enum(KON, e["kon"], None),
        "fodelsear": pl.Series(e["fodelsear"], dtype=pl.Int32),
        "kommun": _with_nulls(pl.Series(profiles.kommuner).gather(e["kommun"]), saknas("kommun")),
        "forbund": (
            pl.Series(profiles.forbund).gather(profiles.forbund_of[ins])
            if profiles.forbund is not None
            else pl.Series([None] * n, dtype=pl.String)
        ),
        "startdatum": pl.Series(e["startdag"].astype(np.int32)).cast(pl.Date),
        "slutdatum": _with_nulls(pl.Series(e["slutdag"].astype(np.int32)).cast(pl.Date), pagar),
        "utbildning": _enum(UTBILDNING, e["utbildning"], saknas("utbildning")),
        "tid_offentlig_forsorjning": _enum(
            TID_OFFENTLIG_FORSORJNING, e["tid"], saknas("tid_offentlig_forsorjning")
        ),
        "forsorjning_fore": _enum(FORSORJNING, e["forsorjning_fore"], saknas("forsorjning_fore")),
        "forsorjning_efter": _enum(
            FORSORJNING, e["forsorjning_efter"], pagar | bortfall | saknas("forsorjning_efter")
        ),
        "sysselsattning_fore": _enum(SYSSELSATTNING, e["syss_fore"], saknas("sysselsattning_fore")),
        "sysselsattning_efter": _enum(SYSSELSATTNING, e["syss_efter"], pagar),
        "omfattning_fore": _with_nulls(
            pl.Series(e["omf_fore"], dtype=pl.Int16), ~har_omf | saknas("omfattning")
        ),
        "omfattning_efter": _with_nulls(
            pl.Series(e["omf_efter"], dtype=pl.Int16),
            ~har_omf | pagar | bortfall | saknas("omfattning"),
        ),
        "avslutsorsak": _enum(AVSLUTSORSAK, e["orsak"], pagar),
        "steg_start": _with_nulls(
            pl.Series(e["steg_start"], dtype=pl.Int8), ~har_steg | saknas("steg")
        ),
        "steg_slut": _with_nulls(
            pl.Series(e["steg_slut"], dtype=pl.Int8),
            ~har_steg | pagar | bortfall | saknas("steg"),
        ),
        "narmare_arbete": _enum(
            NARMARE_ARBETE,
            e["narmare"],
            ~profiles.narmare[ins] | pagar | bortfall | saknas("narmare_arbete"),
        ),
    }
    return pl.DataFrame([s.alias(name) for name, s in columns.items()]).select(
        EPISODE_SCHEMA.names()
    )


def _year_of_days(days: np.ndarray) -> np.ndarray:
    """Calendar year of days since 1970-01-01."""
    return (np.datetime64("1970-01-01", "D") + days).astype("datetime64[Y]").astype(np.int64) + 1970


def _forsorjning_efter(
    rng: np.random.Generator, fore: np.ndarray, syss_efter: np.ndarray
) -> np.ndarray:
    """Main support at the end, following the occupation reached (else as before)."""
    n = fore.shape[0]
    u = rng.random(n)
    ingen = FORSORJNING.index("ingen_offentlig")
    sokande_stod = np.array(
        [FORSORJNING.index(c) for c in ("a_kassa", "aktivitetsstod", "forsorjningsstod")]
    )[_draw(rng, np.array([[0.3, 0.4, 0.3]]), np.zeros(n, dtype=np.int64))]
    s = SYSSELSATTNING.index
    return np.select(
        [
            (syss_efter == s("arbete")) & (u < 0.85),
            (syss_efter == s("arbete_med_stod")) & (u < 0.5),
            (syss_efter == s("studier")) & (u < 0.6),
            syss_efter == s("arbetssokande"),
        ],
        [ingen, ingen, ingen, sokande_stod],
        fore,
    )


# --- Public generators -----------------------------------------------------------------------


def _rngs(seed: int, n: int) -> list[np.random.Generator]:
    """Independent PCG64 streams derived from one seed."""
    return [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(n)]


def generate_episodes(
    n_episodes: int, n_insatser: int, seed: int, start_year: int, end_year: int
) -> pl.DataFrame:
    """`n_episodes` fictitious episodes in `n_insatser` insatser (nine per förbund), canonical.

    Insats ids are "I0001", …; förbund "F001", …; episodes start and end within
    start_year-01-01 … end_year-12-31 (those still open then have no end). The result has the
    dtypes of `EPISODE_SCHEMA`, satisfies every rule of the data contract and is the same for
    the same arguments. Rows are sorted by startdatum, insats, deltagare.

    >>> df = generate_episodes(5_000, 18, seed=7, start_year=2024, end_year=2025)
    >>> sorted(df["forbund"].unique().to_list()), df["insats_id"].n_unique()
    (['F001', 'F002'], 18)
    """
    if n_episodes < 1 or n_insatser < 1:
        raise ValueError("Antal episoder och antal insatser måste vara minst 1")
    if not 0 <= end_year - start_year <= _MAX_AR:
        raise ValueError(
            f"Perioden {start_year}–{end_year} måste omfatta 1–{_MAX_AR + 1} kalenderår "
            "(en person ska kunna ha alla sina episoder i åldern 16–67 år)"
        )
    profile_rng, episode_rng = _rngs(seed, 2)
    profiles = _generic_profiles(n_insatser, profile_rng)
    return _simulate(
        profiles, n_episodes, episode_rng, dt.date(start_year, 1, 1), dt.date(end_year, 12, 31)
    )


def example_episodes(seed: int = DEFAULT_SEED) -> pl.DataFrame:
    """The example förbund's episodes as known at the end of 2025 (no forbund column value)."""
    return _simulate(
        _example_profiles(),
        EXAMPLE_EPISODES,
        np.random.Generator(np.random.PCG64(seed)),
        dt.date(EXAMPLE_START_YEAR, 1, 1),
        dt.date(EXAMPLE_END_YEAR, 12, 31),
    )


def export_snapshot(episodes: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """The episodes as an export taken at the end of `cutoff` shows them.

    Episodes that had not started are absent; those that ended later are still open, with
    every end value empty.

    >>> ep = pl.DataFrame({"startdatum": [dt.date(2024, 5, 1), dt.date(2025, 3, 1)],
    ...     "slutdatum": [dt.date(2025, 2, 1), None], "avslutsorsak": ["enligt_plan", None]})
    >>> export_snapshot(ep, dt.date(2024, 12, 31)).rows()
    [(datetime.date(2024, 5, 1), None, None)]
    """
    ended = pl.col("slutdatum") <= cutoff
    return episodes.filter(pl.col("startdatum") <= cutoff).with_columns(
        pl.when(ended).then(pl.col(c)).otherwise(None).alias(c)
        for c in END_COLUMNS
        if c in episodes.columns
    )


# --- The catalog -----------------------------------------------------------------------------

_MATT_TEXT = {
    "arbete_studier": "till arbete eller studier",
    "arbete_studier_arbetssokande": "till arbete, studier eller arbetssökande",
    "aktivitet_sysselsattning": "till aktivitet/sysselsättning mot arbete",
    "narmare_arbete": "har kommit närmare arbete",
    "arsplatser": "årsplatser",
    "deltagare": "deltagare under året",
}


def _format_mal(matt: str, typ: str, value: float) -> tuple[str, str]:
    """The TOML inline table of a target and its Swedish reading."""
    if typ == "andel":
        return (
            f'{{ matt = "{matt}", andel = {value!r} }}',
            f"{value * 100:.0f} % {_MATT_TEXT[matt]}",
        )
    return f'{{ matt = "{matt}", antal = {int(value)} }}', f"{int(value)} {_MATT_TEXT[matt]}"


# The example's money (fictitious): each insats's budget in 2021 in kronor, growing 3 % a
# year; the utfall (kostnad) 92–100 % of it; budgeted participants for a few insatser.
EXAMPLE_BUDGET_2021 = {
    "KOMP": 3_200_000,
    "PROC": 1_400_000,
    "PLATT": 2_900_000,
    "FORST": 1_800_000,
    "UTV": 2_600_000,
    "ISA": 1_500_000,
    "SOC": 1_100_000,
    "ODLA": 600_000,
    "FONT": 900_000,
    "NATV": 450_000,
}
EXAMPLE_BUDGETED_PARTICIPANTS = {"KOMP": 180, "PLATT": 220, "FORST": 80}
# The example's strukturövergripande insats: no records, its reach counted by the förbund.
EXAMPLE_STRUCTURAL = (
    "NATV",
    "Arbetsgivarnätverket (strukturövergripande)",
    "arbetsgivare, handläggare och chefer hos parterna",
)
COUNTED_FILE = "forbundet/raknade_deltagare.csv"


def _per_year(values: dict[int, int]) -> str:
    return "{ " + ", ".join(f"{year} = {value}" for year, value in values.items()) + " }"


def _money_lines(insats_id: str) -> list[str]:
    """The catalog lines with an example insats's budget, kostnad and budgeted deltagare."""
    years = range(EXAMPLE_START_YEAR, EXAMPLE_END_YEAR + 1)
    budget = {
        y: int(round(EXAMPLE_BUDGET_2021[insats_id] * 1.03 ** (y - EXAMPLE_START_YEAR), -3))
        for y in years
    }
    offset = sum(map(ord, insats_id))
    kostnad = {y: int(round(b * (0.92 + 0.02 * ((y + offset) % 5)), -3)) for y, b in budget.items()}
    lines = [f"budget = {_per_year(budget)}", f"kostnad = {_per_year(kostnad)}"]
    if insats_id in EXAMPLE_BUDGETED_PARTICIPANTS:
        n = EXAMPLE_BUDGETED_PARTICIPANTS[insats_id]
        lines.append(f"budgeterade_deltagare = {_per_year(dict.fromkeys(years, n))}")
    return lines


def counted_participants_text() -> str:
    """The example's counted participants (fictitious): anonyma deltagare of two insatser and
    the people the strukturövergripande insats reached, per year (CSV, `;` as Excel writes)."""
    rows = ["insats_id;ar;slag;kvinnor;man"]
    for n, year in enumerate(range(EXAMPLE_START_YEAR, EXAMPLE_END_YEAR + 1)):
        rows += [
            f"KOMP;{year};anonyma;{3 + n % 3};{1 + n % 2}",
            f"FONT;{year};anonyma;{2 + n % 2};{2 + n % 3}",
            f"{EXAMPLE_STRUCTURAL[0]};{year};strukturovergripande;{31 + 4 * n};{22 + 3 * n}",
        ]
    return "\r\n".join(rows) + "\r\n"


def _catalog_text(
    entries: list[tuple[str, str, Archetype]],
    forbund: str,
    seed: int,
    money: bool = False,
    forbund_of: list[str] | None = None,
) -> str:
    lines = [
        "# FIKTIVA EXEMPELDATA: insatskatalog för ett påhittat samordningsförbund.",
        "# Ingen verklig verksamhet. Målen är modellerade efter en verklig verksamhetsplan.",
        f"# Genererad av pipeline.example (seed {seed}); se docs/exempeldata.md.",
        f'forbund = "{forbund}"',
    ]
    for n, (insats_id, namn, arch) in enumerate(entries):
        formatted = [_format_mal(*m) for m in arch.mal]
        pooled = (
            [f'forbund = "{forbund_of[n]}"', f'insatstyp = "{arch.namn}"'] if forbund_of else []
        )
        lines += [
            "",
            "[[insats]]",
            f"# Mål: {'; '.join(text for _, text in formatted)}",
            f'id = "{insats_id}"',
            f'namn = "{namn}"',
            *pooled,
            f"mal = [ {', '.join(toml for toml, _ in formatted)} ]",
            *(_money_lines(insats_id) if money else ()),
        ]
    if money:
        insats_id, namn, malgrupp = EXAMPLE_STRUCTURAL
        lines += [
            "",
            "[[insats]]",
            "# Strukturövergripande: inga deltagaruppgifter; hur många den nådde står i",
            f"# {COUNTED_FILE}.",
            f'id = "{insats_id}"',
            f'namn = "{namn}"',
            'inriktning = "strukturovergripande"',
            f'malgrupp = "{malgrupp}"',
            *_money_lines(insats_id),
        ]
    return "\n".join(lines) + "\n"


def example_catalog_text(seed: int = DEFAULT_SEED) -> str:
    """`insatser.toml` of the example förbund."""
    entries = [(a.insats_id, a.namn, a) for a in ARCHETYPES]
    return _catalog_text(entries, EXAMPLE_FORBUND, seed, money=True)


def generic_catalog_text(n_insatser: int, seed: int) -> str:
    """An `insatser.toml` for the insatser of `generate_episodes(…, n_insatser, …)`.

    Insats i follows archetype i mod 9 and takes its name (with the förbund) and targets; a
    pooled catalog: each insats names its förbund and its kind (insatstyp, the archetype).
    """
    profiles = _generic_profiles(n_insatser, _rngs(seed, 2)[0])
    entries, forbund_of = [], []
    for i, insats_id in enumerate(profiles.insats_id):
        arch = ARCHETYPES[i % len(ARCHETYPES)]
        forbund = profiles.forbund[profiles.forbund_of[i]] if profiles.forbund else ""
        entries.append((insats_id, f"{arch.namn} ({forbund})", arch))
        forbund_of.append(forbund)
    return _catalog_text(entries, "Fiktiva förbund (jämförelsedata)", seed, forbund_of=forbund_of)


# --- Files of the example förbund ------------------------------------------------------------

MARKER_TEXT = """FIKTIVA EXEMPELDATA

Allt i den här mappen är påhittat: samordningsförbundet, kommunerna, insatserna och
deltagarna. Filerna är genererade av pipeline.example (seed {seed}) för att visa hur
uppföljningen fungerar och hur en rapport ser ut. Inga uppgifter kommer från verkliga
personer, och siffrorna säger ingenting om någon verklig verksamhet.

Rapporter som bygger på de här filerna märks som exempeldata.

Vill du använda riktiga exporter: töm mappen (ta bort även den här filen) och lägg
parternas exporter och insatser.toml här. Se docs/exempeldata.md.
"""

SWEDISH_HEADINGS = {c.name: c.heading for c in COLUMNS}


@dataclass(frozen=True)
class ExportFormat:
    """How one party writes one export."""

    suffix: str
    headings: str  # "svenska" (aliases of pipeline.core.contract) or "kanoniska"
    encoding: str = "utf-8"
    separator: str = ","
    line_terminator: str = "\n"
    bom: bool = False


CSV_1252 = ExportFormat("csv", "svenska", "cp1252", ";", "\r\n")
CSV_UTF8_BOM = ExportFormat("csv", "svenska", "utf-8", ",", "\n", bom=True)
XLSX = ExportFormat("xlsx", "svenska")
PARQUET = ExportFormat("parquet", "kanoniska")


def export_format(part: str, year: int) -> ExportFormat:
    """The format of a party's export: the kommuner's system wrote UTF-8 with commas in 2022."""
    if part == "kommunerna":
        return CSV_UTF8_BOM if year == 2022 else CSV_1252
    if part == "regionen":
        return XLSX
    return PARQUET


def _party_columns(episodes: pl.DataFrame) -> list[str]:
    """The columns a party's system holds: those with any value, never forbund."""
    return [
        c for c in episodes.columns if c != "forbund" and episodes[c].null_count() < episodes.height
    ]


def export_table(snapshot: pl.DataFrame, columns: list[str], fmt: ExportFormat) -> pl.DataFrame:
    """The snapshot as the party's file holds it: codes as text, Swedish or canonical headings."""
    table = snapshot.select(
        pl.col(c).cast(pl.String) if isinstance(snapshot.schema[c], pl.Enum) else pl.col(c)
        for c in columns
    )
    if fmt.headings == "svenska":
        table = table.rename({c: SWEDISH_HEADINGS[c] for c in columns})
    return table


def _write_export(table: pl.DataFrame, target: Path, fmt: ExportFormat) -> None:
    if fmt.suffix == "csv":
        text = table.write_csv(separator=fmt.separator, line_terminator=fmt.line_terminator)
        data = (("\ufeff" if fmt.bom else "") + text).encode(fmt.encoding)
        atomic.write_bytes(target, data)
    elif fmt.suffix == "xlsx":
        atomic.write_with(target, lambda tmp: _write_xlsx(table, tmp))
    else:
        atomic.write_with(target, lambda tmp: table.write_parquet(tmp))


def _write_xlsx(table: pl.DataFrame, path: Path) -> None:
    """An XLSX with real date cells and fixed metadata (same bytes for the same table)."""
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": _XLSX_CREATED, "author": "Exempeldata (fiktiv)"})
    table.write_excel(
        workbook=workbook,
        worksheet="Deltagare",
        dtype_formats={pl.Date: "yyyy-mm-dd"},
        autofilter=False,
    )
    workbook.close()


@dataclass(frozen=True)
class ExampleSummary:
    """What generate_example wrote."""

    files: tuple[Path, ...]
    n_episodes: int
    n_persons: int

    @property
    def message(self) -> str:
        return (
            f"Fiktiva exempeldata skrivna: {len(self.files)} filer, {self.n_episodes} episoder "
            f"för {self.n_persons} påhittade deltagare."
        )


def _existing_files(raw: Path) -> list[Path]:
    if not raw.exists():
        return []
    # Hidden files (.gitkeep, .DS_Store, the pipeline's own bookkeeping) are not inputs.
    return sorted(
        p
        for p in raw.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(raw).parts)
    )


def generate_example(raw: Path, seed: int = DEFAULT_SEED) -> ExampleSummary:
    """Write the fictitious example förbund into the empty folder `raw`.

    Refuses (FileExistsError) when `raw` holds any file that is not hidden, so that
    fictitious data are never mixed with real exports.
    """
    raw = Path(raw)
    existing = _existing_files(raw)
    if existing:
        raise FileExistsError(
            f"Råmappen {raw} innehåller redan {len(existing)} fil(er), t.ex. "
            f"{existing[0].relative_to(raw).as_posix()}. Exempeldata skrivs bara i en tom mapp "
            "så att påhittade uppgifter aldrig blandas med riktiga exporter. Töm mappen eller "
            "ange en annan mapp med --raw."
        )
    episodes = example_episodes(seed)
    written: list[Path] = []

    def write_text(target: Path, text: str) -> None:
        atomic.write_text(target, text)
        written.append(target)

    write_text(raw / EXAMPLE_MARKER, MARKER_TEXT.format(seed=seed))
    write_text(raw / CATALOG_FILE, example_catalog_text(seed))
    write_text(raw / COUNTED_FILE, counted_participants_text())
    party_of = pl.DataFrame(
        {"insats_id": [a.insats_id for a in ARCHETYPES], "part": [a.part for a in ARCHETYPES]}
    )
    with_party = episodes.join(party_of, on="insats_id", how="left", maintain_order="left")
    for part in PARTIES:
        party_episodes = with_party.filter(pl.col("part") == part).drop("part")
        columns = _party_columns(party_episodes)
        for year in range(EXAMPLE_START_YEAR, EXAMPLE_END_YEAR + 1):
            fmt = export_format(part, year)
            snapshot = export_snapshot(party_episodes, dt.date(year, 12, 31))
            target = raw / part / f"{year}-12_export.{fmt.suffix}"
            _write_export(export_table(snapshot, columns, fmt), target, fmt)
            written.append(target)
    return ExampleSummary(
        files=tuple(sorted(written)),
        n_episodes=episodes.height,
        n_persons=episodes["deltagare_id"].n_unique(),
    )


# --- A pooled example: many förbund in one store ---------------------------------------------
# Files as förbund systems write them (one CSV per förbund and year; benchmarks use the same).


@dataclass(frozen=True)
class CsvFormat:
    """How one förbund's system writes its exports."""

    name: str
    encoding: str
    separator: str
    line_terminator: str
    bom: bool
    swedish_headings: bool


POOLED_FORMATS = (
    CsvFormat("cp1252_semikolon_svenska", "cp1252", ";", "\r\n", False, True),
    CsvFormat("utf8_bom_komma_svenska", "utf-8", ",", "\n", True, True),
    CsvFormat("utf8_komma_kanoniska", "utf-8", ",", "\n", False, False),
)


def format_of(forbund_index: int) -> CsvFormat:
    """The export format of the i-th förbund (a fixed cycle over POOLED_FORMATS)."""
    return POOLED_FORMATS[forbund_index % len(POOLED_FORMATS)]


def csv_bytes(table: pl.DataFrame, fmt: CsvFormat) -> bytes:
    """One export file's bytes: codes as text, headings and encoding of the format."""
    text_table = table.with_columns(pl.col(pl.Enum).cast(pl.String))
    if fmt.swedish_headings:
        text_table = text_table.rename(SWEDISH_HEADINGS)
    text = text_table.write_csv(separator=fmt.separator, line_terminator=fmt.line_terminator)
    return (("\ufeff" if fmt.bom else "") + text).encode(fmt.encoding)


def year_export(episodes: pl.DataFrame, year: int) -> pl.DataFrame:
    """The export of `year`: episodes started in it or still open when it began, as known at
    its end (later ends not yet known)."""
    started = pl.col("startdatum").dt.year()
    carried = (started < year) & (
        pl.col("slutdatum").is_null() | (pl.col("slutdatum") >= dt.date(year, 1, 1))
    )
    return export_snapshot(episodes.filter((started == year) | carried), dt.date(year, 12, 31))


POOLED_MARKER_TEXT = """FIKTIVA EXEMPELDATA (gemensamt lager)

Allt i den här mappen är påhittat: {n_forbund} samordningsförbund (F001 …), deras insatser och
deltagare, i ett gemensamt lager som en region eller det nationella nätverket kan ha. Filerna
är genererade av pipeline.example (seed {seed}). Inga uppgifter kommer från verkliga personer.

Kör: python -m pipeline report --raw MAPP --alla-forbund (en rapport per förbund och en
jämförelse). Se docs/exempeldata.md.
"""
POOLED_START_YEAR, POOLED_END_YEAR = 2021, 2025
POOLED_INSATSER = 270  # 30 förbund of nine insatser
POOLED_EPISODES = 50_000  # about 330 persons a year per förbund, as a real one


def write_pooled_files(
    raw: Path, episodes: pl.DataFrame, start_year: int, end_year: int
) -> list[tuple[Path, int]]:
    """One CSV export per förbund and year under `raw/<förbund>/`; (path, data rows) each."""
    forbund = sorted(episodes["forbund"].unique().to_list())
    written = []
    for (fb,), group in sorted(episodes.partition_by("forbund", as_dict=True).items()):
        fmt = format_of(forbund.index(fb))
        for year in range(start_year, end_year + 1):
            data = csv_bytes(year_export(group, year), fmt)
            target = raw / fb / f"{year}-12_export.csv"
            atomic.write_bytes(target, data)
            written.append((target, data.count(b"\n") - 1))
    return written


def generate_pooled_example(
    raw: Path,
    n_episodes: int = POOLED_EPISODES,
    n_insatser: int = POOLED_INSATSER,
    seed: int = DEFAULT_SEED,
) -> ExampleSummary:
    """Write a fictitious pooled store (30 förbund of nine insatser by default) into the
    empty folder `raw`: the marker, a catalog naming each insats's förbund and kind, and one
    CSV export per förbund and year."""
    raw = Path(raw)
    existing = _existing_files(raw)
    if existing:
        raise FileExistsError(
            f"Råmappen {raw} innehåller redan {len(existing)} fil(er). Exempeldata skrivs bara "
            "i en tom mapp."
        )
    episodes = generate_episodes(n_episodes, n_insatser, seed, POOLED_START_YEAR, POOLED_END_YEAR)
    n_forbund = episodes["forbund"].n_unique()
    atomic.write_text(
        raw / EXAMPLE_MARKER, POOLED_MARKER_TEXT.format(n_forbund=n_forbund, seed=seed)
    )
    atomic.write_text(raw / CATALOG_FILE, generic_catalog_text(n_insatser, seed))
    files = write_pooled_files(raw, episodes, POOLED_START_YEAR, POOLED_END_YEAR)
    return ExampleSummary(
        files=tuple(sorted([raw / EXAMPLE_MARKER, raw / CATALOG_FILE, *(p for p, _ in files)])),
        n_episodes=episodes.height,
        n_persons=episodes["deltagare_id"].n_unique(),
    )
