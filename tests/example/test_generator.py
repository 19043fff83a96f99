"""Tests of the example förbund generator (pipeline.example.generator).

The contract rules are checked here with plain polars expressions, independently of the
validation module, on the generator's episodes and on every export file read back.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline.core.catalog import parse_catalog
from pipeline.core.config import CATALOG_FILE, EXAMPLE_MARKER
from pipeline.core.contract import EPISODE_KEY, EPISODE_SCHEMA
from pipeline.example.generator import (
    ARCHETYPES,
    COUNTED_FILE,
    DEFAULT_SEED,
    END_COLUMNS,
    PARTIES,
    SWEDISH_HEADINGS,
    ExampleSummary,
    _draw,
    example_catalog_text,
    example_episodes,
    export_snapshot,
    generate_episodes,
    generate_example,
    generic_catalog_text,
)

END = dt.date(2025, 12, 31)
YEARS = range(2021, 2026)
ARBETE_STUDIER = ["arbete", "arbete_med_stod", "studier"]


# --- Contract rules as plain polars expressions -----------------------------------------------


def _set(col: str) -> pl.Expr:
    return pl.col(col).is_not_null()


def contract_violations(df: pl.DataFrame, window_end: dt.date) -> dict[str, int]:
    """Rows breaking each rule of the data contract (section 1); all zero when valid."""
    age = pl.col("startdatum").dt.year() - pl.col("fodelsear")
    rules = {
        "required": pl.any_horizontal(
            pl.col(c).is_null() for c in ("deltagare_id", "insats_id", "kon", "fodelsear")
        )
        | pl.col("startdatum").is_null(),
        "age_16_67": ~age.is_between(16, 67),
        "slut_before_start": (pl.col("slutdatum") < pl.col("startdatum")).fill_null(False),
        "slut_in_future": (pl.col("slutdatum") > window_end).fill_null(False),
        "start_in_future": pl.col("startdatum") > window_end,
        "avslutsorsak_iff_slut": _set("avslutsorsak") != _set("slutdatum"),
        "sysselsattning_efter_iff_slut": _set("sysselsattning_efter") != _set("slutdatum"),
        "end_values_when_open": ~_set("slutdatum")
        & pl.any_horizontal(_set(c) for c in END_COLUMNS),
        "omfattning_0_100": ~pl.col("omfattning_fore").is_between(0, 100).fill_null(True)
        | ~pl.col("omfattning_efter").is_between(0, 100).fill_null(True),
        "steg_1_7": ~pl.col("steg_start").is_between(1, 7).fill_null(True)
        | ~pl.col("steg_slut").is_between(1, 7).fill_null(True),
        "pseudonym": ~pl.col("deltagare_id").str.contains(r"^EX-[0-9]{6,9}$"),
    }
    counts = df.select(expr.sum().alias(name) for name, expr in rules.items()).row(0, named=True)
    counts["duplicate_key"] = df.height - df.unique(subset=list(EPISODE_KEY)).height
    counts["dtypes"] = int(df.schema != EPISODE_SCHEMA)
    return counts


def assert_valid(df: pl.DataFrame, window_end: dt.date = END) -> None:
    violations = {k: v for k, v in contract_violations(df, window_end).items() if v}
    assert violations == {}


# --- Reading the exports back (independently of pipeline.ingest.load) ---------------------

CANONICAL_OF = {heading: name for name, heading in SWEDISH_HEADINGS.items()}


def read_back(path: Path) -> pl.DataFrame:
    """An export file as canonical episodes (missing optional columns empty)."""
    if path.suffix == ".csv":
        data = path.read_bytes()
        text = (
            data.decode("utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else data.decode("cp1252")
        )
        sep = ";" if text.split("\n", 1)[0].count(";") else ","
        df = pl.read_csv(io.StringIO(text), separator=sep, infer_schema=False)
    elif path.suffix == ".xlsx":
        df = pl.read_excel(path, engine="calamine").with_columns(
            pl.col(pl.Datetime).dt.date(), pl.col(pl.Float64).cast(pl.Int64)
        )
    else:
        df = pl.read_parquet(path)
    df = df.rename(lambda h: CANONICAL_OF.get(h, h))

    def typed(c: str, dtype: pl.DataType) -> pl.Expr:
        if c not in df.columns:
            return pl.lit(None, dtype).alias(c)
        text = pl.col(c).cast(pl.String)
        return text.str.to_date("%Y-%m-%d") if dtype == pl.Date else text.cast(dtype)

    return df.select(typed(c, dtype) for c, dtype in EPISODE_SCHEMA.items())


def by_key(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(list(EPISODE_KEY))


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExampleSummary]:
    folder = tmp_path_factory.mktemp("raw")
    (folder / ".gitkeep").touch()
    return folder, generate_example(folder)


@pytest.fixture(scope="module")
def episodes() -> pl.DataFrame:
    return example_episodes()


def party_of() -> dict[str, str]:
    return {a.insats_id: a.part for a in ARCHETYPES}


# --- generate_example: files -------------------------------------------------------------------


def test_writes_marker_catalog_and_one_export_per_party_and_year(raw):
    folder, summary = raw
    expected = {EXAMPLE_MARKER, CATALOG_FILE, COUNTED_FILE} | {
        f"{part}/{year}-12_export.{suffix}"
        for part, suffix in (("kommunerna", "csv"), ("regionen", "xlsx"))
        for year in YEARS
    }
    expected |= {f"arbetsformedlingen/{year}-12_export.parquet" for year in YEARS}
    written = {p.relative_to(folder).as_posix() for p in summary.files}
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".gitkeep"
    }
    assert written == expected == on_disk
    parties = {p.split("/")[0] for p in expected if "/" in p and p != COUNTED_FILE}
    assert sorted(PARTIES) == sorted(parties)
    assert "FIKTIVA EXEMPELDATA" in (folder / EXAMPLE_MARKER).read_text(encoding="utf-8")


def test_summary_counts_the_final_episodes(raw, episodes):
    _, summary = raw
    assert summary.n_episodes == episodes.height == 2600
    assert summary.n_persons == episodes["deltagare_id"].n_unique()
    assert summary.n_persons < summary.n_episodes  # re-entries
    assert str(summary.n_episodes) in summary.message


@pytest.mark.slow
def test_same_seed_gives_byte_identical_files_and_another_seed_other_files(tmp_path):
    first = generate_example(tmp_path / "a")
    second = generate_example(tmp_path / "b")
    generate_example(tmp_path / "c", seed=DEFAULT_SEED + 1)
    rel = [p.relative_to(tmp_path / "a") for p in first.files]
    assert rel == [p.relative_to(tmp_path / "b") for p in second.files]
    for r in rel:
        assert (tmp_path / "a" / r).read_bytes() == (tmp_path / "b" / r).read_bytes(), r
    differing = [
        r
        for r in rel
        if r.suffix != ".toml" and r.name != EXAMPLE_MARKER
        if (tmp_path / "a" / r).read_bytes() != (tmp_path / "c" / r).read_bytes()
    ]
    assert len(differing) == 15


def test_refuses_a_raw_folder_that_holds_files(tmp_path):
    (tmp_path / "kommun").mkdir()
    (tmp_path / "kommun" / "riktig_export.csv").write_text("Deltagare-ID;Insats\n")
    with pytest.raises(FileExistsError, match=r"Råmappen .* innehåller redan 1 fil"):
        generate_example(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kommun", "riktig_export.csv"]


@pytest.mark.slow
def test_accepts_a_folder_with_only_gitkeep_and_a_missing_folder(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / ".gitkeep").touch()
    assert generate_example(tmp_path / "raw").n_episodes == 2600
    assert generate_example(tmp_path / "new" / "raw").n_episodes == 2600


def test_catalog_parses_with_the_targets_of_the_plan(raw):
    folder, _ = raw
    text = (folder / CATALOG_FILE).read_text(encoding="utf-8")
    assert text == example_catalog_text()
    assert text.startswith("# FIKTIVA EXEMPELDATA")
    catalog = parse_catalog(text)
    assert catalog.ids == [
        *("KOMP", "PROC", "PLATT", "FORST", "UTV", "ISA", "SOC", "ODLA", "FONT"),
        "NATV",  # the strukturövergripande insats: no records, no targets
    ]
    assert catalog.structural_ids == ["NATV"]
    assert "fiktivt" in catalog.forbund
    targets = {(i, m): (v, t) for i, m, v, t in catalog.mal.rows()}
    assert targets[("KOMP", "aktivitet_sysselsattning")] == (0.5, "andel")
    assert targets[("SOC", "narmare_arbete")] == (0.5, "andel")
    assert targets[("SOC", "arsplatser")] == (25.0, "antal")
    assert targets[("ISA", "arbete_studier")] == (0.3, "andel")
    assert targets[("FONT", "deltagare")] == (60.0, "antal")
    names = dict(catalog.insatser.rows())
    assert names["ODLA"] == "Odlingsprojektet Gröna rum"


def test_generic_catalog_covers_the_generated_insatser():
    catalog = parse_catalog(generic_catalog_text(20, seed=3))
    df = generate_episodes(4_000, 20, seed=3, start_year=2024, end_year=2025)
    assert set(df["insats_id"].unique()) <= set(catalog.ids)
    assert catalog.ids[0] == "I0001" and len(catalog.ids) == 20


# --- The formats -------------------------------------------------------------------------------


def test_kommunerna_send_windows_1252_semicolon_csv_and_once_utf8_with_bom(raw):
    folder, _ = raw
    for year in YEARS:
        data = (folder / "kommunerna" / f"{year}-12_export.csv").read_bytes()
        header = data.split(b"\n", 1)[0]
        if year == 2022:
            assert data.startswith(b"\xef\xbb\xbf")
            assert header.decode("utf-8-sig").startswith("Deltagare-ID,Insats,Kön,Födelseår,")
        else:
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            assert header.decode("cp1252").startswith("Deltagare-ID;Insats;Kön;Födelseår;")
            assert header.endswith(b"\r")


def test_regionen_sends_xlsx_with_date_cells_and_swedish_headings(raw):
    folder, _ = raw
    df = pl.read_excel(folder / "regionen" / "2025-12_export.xlsx", engine="calamine")
    assert df.schema["Inskrivningsdatum"] in (pl.Date, pl.Datetime("ms"), pl.Datetime("us"))
    assert {"Deltagare-ID", "Kön", "Närmare arbete"} <= set(df.columns)
    assert "Steg start" not in df.columns  # the region has no step ladder


def test_arbetsformedlingen_sends_parquet_with_canonical_names(raw):
    folder, _ = raw
    schema = pl.read_parquet_schema(folder / "arbetsformedlingen" / "2025-12_export.parquet")
    assert schema["startdatum"] == pl.Date and schema["kon"] == pl.String
    assert "forbund" not in schema and "deltagare_id" in schema


def test_no_file_holds_anything_like_a_personnummer(raw):
    _, summary = raw
    for path in summary.files:
        if path.suffix in {".csv", ".xlsx", ".parquet"}:
            cells = read_back(path).select(pl.all().cast(pl.String))
            hits = cells.select(
                pl.any_horizontal(pl.all().str.contains(r"[0-9]{6}[-+]?[0-9]{4}")).sum()
            ).item()
            assert hits == 0, path


# --- The exports as a whole ----------------------------------------------------------------------


def test_every_export_holds_the_snapshot_of_its_party_at_its_year_end(raw, episodes):
    folder, _ = raw
    parts = pl.DataFrame({"insats_id": list(party_of()), "part": list(party_of().values())})
    with_part = episodes.join(parts, on="insats_id")
    exports = (p for p in raw[1].files if p.parent != folder and p != folder / COUNTED_FILE)
    for path in exports:
        year = int(path.name[:4])
        expected = export_snapshot(
            with_part.filter(pl.col("part") == path.parent.name).drop("part"),
            dt.date(year, 12, 31),
        )
        got = read_back(path)
        assert by_key(got).equals(by_key(expected)), path
        assert_valid(got, dt.date(year, 12, 31))


def test_exports_are_cumulative_and_ends_filled_in_later(raw):
    folder, _ = raw
    for part in PARTIES:
        files = sorted((folder / part).iterdir())
        snapshots = [read_back(f) for f in files]
        for earlier, later in itertools.pairwise(snapshots):
            assert earlier.join(later, on=list(EPISODE_KEY), how="anti").height == 0
            closed_later = earlier.filter(pl.col("slutdatum").is_null()).join(
                later.filter(pl.col("slutdatum").is_not_null()), on=list(EPISODE_KEY)
            )
            assert closed_later.height > 0, part


def test_last_export_wins_and_gives_the_final_episodes(raw, episodes):
    _, summary = raw
    exports = [
        p
        for p in summary.files
        if p.suffix in {".csv", ".xlsx", ".parquet"} and not p.as_posix().endswith(COUNTED_FILE)
    ]
    stacked = pl.concat([read_back(p) for p in sorted(exports)])
    merged = stacked.unique(subset=list(EPISODE_KEY), keep="last", maintain_order=True)
    assert by_key(merged).equals(by_key(episodes))


# --- Realism of the episodes ---------------------------------------------------------------------


def test_example_episodes_satisfy_every_contract_rule(episodes):
    assert_valid(episodes)
    assert episodes["startdatum"].min() >= dt.date(2021, 1, 1)


def test_reentries_follow_each_other_and_sometimes_change_insats(episodes):
    per_person = episodes.group_by("deltagare_id").agg(
        pl.len().alias("n"), pl.col("insats_id").n_unique().alias("insatser")
    )
    assert per_person.filter(pl.col("n") > 1).height > 100
    assert per_person.filter(pl.col("insatser") > 1).height > 30
    chained = episodes.sort("deltagare_id", "startdatum").with_columns(
        pl.col("slutdatum").shift(1).over("deltagare_id").alias("forra_slut"),
        pl.col("startdatum").shift(1).over("deltagare_id").alias("forra_start"),
    )
    later = chained.filter(pl.col("forra_start").is_not_null())
    # A re-entry starts after the previous episode ended, which therefore has an end.
    assert later["forra_slut"].null_count() == 0
    assert (later["startdatum"] > later["forra_slut"]).all()


def test_rates_are_those_described_in_the_docs(episodes):
    ended = episodes.filter(pl.col("slutdatum").is_not_null())
    orsak = ended["avslutsorsak"].cast(pl.String).value_counts(normalize=True)
    share = dict(orsak.rows())
    assert 0.12 <= episodes["slutdatum"].null_count() / episodes.height <= 0.18
    assert share["enligt_plan"] > 0.6
    assert 0.15 < sum(v for k, v in share.items() if k.startswith("avbrott")) < 0.3
    assert 0.005 <= share["felregistrering"] <= 0.02
    assert share["flyttat"] > 0.01 and 0 < share["avliden"] < 0.01
    persons = episodes.unique("deltagare_id")
    assert 0.52 <= (persons["kon"] == "K").mean() <= 0.58
    age = episodes["startdatum"].dt.year() - episodes["fodelsear"]
    assert age.is_between(18, 64).mean() > 0.95
    days = (ended["slutdatum"] - ended["startdatum"]).dt.total_days()
    assert days.quantile(0.1) >= 60 and days.quantile(0.9) <= 730
    assert (ended["sysselsattning_efter"] == "okand").sum() > 0
    assert ended["forsorjning_efter"].null_count() > 0
    assert episodes.filter(pl.col("slutdatum").is_null())["avslutsorsak"].null_count() > 0


def test_background_differs_between_insatser(episodes):
    def share(insats: str, values: list[str]) -> float:
        df = episodes.filter(pl.col("insats_id") == insats)
        return df["forsorjning_fore"].cast(pl.String).is_in(values).mean()

    ersattning = ["sjukersattning", "aktivitetsersattning"]
    assert share("SOC", ersattning) > 2 * share("PLATT", ersattning)
    assert share("ISA", ["forsorjningsstod"]) > share("KOMP", ["forsorjningsstod"])
    has = episodes.group_by("insats_id").agg(
        pl.col("steg_start").is_not_null().any().alias("steg"),
        pl.col("omfattning_fore").is_not_null().any().alias("omfattning"),
    )
    steg = set(has.filter("steg")["insats_id"])
    assert steg == {"FORST", "UTV", "SOC", "ODLA"}
    assert set(has.filter("omfattning")["insats_id"]) == {"UTV", "ISA", "SOC"}


def test_insatser_differ_in_size_with_a_small_fontanhus(episodes):
    y2025 = episodes.filter(
        (pl.col("startdatum") <= END)
        & (pl.col("slutdatum").is_null() | (pl.col("slutdatum") >= dt.date(2025, 1, 1)))
    )
    persons = dict(y2025.group_by("insats_id").agg(pl.col("deltagare_id").n_unique()).rows())
    assert 20 <= persons["FONT"] <= 45
    assert max(persons.values()) > 6 * min(persons.values())


def test_some_share_targets_are_reached_in_2025_and_some_not(episodes):
    """Outcome shares as defined in the contract, computed here in plain polars."""
    base = episodes.filter(
        pl.col("slutdatum").is_between(dt.date(2025, 1, 1), END)
        & ~pl.col("avslutsorsak").is_in(["flyttat", "avliden", "felregistrering"])
    )
    efter = pl.col("sysselsattning_efter").cast(pl.String)
    fore = pl.col("sysselsattning_fore").cast(pl.String)
    arbete_studier = efter.is_in(ARBETE_STUDIER)
    measures = {
        "arbete_studier": arbete_studier,
        "arbete_studier_arbetssokande": efter.is_in([*ARBETE_STUDIER, "arbetssokande"]),
        "aktivitet_sysselsattning": efter.is_in(
            [*ARBETE_STUDIER, "arbetssokande", "arbetstraning_praktik", "rehabilitering"]
        ),
        "narmare_arbete": (pl.col("steg_slut") > pl.col("steg_start")).fill_null(False)
        | (pl.col("narmare_arbete") == "ja").fill_null(False)
        | (
            arbete_studier
            & (
                ~fore.is_in(ARBETE_STUDIER).fill_null(False)
                | (pl.col("omfattning_efter") > pl.col("omfattning_fore")).fill_null(False)
            )
        ),
    }
    utfall = base.group_by("insats_id").agg(
        *(expr.mean().alias(name) for name, expr in measures.items())
    )
    reached = []
    for insats_id, matt, mal, typ in parse_catalog(example_catalog_text()).mal.rows():
        if typ == "andel":
            value = utfall.filter(pl.col("insats_id") == insats_id)[matt].item()
            reached.append(value >= mal)
    assert any(reached) and not all(reached)


# --- generate_episodes at benchmark scale --------------------------------------------------------


def test_generate_episodes_is_exact_valid_and_deterministic():
    df = generate_episodes(30_000, 27, seed=11, start_year=2021, end_year=2025)
    assert df.height == 30_000
    assert_valid(df)
    assert sorted(df["forbund"].unique()) == ["F001", "F002", "F003"]
    assert df["forbund"].null_count() == 0
    assert df["insats_id"].str.contains(r"^I[0-9]{4}$").all()
    assert df.equals(generate_episodes(30_000, 27, seed=11, start_year=2021, end_year=2025))
    assert not df.equals(generate_episodes(30_000, 27, seed=12, start_year=2021, end_year=2025))
    # Persons stay within one förbund; rows are sorted by startdatum.
    assert df.group_by("deltagare_id").agg(pl.col("forbund").n_unique())["forbund"].max() == 1
    assert df["startdatum"].is_sorted()


def test_generate_episodes_one_year_and_tiny_inputs():
    df = generate_episodes(1, 1, seed=0, start_year=2024, end_year=2024)
    assert df.height == 1 and df["insats_id"].item() == "I0001"
    assert_valid(df, dt.date(2024, 12, 31))
    with pytest.raises(ValueError, match="kalenderår"):
        generate_episodes(10, 1, seed=0, start_year=2025, end_year=2024)


@pytest.mark.slow
def test_generate_episodes_makes_a_million_rows_quickly():
    import time

    start = time.perf_counter()
    df = generate_episodes(1_000_000, 720, seed=1, start_year=2021, end_year=2025)
    elapsed = time.perf_counter() - start
    assert df.height == 1_000_000
    assert_valid(df)
    assert elapsed < 10


# --- Pure helpers on literal tables -----------------------------------------------------------


def test_export_snapshot_hides_what_was_not_known_at_the_cutoff():
    episodes = pl.DataFrame(
        {
            "deltagare_id": ["EX-000001", "EX-000002", "EX-000003"],
            "startdatum": [dt.date(2023, 3, 1), dt.date(2023, 6, 1), dt.date(2024, 2, 1)],
            "slutdatum": [dt.date(2023, 12, 31), dt.date(2024, 5, 1), None],
            "avslutsorsak": ["enligt_plan", "avbrott_annat", None],
            "sysselsattning_efter": ["arbete", "ingen", None],
        }
    )
    cut = export_snapshot(episodes, dt.date(2023, 12, 31))
    assert cut.rows() == [
        ("EX-000001", dt.date(2023, 3, 1), dt.date(2023, 12, 31), "enligt_plan", "arbete"),
        ("EX-000002", dt.date(2023, 6, 1), None, None, None),
    ]
    assert export_snapshot(episodes, dt.date(2024, 12, 31)).equals(episodes)


def test_draw_follows_each_rows_probabilities():
    rng = np.random.Generator(np.random.PCG64(1))
    probs = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    group = np.array([0, 1] * 5_000)
    drawn = _draw(rng, probs, group)
    assert (drawn[group == 0] == 1).all()
    second = drawn[group == 1]
    assert set(np.unique(second)) == {0, 2}
    assert 0.47 < (second == 0).mean() < 0.53
