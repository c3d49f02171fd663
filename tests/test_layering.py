"""The package's layering is a checked contract: import-linter's contracts in setup.cfg hold.

The contracts (docs/architecture.md explains them): a layers contract over the sub-packages
(``cli > demos > train > compat > layers > seq2seq | legacy_seq2seq | text | rnn > nn > rnn_cell > data``
``> _checks | _xla | _random | _keras``), the Trainer importing no model code, each demo independent of the
others, and no import cycles. The other tests here keep the contracts complete: a new sub-package
or a new demo must be placed in them, or these tests fail.
"""

import configparser
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP_CFG = os.path.join(ROOT, "setup.cfg")
PACKAGE = os.path.join(ROOT, "tfseq")


def _contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    return config


def _listed(value: str) -> set[str]:
    """Module names of a contract's multi-line option; ``a | b`` lines give both names."""
    names = set()
    for line in value.split("\n"):
        names.update(part.strip() for part in line.split("|") if part.strip())
    return names


def _subpackages(folder: str) -> set[str]:
    """Names of the packages and modules directly inside ``folder`` (no dunder files)."""
    names = set()
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "__init__.py")):
            names.add(entry)
        elif entry.endswith(".py") and not entry.startswith("__"):
            names.add(entry[: -len(".py")])
    return names


def test_import_linter_contracts_hold():
    # In a subprocess with the repository first on the path, so the checked package is this checkout's;
    # no cache file is written into the repository.
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={SETUP_CFG!r}, no_cache=True, no_logo=True))\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"import-linter found imports against the layering:\n{result.stdout}{result.stderr}"


def test_every_subpackage_has_a_layer():
    layers = _listed(_contracts()["importlinter:contract:layers"]["layers"])
    expected = {f"tfseq.{name}" for name in _subpackages(PACKAGE)}
    assert layers == expected, (
        f"setup.cfg's layers contract must place every sub-package of tfseq: missing {sorted(expected - layers)}, "
        f"not in the package {sorted(layers - expected)}"
    )


def test_every_demo_is_independent_and_in_its_room():
    config = _contracts()
    demos_folder = os.path.join(PACKAGE, "demos")
    demos = {name for name in _subpackages(demos_folder) if os.path.isdir(os.path.join(demos_folder, name))}
    independent = _listed(config["importlinter:contract:demos-independent"]["modules"])
    assert independent == {f"tfseq.demos.{name}" for name in demos}, (
        f"setup.cfg's demos-independent contract must list every demo folder in tfseq/demos: {sorted(demos)}"
    )
    rooms = config["importlinter:contract:demo-rooms"]["layers"].strip().split("\n")
    assert _listed(rooms[0]) == demos, f"the demo-rooms contract's top layer must list every demo: {sorted(demos)}"
    shared = _subpackages(demos_folder) - demos
    assert _listed("\n".join(rooms[1:])) == shared, (
        f"the demo-rooms contract must place the shared modules {sorted(shared)}"
    )


def test_every_folder_says_what_it_is_for():
    for folder, _, files in os.walk(PACKAGE):
        if "__init__.py" not in files:
            continue
        with open(os.path.join(folder, "__init__.py"), encoding="utf-8") as f:
            source = f.read()
        first = source.lstrip().split("\n", 1)[0]
        assert first.startswith('"""') and len(first.strip('"').strip()) > 20, (
            f"{os.path.relpath(folder, ROOT)}/__init__.py must open with a docstring line saying what the folder is for"
        )
