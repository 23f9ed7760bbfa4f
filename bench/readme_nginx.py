"""The README's nginx configuration in front of tourkg (``--dumps-link`` and the cache), as the benchmark
and the tests run it: both measure and check what the README shows, not a copy of it."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def front_conf(upstream: str, link: Path | str, cache: Path | str) -> tuple[str, str]:
    """(the ``http`` part, the ``server`` part) of the README's block, pointed at ``upstream`` (tourkg's
    URL), ``link`` and ``cache`` (nginx's cache folder) instead of the README's example address and
    paths."""
    text = README.read_text()
    block = next(b for b in text.split("```nginx")[1:] if "--dumps-link" in b).split("```")[0]
    conf = "\n".join(line[2:] if line.startswith("  ") else line for line in block.splitlines())
    for example, actual in (("127.0.0.1:8080", upstream.removeprefix("http://")),
                            ("/home/tourkg/dumps", str(link)), ("/var/lib/nginx/tourkg-cache", str(cache))):
        assert example in conf, f"the README's nginx block no longer names {example}"
        conf = conf.replace(example, actual)
    http, server = conf.split("# in server { }")
    return http.replace("# in http { }", ""), server
