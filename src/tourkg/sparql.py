"""SPARQL 1.1 Protocol semantics without Flask: parameters → ``QueryRequest``, refuse updates and
federation, pick the dataset, run with limits.

Three steps, as Oxigraph's server does them: (1) :func:`collect_request` gathers the protocol parameters
from the URL and the body (https://www.w3.org/TR/sparql11-protocol/#query-operation); (2)
:func:`check_query` applies the rules on the query text (read-only, no ``SERVICE``, length);
(3) :func:`run_query` chooses the dataset and evaluates in the store's killable workers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_to_bytes

from tourkg import formats
from tourkg.errors import (
    BadRequest,
    NotAcceptable,
    QuerySyntaxError,
    QueryTooLong,
    ServiceNotAllowed,
    UnsupportedMediaType,
    UpdateNotAllowed,
)
from tourkg.store import QueryFormats, QueryOutcome, Store

FORM_URLENCODED = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
BOM = "\ufeff"

#: SPARQL 1.1 Update operations (https://www.w3.org/TR/sparql11-update/#grammar); none is a query keyword.
UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY",
                             "WITH"})
QUERY_FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})

#: Names some clients send in ``format=`` for a graph result that the registry files under results
#: (SPARQLWrapper sends ``json`` and ``n3``); JSON-LD is JSON, Turtle is N3.
_GRAPH_FALLBACK = {"json": "jsonld", "application/json": "jsonld", "n3": "turtle", "text/n3": "turtle",
                   "text/rdf+n3": "turtle"}

_READ_ONLY = ("This endpoint is read-only: SPARQL Update ({what}) is not accepted, and the data is "
              "never changed by a request. Send a query (SELECT, ASK, CONSTRUCT or DESCRIBE) instead.")

# Tokens of the SPARQL grammar (https://www.w3.org/TR/sparql11-query/#grammar) needed to find keywords:
# strings, IRIs and comments are skipped whole so that words inside them never count.
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
               |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
  | (?P<var>[?$]\w+)
  | (?P<pname>[\w.-]*:(?:[\w.:%-]|\\.)*)
  | (?P<word>[A-Za-z_]\w*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class QueryText:
    """What the tokenizer learnt about a query: its form and the keywords that matter for safety."""

    form: str | None
    has_from: bool
    has_service: bool
    update_keyword: str | None


def scan(text: str) -> QueryText:
    """Find the query form, ``FROM``, ``SERVICE`` and update keywords, skipping strings, IRIs, comments,
    variables and prefixed names (``?delete`` or ``ex:service`` are not keywords)."""
    form, has_from, has_service, update = None, False, False, None
    for match in _TOKEN.finditer(text):
        if match.lastgroup != "word":
            continue
        word = match.group().upper()
        if word in QUERY_FORMS and form is None:
            form = word
        elif word == "FROM":
            has_from = True
        elif word == "SERVICE":
            has_service = True
        elif word in UPDATE_KEYWORDS and update is None:
            update = word
    return QueryText(form, has_from, has_service, update)


@dataclass(frozen=True)
class QueryRequest:
    """A protocol query operation: the text, the protocol dataset and the ``format=`` override.

    ``default_graphs``/``named_graphs`` are ``None`` when the client did not give them, so the query's
    own FROM / FROM NAMED (or the union default graph) applies.
    """

    query: str
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    format: str | None = None
    info: QueryText = field(default_factory=lambda: QueryText(None, False, False, None))


def _decode(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The {what} is not valid UTF-8 (byte {exc.start}); SPARQL 1.1 Protocol §2.1 "
                         "requires UTF-8.") from None


def check_urlencoded_utf8(raw: bytes, what: str) -> None:
    """Refuse percent-encoded parameters whose decoded bytes are not UTF-8 (SPARQL 1.1 Protocol §2.1).

    Werkzeug and ``parse_qs`` decode with replacement, so ``%FF`` would silently become U+FFFD and the
    client would get an answer to a query it did not send; the raw bytes must be checked first.

    :param raw: a URL query string or an ``application/x-www-form-urlencoded`` body, still encoded.
    :param what: where it came from, for the message (``URL``, ``form body``).
    :raises BadRequest: naming the parameter and the byte offset in its decoded value.
    """
    for pair in raw.split(b"&"):
        name, _, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"="))
        for role, part in (("name", name), ("value", value)):
            try:
                part.decode("utf-8")
            except UnicodeDecodeError as exc:
                shown = name.decode("utf-8", "replace")
                raise BadRequest(f"The {what} is not valid UTF-8 once percent-decoded: parameter {shown!r} "
                                 f"has an invalid byte at offset {exc.start} of its {role}. SPARQL 1.1 "
                                 "Protocol §2.1 requires UTF-8; percent-encode the query's UTF-8 "
                                 "bytes.") from None


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` header, lower case, without its parameters."""
    return (content_type or "").split(";")[0].strip().lower()


def _body_params(content_type: str | None, body: bytes) -> tuple[dict[str, list[str]], str | None]:
    """The parameters in a POST body and the query sent directly, by media type (Protocol §2.1.2-3).

    :raises UpdateNotAllowed: ``application/sparql-update``.
    :raises UnsupportedMediaType: any other type, or none.
    """
    kind = media_type(content_type)
    if kind == FORM_URLENCODED:
        text = _decode(body, "form body")
        check_urlencoded_utf8(body, "form body")
        return parse_qs(text, keep_blank_values=True, errors="strict"), None
    if kind == SPARQL_QUERY:
        return {}, _decode(body, "query")
    if kind == SPARQL_UPDATE:
        raise UpdateNotAllowed(_READ_ONLY.format(what=SPARQL_UPDATE))
    shown = f"Content-Type {kind!r}" if kind else "no Content-Type"
    raise UnsupportedMediaType(f"A query sent by POST needs Content-Type {FORM_URLENCODED} or {SPARQL_QUERY} "
                               f"(SPARQL 1.1 Protocol §2.1.2-2.1.3); this request has {shown}.")


def _single_query(values: Sequence[str]) -> str | None:
    if len(values) > 1:
        raise BadRequest("Exactly one 'query' parameter is allowed, in the URL or in the body, not both "
                         f"(SPARQL 1.1 Protocol §2.1); this request has {len(values)}.")
    return values[0] if values else None


def collect_request(method: str, args: Mapping[str, Sequence[str]], content_type: str | None = None,
                    body: bytes = b"") -> QueryRequest | None:
    """Gather the query operation's parameters (SPARQL 1.1 Protocol §2.1); ``None`` when a GET or HEAD
    carries no query (the caller shows the query page or the service description).

    :param args: URL parameters, each with all its values.
    :raises BadRequest: repeated ``query``, non-UTF-8 text, POST without a query.
    :raises UpdateNotAllowed: an ``update`` parameter or an update media type (SPARQL 1.1 Protocol §2.2).
    :raises UnsupportedMediaType: a POST in another media type.
    """
    params: dict[str, list[str]] = {k: list(v) for k, v in args.items()}
    if method == "POST":
        body_params, direct = _body_params(content_type, body)
        for key, values in body_params.items():
            params.setdefault(key, []).extend(values)
        if direct is not None:
            if params.get("query"):
                raise BadRequest("A query sent directly in the body (application/sparql-query) must not also "
                                 "be given as a 'query' parameter (SPARQL 1.1 Protocol §2.1.3).")
            params["query"] = [direct]
    if params.get("update"):
        raise UpdateNotAllowed(_READ_ONLY.format(what="the 'update' parameter"))
    query = _single_query(params.get("query", []))
    if query is None:
        if method == "POST":
            raise BadRequest("The POST carries no query: send it in a 'query' form field or as an "
                             "application/sparql-query body (SPARQL 1.1 Protocol §2.1).")
        return None
    dataset = {k: tuple(params[k]) if k in params else None for k in ("default-graph-uri", "named-graph-uri")}
    # format= is no Protocol parameter but a convenience; SPARQLWrapper repeats it with a short name and
    # a media type for the same format, so the first one wins instead of a 400.
    override = next(iter(params.get("format", [])), None)
    return QueryRequest(query, dataset["default-graph-uri"], dataset["named-graph-uri"], override)


def check_query(request: QueryRequest, max_query_length: int) -> QueryRequest:
    """Apply the endpoint's rules on the text (after dropping a leading BOM): not too long, read-only, no
    federation.

    :raises QueryTooLong: longer than ``max_query_length`` characters.
    :raises UpdateNotAllowed: an update operation keyword outside strings, IRIs and comments.
    :raises ServiceNotAllowed: ``SERVICE`` anywhere, so the server never makes an outbound request.
    """
    # A byte order mark is an encoding artefact of some editors, not part of the query (Notepad saves
    # UTF-8 with one); the parser would call it a syntax error at column 1.
    text = request.query.removeprefix(BOM)
    if len(text) > max_query_length:
        raise QueryTooLong(f"The query has {len(text)} characters; the limit is {max_query_length} "
                           "(setting max_query_length).")
    info = scan(text)
    if info.update_keyword:
        raise UpdateNotAllowed(_READ_ONLY.format(what=info.update_keyword))
    if info.has_service:
        raise ServiceNotAllowed("SERVICE (federated query) is disabled on this endpoint: the server never "
                                "makes an outbound request because of a query. Query the other endpoint "
                                "yourself, or copy the data you need into your own store.")
    if info.form is None:
        raise QuerySyntaxError("Malformed query: it has no SELECT, ASK, CONSTRUCT or DESCRIBE, one of which "
                               "every query needs after its PREFIX lines (SPARQL 1.1 Query §2).")
    return QueryRequest(text, request.default_graphs, request.named_graphs, request.format, info)


def formats_for_name(name: str) -> QueryFormats:
    """The formats ``format=`` (or ``--format``) names for each result kind: ``xml`` is SPARQL XML for
    SELECT and RDF/XML for CONSTRUCT, as SPARQLWrapper means it; ``csv``/``tsv`` name none for ASK.

    :raises NotAcceptable: the name is no format of either kind.
    """
    results = formats.by_name(name, formats.RESULTS)
    graph = formats.by_name(name, formats.RDF) or formats.by_name(_GRAPH_FALLBACK.get(name.lower(), ""),
                                                                  formats.RDF)
    if results is None and graph is None:
        offered = [f.name for f in formats.RESULTS + formats.RDF]
        raise NotAcceptable(f"Unknown format {name!r}.", offered)
    boolean = results if results in formats.BOOLEAN_RESULTS else None
    return QueryFormats(results=results, graph=graph, boolean=boolean)


#: The graph a graph name the dataset does not hold is replaced by when a query is forwarded to a remote
#: engine: a URN, which no engine dereferences, so that the graph is empty there too and never fetched.
EMPTY_GRAPH = "urn:x-tourkg:no-such-graph"


def held_or_empty(names: Sequence[str], loaded: Sequence[str]) -> list[str]:
    """``names`` with every graph the dataset does not hold replaced by :data:`EMPTY_GRAPH` (SPARQL 1.1
    Query §13.2: an unknown graph is an empty graph; tourkg never fetches one from the Web)."""
    held = set(loaded)
    found = [n if n in held else EMPTY_GRAPH for n in names]
    return list(dict.fromkeys(found))


def from_clauses(text: str) -> tuple[list[str], list[str]]:
    """The IRIs of a query's ``FROM`` and ``FROM NAMED`` clauses, prefixes resolved (rdflib's parser;
    only called for queries that have such a clause)."""
    from rdflib.plugins.sparql import prepareQuery

    defaults: list[str] = []
    named: list[str] = []
    for clause in prepareQuery(text).algebra.get("datasetClause") or ():
        if "default" in clause:
            defaults.append(str(clause["default"]))
        elif "named" in clause:
            named.append(str(clause["named"]))
    return defaults, named


def run_query(store: Store, request: QueryRequest, chosen: QueryFormats, *, client: str | None = None,
              timeout: float | None = None,
              max_rows: int | None = None) -> QueryOutcome:
    """Evaluate a checked query on ``store`` with the dataset the protocol asks for.

    ``default-graph-uri``/``named-graph-uri`` override FROM / FROM NAMED (Protocol §2.1.4); without either,
    a query with FROM gets exactly its FROM graphs, and any other query the union of all graphs as its
    default graph, so ``SELECT * { ?s ?p ?o }`` sees everything.
    """
    protocol = request.default_graphs is not None or request.named_graphs is not None
    defaults, named = request.default_graphs, request.named_graphs
    if not protocol and getattr(store, "forwards", False) and scan(request.query).has_from:
        # A remote engine might fetch a FROM graph it does not hold: the same dataset goes as protocol
        # parameters (which override FROM, Protocol §2.1.4), with the graphs it does not hold emptied.
        try:
            defaults, named = (tuple(x) for x in from_clauses(request.query))
            protocol = True
        except Exception:  # noqa: BLE001 - rdflib reads less than the engine: let the engine answer
            pass
    if protocol:
        loaded = store.graphs()
        defaults = tuple(held_or_empty(defaults or (), loaded))
        named = tuple(held_or_empty(named or (), loaded))
    return store.query(
        request.query, formats=chosen,
        default_graphs=list(defaults or ()) if protocol else None,
        named_graphs=list(named or ()) if protocol else None,
        timeout=timeout, max_rows=max_rows, client=client,
    )
