"""The ``tourkg`` command line: ``serve``, ``validate``, ``query`` and ``dump``. Thin: each command builds
``Settings``, calls the domain layer, prints and sets the exit code."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from tourkg import formats
from tourkg.config import SETTINGS, build_settings
from tourkg.errors import DataError, NotAcceptable

_HELP = {s.name: s.help for s in SETTINGS}
_PATH = click.Path(path_type=Path)


def _settings(**flags: Any):
    multi = {k: v for k, v in flags.items() if k in ("data", "shapes", "ontology")}
    flags = {k: v for k, v in flags.items() if k not in multi}
    flags.update({k: v for k, v in multi.items() if v})
    return build_settings(flags)


def data_options(func):
    """``--data``, ``--shapes`` and ``--ontology``, each repeatable."""
    func = click.option("--ontology", multiple=True, type=_PATH, help="Ontology file (repeatable).")(func)
    func = click.option("--shapes", multiple=True, type=_PATH, help="SHACL shapes file (repeatable).")(func)
    return click.option("--data", multiple=True, type=_PATH, help="Data file (repeatable); default: the "
                        "tour.")(func)


@click.group()
@click.version_option(package_name="tourkg")
def main() -> None:
    """tourkg: publish an RDF knowledge graph as Linked Data with a SPARQL endpoint."""


@main.command()
@data_options
@click.option("--format", "output", type=click.Choice(["text", "turtle"]), default="text",
              help="text: a readable report; turtle: the SHACL validation report graph.")
def validate(data, shapes, ontology, output) -> None:
    """Validate the data with the SHACL shapes. Exit 0: conforms; 1: violations; 2: unreadable input."""
    from tourkg import loader
    from tourkg.validate import validate as run_validation

    settings = _settings(data=data, shapes=shapes, ontology=ontology)
    try:
        loaded = loader.load(settings, ontology=False)
    except DataError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    if not loaded.shapes:
        click.echo("error: no shapes to validate with (use --shapes FILE)", err=True)
        sys.exit(2)
    report = run_validation(loaded)
    if output == "turtle":
        click.echo(report.graph.serialize(format="turtle"))
    else:
        click.echo(report.text)
    sys.exit(0 if report.conforms else 1)


@main.command()
@data_options
@click.option("--host", default=None, help=_HELP["host"])
@click.option("--port", type=int, default=None, help=_HELP["port"])
@click.option("--base-uri", default=None, help=_HELP["base_uri"])
@click.option("--data-base-uri", default=None, help=_HELP["data_base_uri"])
@click.option("--query-timeout", type=float, default=None, help=_HELP["query_timeout"])
@click.option("--max-result-rows", type=int, default=None, help=_HELP["max_result_rows"])
@click.option("--max-query-length", type=int, default=None, help=_HELP["max_query_length"])
@click.option("--query-slots", type=int, default=None, help=_HELP["query_slots"])
@click.option("--query-queue", type=int, default=None, help=_HELP["query_queue"])
@click.option("--query-queue-wait", type=float, default=None, help=_HELP["query_queue_wait"])
@click.option("--client-queries", type=int, default=None, help=_HELP["client_queries"])
@click.option("--workers", "web_workers", type=int, default=None, help=_HELP["web_workers"])
@click.option("--threads", "web_threads", type=int, default=None, help=_HELP["web_threads"])
@click.option("--store", default=None, help=_HELP["store"])
@click.option("--cache-dir", default=None, help=_HELP["cache_dir"])
@click.option("--engine-allocator", default=None, help=_HELP["engine_allocator"])
@click.option("--proxy-hops", type=int, default=None, help=_HELP["proxy_hops"])
@click.option("--accel-redirect", default=None, help=_HELP["accel_redirect"])
@click.option("--dumps-link", default=None, help=_HELP["dumps_link"])
@click.option("--title", default=None, help=_HELP["title"])
@click.option("--description", default=None, help=_HELP["description"])
@click.option("--license", default=None, help=_HELP["license"])
@click.option("--publisher", default=None, help=_HELP["publisher"])
@click.option("--examples", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of example queries (.rq files starting with '# title: ...'); default: the "
                   "tour's, none for other data.")
@click.option("--no-validate", is_flag=True, help="Serve even when the data does not conform to the shapes.")
@click.option("--watch", is_flag=True, help="Reload when a data, shapes or ontology file changes (as on "
              "SIGHUP): prepared aside, swapped in at once, refused (old data kept) when it does not load "
              "or conform.")
@click.option("--access-log/--no-access-log", default=True, help="One line per request on stderr.")
def serve(no_validate: bool, watch: bool, access_log: bool, **flags: Any) -> None:
    """Serve the dataset: SPARQL endpoint, linked-data pages and dumps, one web worker per core. SIGHUP
    reloads the data without downtime; SIGTERM or SIGINT stops after the requests in flight."""
    from tourkg.errors import StartupError
    from tourkg.ports import check_port

    settings = _settings(**flags).replace(validate=not no_validate)
    try:
        check_port(settings.host, settings.port)
        from tourkg.dumps_link import check

        check(settings.dumps_link, settings.store)
        from tourkg.engines.spawn import early_engine

        spare = early_engine(settings)  # before rdflib is imported here
        if spare is not None:
            # Large data: the load keeps both cores busy for seconds, and the web framework's imports
            # (0.3 s of CPU) beside it slowed it down by more than they delay it here, while the spare
            # engine starts: a million triples loaded in 4.57 s on average beside them, 3.97 s with
            # them here (8 paired first starts). On small data the SHACL gate is what the start waits
            # for: it goes first, and the imports run beside it.
            import tourkg.web.server  # noqa: F401
        from tourkg.dataset import start_dataset

        pending = start_dataset(settings, spare, defer_rest=True)  # the engine loads, the gate runs
        from tourkg.web.server import run

        run(settings, pending, watch=watch, access_log=access_log)
    except StartupError as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)


@main.command()
@data_options
@click.option("--format", "fmt", type=click.Choice([f.name for f in formats.RDF] + [f.extension for f in
              formats.RDF if f.extension != f.name]), default="ttl", help="Dump format.")
@click.option("-o", "--output", type=_PATH, default=None, help="Write to this file instead of stdout.")
@click.option("--base-uri", default=None, help=_HELP["base_uri"])
@click.option("--cache-dir", default=None, help=_HELP["cache_dir"])
@click.option("--merged-default-graph", is_flag=True, help="N-Quads only: also write, as the default graph, "
              "the merge of the named graphs (each triple once), for loading into a SPARQL engine served "
              "with --store sparql:URL whose union default graph repeats shared triples (Oxigraph 0.5).")
def dump(data, shapes, ontology, fmt, output, base_uri, cache_dir, merged_default_graph) -> None:
    """Write the whole dataset, byte for byte what the server's /dump.{ext} serves (the same prepared file,
    copied in blocks: never held in memory)."""
    import shutil

    from tourkg.engines.dumps import MERGED_NQ

    chosen = formats.by_name(fmt, formats.RDF)
    assert chosen is not None
    if merged_default_graph and chosen.extension != "nq":
        raise click.UsageError("--merged-default-graph goes with --format nq.")
    settings = _settings(data=data, shapes=shapes, ontology=ontology, base_uri=base_uri, cache_dir=cache_dir)
    with _opened(settings.replace(validate=False)) as dataset:
        wanted = replace(chosen, extension=MERGED_NQ) if merged_default_graph else chosen
        prepared = dataset.store.dump(wanted)
        with prepared.path.open("rb") as source:
            if output:
                with output.open("wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
            else:
                shutil.copyfileobj(source, sys.stdout.buffer, 1 << 20)


@main.command()
@data_options
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", default="http://localhost/", show_default=True,
              help="The public origin the export will be served from (sitemap, VoID and links name it).")
@click.option("--sparql-endpoint", default=None, help="A live SPARQL endpoint the exported query page sends "
              "its queries to.")
@click.option("--base-uri", default=None, help=_HELP["base_uri"])
@click.option("--cache-dir", default=None, help=_HELP["cache_dir"])
@click.option("--store", default=None, help=_HELP["store"])
@click.option("--examples", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of example queries, as for serve.")
@click.option("--with-in-browser-sparql", "in_browser", is_flag=True,
              help="Bundle Oxigraph's WebAssembly build (npm package oxigraph; needs npm) so the exported "
                   "query page runs queries in the browser.")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Processes rendering the resources (default: one per core, at most 4, for 200 or more).")
@click.option("--no-validate", is_flag=True, help="Export even when the data does not conform to the shapes.")
def export(target: Path, site: str, sparql_endpoint: str | None, in_browser: bool, processes: int | None,
           no_validate: bool, **flags: Any) -> None:
    """Write the whole site as static files into TARGET, byte for byte what the server answers, with
    nginx and Apache configurations for content negotiation; unchanged files are not rewritten."""
    from tourkg.export import ExportError
    from tourkg.export import export as run_export
    from tourkg.web import Publisher

    if not site.startswith(("http://", "https://")):
        raise click.UsageError("--site must be an http:// or https:// origin, e.g. https://data.example.org/")
    settings = _settings(**flags).replace(validate=not no_validate)
    with _opened(settings) as dataset:
        try:
            report = run_export(Publisher.of(dataset), target, site, sparql_endpoint, in_browser, processes)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"exported {report.line()} into {target}", err=True)
    for skipped in report.skipped:
        click.echo(f"not exported: {skipped}", err=True)


class _opened:  # noqa: N801 - a context manager that reads as a function
    """The dataset of ``settings``, opened (prepared, engine started) and closed again; start-up errors
    become click errors."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def __enter__(self) -> Any:
        from tourkg.dataset import open_dataset
        from tourkg.errors import StartupError

        try:
            self.dataset = open_dataset(self.settings)
        except StartupError as exc:
            raise click.ClickException(exc.message) from None
        return self.dataset

    def __exit__(self, *exc: object) -> None:
        self.dataset.close()


_QUERY_FORMATS = ["table", *sorted({n for f in formats.RESULTS + formats.RDF for n in (f.name, f.extension,
                                                                                     *f.aliases)})]


@main.command()
@click.argument("query", required=False)
@click.option("--file", "-f", "query_file", type=click.File(encoding="utf-8"), help="Read the query from "
              "this file ('-' for stdin).")
@click.option("--format", "fmt", type=click.Choice(_QUERY_FORMATS, case_sensitive=False), default="table",
              help="table (aligned text; Turtle for CONSTRUCT/DESCRIBE) or any result or RDF format.")
@data_options
@click.option("--query-timeout", type=float, default=None, help=_HELP["query_timeout"])
def query(query, query_file, fmt, data, shapes, ontology, query_timeout) -> None:
    """Run a SPARQL query on the data with the server's engine and limits; print the result."""
    from tourkg import sparql
    from tourkg.errors import TourkgError
    from tourkg.result_table import TABLE_FORMATS

    if bool(query) == bool(query_file):
        raise click.UsageError("Give the query either as an argument or with --file, not both.")
    settings = _settings(data=data, shapes=shapes, ontology=ontology, query_timeout=query_timeout)
    try:
        text = query or query_file.read()
        request = sparql.check_query(sparql.QueryRequest(text), settings.max_query_length)
        chosen = TABLE_FORMATS if fmt == "table" else sparql.formats_for_name(fmt)
        with _opened(settings.replace(validate=False)) as dataset:
            outcome = sparql.run_query(dataset.store, request, chosen)
            prefixes = dataset.prepared.prefixes if dataset.prepared else {}
    except NotAcceptable as exc:
        raise click.ClickException(_not_acceptable(exc, fmt)) from None
    except TourkgError as exc:
        stutters = exc.message.lower().startswith(exc.title.lower())  # "Malformed query at line ..."
        raise click.ClickException(exc.message if stutters else f"{exc.title}: {exc.message}") from None
    _print_outcome(outcome, fmt, prefixes)


def _print_outcome(outcome: Any, fmt: str, prefixes: dict[str, str]) -> None:
    """Write the answer: as the protocol would send it, or as a table (Turtle for graphs)."""
    from tourkg.result_table import render_text, to_table

    if fmt != "table":
        # JSON and JSON-LD end without a newline; a terminal prompt must not be glued to the output.
        sys.stdout.buffer.write(outcome.body if outcome.body.endswith(b"\n") else outcome.body + b"\n")
    elif outcome.form == "graph":
        click.echo(_turtle(outcome.body, prefixes), nl=False)
    else:
        click.echo(render_text(to_table(outcome), prefixes), nl=False)


def _not_acceptable(exc: NotAcceptable, fmt: str) -> str:
    """The 406 in the CLI's terms: the ``--format`` values that would work, not media types."""
    offers = [formats.by_media_type(m) for m in exc.offers]
    names = ", ".join(["table", *(f.name for f in offers if f is not None)])
    what = ("an ASK answer (JSON and XML define a boolean; CSV and TSV do not)" if offers and
            all(f in formats.BOOLEAN_RESULTS for f in offers) else "this query's result")
    return f"--format {fmt} cannot carry {what}; use --format {names}."


def _turtle(ntriples: bytes, prefixes: dict[str, str]) -> str:
    """Re-serialize N-Triples as Turtle with the dataset's prefixes, for reading in a terminal."""
    import pyoxigraph as ox

    from tourkg.engines.results import used_prefixes

    triples = list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES))
    turtle = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=used_prefixes(ntriples, prefixes))
    return (turtle or b"").decode()
