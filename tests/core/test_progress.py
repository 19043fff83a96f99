"""Progress bars only on a terminal; stage lines at start, end and failure."""

from __future__ import annotations

import io
import logging

import pytest

from pipeline.core import log, progress


def test_no_bar_off_a_terminal(capsys):
    assert list(progress.progress(range(3), "Läser filer")) == [0, 1, 2]
    with progress.steps("Slår samman", 2) as step:
        step()
        step()
    assert capsys.readouterr().err == ""


def test_a_bar_names_the_stage_and_counts(capsys):
    assert list(progress.progress(range(3), "Läser filer", enabled=True)) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "Läser filer" in err and "/3" in err  # the total, drawn on stderr


def _lines(run) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log._KeyValueFormatter())
    log.logger.addHandler(handler)
    log.logger.setLevel(logging.INFO)
    try:
        run()
    finally:
        log.logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_a_stage_logs_its_start_and_its_end():
    def run():
        with log.stage("inläsning", filer=2) as counts:
            counts["omlästa"] = 1

    start, end = _lines(run)
    assert "startar=inläsning filer=2" in start
    assert "steg=inläsning filer=2 omlästa=1 sekunder=" in end


def test_a_failed_stage_says_so_without_the_error_text():
    def run():
        with pytest.raises(ValueError), log.stage("lager"):
            raise ValueError("värdet 811218-9876 i en cell")

    start, failed = _lines(run)
    assert "startar=lager" in start
    assert "niva=warning" in failed and "misslyckades=lager fel=ValueError" in failed
    assert "811218" not in failed
