"""Blueprint `resources` (being written in this change)."""

from flask import Blueprint

bp = Blueprint("resources", __name__)
