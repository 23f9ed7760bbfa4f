"""Blueprint `sparql` (being written in this change)."""

from flask import Blueprint

bp = Blueprint("sparql", __name__)
