"""Settings: one frozen dataclass, one table of (name, default, help), merged from defaults < env < flags.

The table is the single source of the ``--help`` texts and of the README's settings list.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository root when running from a checkout (src layout); used to find the shipped dataset.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: The namespace the shipped files are written in. ``base_uri`` may move the served data elsewhere.
CANONICAL_BASE = "https://w3id.org/tourkg/"

ENV_PREFIX = "TOURKG_"
#: ``base_uri``/``data_base_uri`` value meaning "take the namespace the data itself uses".
INFER_BASE = ""


def _root() -> Path:
    return PROJECT_ROOT if (PROJECT_ROOT / "data" / "tour.ttl").exists() else Path.cwd()


DEFAULT_DATA = (_root() / "data" / "tour.ttl", _root() / "data" / "reference.trig")
#: The example queries shipped for the tour (``--examples`` names a folder of ``.rq`` files for other data).
DEFAULT_EXAMPLES = Path(__file__).resolve().parent / "queries"

TOUR_TITLE = "tourkg: Marco Rubio's 2025 Latin America tour as Linked Data"
TOUR_DESCRIPTION = ("A knowledge graph of U.S. Secretary of State Marco Rubio's diplomatic tour of Latin "
                    "America (Panama, El Salvador, Costa Rica, Guatemala, Dominican Republic), its visits, "
                    "host leaders, focal areas and policy issues, with the source of every statement.")
TOUR_LICENSE = "https://creativecommons.org/licenses/by/4.0/"
DEFAULT_SHAPES = (_root() / "shapes" / "tourkg.shapes.ttl",)
DEFAULT_ONTOLOGY = (_root() / "ontology" / "tourkg.ttl",)


@dataclass(frozen=True)
class Setting:
    """One configurable value: its name, default, parser and help text."""

    name: str
    default: Any
    help: str
    parse: Any = str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Interface to listen on."),
    Setting("port", 8080, "TCP port to listen on.", int),
    Setting("base_uri", CANONICAL_BASE, "Namespace of the served IRIs (e.g. http://127.0.0.1:8080/ for "
            "pure linked-data clients); data IRIs under data_base_uri are rewritten to it at load."),
    Setting("data_base_uri", CANONICAL_BASE, "Namespace the data files are written in."),
    Setting("query_timeout", 10.0, "Seconds a SPARQL query may run before it is stopped.", float),
    Setting("max_result_rows", 10_000, "Most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) a result may "
            "have; past it the query gets 413.", int),
    Setting("max_query_length", 20_000, "Most characters a SPARQL query may have; past it 413.", int),
    Setting("query_slots", 0, "SPARQL queries run at once (default 0: one per core); more wait in a queue.",
            int),
    Setting("query_queue", 16, "SPARQL queries that may wait for a slot; past it, 503 with Retry-After at "
            "once.", int),
    Setting("query_queue_wait", 10.0, "Seconds a query may wait for a slot (also: a query expected to wait "
            "longer is refused at once with 503 and Retry-After); as long as a query may run, so that a few "
            "clients of second-long queries all get answers, as they would from Oxigraph or Fuseki.", float),
    Setting("client_queries", 0, "Most SPARQL queries one client (address; X-Forwarded-For with "
            "proxy_hops) may have running or waiting; past it 429 with Retry-After (0: no limit).", int),
    Setting("store", "memory", "Where the data lives: memory (one in-memory Oxigraph engine process shared "
            "by every web worker), oxigraph:DIR (a persistent on-disk Oxigraph store in DIR: the first start "
            "loads it, later starts open it at once; for data larger than memory) or sparql:URL (any "
            "SPARQL 1.1 endpoint; tourkg then holds no data)."),
    Setting("cache_dir", "", "Folder of prepared datasets (loaded, counted, dumps rendered; reused while the "
            "input files' content is unchanged); default $XDG_CACHE_HOME/tourkg or ~/.cache/tourkg."),
    Setting("engine_allocator", "auto", "Memory allocator of the engine process: auto (mimalloc when the "
            "system has it, e.g. Debian's libmimalloc2.0: queries about a fifth faster and loading a quarter "
            "faster than with the C library's malloc, measured), system, or the path of a library to "
            "preload."),
    Setting("web_workers", min(4, len(os.sched_getaffinity(0))), "Web server worker processes (default: one "
            "per core this process may use, at most 4; they hold no copy of the data).", int),
    Setting("web_threads", 32, "Threads per web worker for requests that wait (queries, first renders); "
            "prepared answers are sent without one.", int),
    Setting("proxy_hops", 0, "Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host "
            "headers are trusted, so published URLs (sd:endpoint, VoID, sitemap) name the public origin.",
            int),
    Setting("accel_redirect", "", "Behind nginx: the internal location (e.g. /_tourkg/) that nginx maps to "
            "cache_dir; dumps are then sent by nginx itself (X-Accel-Redirect), with sendfile."),
    Setting("dumps_link", "", "Behind a web server: the path of a symbolic link that tourkg keeps pointing "
            "at the served data's prepared dumps (dump.nt, dump.nt.gz, …), replaced at once on reload, so "
            "that nginx sends /dump.* from it without asking tourkg (the README shows nginx's "
            "configuration)."),
    Setting("title", TOUR_TITLE, "The dataset's title (pages, VoID); for other data: its file names."),
    Setting("description", TOUR_DESCRIPTION, "The dataset's description (pages, VoID)."),
    Setting("license", TOUR_LICENSE, "IRI of the data's licence (empty: none stated, as for other data)."),
    Setting("publisher", "tourkg project", "Who publishes the dataset (VoID, citation)."),
)

_DEFAULTS = {s.name: s.default for s in SETTINGS}
_PARSERS = {s.name: s.parse for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Everything a tourkg process needs to know; built once and passed down, never read from globals."""

    data: tuple[Path, ...] = DEFAULT_DATA
    shapes: tuple[Path, ...] = DEFAULT_SHAPES
    ontology: tuple[Path, ...] = DEFAULT_ONTOLOGY
    validate: bool = True
    examples: Path | None = DEFAULT_EXAMPLES
    host: str = _DEFAULTS["host"]
    port: int = _DEFAULTS["port"]
    base_uri: str = _DEFAULTS["base_uri"]
    data_base_uri: str = _DEFAULTS["data_base_uri"]
    query_timeout: float = _DEFAULTS["query_timeout"]
    max_result_rows: int = _DEFAULTS["max_result_rows"]
    max_query_length: int = _DEFAULTS["max_query_length"]
    query_slots: int = _DEFAULTS["query_slots"]
    query_queue: int = _DEFAULTS["query_queue"]
    query_queue_wait: float = _DEFAULTS["query_queue_wait"]
    client_queries: int = _DEFAULTS["client_queries"]
    store: str = _DEFAULTS["store"]
    cache_dir: str = _DEFAULTS["cache_dir"]
    engine_allocator: str = _DEFAULTS["engine_allocator"]
    web_workers: int = _DEFAULTS["web_workers"]
    web_threads: int = _DEFAULTS["web_threads"]
    proxy_hops: int = _DEFAULTS["proxy_hops"]
    accel_redirect: str = _DEFAULTS["accel_redirect"]
    dumps_link: str = _DEFAULTS["dumps_link"]
    title: str = _DEFAULTS["title"]
    description: str = _DEFAULTS["description"]
    license: str = _DEFAULTS["license"]
    publisher: str = _DEFAULTS["publisher"]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read ``TOURKG_<NAME>`` variables for the settings of the table."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            found[name] = parse(raw)
    return found


def build_settings(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge defaults < environment < flags (``None`` flags are ignored).

    When ``data`` is given, whatever describes the tour (its shapes, ontology, example queries, title,
    description and licence) defaults to nothing or to something generic: it describes the tour, not
    somebody else's dataset.
    """
    values: dict[str, Any] = from_env(environ)
    values.update({k: v for k, v in (flags or {}).items() if v is not None})
    for key in ("data", "shapes", "ontology"):
        if key in values:
            values[key] = tuple(Path(p) for p in values[key])
    if values.get("examples"):
        values["examples"] = Path(values["examples"])
    if values.get("data") and "data" in (flags or {}):
        names = ", ".join(Path(p).name for p in values["data"])
        for key, generic in (("shapes", ()), ("ontology", ()), ("examples", None), ("license", ""),
                             ("publisher", ""), ("title", f"Linked data: {names}"),
                             ("description", f"The RDF data of {names}, published as Linked Data.")):
            values.setdefault(key, generic)
        # Another dataset lives in its own namespace: one base given serves for both, and with none
        # the loader infers it from the data (INFER_BASE).
        given = values.get("base_uri") or values.get("data_base_uri") or INFER_BASE
        values.setdefault("base_uri", given)
        values.setdefault("data_base_uri", values["base_uri"])
    for key in ("base_uri", "data_base_uri"):
        if values.get(key) and not str(values[key]).endswith(("/", "#")):
            values[key] = str(values[key]) + "/"
    return Settings(**values)
