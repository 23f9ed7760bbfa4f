"""The SPARQL texts the remote engine sends, in one place (as trifid keeps its queries in one config).

Placeholders: ``{node}``, ``{predicate}``: IRIs in angle brackets, already checked to be IRIs;
``{values}``: a list of such IRIs; ``{where}``: ``GRAPH ?g {{ ... }}`` when the endpoint has named graphs,
or the bare pattern when all its data is in its default graph; ``{limit}``, ``{offset}``: integers.
Every text is plain SPARQL 1.1 Query, so any endpoint answers it (Oxigraph, Fuseki, QLever, Virtuoso,
GraphDB).
"""

#: The endpoint's named graphs (the empty group matches every graph of the dataset).
GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { } } ORDER BY ?g"
#: Whether the endpoint's default graph holds anything (a union default graph, or data of its own).
DEFAULT_HAS_DATA = "ASK { ?s ?p ?o }"
#: A sample of subjects, to infer the data's namespace when none is given.
SUBJECT_SAMPLE = "SELECT ?s WHERE {{ {where} }} LIMIT 2000"

#: Existence of an IRI as a subject or an object.
EXISTS = "ASK {{ {{ {node} ?p ?o }} UNION {{ ?s ?p {node} }} }}"

#: Values per predicate, out of and into a resource.
COUNT_OUT = "SELECT ?p (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {where} }} GROUP BY ?p"
#: All statements of the predicates that have few values (``{values}``: those predicates).
STATEMENTS = "SELECT ?p ?x ?g WHERE {{ VALUES ?p {{ {values} }} {where} }}"
#: The first values of one predicate, in a stable order.
PAGE = "SELECT DISTINCT ?x WHERE {{ {where} }} ORDER BY ?x LIMIT {limit} OFFSET {offset}"
#: How many distinct values one predicate has.
COUNT_ONE = "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {where} }}"
#: The graphs stating given values of one predicate.
GRAPHS_OF = "SELECT ?x ?g WHERE {{ VALUES ?x {{ {values} }} {where} }}"
#: The blank nodes reachable from a resource, with their statements (one answer, so labels agree).
BLANK_CLOSURE = ("SELECT ?s ?p ?o ?g WHERE {{ {node} ?first ?b FILTER(isBlank(?b)) "
                 "?b (<urn:x-tourkg:any>|!<urn:x-tourkg:any>)* ?s FILTER(isBlank(?s)) {where} }} LIMIT 2000")
#: Statements of given subjects through given predicates (labels, types, provenance).
OF_SUBJECTS = "SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {values} }} VALUES ?p {{ {predicates} }} {where} }}"

#: Statistics (the service description, VoID and the landing page).
STATS = {
    "triples": "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }",
    "subjects": "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }",
    "objects": "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }",
}
CLASSES = "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?k } GROUP BY ?k"
PROPERTIES = "SELECT ?k (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?k ?o WHERE { ?s ?k ?o } } GROUP BY ?k"
GRAPH_SIZES = "SELECT ?k (COUNT(*) AS ?n) WHERE { GRAPH ?k { ?s ?p ?o } } GROUP BY ?k"

#: The dumps, streamed from the engine: the merge of all graphs (each triple once), and every quad.
ALL_TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
ALL_QUADS = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"

#: Every label of every IRI subject, with its types (the remote engine's search index).
SEARCH_LABELS = (
    "SELECT DISTINCT ?s ?label ?type WHERE { VALUES ?p { <http://www.w3.org/2000/01/rdf-schema#label> "
    "<https://schema.org/name> <http://www.w3.org/2004/02/skos/core#prefLabel> "
    "<http://www.w3.org/2004/02/skos/core#altLabel> <https://schema.org/alternateName> "
    "<http://purl.org/dc/terms/title> <https://schema.org/headline> } ?s ?p ?label "
    "FILTER(isIRI(?s) && isLiteral(?label)) OPTIONAL { ?s a ?type } }"
)
