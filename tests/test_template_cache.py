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
    app = build_app(build_settings({}))
    app.jinja_env.bytecode_cache = bytecode_cache(tmp_path)

    def no_compiling(*_args, **_kwargs):
        raise AssertionError("compiled a template the cache holds")

    monkeypatch.setattr(app.jinja_env, "compile", no_compiling)
    for name in ("page.html", "index.html", "sparql.html", "sitemap.xml"):
        assert app.jinja_env.get_template(name) is not None


def test_the_server_uses_the_cache_beside_the_compiled_modules():
    cache = build_app(build_settings({})).jinja_env.bytecode_cache
    assert FOLDER.parent.name == "__pycache__" and FOLDER.name.startswith("templates-")
    if sys.dont_write_bytecode and not FOLDER.is_dir():  # nothing compiled ahead, nothing to write
        assert cache is None
    else:
        assert cache is not None and cache.directory == str(FOLDER)


def test_a_change_to_the_code_around_the_templates_starts_a_new_folder(tmp_path, monkeypatch):
    """Jinja checks a template's source, not the filters and options compiled into it with the
    template: the folder is named after the web modules, so changing one never serves old code."""
    from tourkg.web import template_cache

    module = tmp_path / "filters.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(template_cache, "_WEB", tmp_path)
    first = template_cache._code_key()
    module.write_text("x = 22\n")
    assert template_cache._code_key() != first
    old, new = tmp_path / "__pycache__" / "templates-old", tmp_path / "__pycache__" / "templates-new"
    old.mkdir(parents=True)
    assert bytecode_cache(new) is not None or sys.dont_write_bytecode
    if not sys.dont_write_bytecode:
        assert new.is_dir() and not old.exists()  # the folders of code that is gone are removed


def test_a_corrupt_compiled_template_is_compiled_again(tmp_path):
    env = Environment(loader=DictLoader({"t.html": "fine {{ x }}"}), bytecode_cache=_Cache(tmp_path, True))
    env.get_template("t.html")
    for cached in tmp_path.glob("__jinja2_*"):
        cached.write_bytes(cached.read_bytes()[:40] + b"garbage")
    again = Environment(loader=DictLoader({"t.html": "fine {{ x }}"}), bytecode_cache=_Cache(tmp_path, True))
    assert again.get_template("t.html").render(x=4) == "fine 4"


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
