import os
import signal
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))  # test helpers (tf1_reference, numpy_ref, cell_harness)


@pytest.fixture(scope="session", autouse=True)
def temporary_files_under_pytest(tmp_path_factory):
    """Temporary files that code under test makes in this process without a directory of its own land
    under pytest's base directory, which pytest prunes, not in the system's: TFDS, for one, leaves an
    empty ``tmp*tfds`` folder behind for every dataset it looks up that is not prepared yet."""
    previous = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))
    yield
    tempfile.tempdir = previous


@pytest.fixture
def no_xla(monkeypatch):
    """Run the fused path as plain TensorFlow ops unless a call asks for XLA: for modules where XLA is not
    under test (compiling each fused direction costs seconds). Use: ``pytest.mark.usefixtures("no_xla")``."""
    from tfseq.nn import fused

    original = fused.uses_xla

    def uses_xla(inputs_tm, xla=None):
        return original(inputs_tm, False if xla is None else xla)

    monkeypatch.setattr(fused, "uses_xla", uses_xla)


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (``KeyboardInterrupt``) for the test, restored after: a test run
    started in the background by a non-interactive shell inherits SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
