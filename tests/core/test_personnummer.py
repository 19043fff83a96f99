"""The personnummer rule (pipeline.core.personnummer), case by case and on random pseudonyms."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid

import polars as pl
import pytest

from pipeline.core import personnummer as pn


def _hit(cell: str) -> bool:
    frame = pl.DataFrame(
        {"_rad": [2], "cell": [cell]}, schema={"_rad": pl.Int64, "cell": pl.String}
    )
    return pn.scan_frame(frame, "_rad").hits.height == 1


@pytest.mark.parametrize(
    "cell",
    [
        "19811218-9876",  # Skatteverket's test number, with century and hyphen
        "811218-9876",
        "8112189876",
        "198112189876",
        "811218-9875",  # a wrong check digit still points at a person
        "811218 9876",  # typed with a space
        "811218–9876",  # en dash
        "811218—9876",  # em dash
        "811218−9876",  # minus sign
        "811218+9876",  # over a hundred years old
        "811218 - 9876",
        "19811218 9876",
        "pnr 19850312 1234",
        "Motala;850312-1234",
        "ärende 12, 850312-1234",  # every candidate in a cell, not only the first
        "tel 0707-123456 / 850312-1234",
        "ID_8503121234",  # an underscore sets a number off (contract: not a letter or digit)
        "701063-2383",  # samordningsnummer: day + 60
        "512011234",  # a number that lost its leading zero: 0512011234, born 2005
        "12011234",  # and its two leading zeros: 0012011234, born 2000
        "000229-1234",  # 29 February 2000
        "(850312-1234)",
        "EX-8503121234",  # a hyphen sets a number off as any sign does (contract)
        "SOC-811218-9876",
        "850312-1234-X",
        "2024-811218-9876",
        "811218--9876",
        "811218-\u200b9876",  # a zero-width space, invisible on screen
        "811218\u20029876",  # an en space
        "811218\u00ad9876",  # a soft hyphen
        "811218\uff0d9876",  # a fullwidth hyphen
        "811218-\n9876",  # a line break inside a quoted cell
        "８１１２１８－９８７６",  # fullwidth digits
        "٨١١٢١٨-٩٨٧٦",  # Arabic-Indic digits
        "8.112189876E9",  # a number in a program's scientific notation
        "1.98112189876E11",
        "8.11218987E8",  # the same, with the leading zero lost
        "811218987.0",  # a float with the leading zero lost (born 2008)
        "8 112 189 876",  # a number with thousands set off, as a spreadsheet shows it
    ],
)
def test_a_standalone_personnummer_is_found(cell: str):
    assert _hit(cell)


@pytest.mark.parametrize(
    "cell",
    [
        "P8503121234",  # glued to a letter: part of a pseudonym
        "KT1-0042",
        "3f2a9c1e-4b7d-11ee-be56-850312123412",  # a UUID is one key
        "12345678-1234-4abc-9def-198112189876",
        "850332-1234",  # 32 March is no date
        "851312-1234",  # month 13
        "010229-1234",  # 29 February 2001
        "19000229-1234",  # 1900 was no leap year
        "2024-01-15",
        "20240115",  # a date stored as a number: 0020240115 has month 20
        "12345678901234",  # longer runs of digits are not a personnummer
        "8503121234567",
        "85031212345",  # 11 digits
        "",
        "EX-0000123",
    ],
)
def test_what_is_not_a_standalone_personnummer(cell: str):
    assert not _hit(cell)


@pytest.mark.parametrize(
    ("text", "found"),
    [("pnr 19850312 1234", True), ("P8503121234", False), ("2025-06_export.csv", False)],
)
def test_single_texts(text: str, found: bool):
    assert pn.text_has_personnummer(text) is found


def test_the_share_of_dated_random_digits_is_counted_not_guessed():
    """P_DATED against a count over every YYMMDD, in either century, with day + 60."""
    valid = 0
    for yy in range(100):
        for mm in range(1, 13):
            for dd in range(1, 32):
                for year in (1900 + yy, 2000 + yy):
                    try:
                        dt.date(year, mm, dd)
                    except ValueError:
                        continue
                    valid += 2
                    break
    assert valid / 1_000_000 == pn.P_DATED


def test_is_dated_and_luhn_on_a_column():
    digits = pl.Series(["8112189876", "8112189875", "198112189876", "8113189876", "7010632383"])
    frame = pl.DataFrame({"d": digits})
    assert frame.select(pn.is_dated(pl.col("d"))).to_series().to_list() == [
        True,
        True,
        True,
        False,
        True,
    ]
    assert frame.select(pn.luhn_valid(pl.col("d"))).to_series().to_list() == [
        True,
        False,
        True,
        False,
        True,
    ]


def _luhn(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return nine + str((10 - total % 10) % 10)


def _column(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"_rad": list(range(2, len(ids) + 2)), "id": ids})


def _personnummer_keys(rng: random.Random, n: int, prefix: str = "P") -> list[str]:
    keys = []
    for _ in range(n):
        date = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        keys.append(prefix + _luhn(date.strftime("%y%m%d") + f"{rng.randrange(1000):03d}"))
    return keys


@pytest.mark.parametrize("n", [3, 4, 10, 200])
def test_prefixed_personnummer_are_caught_from_three_keys(n: int):
    scan = pn.scan_frame(_column(_personnummer_keys(random.Random(n), n)), "_rad")
    assert scan.hits.height == 0  # glued: not standalone
    assert [p.column for p in scan.prefixed] == ["id"]


def test_two_prefixed_keys_cannot_be_told_from_chance():
    assert not pn.scan_frame(_column(_personnummer_keys(random.Random(2), 2)), "_rad").found


def test_prefixed_keys_with_typos_are_still_caught():
    rng = random.Random(7)
    keys = _personnummer_keys(rng, 50)
    keys = [k[:-1] + str((int(k[-1]) + 1) % 10) if i % 5 == 0 else k for i, k in enumerate(keys)]
    assert pn.scan_frame(_column(keys), "_rad").prefixed


def test_keys_built_on_dates_with_a_serial_are_pseudonyms():
    """P + enrolment date + serial: always dated, but the check digit passes one time in ten."""
    rng = random.Random(3)
    keys = [
        "P"
        + (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))).strftime("%y%m%d")
        + f"{rng.randrange(10000):04d}"
        for _ in range(500)
    ]
    assert not pn.scan_frame(_column(keys), "_rad").found


def test_keys_with_a_check_digit_of_their_own_are_pseudonyms():
    """P + nine random digits + a Luhn digit: valid check digits, but rarely dated."""
    rng = random.Random(4)
    keys = ["P" + _luhn(f"{rng.randrange(10**9):09d}") for _ in range(500)]
    assert not pn.scan_frame(_column(keys), "_rad").found


SCHEMES = {
    "bokstav + 10 siffror": lambda r: "P" + f"{r.randrange(10**10):010d}",
    "bokstav + 12 siffror": lambda r: "AB" + f"{r.randrange(10**12):012d}",
    "14 siffror": lambda r: f"{r.randrange(10**13, 10**14)}",
    "UUID": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "hexhash (SHA-1)": lambda r: hashlib.sha1(str(r.random()).encode()).hexdigest(),
    "KT1-0042": lambda r: f"KT{r.randrange(1, 10)}-{r.randrange(10000):04d}",
}


@pytest.mark.slow
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_random_pseudonyms_do_not_reject_files(scheme: str):
    """100 files of 500 keys each per scheme: none rejected (benchmarks/personnummer.py
    measures the rate on 10 000 files per scheme; README)."""
    rng = random.Random(20261201)
    make = SCHEMES[scheme]
    frames = [_column([make(rng) for _ in range(500)]) for _ in range(100)]
    rejected = sum(pn.scan_frame(frame, "_rad").found for frame in frames)
    assert rejected == 0


def test_pure_numbers_of_ten_digits_cannot_be_pseudonyms():
    """A key of 10 bare digits is a personnummer-shaped number whatever it means: about
    7 % of random ones have a date part, so such keys reject nearly every file (README)."""
    rng = random.Random(5)
    keys = [f"{rng.randrange(10**10):010d}" for _ in range(100)]
    assert pn.scan_frame(_column(keys), "_rad").hits.height > 0


def test_masking_shows_no_digit_of_a_name_that_holds_a_personnummer():
    assert pn.mask_text("kommunen/850312-1234_export.csv") == "kommunen/XXXXXX-XXXX_export.csv"
    assert pn.mask_text("export 811218 -  9876.csv") == "export XXXXXX -  XXXX.csv"


def test_personnummer_with_digits_added_are_caught_as_prefixed_keys():
    rng = random.Random(11)
    for prefix in ("2024", "P1", "99"):
        keys = [prefix + k[1:] for k in _personnummer_keys(rng, 20)]
        assert [p.column for p in pn.scan_frame(_column(keys), "_rad").prefixed] == ["id"], prefix


def test_binomial_tail():
    assert pn.binomial_tail(1, 1, 0.1) == pytest.approx(0.1)
    assert pn.binomial_tail(2, 10, 0.1) == pytest.approx(1 - 0.9**10 - 10 * 0.1 * 0.9**9)
    assert pn.binomial_tail(11, 10, 0.1) == 0.0


@pytest.mark.parametrize(
    "shape",
    [
        lambda k: f"P{k[:6]}-{k[6:]}",  # a letter before a hyphenated personnummer
        lambda k: f"{k[:6]}-{k[6:]}X",  # a letter after it
        lambda k: f"ID{k[:6]}-{k[6:]}",
        lambda k: f"P19{k[:6]}-{k[6:]}",  # twelve digits
        lambda k: f"P{k[:6]}+{k[6:]}",
    ],
)
def test_prefixed_keys_with_a_separator_in_the_number_are_caught(shape):
    digits = [k[1:] for k in _personnummer_keys(random.Random(13), 40)]
    keys = [shape(d) for d in digits]
    assert [p.column for p in pn.scan_frame(_column(keys), "_rad").prefixed] == ["id"], keys[0]
