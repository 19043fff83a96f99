"""The insats catalog: parsing and every rule of contract section 2."""

from __future__ import annotations

import pytest

from pipeline.core.catalog import CatalogError, parse_catalog

GOOD = """
forbund = "Testförbundet"
[[insats]]
id = "SOC"
namn = "Sociala företag"
mal = [ { matt = "narmare_arbete", andel = 0.5 }, { matt = "arsplatser", antal = 25 } ]
[[insats]]
id = "FONT"
namn = "Fontänhus"
mal = [ { matt = "deltagare", antal = 60 } ]
[[insats]]
id = "PROC"
namn = "Processledare"
"""


def test_parses_insatser_targets_and_forbund():
    catalog = parse_catalog(GOOD)
    assert catalog.forbund == "Testförbundet"
    assert catalog.ids == ["SOC", "FONT", "PROC"]
    assert catalog.mal.rows() == [
        ("SOC", "narmare_arbete", 0.5, "andel"),
        ("SOC", "arsplatser", 25.0, "antal"),
        ("FONT", "deltagare", 60.0, "antal"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "kan inte läsas som TOML"),
        ("x = 1", r"inga \[\[insats\]\]"),
        ('[[insats]]\nid = "A"', r"insats nr 1 \(A\), namn: saknas"),
        ('[[insats]]\nid = ""\nnamn = "a"', r"insats nr 1, id: får inte vara tom"),
        # A misspelt key does not silently give an insats no targets.
        ('[[insats]]\nid="A"\nnamn="a"\nmaal=[{matt="deltagare", antal=5}]', "maal: okänd nyckel"),
        ('forbud = "X"\n[[insats]]\nid="A"\nnamn="a"', "forbud: okänd nyckel"),
        # true is no share (it would be read as 1.0).
        (
            '[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="narmare_arbete", andel=true}]',
            "andel: måste vara ett tal",
        ),
        (
            '[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="narmare_arbete", andel="50 %"}]',
            "andel: måste vara ett tal",
        ),
        (
            '[[insats]]\nid="A"\nnamn="a"\n'
            'mal=[{matt="deltagare", antal=5}, {matt="deltagare", antal=6}]',
            "mål för deltagare anges flera gånger",
        ),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=["deltagare"]', r"mal nr 1: måste vara en tabell"),
        ('insats = ["A"]', r"insats nr 1: måste vara en tabell"),
        ('[[insats]]\nid=7\nnamn="a"', "id: måste vara text"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="deltagare", antal=5, andel=0.5}]', "inte båda"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="deltagare", antal=nan}]', "ändligt tal"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="deltagare", antal=inf}]', "ändligt tal"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="deltagare", antal=1e17}]', "0–1 000 000"),
        (
            '[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="deltagare", antal=' + "9" * 5000 + "}]",
            "TOML",
        ),
        ('[[insats]]\nid="TOTALT"\nnamn="a"', "förbundets totalrad"),
        ('[[insats]]\nid=true\nnamn="a"', r"insats nr 1, id: måste vara text"),
        ('[[insats]]\nid="A"\nnamn="a"\nfoo=1', "tillåtna här: id, namn, mal"),
        ('[[insats]\nid="A"', r"TOML \(rad 1, kolumn 9\)"),
        ('[[insats]]\nid="A"\nnamn="a"\n[[insats]]\nid="A"\nnamn="b"', "förekommer flera gånger"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="narmare_arbete", andel=50}]', "måste vara 0–1"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="arsplatser", antal=-1}]', "0–1 000 000"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="lycka", andel=0.5}]', "okänt mål"),
        ('[[insats]]\nid="A"\nnamn="a"\nmal=[{matt="arsplatser", andel=0.5}]', "okänt mål"),
    ],
)
def test_rejects_with_clear_message(text: str, message: str):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(text)


def test_a_personnummer_in_the_catalog_stops_the_run_and_is_not_shown():
    text = '[[insats]]\nid = "SOC"\nnamn = "Sociala företag (kontakt 811218-9876)"\n'
    with pytest.raises(CatalogError) as refused:
        parse_catalog(text)
    assert "rad 3" in str(refused.value)
    assert "811218" not in str(refused.value) and "9876" not in str(refused.value)


def test_optional_profile_and_money_per_year():
    text = (
        '[[insats]]\nid="A"\nnamn="a"\ninriktning="strukturovergripande"\nmalgrupp="Unga"\n'
        "budget={ 2025 = 1200000, 2026 = 1300000.5 }\nkostnad={ 2025 = 1150000 }\n"
        "budgeterade_deltagare={ 2025 = 40 }\n"
        '[[insats]]\nid="B"\nnamn="b"\n'
    )
    catalog = parse_catalog(text)
    assert catalog.profil.select("insats_id", "inriktning", "malgrupp").rows() == [
        ("A", "strukturovergripande", "Unga"),
        ("B", "individinriktad", None),  # the default
    ]
    assert catalog.ekonomi.rows() == [
        ("A", 2025, 1200000.0, 1150000.0, 40),
        ("A", 2026, 1300000.5, None, None),
    ]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ('inriktning="annan"', "inriktning 'annan' finns inte"),
        ("budget={ 25 = 1 }", "'25' är inget år"),
        ("budget={ 2025 = -1 }", "budget för 2025 måste vara ett belopp ≥ 0"),
        ("kostnad={ 2025 = 1e12 }", "kostnad för 2025 måste vara ett belopp ≥ 0"),
        ("budgeterade_deltagare={ 2025 = 4.5 }", "måste vara ett heltal ≥ 0"),
        ('budget={ 2025 = "1 000" }', "budget, 2025: måste vara ett tal"),
        ("budget=1000", "måste vara en tabell per år"),
    ],
)
def test_refuses_a_wrong_profile_or_money(key: str, message: str):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(f'[[insats]]\nid="A"\nnamn="a"\n{key}')


POOLED = (
    'forbundsnamn = { F1 = "Samordningsförbundet Norr" }\n'
    '[[insats]]\nid="A"\nnamn="a"\nforbund="F1"\ninsatstyp="Kompetensteam"\n'
    'mal = [ { matt = "narmare_arbete", andel = 0.5 } ]\nbudget={ 2025 = 100 }\n'
    '[[insats]]\nid="B"\nnamn="b"\nforbund="F2"\ninsatstyp="Kompetensteam"\n'
    '[[insats]]\nid="C"\nnamn="c"\nforbund="F1"\n'
)


def test_a_pooled_catalog_names_each_insats_forbund_and_splits_by_it():
    catalog = parse_catalog(POOLED)
    assert catalog.forbund_of == {"A": "F1", "B": "F2", "C": "F1"}
    assert catalog.forbund_ids == ["F1", "F2"]
    assert catalog.insatstyp == {"A": "Kompetensteam", "B": "Kompetensteam"}
    norr = catalog.for_forbund("F1")
    assert norr.ids == ["A", "C"]
    assert norr.forbund == "Samordningsförbundet Norr"  # from forbundsnamn
    assert norr.mal["insats_id"].to_list() == ["A"]
    assert norr.ekonomi["insats_id"].to_list() == ["A"]
    assert catalog.for_forbund("F2").forbund == "F2"  # no name given: the ID
    with pytest.raises(CatalogError, match="F9"):
        catalog.for_forbund("F9")


def test_one_forbunds_catalog_is_not_pooled():
    catalog = parse_catalog('[[insats]]\nid="A"\nnamn="a"\n')
    assert catalog.forbund_ids == [] and catalog.forbund_of == {}


def test_a_pooled_catalog_where_an_insats_lacks_its_forbund_is_refused():
    with pytest.raises(CatalogError, match="forbund saknas för 'C'"):
        parse_catalog(POOLED.replace('id="C"\nnamn="c"\nforbund="F1"\n', 'id="C"\nnamn="c"\n'))
    with pytest.raises(CatalogError, match="forbundsnamn: 'F7'"):
        parse_catalog(POOLED.replace("F1 = ", "F7 = "))


@pytest.mark.parametrize("forbund", ["../utanfor", "F 1", "jamforelse", "Förbund/Norr"])
def test_a_forbund_id_must_be_a_plain_folder_name(forbund: str):
    # It names folders under reports/ and processed/: no path may come out of the catalog.
    with pytest.raises(CatalogError, match="går inte som id"):
        parse_catalog(f'[[insats]]\nid="A"\nnamn="a"\nforbund="{forbund}"\n')
