"""Blueprint `dataset` (being written in this change)."""

from flask import Blueprint

bp = Blueprint("dataset", __name__)
