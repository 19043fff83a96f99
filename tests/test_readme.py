"""The README's commands and its analyst example run as written on a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_analyst_example_runs_as_written(tmp_path: Path):
    (tmp_path / "data" / "raw").mkdir(parents=True)
    # `make report` on a fresh clone: the default raw folder is empty, so the example is made.
    built = _run([sys.executable, "-m", "pipeline", "report", "--year", "2025"], tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "data" / "raw" / "EXEMPELDATA.txt").exists()
    [block] = readme_python_blocks()
    script = block + "\nprint('RADER', con.sql('select count(*) from episoder').fetchall()[0][0])\n"
    ran = _run([sys.executable, "-c", script], tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "RADER 2600" in ran.stdout


def test_a_raw_folder_that_does_not_exist_is_an_error_not_an_example(tmp_path: Path):
    from pipeline.jobs.cli import EXIT_FAILED, main

    missing = tmp_path / "finns_inte"
    folders = ["--processed", str(tmp_path / "p"), "--reports", str(tmp_path / "r")]
    assert main(["report", "--year", "2025", "--raw", str(missing), *folders]) == EXIT_FAILED
    assert not missing.exists()
    empty = tmp_path / "tom"
    empty.mkdir()
    assert main(["report", "--year", "2025", "--raw", str(empty), *folders]) == EXIT_FAILED
    assert list(empty.iterdir()) == []
    assert not (tmp_path / "r").exists()


def test_the_readmes_catalog_example_is_a_valid_catalog():
    from pipeline.core.catalog import parse_catalog

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    catalog = parse_catalog(block)
    assert catalog.ids == ["SOC"] and catalog.ekonomi.height == 1
