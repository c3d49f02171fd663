"""The ``tfseq`` command as a user runs it: a real process, real stderr."""

import subprocess
import sys


def test_bad_input_is_one_line_on_stderr_and_exit_2_in_a_real_process():
    # TensorFlow writes start-up lines straight to fd 2; the CLI must keep them out.
    proc = subprocess.run([sys.executable, "-m", "tfseq", "lm", "train", "--config", "nope"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "tfseq lm: error: unknown config 'nope'; choose one of test, tiny, small, medium, large, small_reg, char"
    ]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_help_lists_every_subcommand():
    proc = subprocess.run([sys.executable, "-m", "tfseq", "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    for command in ("lm", "inspect-checkpoint", "translate", "regress", "classify", "tag"):
        assert command in proc.stdout
