"""The code passes ``ruff check`` with the rules chosen in pyproject.toml (``[tool.ruff.lint]``):
no unused or undefined names, no syntax or statement errors, imports in order. Notebooks are
left out (their cells are checked by running them)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_check_passes():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
