"""The example queries shipped in ``queries/*.rq``: for the query page, the landing page and the tests.

Each file starts with ``# title: ...``; the file name (without ``.rq``) is the example's slug. Files are
listed in name order, so a numeric prefix sets the order shown to readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

TITLE_MARK = "# title:"


@dataclass(frozen=True)
class Example:
    """One example query: ``slug`` (file stem), ``title`` (from the first line) and the full ``text``."""

    slug: str
    title: str
    text: str


def _parse(name: str, text: str) -> Example:
    first = text.splitlines()[0] if text else ""
    if not first.lower().startswith(TITLE_MARK):
        raise ValueError(f"queries/{name} must start with '{TITLE_MARK} ...'")
    return Example(name.removesuffix(".rq"), first[len(TITLE_MARK):].strip(), text)


@cache
def examples() -> tuple[Example, ...]:
    """Every example query, in file-name order (read once: they ship with the package)."""
    folder = resources.files(__name__)
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".rq")), key=lambda f: f.name)
    return tuple(_parse(f.name, f.read_text(encoding="utf-8")) for f in files)


def example(slug: str) -> Example | None:
    """The example called ``slug``, or ``None``."""
    return next((e for e in examples() if e.slug == slug), None)
