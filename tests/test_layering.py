"""Imports go one way: nothing outside ``web/`` imports flask; the engine process stays light."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tourkg"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(p for p in SRC.rglob("*.py") if "web" not in p.parts),
                         ids=lambda p: p.name)
def test_no_flask_outside_web(path):
    assert not imported_modules(path) & {"flask", "werkzeug"}


STDLIB = {"__future__", "os", "multiprocessing", "typing", "json", "collections", "threading", "time"}


def test_jsonld_needs_only_the_standard_library():
    assert imported_modules(SRC / "jsonld.py") - STDLIB == set()


def test_engine_process_imports_only_the_engine():
    # The engine process starts again whenever a query overruns: it must start fast and small, with
    # pyoxigraph and the standard library only (never rdflib, pyshacl or the web framework).
    import subprocess
    import sys

    probe = ("import sys, tourkg.engines.process; print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'rdflib', 'pyshacl', 'flask', 'werkzeug', 'uvloop', 'jinja2'}))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_serve_starts_the_dataset_before_importing_the_web_framework():
    # The engine and the SHACL gate start before the web framework is imported (0.15 s of CPU, then
    # spent beside the gate): what `tourkg serve` imports before that must not pull flask or uvloop in
    # (a module under web/ does: its package imports flask).
    import subprocess
    import sys

    probe = ("import sys, tourkg.cli, tourkg.ports, tourkg.dumps_link, tourkg.engines.spawn, tourkg.dataset\n"
             "import tourkg.engines.client, tourkg.validate, pyshacl\n"
             "web = {'flask', 'werkzeug', 'uvloop', 'httptools', 'jinja2'}\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & web))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
