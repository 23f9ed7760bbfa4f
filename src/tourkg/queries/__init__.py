"""The example queries shipped in ``queries/*.rq``: for the query page, the landing page and the tests.

Each file starts with ``# title: ...``; the file name (without ``.rq``) is the example's slug. Files are
listed in name order, so a numeric prefix sets the order shown to readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

TITLE_MARK = "# title:"
FOLDER = Path(__file__).resolve().parent


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
def examples(folder: Path | None = FOLDER) -> tuple[Example, ...]:
    """Every example query of ``folder`` (default: the tour's, shipped here), in file-name order;
    none when ``folder`` is ``None``. Read once: they do not change while serving."""
    if folder is None:
        return ()
    files = sorted(Path(folder).glob("*.rq"), key=lambda f: f.name)
    return tuple(_parse(f.name, f.read_text(encoding="utf-8")) for f in files)
