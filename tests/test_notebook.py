"""The example notebook runs from top to bottom on the example förbund, so it never rots."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from pipeline.example.generator import generate_example

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "exempel.ipynb"


@pytest.mark.slow
def test_example_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    raw = tmp_path / "raw"
    generate_example(raw)
    monkeypatch.setenv("FINSAM_RAW", str(raw))
    monkeypatch.setenv("FINSAM_PROCESSED", str(tmp_path / "processed"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert (tmp_path / "processed" / "episoder.parquet").exists()


def test_committed_notebook_carries_no_outputs():
    """Outputs could carry data into git (pitfalls.md): the file holds code and text only."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
