"""Every notebook in notebooks/ (jupytext text) is converted and executed, offline."""

import pathlib

import jupytext
import nbclient
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.py"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TFSEQ_NOTEBOOK_LOGDIR", str(tmp_path / "logdir"))
    monkeypatch.setenv("TFSEQ_NOTEBOOK_EPOCHS", "1")
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = "".join(
        out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
    )
    assert "novel:" in outputs  # the sampling cell ran and printed its novelty
    assert (tmp_path / "logdir" / "train").is_dir()  # TensorBoard events were written
