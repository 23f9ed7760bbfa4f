"""``--store sparql:URL``: any SPARQL 1.1 endpoint behind the ``Store`` interface; tourkg holds no data.

Every tourkg worker is then stateless, so any number of them can stand behind a load balancer in front
of the engine's own cluster. The endpoint answers the look-ups pages are made of (``texts.py``), the
statistics and the dumps (streamed into a file, never held in memory), and the users' queries, which
tourkg still checks first: read-only, no ``SERVICE``, length, and a time limit on the HTTP call itself,
because a remote engine's own timeout cannot be trusted to stop the work or to fail properly
(Oxigraph answers 200 with a truncated body). Answers are read back and re-serialized, so a broken one
is a 502, never passed on.

The union default graph: when the endpoint's default graph is empty but it has named graphs, tourkg
names them all as the query's dataset (``default-graph-uri`` and ``named-graph-uri``); when the endpoint
already unions them (or its data lives in its default graph), queries go as they are. Either way the
answers are the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
import urllib3
from rdflib.term import Node

from tourkg import loader
from tourkg.config import Settings
from tourkg.engines import texts
from tourkg.engines.admission import Admission, Refused
from tourkg.engines.client import admission_limits, outcome, query_request, timeout_error
from tourkg.engines.results import graph_body
from tourkg.errors import BadGateway, GatewayTimeout, Overloaded, TooManyRequests, TourkgError
from tourkg.formats import Format
from tourkg.prepare import cache_root
from tourkg.search import Entry, Hit, SearchIndex
from tourkg.store import (
    LABEL_IRIS,
    PAGE_VALUES,
    Description,
    Dump,
    Quads,
    QueryFormats,
    QueryOutcome,
    Stats,
    decode,
    decode_quads,
)

log = logging.getLogger(__name__)

JSON_RESULTS = "application/sparql-results+json"
TSV_RESULTS = "text/tab-separated-values"
N_TRIPLES = "application/n-triples"
#: How long what is learnt about the endpoint (its graphs, its statistics) is trusted: its data may
#: change under tourkg.
TTL = 60.0
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_PROVENANCE = ("http://www.w3.org/ns/prov#wasDerivedFrom", "http://purl.org/dc/terms/source",
               "https://schema.org/url", "https://schema.org/publisher")


def _iri(value: str) -> str:
    """``<value>`` for a query text, after checking that it is an IRI (nothing can break out)."""
    return str(ox.NamedNode(value))


def _term(binding: dict[str, str]) -> tuple:
    kind = binding["type"]
    if kind == "uri":
        return ("u", binding["value"])
    if kind == "bnode":
        return ("b", binding["value"])
    lang = binding.get("xml:lang")
    return ("l", binding["value"], lang, binding.get("datatype") or (_LANG_STRING if lang else _XSD_STRING))


class RemoteStore:
    """The ``Store`` on a remote SPARQL 1.1 endpoint."""

    #: Queries leave the machine: graph names the dataset does not hold are emptied before they go.
    forwards = True

    def __init__(self, url: str, settings: Settings) -> None:
        self.url, self.settings = url, settings
        #: Look-ups and statistics get the users' time limit too: an engine that cannot answer a page's
        #: questions in that time gives 504 rather than a page that hangs.
        self.lookup_timeout = max(1.0, settings.query_timeout)
        self.prefixes: dict[str, str] = {}
        self._http: urllib3.PoolManager | None = None
        self._pid = 0
        self._known: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        limits = admission_limits(settings)  # per web worker: the remote engine has its own limits too
        self.admission = Admission(limits["slots"], limits["queue"], limits["max_wait"], limits["per_client"])
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        self._dumps = cache_root(settings) / f"remote-{digest}"  # the user's own cache, not a shared /tmp

    # -- HTTP ----------------------------------------------------------------------------------------
    @property
    def http(self) -> urllib3.PoolManager:
        """This process's connection pool (web workers fork after start-up: never share a connection)."""
        if self._http is None or self._pid != os.getpid():
            self._http, self._pid = urllib3.PoolManager(maxsize=32, retries=False), os.getpid()
        return self._http

    def _post(self, query: str, accept: str, timeout: float, dataset: bool = False,
              extra: dict[str, list[str]] | None = None, stream: bool = False, user: bool = False) -> Any:
        """POST a query (SPARQL 1.1 Protocol §2.1.2); the response, or a 502/504 saying what went wrong.

        :param dataset: make the default graph the union of the named graphs (unless the query has its
            own FROM: the protocol's parameters would override it).
        :param user: a user's query, whose refusal (400) is a malformed query rather than a bad gateway.
        """
        fields: list[tuple[str, str]] = [("query", query)]
        params = extra if extra is not None else (self._union() if dataset and not _has_from(query) else {})
        for name, values in params.items():
            fields += [(name, value) for value in values]
        try:
            response = self.http.request(
                "POST", self.url, body=urlencode(fields), preload_content=not stream,
                headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout))
        except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError too, in urllib3
            raise BadGateway(f"The SPARQL engine at {self.url} cannot be reached: {_reason(exc)}. tourkg "
                             "answers again as soon as it does.") from None
        except urllib3.exceptions.TimeoutError:
            raise GatewayTimeout(f"The SPARQL engine at {self.url} did not answer within {timeout:g} s."
                                 ) from None
        except urllib3.exceptions.HTTPError as exc:
            raise BadGateway(f"The SPARQL engine at {self.url} cannot be reached: {_reason(exc)}. tourkg "
                             "answers again as soon as it does.") from None
        if response.status >= 400:
            body = response.data if not stream else response.read(4096)
            if stream:
                response.close()  # the rest of an error body is never read: the connection is not reused
            text = body.decode("utf-8", "replace").strip()[:1000]
            if response.status == 400 and user:
                raise _EngineRefused(text)
            raise BadGateway(f"The SPARQL engine at {self.url} failed (HTTP {response.status}): {text}")
        return response

    def _rows(self, query: str, dataset: bool = False,
              timeout: float | None = None) -> list[dict[str, tuple]]:
        limit = timeout or self.lookup_timeout
        response = self._post(query, JSON_RESULTS, limit, dataset, stream=True)
        body = _bounded(response, 1 << 40, limit)
        try:
            bindings = json.loads(body)["results"]["bindings"]
            return [{k: _term(v) for k, v in row.items()} for row in bindings]
        except (ValueError, KeyError, TypeError):
            raise BadGateway(f"The SPARQL engine at {self.url} sent an answer that is not SPARQL JSON "
                             "results.") from None

    def _ask(self, query: str, dataset: bool = False) -> bool:
        response = self._post(query, JSON_RESULTS, self.lookup_timeout, dataset, stream=True)
        try:
            return bool(json.loads(_bounded(response, 1 << 40, self.lookup_timeout))["boolean"])
        except (ValueError, KeyError, TypeError):
            raise BadGateway(f"The SPARQL engine at {self.url} sent an ASK answer that is not SPARQL JSON."
                             ) from None

    def _remember(self, key: str, compute: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._known.get(key)
            if found and now - found[0] < TTL:
                return found[1]
        value = compute()
        with self._lock:
            self._known[key] = (now, value)
        return value

    # -- the dataset ---------------------------------------------------------------------------------
    def graphs(self) -> tuple[str, ...]:
        """The endpoint's named graphs."""
        return self._remember("graphs", lambda: tuple(
            row["g"][1] for row in self._rows(texts.GRAPHS) if row.get("g", ("",))[0] == "u"))

    def _union(self) -> dict[str, list[str]]:
        """The protocol dataset that makes the default graph the union of the named graphs."""
        def decide() -> dict[str, list[str]]:
            graphs = list(self.graphs())
            if not graphs or self._ask(texts.DEFAULT_HAS_DATA):
                return {}
            return {"default-graph-uri": graphs, "named-graph-uri": graphs}
        return self._remember("union", decide)

    def _where(self, pattern: str) -> str:
        return f"GRAPH ?g {{ {pattern} }}" if self.graphs() else pattern

    def infer_base(self, fallback: str) -> str:
        """The namespace the endpoint's subjects share (as :func:`loader.infer_base` on local files)."""
        try:
            rows = self._rows(texts.SUBJECT_SAMPLE.format(where=self._where("?s ?p ?o")))
        except TourkgError as exc:
            log.warning("cannot ask %s for its namespace (%s); using %s", self.url, exc.message, fallback)
            return fallback
        return loader.infer_base([r["s"][1] for r in rows if r.get("s", ("",))[0] == "u"], fallback)

    # -- user queries --------------------------------------------------------------------------------
    def query(self, text: str, *, formats: QueryFormats, default_graphs: list[str] | None = None,
              named_graphs: list[str] | None = None, timeout: float | None = None,
              max_rows: int | None = None, client: str | None = None) -> QueryOutcome:
        """Forward a checked query with the time limit on the HTTP call; read the answer back (bounded)
        and serialize it in the negotiated format. Admitted as a local query is (``engines.admission``),
        per web worker."""
        try:
            admitted = self.admission.enter(client)
        except Refused as refused:
            raise (TooManyRequests if refused.kind == "client" else Overloaded)(refused.message,
                                                                               refused.retry_after) from None
        try:
            return self._query(text, formats, default_graphs, named_graphs, timeout, max_rows)
        finally:
            self.admission.leave(client, admitted)

    def _query(self, text: str, formats: QueryFormats, default_graphs: list[str] | None,
               named_graphs: list[str] | None, timeout: float | None, max_rows: int | None) -> QueryOutcome:
        from tourkg.sparql import scan

        limit = self.settings.query_timeout if timeout is None else timeout
        rows = self.settings.max_result_rows if max_rows is None else max_rows
        request = query_request(text, formats, default_graphs, named_graphs, rows, self.prefixes)
        extra = None
        if request["default_graphs"] is not None:
            extra = {"default-graph-uri": request["default_graphs"],
                     "named-graph-uri": request["named_graphs"]}
        form = scan(text).form
        accept = {"SELECT": TSV_RESULTS, "ASK": JSON_RESULTS}.get(form or "", N_TRIPLES)
        try:  # the graph list the dataset may need counts against the same time limit
            response = self._post(text, accept, limit, dataset=True, extra=extra, stream=True, user=True)
            body = _bounded(response, rows + 2, limit)
        except GatewayTimeout:
            raise timeout_error(limit) from None
        except _EngineRefused as exc:
            return outcome("syntax", str(exc), None, formats, text)
        return outcome(*_convert(form, body, request, rows, self.url), formats, text)

    # -- look-ups ------------------------------------------------------------------------------------
    def select(self, text: str) -> list[dict[str, Node]]:
        """A trusted internal SELECT over the union of all graphs."""
        return [{k: decode(v) for k, v in row.items()} for row in self._rows(text, dataset=True)]

    def ask_exists(self, iri: str) -> bool:
        """True when ``iri`` is a subject, an object or a graph name."""
        try:
            node = _iri(iri)
        except ValueError:
            return False
        return iri in self.graphs() or self._ask(texts.EXISTS.format(node=node), dataset=True)

    def describe(self, iri: str) -> Description:
        """The bounded description, in a handful of queries whatever the resource's size."""
        node = _iri(iri)
        quads: list[tuple] = []
        totals: dict[tuple[str, str], int] = {}
        for direction, pattern in (("out", f"{node} ?p ?x"), ("in", f"?x ?p {node}")):
            found, cut = self._side(node, direction, pattern)
            quads += found
            totals.update(cut)
        bnodes = self._rows(texts.BLANK_CLOSURE.format(node=node, where=self._where("?s ?p ?o")))
        quads += [(r["s"], r["p"], r["o"], r.get("g", ("d",))) for r in bnodes]
        linked = {q[2][1] for q in quads if q[2][0] == "u"} | {q[1][1] for q in quads} | \
            {q[0][1] for q in quads if q[0][0] == "u"}
        graphs = sorted({q[3][1] for q in quads if q[3][0] == "u"})  # of its own statements, as locally
        quads += self._of(sorted(linked), (*LABEL_IRIS, _RDF_TYPE))
        provenance = self._of(graphs, (*_PROVENANCE, *LABEL_IRIS))
        sources = sorted({q[2][1] for q in provenance if q[2][0] == "u" and q[1][1] in _PROVENANCE[:2]})
        quads += provenance + self._of(sources, (*LABEL_IRIS, *_PROVENANCE))
        return Description(decode_quads(list(dict.fromkeys(quads))), totals)

    def _side(self, node: str, direction: str,
              pattern: str) -> tuple[list[tuple], dict[tuple[str, str], int]]:
        where = self._where(pattern)
        counts = {r["p"][1]: int(r["n"][1]) for r in self._rows(texts.COUNT_OUT.format(where=where))}
        few = [p for p, n in counts.items() if n <= PAGE_VALUES]
        found: list[tuple] = []
        if few:
            rows = self._rows(texts.STATEMENTS.format(values=" ".join(_iri(p) for p in few), where=where))
            found += [self._quad(node, r["p"], r["x"], r.get("g", ("d",)), direction) for r in rows]
        cut = {}
        for predicate, total in counts.items():
            if total <= PAGE_VALUES:
                continue
            cut[(direction, predicate)] = total
            values, _ = self._page(node, predicate, direction == "in", 0, PAGE_VALUES, count=False)
            found += [self._quad(node, ("u", predicate), v, g, direction) for v, g in values]
        return found, cut

    @staticmethod
    def _quad(node: str, predicate: tuple, other: tuple, graph: tuple, direction: str) -> tuple:
        me = ("u", node[1:-1])
        return (other, predicate, me, graph) if direction == "in" else (me, predicate, other, graph)

    def _page(self, node: str, predicate: str, incoming: bool, offset: int, limit: int,
              count: bool = True) -> tuple[list[tuple[tuple, tuple]], int]:
        pattern = f"?x {_iri(predicate)} {node}" if incoming else f"{node} {_iri(predicate)} ?x"
        where = self._where(pattern)
        text = texts.PAGE.format(where=where, limit=int(limit), offset=int(offset))
        values = [r["x"] for r in self._rows(text)]
        total = int(self._rows(texts.COUNT_ONE.format(where=where))[0]["n"][1]) if count else 0
        named = [v for v in values if v[0] != "b"]
        if not named:
            return [], total
        listed = " ".join(_iri(v[1]) if v[0] == "u" else _literal(v) for v in named)
        rows = self._rows(texts.GRAPHS_OF.format(values=listed, where=where))
        return [(r["x"], r.get("g", ("d",))) for r in rows], total

    def _of(self, subjects: list[str], predicates: tuple[str, ...]) -> list[tuple]:
        found: list[tuple] = []
        for start in range(0, len(subjects), 200):
            chunk = " ".join(_iri(s) for s in subjects[start:start + 200])
            text = texts.OF_SUBJECTS.format(values=chunk, predicates=" ".join(_iri(p) for p in predicates),
                                            where=self._where("?s ?p ?o"))
            found += [(r["s"], r["p"], r["o"], r.get("g", ("d",))) for r in self._rows(text)]
        return found

    def search(self, query: str, type_: str | None = None, limit: int = 20) -> list[Hit]:
        """Label search on an index of the engine's labels, built in this worker and rebuilt when it is
        older than the answers' time to live (the engine's data may change)."""
        return self.search_index().search(query, type_, limit)

    def search_index(self) -> SearchIndex:
        """The label search index of the engine's data (see :meth:`search`)."""
        now = time.monotonic()
        with self._lock:
            kept = self._known.get("search-index")
        if kept is None or now - kept[0] > 60.0:
            rows = self._rows(texts.SEARCH_LABELS, dataset=True)
            types: dict[str, set[str]] = {}
            names: set[tuple[str, str, str]] = set()
            for row in rows:
                subject, label = row.get("s"), row.get("label")
                if not subject or subject[0] != "u" or not label or label[0] != "l":
                    continue
                names.add((subject[1], label[1], label[2] or ""))
                if row.get("type") and row["type"][0] == "u":
                    types.setdefault(subject[1], set()).add(row["type"][1])
            index = SearchIndex(Entry(iri, label, lang, tuple(sorted(types.get(iri, ()))))
                                for iri, label, lang in names)
            kept = (now, index)
            with self._lock:
                self._known["search-index"] = kept
        return kept[1]

    def labels(self, iris: list[str]) -> Quads:
        """The label statements of ``iris``."""
        named = []
        for iri in iris:
            try:
                named.append(ox.NamedNode(iri).value)
            except ValueError:
                continue
        return decode_quads(self._of(named, LABEL_IRIS))

    def neighbours(self, iri: str, predicate: str, incoming: bool, offset: int,
                   limit: int) -> tuple[list[tuple[Node, Node]], int]:
        """One page of a property's values, with their graphs, and the total."""
        page, total = self._page(_iri(iri), predicate, incoming, offset, limit)
        return [(decode(v), decode(g)) for v, g in page], total

    def stats(self) -> Stats:
        """Counts from aggregate queries (kept for :data:`TTL`); a count the engine cannot give in time
        is left at zero rather than failing the page."""
        return self._remember("stats", self._stats)

    def _stats(self) -> Stats:
        def number(text: str) -> int:
            try:
                return int(self._rows(text, dataset=True)[0]["n"][1])
            except (TourkgError, IndexError, KeyError, ValueError):
                return 0

        def partition(text: str, dataset: bool = True) -> dict[str, int]:
            try:
                rows = self._rows(text, dataset=dataset)
                return {r["k"][1]: int(r["n"][1]) for r in rows if r["k"][0] == "u"}
            except TourkgError:
                return {}

        sizes = partition(texts.GRAPH_SIZES, dataset=False)
        counts = {name: number(text) for name, text in texts.STATS.items()}
        return Stats(triples=counts["triples"], quads=sum(sizes.values()) or counts["triples"],
                     graphs=self.graphs(), classes=partition(texts.CLASSES),
                     properties=partition(texts.PROPERTIES),
                     subjects=counts["subjects"], objects=counts["objects"], graph_sizes=sizes)

    def dump(self, fmt: Format, gzipped: bool = False) -> Dump:
        """The whole dataset streamed from the engine into a file (kept for :data:`TTL`)."""
        from tourkg.engines.dumps import file_name

        self._dumps.mkdir(parents=True, exist_ok=True)
        path = self._dumps / file_name(fmt.extension, gzipped)
        with self._lock:
            fresh = path.exists() and time.time() - path.stat().st_mtime < TTL
        if not fresh:
            _render_remote_dump(self, fmt, path, gzipped)
        etag = path.with_name(path.name + ".etag").read_text().strip()
        return Dump(path, etag, path.stat().st_size)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            self._http.clear()


class _EngineRefused(Exception):
    """The engine answered 400: the query is malformed (its message says where)."""


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc).split(": ", 1)[-1][:300]


def _literal(term: tuple) -> str:
    value = json.dumps(term[1])
    if term[2]:
        return f"{value}@{term[2]}"
    return f"{value}^^{_iri(term[3])}"


#: Most bytes read from the engine for one answer (a result without line breaks is bounded too).
MAX_ANSWER_BYTES = 256 << 20


def _bounded(response: Any, lines: int, timeout: float) -> bytes:
    """Read a streamed answer, stopping past ``lines`` lines (the result-size limit), past
    :data:`MAX_ANSWER_BYTES` or at the deadline; a connection left with unread bytes is closed, never
    reused."""
    chunks, count, size, deadline = [], 0, 0, time.monotonic() + timeout
    complete = False
    try:
        for chunk in response.stream(1 << 16):
            chunks.append(chunk)
            count += chunk.count(b"\n")
            size += len(chunk)
            if count > lines or size > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                break
        else:
            complete = True
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        raise GatewayTimeout("the engine stopped sending") from None
    except urllib3.exceptions.HTTPError as exc:
        raise BadGateway(f"The SPARQL engine's answer was cut short: {_reason(exc)}") from None
    finally:
        if complete:
            response.release_conn()
        else:
            response.close()
    if time.monotonic() > deadline:
        raise GatewayTimeout("the answer took too long")
    if size > MAX_ANSWER_BYTES:
        raise BadGateway(f"The SPARQL engine's answer is larger than {MAX_ANSWER_BYTES >> 20} MB.")
    return b"".join(chunks)


def _has_from(query: str) -> bool:
    from tourkg.sparql import scan

    return scan(query).has_from


def _convert(form: str | None, body: bytes, request: dict[str, Any], rows: int, url: str) -> tuple:
    """The engine's answer as ``(status, payload, detail)``, as the local engine gives it."""
    try:
        if form == "ASK":
            fmt = request["boolean_format"]
            if fmt is None:
                return ("not_acceptable", "boolean", None)
            parsed = ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
            return ("ok", parsed.serialize(format=getattr(ox.QueryResultsFormat, fmt)), ("ask", 1))
        if form == "SELECT":
            fmt = request["results_format"]
            if fmt is None:
                return ("not_acceptable", "results", None)
            count = max(0, body.count(b"\n") - 1 + (0 if body.endswith(b"\n") else 1))
            if count > rows:
                return ("too_large", rows, None)
            parsed = ox.parse_query_results(body, ox.QueryResultsFormat.TSV)
            return ("ok", parsed.serialize(format=getattr(ox.QueryResultsFormat, fmt)), ("select", count))
        fmt = request["graph_format"]
        if fmt is None:
            return ("not_acceptable", "graph", None)
        if body.count(b"\n") > rows:
            return ("too_large", rows, None)
        return ("ok", *graph_body(body, fmt, request["prefixes"]))
    except (SyntaxError, ValueError) as exc:
        raise BadGateway(f"The SPARQL engine at {url} sent an answer that does not parse ({exc}); it is not "
                         "passed on.") from None


def _render_remote_dump(store: RemoteStore, fmt: Format, path: Path, gzipped: bool) -> None:
    """Stream a dump from the engine into ``path`` (aside, then renamed), with its ETag."""
    from tourkg.engines.dumps import finish_file, gzip_file
    from tourkg.files import file_lock

    with file_lock(path.with_name(f".lock-{path.name}")):
        if gzipped:
            plain = path.with_name(path.name.removesuffix(".gz"))
            store.dump(fmt)
            finish_file(path, lambda out: gzip_file(plain, out))
            return
        finish_file(path, lambda out: _write_dump(store, fmt, out))


def _write_dump(store: RemoteStore, fmt: Format, out: Any) -> None:
    engine_format = getattr(ox.RdfFormat, fmt.engine or "")
    if fmt.extension in ("nq", "trig"):
        response = store._post(texts.ALL_QUADS, TSV_RESULTS, 3600.0, stream=True)
    else:
        response = store._post(texts.ALL_TRIPLES, N_TRIPLES, 3600.0, dataset=True, stream=True)
    try:
        if fmt.extension in ("nq", "trig"):
            solutions = ox.parse_query_results(response, ox.QueryResultsFormat.TSV)
            quads = (ox.Quad(s["s"], s["p"], s["o"], s["g"]) for s in solutions)
            used = store.prefixes if fmt.extension == "trig" else None
            ox.serialize(quads, out, engine_format, prefixes=used)
            return
        triples = ox.parse(response, ox.RdfFormat.N_TRIPLES)
        if fmt.extension == "jsonld":
            from tourkg.engines.dumps import write_jsonld

            write_jsonld(iter(triples), store.prefixes, out)
        else:
            prefixes = None if fmt.extension == "nt" else store.prefixes
            ox.serialize(triples, out, engine_format, prefixes=prefixes)
    except (SyntaxError, ValueError) as exc:
        raise BadGateway(f"The SPARQL engine sent a dump that does not parse ({exc}).") from None
    finally:
        response.close()
