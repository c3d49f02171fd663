"""The documentation: the MkDocs site builds with ``--strict``, and the README stays a README.

``mkdocs build --strict`` fails on any warning: a page missing from the nav, a broken link or anchor, an
API reference entry that does not resolve, a docstring cross-reference with no target. The API pages are
generated from the docstrings, so this also checks that every documented module imports and parses.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Words about the repository's own making, which the README and the docs never use.
HISTORY = re.compile(r"issue [0-9]|issue[ ]#|NOTES\.md|\.\./shared|/work/|earlier (session|version|run)", re.IGNORECASE)


def _docs_pages() -> list[str]:
    pages = []
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        pages += [os.path.join(folder, name) for name in files if name.endswith(".md")]
    return sorted(pages)


def test_mkdocs_builds_strict(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    # Every nav page and every API page was written.
    for page in ("index.html", "migration/index.html", "api/rnn_cell/index.html", "api/train/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    # The API reference was generated from the docstrings, not left empty.
    api = (tmp_path / "site" / "api" / "rnn_cell" / "index.html").read_text(encoding="utf-8")
    for name in ("BasicLSTMCell", "DropoutWrapper", "MultiRNNCell", "forget_bias"):
        assert name in api, f"the rnn_cell API page does not document {name}"


def test_readme_is_short_and_links_into_the_docs():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    lines = readme.count("\n")
    assert lines <= 210, f"README.md has {lines} lines; the manual belongs in docs/"
    links = re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)", readme)
    assert links, "README.md links into docs/"
    for link in links:
        assert os.path.exists(os.path.join(ROOT, link)), f"README.md links to a missing file: {link}"


def test_readme_and_docs_speak_only_of_the_library():
    for path in [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "benchmarks", "RESULTS.md"), *_docs_pages()]:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                assert not HISTORY.search(line), f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}"
