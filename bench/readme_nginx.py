"""The README's nginx configuration for ``--dumps-link``, as the benchmark and the tests run it: both
measure and check what the README shows, not a copy of it."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def dumps_link_conf(upstream: str, link: Path | str) -> tuple[str, str]:
    """(the ``http`` part, the ``server`` part) of the README's block, pointed at ``upstream`` (tourkg's
    URL) and ``link`` instead of the README's example address and path."""
    text = README.read_text()
    block = next(b for b in text.split("```nginx")[1:] if "--dumps-link" in b).split("```")[0]
    conf = "\n".join(line[2:] if line.startswith("  ") else line for line in block.splitlines())
    conf = conf.replace("127.0.0.1:8080", upstream.removeprefix("http://"))
    conf = conf.replace("/home/tourkg/dumps", str(link))
    http, server = conf.split("# in server { }")
    return http.replace("# in http { }", ""), server
