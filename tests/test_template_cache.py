"""Compiled templates kept between runs (``tourkg.web.template_cache``): a start reads them instead of
compiling, an edited template is compiled again, and a cache that cannot be written changes nothing."""

from __future__ import annotations

import sys

from jinja2 import DictLoader, Environment

from tourkg.config import build_settings
from tourkg.web import build_app
from tourkg.web.template_cache import FOLDER, _Cache, bytecode_cache, compile_all


def test_the_app_reads_the_templates_compiled_ahead_without_compiling_them(tmp_path, monkeypatch):
    assert compile_all(tmp_path) >= 10 and len(list(tmp_path.glob("__jinja2_*.cache"))) >= 10
    monkeypatch.setattr("tourkg.web.template_cache.FOLDER", tmp_path)
    app = build_app(build_settings({}))
    app.jinja_env.bytecode_cache = bytecode_cache(tmp_path)

    def no_compiling(*_args, **_kwargs):
        raise AssertionError("compiled a template the cache holds")

    monkeypatch.setattr(app.jinja_env, "compile", no_compiling)
    for name in ("page.html", "index.html", "sparql.html", "sitemap.xml"):
        assert app.jinja_env.get_template(name) is not None


def test_the_server_uses_the_cache_beside_the_compiled_modules():
    cache = build_app(build_settings({})).jinja_env.bytecode_cache
    assert FOLDER.parent.name == "__pycache__"
    assert cache is None or cache.directory == str(FOLDER)


def test_an_edited_template_is_compiled_again(tmp_path):
    sources = {"t.html": "first {{ x }}"}
    first = Environment(loader=DictLoader(sources), bytecode_cache=_Cache(tmp_path, write=True))
    assert first.get_template("t.html").render(x=1) == "first 1"
    sources["t.html"] = "second {{ x }}"
    again = Environment(loader=DictLoader(sources), bytecode_cache=_Cache(tmp_path, write=True))
    assert again.get_template("t.html").render(x=2) == "second 2"


def test_nothing_is_written_under_pythondontwritebytecode(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert bytecode_cache(tmp_path / "missing") is None  # and no folder made
    assert not (tmp_path / "missing").exists()
    cache = bytecode_cache(tmp_path)  # an existing folder is still read
    assert cache is not None
    Environment(loader=DictLoader({"t.html": "x"}), bytecode_cache=cache).get_template("t.html")
    assert list(tmp_path.iterdir()) == []


def test_a_cache_that_cannot_be_read_or_written_only_means_compiling(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    env = Environment(loader=DictLoader({"t.html": "ok {{ x }}"}), bytecode_cache=_Cache(blocked, write=True))
    assert env.get_template("t.html").render(x=3) == "ok 3"
