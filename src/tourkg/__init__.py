"""tourkg: publish an RDF knowledge graph as Linked Data with a SPARQL endpoint.

Kept import-light on purpose: query worker processes import this package and must start fast.
"""

__version__ = "0.1.0"
