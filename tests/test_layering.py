"""Imports go one way: nothing outside ``web/`` imports flask; workers stay light."""

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


def test_query_worker_imports_only_the_engine():
    # Workers start on every overrun: they import pyoxigraph and tourkg.jsonld (standard library only).
    assert imported_modules(SRC / "workers.py") - STDLIB == {"pyoxigraph", "tourkg"}
    assert imported_modules(SRC / "jsonld.py") - STDLIB == set()
