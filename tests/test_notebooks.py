"""Every notebook in notebooks/ runs top to bottom (nbclient, offline, shortened training)
and writes TensorBoard events; its paired jupytext text form is in sync; outputs are stripped.

``TFSEQ_NOTEBOOK_QUICK=1`` shortens training and ``TFSEQ_NOTEBOOK_LOGDIR`` points the
notebooks' runs at a temporary folder (both read in each notebook's Setup cell).
"""

import pathlib
import re
import socket

import jupytext
import nbclient
import nbformat
import pytest

NOTEBOOK_DIR = pathlib.Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SECTIONS = ["Setup", "Configuration", "Data", "Model", "Train", "Inspect in TensorBoard"]

# What each notebook must print (beyond running without error): numbers checked, not just shown.
CHECKS = {
    "01_rnn_cells": [
        (r"max \|cell - NumPy\|: (\S+) (\S+)", lambda m: max(float(m[1]), float(m[2])) < 1e-5),
        (r"max \|cell - NumPy\|: (\S+)\n", lambda m: float(m[1]) < 1e-5),
        (r"row 2 \(length 1\): largest output after its first step: (\S+)", lambda m: float(m[1]) == 0.0),
        (r"final h of row 1 == its output at step 4: (\w+)", lambda m: m[1] == "True"),
        (r"4 variables, 4 map to tfseq cells", None),
        (r"every weight equals the checkpoint's: (\w+)", lambda m: m[1] == "True"),
        (r"max \|tfseq - NumPy\(TF1 formulas\)\|: (\S+)", lambda m: float(m[1]) < 1e-5),
        (r"gru: validation accuracy by epoch", None),
    ],
    "02_linear_regression_tensorboard": [
        (r"ValueError: \S+example\.csv: line 4, column 'price': not a number: 'n/a'", None),
        (r"W\[x0\] +(\S+) +(\S+) +(\S+)", lambda m: abs(float(m[3])) < 0.05),
        (r"'images': \['fit'\]", None),
    ],
    "03_word_language_model": [(r"test perplexity (\S+) over \d+ words", lambda m: float(m[1]) > 1)],
    "04_char_rnn_names": [(r"T=0\.8: novel: (\d+)%", lambda m: 0 <= int(m[1]) <= 100)],
    "05_seq2seq_attention": [
        (r"attention rows sum to 1: (\w+)", lambda m: m[1] == "True"),
        (r"test BLEU on 20 sentences: greedy \d+\.\d\d, beam 5 \d+\.\d\d", None),
    ],
    "06_sentiment_classification": [
        (r"test accuracy (\S+), macro F1 (\S+) on \d+ sentences", lambda m: 0 <= float(m[1]) <= 1),
        (r"MR validation accuracy, last-state pooling: uni (\S+), bi (\S+)",
         lambda m: 0 <= float(m[1]) <= 1 and 0 <= float(m[2]) <= 1),
        (r"first-word task accuracy: uni (\S+), bi (\S+)", lambda m: float(m[2]) > float(m[1])),
    ],
    "07_slot_filling": [
        (r"chunk F1 of the hand-made example: (\S+)", lambda m: float(m[1]) == 50.0),
        (r"bidirectional slot F1 (\d+\.\d\d) vs unidirectional (\d+\.\d\d)", None),
    ],
}


def test_notebooks_and_text_forms_are_paired():
    assert NOTEBOOKS, "no notebooks found"
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.py")) == [p.stem for p in NOTEBOOKS]
    assert sorted(CHECKS) == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_text_form_in_sync_and_outputs_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    text = jupytext.read(path.with_suffix(".py"))
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in text.cells], (
        f"{path.name} and {path.stem}.py differ: run `jupytext --sync notebooks/{path.name}`")
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"
    headings = [line[3:].strip() for c in notebook.cells if c.cell_type == "markdown"
                for line in c.source.splitlines() if line.startswith("## ")]
    assert [h for h in headings if h in SECTIONS] == SECTIONS


def test_runs_go_to_the_repository_logdir_wherever_jupyter_starts():
    # each Setup cell takes repository_logdir from the package (tested in test_train_summaries.py)
    for path in NOTEBOOKS:
        setup = next(c.source for c in nbformat.read(path, as_version=4).cells if "QUICK =" in c.source)
        assert "def repository_logdir" not in setup, f"{path.name} defines its own repository_logdir"
        assert re.search(r"^from tfseq\.train import .*\brepository_logdir\b", setup, re.M), path.name
        assert "repository_logdir() /" in setup, path.name


def _unused_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline_and_writes_events(path, tmp_path, monkeypatch):
    logdir = tmp_path / "logdir"
    monkeypatch.setenv("TFSEQ_NOTEBOOK_LOGDIR", str(logdir))
    monkeypatch.setenv("TFSEQ_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    # a download attempt fails at once instead of succeeding: every proxy is a closed local port
    closed = f"http://127.0.0.1:{_unused_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, closed)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    printed = "".join(out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
                      if out.get("name") == "stdout")
    for pattern, check in CHECKS[path.stem]:
        match = re.search(pattern, printed)
        assert match, f"{path.name} did not print {pattern!r}"
        assert check is None or check(match), f"{path.name}: {match[0]!r}"
    events = list(logdir.rglob("events.out.tfevents.*"))
    assert any(e.parent.name == "train" for e in events), f"{path.name} wrote no TensorBoard events under {logdir}"
