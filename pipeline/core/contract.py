"""The data contract in code: canonical columns, their types, code lists and header aliases.

This module is the single place that says what a participant record looks like
(shared/spec/data-contract.md, section 1) and which columns the published tables have
(section 4). Every other module imports these names instead of repeating them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import polars as pl

# --- Code lists (closed: a value outside them is a validation error) -----------------------

KON = ("K", "M")
UTBILDNING = ("forgymnasial", "gymnasial", "eftergymnasial", "okand")
TID_OFFENTLIG_FORSORJNING = (
    "ingen",
    "under_1_ar",
    "1_2_ar",
    "2_5_ar",
    "5_10_ar",
    "over_10_ar",
    "okand",
)
FORSORJNING = (
    "sjukpenning",
    "sjukersattning",
    "aktivitetsersattning",
    "a_kassa",
    "aktivitetsstod",
    "etableringsersattning",
    "forsorjningsstod",
    "ingen_offentlig",
    "okand",
)
SYSSELSATTNING = (
    "arbete",
    "arbete_med_stod",
    "studier",
    "arbetssokande",
    "arbetstraning_praktik",
    "rehabilitering",
    "ingen",
    "okand",
)
AVSLUTSORSAK = (
    "enligt_plan",
    "avbrott_eget_val",
    "avbrott_sjukdom",
    "avbrott_annat",
    "flyttat",
    "avliden",
    "felregistrering",
)
NARMARE_ARBETE = ("ja", "nej", "okand")

# The Swedish text of every code, one text per code whatever its list (the report, the
# submission template and the reader use these). The reader accepts a code or its text, case,
# accents, dashes and surrounding spaces ignored (`code_lookup`): a closed mapping, anything
# else is a validation error.
CODE_TEXTS: dict[str, str] = {
    "K": "Kvinna",
    "M": "Man",
    "forgymnasial": "Förgymnasial",
    "gymnasial": "Gymnasial",
    "eftergymnasial": "Eftergymnasial",
    "ingen": "Ingen",
    "under_1_ar": "Under 1 år",
    "1_2_ar": "1–2 år",
    "2_5_ar": "2–5 år",
    "5_10_ar": "5–10 år",
    "over_10_ar": "Över 10 år",
    "sjukpenning": "Sjukpenning",
    "sjukersattning": "Sjukersättning",
    "aktivitetsersattning": "Aktivitetsersättning",
    "a_kassa": "A-kassa",
    "aktivitetsstod": "Aktivitetsstöd",
    "etableringsersattning": "Etableringsersättning",
    "forsorjningsstod": "Försörjningsstöd",
    "ingen_offentlig": "Ingen offentlig försörjning",
    "arbete": "Arbete",
    "arbete_med_stod": "Arbete med stöd",
    "studier": "Studier",
    "arbetssokande": "Arbetssökande",
    "arbetstraning_praktik": "Arbetsträning/praktik",
    "rehabilitering": "Rehabilitering",
    "enligt_plan": "Enligt plan",
    "avbrott_eget_val": "Avbrott, eget val",
    "avbrott_sjukdom": "Avbrott, sjukdom",
    "avbrott_annat": "Avbrott, annat",
    "flyttat": "Flyttat",
    "avliden": "Avliden",
    "felregistrering": "Felregistrering",
    "ja": "Ja",
    "nej": "Nej",
    "okand": "Okänd",
    "anonyma": "Anonyma deltagare",
    "strukturovergripande": "Strukturövergripande insats",
}


def fold_code_text(text: str) -> str:
    """A code or a code's text as the reader compares them: NFKD without accents, lower case,
    every dash "-", no spaces around a dash, slash or comma, other spaces collapsed and
    stripped (`pipeline.ingest.validate` does the same in polars).

    >>> fold_code_text("  Sjukersättning "), fold_code_text("1-2 År"), fold_code_text("K")
    ('sjukersattning', '1-2 ar', 'k')
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    plain = re.sub(r"[\u2010-\u2015\u2212\ufe63\uff0d]", "-", plain)
    plain = re.sub(r"\s*([-/,])\s*", r"\1", plain)  # "1 – 2 år", "Arbetsträning / praktik"
    return re.sub(r"\s+", " ", plain).strip()


def code_lookup(codes: tuple[str, ...]) -> dict[str, str]:
    """Folded code or text → code, for one code list.

    >>> code_lookup(KON)["kvinna"], code_lookup(KON)["m"]
    ('K', 'M')
    """
    lookup = {fold_code_text(code): code for code in codes}
    lookup |= {fold_code_text(CODE_TEXTS[code]): code for code in codes}
    return lookup


# Numeric ranges from the contract.
ALDER_MIN, ALDER_MAX = 16, 67
OMFATTNING_MIN, OMFATTNING_MAX = 0, 100
STEG_MIN, STEG_MAX = 1, 7

# The key of an episode: one person's enrolment in one insats.
EPISODE_KEY = ("deltagare_id", "insats_id", "startdatum")


@dataclass(frozen=True)
class Column:
    """One canonical column of a participant record."""

    name: str
    dtype: pl.DataType
    required: bool
    aliases: tuple[str, ...] = ()
    codes: tuple[str, ...] | None = None

    @property
    def heading(self) -> str:
        """The Swedish heading a party writes (the first alias), else the name."""
        return self.aliases[0] if self.aliases else self.name


COLUMNS: tuple[Column, ...] = (
    Column("deltagare_id", pl.String(), True, ("Deltagare-ID", "deltagar_id", "deltagarid")),
    Column("insats_id", pl.String(), True, ("Insats", "insats-id")),
    Column("kon", pl.Enum(KON), True, ("Kön",), KON),
    Column("fodelsear", pl.Int32(), True, ("Födelseår",)),
    Column("kommun", pl.String(), False, ("Folkbokföringskommun",)),
    Column("forbund", pl.String(), False, ("Förbund",)),
    Column("startdatum", pl.Date(), True, ("Inskrivningsdatum",)),
    Column("slutdatum", pl.Date(), False, ("Avslutsdatum",)),
    Column("utbildning", pl.Enum(UTBILDNING), False, ("Utbildningsnivå",), UTBILDNING),
    Column(
        "tid_offentlig_forsorjning",
        pl.Enum(TID_OFFENTLIG_FORSORJNING),
        False,
        ("Tid i offentlig försörjning",),
        TID_OFFENTLIG_FORSORJNING,
    ),
    Column("forsorjning_fore", pl.Enum(FORSORJNING), False, ("Försörjning före",), FORSORJNING),
    Column("forsorjning_efter", pl.Enum(FORSORJNING), False, ("Försörjning efter",), FORSORJNING),
    Column(
        "sysselsattning_fore",
        pl.Enum(SYSSELSATTNING),
        False,
        ("Sysselsättning före",),
        SYSSELSATTNING,
    ),
    Column(
        "sysselsattning_efter",
        pl.Enum(SYSSELSATTNING),
        False,
        ("Sysselsättning efter",),
        SYSSELSATTNING,
    ),
    Column("omfattning_fore", pl.Int16(), False, ("Omfattning före",)),
    Column("omfattning_efter", pl.Int16(), False, ("Omfattning efter",)),
    Column("avslutsorsak", pl.Enum(AVSLUTSORSAK), False, ("Avslutsanledning",), AVSLUTSORSAK),
    Column("steg_start", pl.Int8(), False, ("Steg start",)),
    Column("steg_slut", pl.Int8(), False, ("Steg slut",)),
    Column("narmare_arbete", pl.Enum(NARMARE_ARBETE), False, ("Närmare arbete",), NARMARE_ARBETE),
)

COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}


def swedish_heading(column: str) -> str:
    """The Swedish heading of a contract column; any other name as it is.

    >>> swedish_heading("startdatum"), swedish_heading("kolumn nr 3")
    ('Inskrivningsdatum', 'kolumn nr 3')
    """
    known = COLUMN_BY_NAME.get(column)
    return known.heading if known is not None else column


CANONICAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)

# The schema of a validated episode frame (episoder.parquet).
EPISODE_SCHEMA: pl.Schema = pl.Schema({c.name: c.dtype for c in COLUMNS})


@functools.lru_cache(maxsize=4096)
def normalize_header(header: str) -> str:
    """Fold a header for matching: case- and accent-insensitive, separators unified.

    >>> normalize_header("  Födelseår ")
    'fodelsear'
    >>> normalize_header("Deltagare-ID")
    'deltagare_id'
    """
    # NFKC first (fullwidth letters, odd spaces), invisible characters out, then accents off.
    visible = re.sub("[\u00ad\u200b-\u200f\u2060\ufeff]", "", unicodedata.normalize("NFKC", header))
    folded = unicodedata.normalize("NFKD", visible.strip())
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    for sep in (" ", "-", ".", "/"):
        ascii_only = ascii_only.replace(sep, "_")
    while "__" in ascii_only:
        ascii_only = ascii_only.replace("__", "_")
    return ascii_only.strip("_")


# Every accepted spelling (normalized) mapped to its canonical column.
HEADER_ALIASES: dict[str, str] = {
    normalize_header(spelling): c.name for c in COLUMNS for spelling in (c.name, *c.aliases)
}


# --- Output tables other tools rely on (contract section 4) --------------------------------

MALUPPFYLLELSE_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "matt",
    "mal",
    "utfall",
    "namnare",
    "taljare",
    "ki_lag",
    "ki_hog",
    "andel_okand",
    "bedomning",
)
DELTAGARE_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "deltagare",
    "kvinnor",
    "man",
    "nya",
    "avslutade",
    "pagaende",
    "arsplatser",
)
UTFALL_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "kon",
    "matt",
    "namnare",
    "taljare",
    "andel",
    "ki_lag",
    "ki_hog",
    "antal_okand",
    "andel_okand",
)
UTFALL_KON_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "matt",
    "andel_kvinnor",
    "andel_man",
    "skillnad_procentenheter",
    "namnare_kvinnor",
    "namnare_man",
)
TID_I_INSATS_COLUMNS: tuple[str, ...] = ("insats_id", "insats", "avslutade", "median_dagar")
BAKGRUND_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "variabel",
    "kategori",
    "kvinnor",
    "man",
    "totalt",
)
FORSORJNING_FORE_EFTER_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "forsorjning_fore",
    "forsorjning_efter",
    "antal",
)
TREND_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "ar",
    "deltagare",
    "matt",
    "namnare",
    "taljare",
    "andel",
)
# Every table of docs/tabeller.md with its columns, in published order.
# The published cost table (contract section 5; pipeline.measures.costs): one row per insats
# and share target, then TOTALT.
KOSTNAD_COLUMNS: tuple[str, ...] = (
    "insats_id",
    "insats",
    "kostnad",
    "budget",
    "deltagare",
    "kostnad_per_deltagare",
    "arsplatser",
    "kostnad_per_arsplats",
    "matt",
    "uppnadde",
    "kostnad_per_uppnadd",
)

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "deltagare": DELTAGARE_COLUMNS,
    "maluppfyllelse": MALUPPFYLLELSE_COLUMNS,
    "utfall": UTFALL_COLUMNS,
    "utfall_kon": UTFALL_KON_COLUMNS,
    "tid_i_insats": TID_I_INSATS_COLUMNS,
    "bakgrund": BAKGRUND_COLUMNS,
    "forsorjning_fore_efter": FORSORJNING_FORE_EFTER_COLUMNS,
    "trend": TREND_COLUMNS,
    "kostnad": KOSTNAD_COLUMNS,
}
BEDOMNING = ("uppnatt", "ej_uppnatt", "for_fa_deltagare")

# Outcome measures (shares of the outcome base) and volume measures a target may name.
OUTCOME_MEASURES = (
    "arbete_studier",
    "arbete_studier_arbetssokande",
    "aktivitet_sysselsattning",
    "narmare_arbete",
)
VOLUME_MEASURES = ("arsplatser", "deltagare")

# The row that holds the förbund as a whole in per-insats tables.
TOTAL_INSATS_ID = "TOTALT"
TOTAL_INSATS_NAMN = "Förbundet totalt"


# --- Rules: every reason a value, a row or a file is rejected, with its Swedish text ---------

# regel_id -> Swedish explanation shown to analysts and parties. The one list of rules:
# validation (pipeline.ingest.validate), the readers (faltantal, teckenkodning) and the privacy scan
# (personnummer) all name their rejections by these ids.
RULES: dict[str, str] = {
    "saknas": "obligatoriskt värde saknas",
    "datumformat": "ogiltigt datum (ÅÅÅÅ-MM-DD krävs)",
    "heltal": "inte ett heltal",
    "kod": "värdet finns inte i kodlistan",
    "okand_insats": "insatsen finns inte i insatskatalogen (insatser.toml)",
    "alder": f"åldern vid start (startår − födelseår) måste vara {ALDER_MIN}–{ALDER_MAX} år",
    "slut_fore_start": "avslutsdatum ligger före inskrivningsdatum",
    "framtida_datum": "avslutsdatum ligger i framtiden",
    "omfattning": f"omfattning måste vara {OMFATTNING_MIN}–{OMFATTNING_MAX} (% av heltid)",
    "steg": f"steg måste vara {STEG_MIN}–{STEG_MAX}",
    "avslut_utan_orsak": "avslutsanledning krävs när avslutsdatum finns",
    "orsak_utan_avslut": "avslutsanledning får bara anges när avslutsdatum finns",
    "avslut_utan_sysselsattning": "sysselsättning efter krävs när avslutsdatum finns",
    "sysselsattning_utan_avslut": "sysselsättning efter får bara anges när avslutsdatum finns",
    "faltantal": "raden har inte lika många fält (kolumner) som rubrikraden",
    "teckenkodning": "tecken som inte kan läsas i filens teckenkodning (spara filen som UTF-8)",
    "personnummer": "personnummer eller samordningsnummer: hela filen avvisas",
    "struktur_insats": (
        "insatsen är strukturövergripande i insatskatalogen: den har inga deltagaruppgifter, "
        "bara räknade deltagare (fil med insats_id, ar, slag, kvinnor, man)"
    ),
    "fel_forbund": (
        "förbundet stämmer inte med insatsens förbund i insatskatalogen (forbund för insatsen "
        "i insatser.toml)"
    ),
    "negativt_antal": "antalet får inte vara negativt",
    "artal": "året måste vara ett årtal från 2000 till i år",
    "slag_inriktning": (
        "slaget stämmer inte med insatsens inriktning i insatskatalogen (anonyma deltagare hör "
        "till individinriktade insatser, strukturövergripande till strukturövergripande)"
    ),
    "dubbel_rad": (
        "samma insats, år och slag står på flera rader i filen: alla de raderna avvisas, behåll en"
    ),
}


# --- Data-quality records of the store (written by ingest, shown in the report) -------------

# One row per rejected value: where it was (file relative to the raw folder, the sheet of a
# workbook, row number as a spreadsheet shows it: the heading is row 1), what it was (masked
# when it is a personnummer) and which rule it broke (regel_id: short stable code; regel:
# Swedish explanation, from RULES).
QUARANTINE_SCHEMA = pl.Schema(
    {
        "fil": pl.String(),
        "blad": pl.String(),
        "rad": pl.Int64(),
        "kolumn": pl.String(),
        "varde": pl.String(),
        "regel_id": pl.String(),
        "regel": pl.String(),
    }
)

# One row per raw file seen in the latest ingest. status: "inlast" (read, possibly with
# quarantined rows) or "avvisad" (whole file rejected: unreadable, personnummer, missing
# required columns). meddelande explains a rejection in Swedish; anmarkningar notes what was
# skipped (sheets without a table, blank rows, rows above the heading). Neither ever holds
# anything from the file's content but headings that passed the personnummer scan.
FILE_LOG_SCHEMA = pl.Schema(
    {
        "fil": pl.String(),
        "sha256": pl.String(),
        "format": pl.String(),
        "teckenkodning": pl.String(),
        "blad": pl.Int64(),
        "rader": pl.Int64(),
        "godkanda_rader": pl.Int64(),
        "avvisade_rader": pl.Int64(),
        "tomma_rader": pl.Int64(),
        "status": pl.String(),
        "meddelande": pl.String(),
        "anmarkningar": pl.String(),
    }
)

# Episodes kept in the store with a warning (docs/antaganden.md, I14 and I15): the newest
# version was quarantined (`nyare_version_i_karantan`: the older valid one is kept), or the
# latest export of the same series no longer carries it (`saknas_i_senaste_exporten`: kept).
FLAGGED_SCHEMA = pl.Schema(
    {
        "deltagare_id": pl.String(),
        "insats_id": pl.String(),
        "startdatum": pl.Date(),
        "flagga": pl.String(),
        "fil": pl.String(),
    }
)
FLAGS = {
    "nyare_version_i_karantan": "senaste versionen ligger i karantän; den äldre godkända används",
    "saknas_i_senaste_exporten": "finns inte med i partens senaste export; den tidigare används",
}


# --- Counted participants (contract section 5) -----------------------------------------------

# Persons who are only counted, never recorded: anonyma deltagare (no consent, protected
# identity) of an individinriktad insats and the people a strukturövergripande insats reached.
# One row per insats, year and slag; a file is recognised by these headings.
COUNTED_KINDS = ("anonyma", "strukturovergripande")
COUNTED_KEY = ("insats_id", "ar", "slag")
COUNTED_SCHEMA = pl.Schema(
    {
        "insats_id": pl.String(),
        "ar": pl.Int64(),
        "slag": pl.String(),
        "kvinnor": pl.Int64(),
        "man": pl.Int64(),
        "fil": pl.String(),  # the raw file the row came from (the latest file wins a key)
    }
)
COUNTED_COLUMNS = tuple(c for c in COUNTED_SCHEMA.names() if c != "fil")
COUNTED_HEADINGS = {
    "insats_id": "Insats-id",
    "ar": "År",
    "slag": "Slag",
    "kvinnor": "Kvinnor",
    "man": "Män",
}
# Accepted spellings (normalized as headings are) of the counted file's headings.
COUNTED_ALIASES: dict[str, str] = {
    normalize_header(spelling): column
    for column, spellings in {
        "insats_id": ("insats_id", "insats", "Insats-id", "insatsid"),
        "ar": ("ar", "år", "årtal"),
        "slag": ("slag", "typ"),
        "kvinnor": ("kvinnor", "antal kvinnor"),
        "man": ("man", "män", "antal män"),
    }.items()
    for spelling in spellings
}
