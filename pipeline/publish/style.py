"""One style for everything published: palette, chart sizes, Swedish labels and number format.

Numbers are written the Swedish way: a space between thousands (no-break, so a number never
splits over two lines), a decimal comma, and a space before the per cent sign.
"""

from __future__ import annotations

import math

from pipeline.core.contract import CODE_TEXTS

# Okabe–Ito: distinguishable with the common forms of colour blindness.
OKABE_ITO = {
    "orange": "#E69F00",
    "himmelsbla": "#56B4E9",
    "gron": "#009E73",
    "gul": "#F0E442",
    "bla": "#0072B2",
    "rod": "#D55E00",
    "lila": "#CC79A7",
    "svart": "#000000",
}
KVINNOR_FARG = OKABE_ITO["orange"]
MAN_FARG = OKABE_ITO["bla"]
HUVUDFARG = OKABE_ITO["bla"]
MALFARG = OKABE_ITO["rod"]
FORE_FARG = OKABE_ITO["himmelsbla"]
EFTER_FARG = OKABE_ITO["gron"]
SERIEFARGER = tuple(OKABE_ITO[c] for c in ("bla", "orange", "gron", "lila", "himmelsbla", "rod"))
GRA = "#8C8C8C"
LJUSGRA = "#E6E6E6"
TEXTFARG = "#1A1A1A"
EXEMPEL_FARG = "#B00020"

# Chart geometry (inches) and print resolution. Fixed sizes: no bbox_inches="tight".
DPI = 200
BREDD = 8.0
HOJD_BAS = 2.2  # title, footnote and axis
HOJD_PER_RAD = 0.42
HOJD_MIN = 3.6
HOJD_MAX = 11.0
TITEL_STORLEK = 12.5
UNDERTITEL_STORLEK = 9.5
TEXT_STORLEK = 9.0
FOTNOT_STORLEK = 7.5
# Margins as fractions of the figure; left leaves room for insats names.
VANSTER = 0.30
HOGER = 0.95

NBSP = "\u00a0"
# Chart fonts: DejaVu ships with matplotlib and has å, ä, ö and the no-break space.
FONT_FAMILY = "DejaVu Sans"

EXEMPEL_TEXT = "FIKTIVA EXEMPELDATA"


def chart_height(rows: int) -> float:
    """Figure height for a horizontal bar chart with `rows` bars.

    >>> chart_height(1), chart_height(40)
    (3.6, 11.0)
    """
    return round(min(HOJD_MAX, max(HOJD_MIN, HOJD_BAS + HOJD_PER_RAD * rows)), 2)


def _missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def heltal(value: float | int | None) -> str:
    """An integer with a no-break space between thousands.

    >>> heltal(1234567)
    '1\\xa0234\\xa0567'
    >>> heltal(None)
    ''
    """
    if _missing(value):
        return ""
    return f"{round(value):,}".replace(",", NBSP).replace("-", "−")


def decimal(value: float | int | None, decimals: int = 1) -> str:
    """A decimal number with a decimal comma and thousands spaced.

    >>> decimal(1234.56, 1)
    '1\\xa0234,6'
    """
    if _missing(value):
        return ""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", NBSP).replace("-", "−")


def procent(share: float | None, decimals: int = 0) -> str:
    """A share 0–1 as per cent: '45 %' (no-break space before the sign).

    >>> procent(0.4523)
    '45\\xa0%'
    >>> procent(0.4523, 1)
    '45,2\\xa0%'
    """
    if _missing(share):
        return ""
    return f"{decimal(share * 100, decimals)}{NBSP}%"


def procentenheter(diff: float | None) -> str:
    """A difference of shares in percentage points, signed.

    >>> procentenheter(-0.052)
    '−5\\xa0procentenheter'
    """
    if _missing(diff):
        return ""
    points = round(diff * 100)
    sign = "+" if points > 0 else ""
    return f"{sign}{heltal(points)}{NBSP}procentenheter"


def count_text(value: str | None) -> str:
    """A published count cell ('1234', '<5', '..') as shown in text and tables.

    >>> count_text("1234"), count_text("<5"), count_text(None)
    ('1\\xa0234', '<5', '')
    """
    if value is None:
        return ""
    try:
        return heltal(float(value))
    except ValueError:
        return value


def number_text(value: str | None, decimals: int = 1) -> str:
    """A published non-count number cell ('11.5', '..') with a decimal comma.

    >>> number_text("11.5"), number_text("..")
    ('11,5', '..')
    """
    if value is None:
        return ""
    try:
        return decimal(float(value), decimals)
    except ValueError:
        return value


# --- Swedish labels for codes and columns -----------------------------------------------------

MATT_NAMN = {
    "arbete_studier": "Arbete eller studier",
    "arbete_studier_arbetssokande": "Arbete, studier eller arbetssökande",
    "aktivitet_sysselsattning": "Aktivitet eller sysselsättning mot arbete",
    "narmare_arbete": "Närmare arbete",
    "arsplatser": "Årsplatser",
    "deltagare": "Deltagare",
}

BEDOMNING_NAMN = {
    "uppnatt": "Uppnått",
    "ej_uppnatt": "Ej uppnått",
    "for_fa_deltagare": "För få deltagare",
}
# A bedömning the published tables do not imply, left open so as not to bound a hidden count.
BEDOMNING_DOLD = "Kan inte redovisas"

KON_NAMN = {"alla": "Alla", "K": "Kvinnor", "M": "Män"}

VARIABEL_NAMN = {
    "aldersgrupp": "Åldersgrupp",
    "utbildning": "Utbildningsnivå",
    "tid_offentlig_forsorjning": "Tid i offentlig försörjning före start",
    "forsorjning_fore": "Försörjning före start",
    "sysselsattning_fore": "Sysselsättning före start",
    "forsorjning_efter": "Försörjning vid avslut",
    "sysselsattning_efter": "Sysselsättning vid avslut",
    "avslutsorsak": "Avslutsorsak",
}

# The contract's codes that are categories of the published background tables: every code
# but kön's and närmare arbete's (those are columns and rows of their own, not categories).
CATEGORY_CODES = tuple(code for code in CODE_TEXTS if code not in {"K", "M", "ja", "nej"})

# Category labels of the report: the contract's code texts (pipeline.core.contract, one text
# per code) and the report's own categories (age groups, "uppgift saknas").
KATEGORI_NAMN = {
    "16-19": "16–19 år",
    "20-24": "20–24 år",
    "25-29": "25–29 år",
    "30-39": "30–39 år",
    "40-49": "40–49 år",
    "50-59": "50–59 år",
    "60-67": "60–67 år",
    **{code: CODE_TEXTS[code] for code in CATEGORY_CODES},
    "uppgift_saknas": "Uppgift saknas",
}

KOLUMN_NAMN = {
    "insats_id": "Insats-id",
    "insats": "Insats",
    "deltagare": "Deltagare",
    "kvinnor": "Kvinnor",
    "man": "Män",
    "nya": "Nya",
    "avslutade": "Avslutade",
    "pagaende": "Pågående",
    "arsplatser": "Årsplatser",
    "matt": "Mått",
    "mal": "Mål",
    "utfall": "Utfall",
    "namnare": "Antal (bas)",
    "taljare": "Antal som nått målet",
    "ki_lag": "95 % KI, nedre",
    "ki_hog": "95 % KI, övre",
    "andel_okand": "Andel okänt utfall",
    "antal_okand": "Antal okänt utfall",
    "bedomning": "Bedömning",
    "kon": "Kön",
    "andel": "Andel",
    "andel_kvinnor": "Andel kvinnor som nått målet",
    "andel_man": "Andel män som nått målet",
    "skillnad_procentenheter": "Skillnad kvinnor − män",
    "namnare_kvinnor": "Antal kvinnor (bas)",
    "namnare_man": "Antal män (bas)",
    "median_dagar": "Mediantid i insatsen (dagar)",
    "variabel": "Variabel",
    "kategori": "Kategori",
    "totalt": "Totalt",
    "forsorjning_fore": "Försörjning före",
    "forsorjning_efter": "Försörjning efter",
    "antal": "Antal",
    "ar": "År",
    "kostnad": "Kostnad (kr)",
    "budget": "Budget (kr)",
    "kostnad_per_deltagare": "Kostnad per deltagare (kr)",
    "kostnad_per_arsplats": "Kostnad per årsplats (kr)",
    "uppnadde": "Antal som nått målet",
    "kostnad_per_uppnadd": "Kostnad per person som nått målet (kr)",
}

TABELL_NAMN = {
    "maluppfyllelse": "Måluppfyllelse",
    "deltagare": "Deltagare",
    "utfall": "Utfall per kön",
    "utfall_kon": "Jämställdhet",
    "tid_i_insats": "Tid i insats",
    "bakgrund": "Bakgrund",
    "forsorjning_fore_efter": "Försörjning före-efter",
    "trend": "Trend",
    "kostnad": "Kostnader",
}


def kronor_text(value: float | int | None) -> str:
    """Whole kronor, thousands apart as in `heltal`.

    >>> kronor_text(3386000), kronor_text(None)
    ('3\xa0386\xa0000\xa0kr', '')
    """
    if _missing(value):
        return ""
    return f"{heltal(round(value))}\xa0kr"


def label(code: str | None, names: dict[str, str] | None = None) -> str:
    """The Swedish label of a code, or the code itself when there is none.

    >>> label("arbete_med_stod"), label("okänd_kod")
    ('Arbete med stöd', 'okänd_kod')
    """
    if code is None:
        return ""
    return (names or KATEGORI_NAMN).get(code, code)
