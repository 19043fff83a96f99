"""The command line: exit codes, the lock, example data and the report's folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.jobs.cli import EXIT_FAILED, EXIT_NO_DATA, EXIT_OK, EXIT_REJECTIONS, main
from tests.lock_helpers import held_by_another_thread

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _raw(tmp_path: Path, *bad: str) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("insatser.toml", "2024-12_kommun.csv", "2025-06_kommun.csv"):
        shutil.copy(FIXTURES / "ingest" / name, raw)
    for name in bad:
        shutil.copy(FIXTURES / "felaktiga" / name, raw)
    return raw


def test_ingest_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    raw = _raw(tmp_path)
    processed = tmp_path / "processed"
    assert main(["ingest", "--raw", str(raw), "--processed", str(processed)]) == EXIT_OK
    assert "4 episoder från 2 filer" in capsys.readouterr().out
    shutil.copy(FIXTURES / "felaktiga" / "okand_kod.csv", raw)
    assert main(["ingest", "--raw", str(raw), "--processed", str(processed)]) == EXIT_REJECTIONS
    assert "1 rader i karantän" in capsys.readouterr().out


def test_missing_catalog_fails_without_writing(tmp_path: Path):
    raw = _raw(tmp_path)
    (raw / "insatser.toml").unlink()
    code = main(["ingest", "--raw", str(raw), "--processed", str(tmp_path / "p")])
    assert code == EXIT_FAILED
    assert not (tmp_path / "p" / "episoder.parquet").exists()


def test_a_second_writer_is_refused(tmp_path: Path):
    raw = _raw(tmp_path)
    processed = tmp_path / "processed"
    with held_by_another_thread(processed, "nightly"):
        assert main(["ingest", "--raw", str(raw), "--processed", str(processed)]) == EXIT_FAILED
    assert not (processed / "episoder.parquet").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--year", "2024", "--from", "2024-01-01", "--to", "2024-02-01"],
        ["report", "--from", "2024-01-01"],
        ["report", "--from", "2024-02-01", "--to", "2024-01-01"],
        ["report", "--from", "1/1/2024", "--to", "2024-02-01"],
        ["report", "--k", "0"],
        ["nonsense"],
    ],
)
def test_wrong_usage_exits_2(args: list[str]):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2


@pytest.mark.slow
def test_example_then_report_is_marked_and_mixing_is_refused(tmp_path: Path):
    raw, processed, reports = tmp_path / "raw", tmp_path / "p", tmp_path / "r"
    assert main(["example", "--raw", str(raw)]) == EXIT_OK
    folders = ["--raw", str(raw), "--processed", str(processed), "--reports", str(reports)]
    # The example's files are recognised as the example, so ingest accepts them.
    assert main(["ingest", *folders[:4]]) == EXIT_OK
    shutil.copy(FIXTURES / "ingest" / "2025-06_kommun.csv", raw / "riktig_export.csv")
    assert main(["report", "--year", "2025", *folders]) == EXIT_FAILED
    assert main(["ingest", *folders[:4]]) == EXIT_FAILED
    assert not (reports / "2025").exists()


def _folders(tmp_path: Path, raw: Path) -> list[str]:
    return ["--raw", str(raw), "--processed", str(tmp_path / "p"), "--reports", str(tmp_path / "r")]


@pytest.mark.slow
def test_a_report_for_a_period_without_data_is_marked_and_exits_3(tmp_path: Path, capsys):
    raw = _raw(tmp_path)
    assert main(["report", "--year", "2019", *_folders(tmp_path, raw)]) == EXIT_NO_DATA
    out = capsys.readouterr().out
    assert out.startswith("OBS: INGA DATA för år 2019")
    html = (tmp_path / "r" / "2019" / "rapport.html").read_text(encoding="utf-8")
    assert "Rapporten saknar data" in html
    assert main(["report", "--year", "2024", *_folders(tmp_path, raw)]) == EXIT_OK


def test_a_report_when_every_file_was_rejected_is_refused(tmp_path: Path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    for name in ("personnummer.csv", "trasig.xlsx"):
        shutil.copy(FIXTURES / "felaktiga" / name, raw)
    assert main(["report", "--year", "2024", *_folders(tmp_path, raw)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "INGEN RAPPORT: ingen av de 2 filerna i råmappen kunde läsas in" in err
    assert not (tmp_path / "r").exists()
    # The store says why, file by file.
    assert "personnummer" in (tmp_path / "p" / "datakvalitet.md").read_text(encoding="utf-8")


def test_a_report_from_a_catalog_without_exports_is_refused(tmp_path: Path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    assert main(["report", "--year", "2024", *_folders(tmp_path, raw)]) == EXIT_FAILED
    assert "råmappen innehåller inga exporter" in capsys.readouterr().err


def test_ingest_of_nothing_readable_says_so(tmp_path: Path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    shutil.copy(FIXTURES / "felaktiga" / "personnummer.csv", raw)
    code = main(["ingest", "--raw", str(raw), "--processed", str(tmp_path / "p")])
    assert code == EXIT_REJECTIONS
    assert "INGA DATA: ingen export kunde läsas in" in capsys.readouterr().err


def test_template_writes_the_workbook_or_says_why_not(tmp_path: Path, capsys):
    out = tmp_path / "mall" / "insandningsmall.xlsx"
    assert main(["template", "--raw", str(FIXTURES / "ingest"), "--out", str(out)]) == EXIT_OK
    assert out.exists() and "Insändningsmallen skrevs" in capsys.readouterr().out
    empty = tmp_path / "tom"
    empty.mkdir()
    assert main(["template", "--raw", str(empty), "--out", str(tmp_path / "x.xlsx")]) == EXIT_FAILED
    assert "insatskatalogen saknas" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_a_word_template_that_is_missing_or_no_docx_stops_before_anything_is_built(
    tmp_path: Path, capsys
):
    raw = _raw(tmp_path)
    folders = _folders(tmp_path, raw)
    missing = tmp_path / "mall.docx"
    assert main(["report", "--year", "2024", *folders, "--word-mall", str(missing)]) == EXIT_FAILED
    assert f"Word-mallen {missing} finns inte" in capsys.readouterr().err
    text = tmp_path / "mall.txt"
    text.write_text("inte Word", encoding="utf-8")
    assert main(["report", "--year", "2024", *folders, "--word-mall", str(text)]) == EXIT_FAILED
    assert "är inte en Word-fil (.docx)" in capsys.readouterr().err
    assert not (tmp_path / "p").exists() and not (tmp_path / "r").exists()


def test_a_word_template_gives_the_report_its_styles(tmp_path: Path):
    import docx

    template = docx.Document()
    template.styles["Normal"].font.name = "Garamond"
    path = tmp_path / "mall.docx"
    template.save(str(path))
    raw = _raw(tmp_path)
    args = ["report", "--year", "2024", *_folders(tmp_path, raw), "--word-mall", str(path)]
    assert main(args) == EXIT_OK
    report = docx.Document(str(tmp_path / "r" / "2024" / "rapport.docx"))
    assert report.styles["Normal"].font.name == "Garamond"
