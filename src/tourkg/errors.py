"""The ``TourkgError`` hierarchy: domain code raises these; only ``web/errors.py`` turns them into HTTP."""

from __future__ import annotations

import re
from collections.abc import Sequence


class TourkgError(Exception):
    """Base error; ``status`` is the HTTP status it maps to, ``title`` its short name."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(TourkgError):
    """The request breaks a protocol rule (SPARQL 1.1 Protocol, HTTP)."""

    status = 400
    title = "Bad Request"


class QuerySyntaxError(BadRequest):
    """The SPARQL text does not parse; the message carries the parser's position."""

    title = "Malformed Query"


class UpdateNotAllowed(TourkgError):
    """SPARQL Update in any form: the endpoint is read-only."""

    status = 403
    title = "Forbidden: read-only endpoint"


class ServiceNotAllowed(TourkgError):
    """``SERVICE`` federation is disabled: the server never makes a request because of a query."""

    status = 403
    title = "Forbidden: federation disabled"


class NotFound(TourkgError):
    """The IRI or path is not in the data."""

    status = 404
    title = "Not Found"


class NotAcceptable(TourkgError):
    """Nothing the server offers matches the ``Accept`` header or ``format=``."""

    status = 406
    title = "Not Acceptable"

    def __init__(self, message: str, offers: Sequence[str] = ()) -> None:
        listing = ", ".join(offers)
        super().__init__(f"{message} Available: {listing}." if offers else message)
        self.offers = tuple(offers)


class UnsupportedMediaType(TourkgError):
    """A POST body in a media type the protocol does not define for this operation."""

    status = 415
    title = "Unsupported Media Type"


class QueryTooLong(TourkgError):
    """The query text is longer than the ``max_query_length`` setting."""

    status = 413
    title = "Query Too Long"


class ResultTooLarge(TourkgError):
    """The result has more rows or triples than the ``max_result_rows`` setting."""

    status = 413
    title = "Result Too Large"


class QueryTimeout(TourkgError):
    """The query ran past the ``query_timeout`` setting and was stopped."""

    status = 503
    title = "Query Timeout"


class _RetryLater(TourkgError):
    """An answer that says when to ask again (``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(_RetryLater):
    """Every query slot is busy and the queue is full, or the wait would be too long: refused at once."""

    status = 503
    title = "Service Unavailable"


class TooManyRequests(_RetryLater):
    """This client has as many queries running or waiting as the ``client_queries`` setting allows."""

    status = 429
    title = "Too Many Requests"


class EngineUnavailable(TourkgError):
    """The engine process is restarting (after another query overran) and did not come back in time."""

    status = 503
    title = "Service Unavailable"


class BadGateway(TourkgError):
    """The remote SPARQL engine (``--store sparql:URL``) failed or gave an answer that is not SPARQL."""

    status = 502
    title = "Bad Gateway"


class GatewayTimeout(TourkgError):
    """The remote SPARQL engine did not answer within the time limit."""

    status = 504
    title = "Gateway Timeout"


class DataError(TourkgError):
    """A data, shapes or ontology file cannot be read or parsed; names file, line and column."""

    status = 500
    title = "Unreadable Data"

    def __init__(self, message: str, path: str = "", line: int | None = None, column: int | None = None):
        where = path + (f":{line}" if line else "") + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.line, self.column = path, line, column


class NotSupported(TourkgError):
    """The store backend cannot do this operation."""

    status = 501
    title = "Not Implemented"


class StartupError(TourkgError):
    """The server refuses to start: unreadable input (exit 2) or data that does not conform (exit 1)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


_SNIPPET_WIDTH = 100
#: Oxigraph's parser message: ``error at LINE:COLUMN: what was expected`` (1-based, in characters).
_PARSER_POSITION = re.compile(r"^error at (\d+):(\d+): (.*)$", re.DOTALL)


#: A character-class alternative in the parser's list (``['A' ..= 'Z' | ...]``): it means "a name".
_CHAR_CLASS = re.compile(r"\['.*?'\]", re.DOTALL)


def _plain_expectations(detail: str) -> str:
    """Oxigraph lists what it expected, including Unicode character ranges that read as noise; say
    "a name" or "a digit" instead and keep the rest."""
    def name(found: re.Match[str]) -> str:
        return "a digit" if found[0] == "['0'..='9']" else "a name"
    plain = _CHAR_CLASS.sub(name, detail)
    return re.sub(r"\s*\n\s*", " ", plain)


def readable_syntax_error(text: str, message: str) -> str:
    """Reword the parser's ``error at L:C: msg`` for a person: the position in words, then the offending
    line with a caret under the column (plain text; the query page shows it preformatted)."""
    found = _PARSER_POSITION.match(message)
    if not found:
        return f"Malformed query: {message}"
    line_no, column, detail = int(found[1]), int(found[2]), _plain_expectations(found[3])
    lines = text.split("\n")
    # Tabs count as one column for the parser, so they become one space to keep the caret aligned.
    line = lines[min(max(line_no, 1), len(lines)) - 1].rstrip("\r").expandtabs(1)
    offset = min(max(column - 1, 0), len(line))
    start = max(0, offset - _SNIPPET_WIDTH // 2)  # a one-line query may be thousands of characters
    snippet = line[start:start + _SNIPPET_WIDTH]
    caret = " " * (offset - start) + "^"
    return f"Malformed query at line {line_no}, column {column}: {detail}\n\n    {snippet}\n    {caret}"
