"""Prepare once: a dataset is known by the content hash of its files; a restart on unchanged files opens
what was prepared (snapshot, statistics, dumps, SHACL verdict, rendered pages) instead of doing it again,
and any changed byte prepares afresh."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import DATA, ROOT, free_port, running_server
from tourkg import prepare as prepare_module
from tourkg.config import build_settings
from tourkg.prepare import prepare


def settings_for(data: Path, cache: Path):
    return build_settings({"data": [str(data)], "cache_dir": str(cache)})


def wait_prepared(folder: Path, wait: float = 60.0) -> dict:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        meta = prepare_module.read_json(folder / "meta.json")
        if meta.get("prepared"):
            return meta
        time.sleep(0.1)
    pytest.fail("background preparation did not finish")


def serve_once(*args: str, until_prepared: Path | None = None, prepared_wait: float = 60.0) -> str:
    """Start, ask for a page, stop (once the background preparation of the datasets under
    ``until_prepared`` is done, when given: it runs below the requests in priority, and a server stopped
    before it ends leaves it for the next start); the server's log (stderr)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tourkg", "serve", "--port", str(port), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("tourkg: serving on")
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        if until_prepared is not None:
            wait_prepared(next(p for p in until_prepared.iterdir() if p.is_dir()), prepared_wait)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    return err


def test_the_key_is_the_content_not_the_name_or_time(tmp_path):
    data = tmp_path / "generic.ttl"
    shutil.copy(DATA / "generic.ttl", data)
    first = prepare(settings_for(data, tmp_path / "cache")).key
    data.touch()
    assert prepare(settings_for(data, tmp_path / "cache")).key == first
    data.write_text(data.read_text() + "\n# a changed byte\n")
    assert prepare(settings_for(data, tmp_path / "cache")).key != first


def test_restart_on_unchanged_data_opens_what_was_prepared(tmp_path):
    cache = tmp_path / "cache"
    args = ("--cache-dir", str(cache))
    first = serve_once(*args, until_prepared=cache)
    assert "loaded" in first and "in memory" in first
    folder = next(p for p in cache.iterdir() if p.is_dir())
    meta = wait_prepared(folder)
    record = json.loads((folder / "prepared.json").read_text())
    assert record["validation"]["conforms"] is True and meta["subjects"] > 0
    assert (folder / "store" / "tourkg-dataset.json").exists() and (folder / "dumps" / "dump.ttl.gz").exists()
    dumps_before = {p.name: p.stat().st_mtime_ns for p in (folder / "dumps").iterdir()}
    second = serve_once(*args)
    assert "loaded" not in second  # nothing parsed: the on-disk snapshot is opened
    assert "disk snapshot" in second
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "dumps").iterdir()} == dumps_before


def test_cached_verdict_still_refuses_non_conforming_data(tmp_path):
    args = ["serve", "--port", str(free_port()), "--data", str(DATA / "generic-invalid.ttl"), "--shapes",
            str(DATA / "generic.shapes.ttl"), "--cache-dir", str(tmp_path)]
    for _ in range(2):  # the second time from the kept verdict
        result = subprocess.run([sys.executable, "-m", "tourkg", *args], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 1 and "does not conform" in result.stderr


def test_rendered_pages_are_shared_between_workers_and_restarts(tmp_path):
    cache = tmp_path / "cache"
    with running_server("--cache-dir", str(cache)) as url:
        first = requests.get(url + "/page/country/panama", timeout=30)
    folder = next(p for p in cache.iterdir() if p.is_dir())
    kept = [p for p in (folder / "repr").rglob("*") if p.is_file() and p.read_bytes() == first.content]
    assert len(kept) == 1
    kept[0].write_bytes(first.content.replace(b"</body>", b"<!-- kept --></body>"))
    with running_server("--cache-dir", str(cache)) as url:  # read back, not rendered again
        assert b"<!-- kept -->" in requests.get(url + "/page/country/panama", timeout=30).content


def test_pages_are_rendered_again_when_what_they_show_changes(tmp_path):
    cache = tmp_path / "cache"
    with running_server("--cache-dir", str(cache)) as url:
        requests.get(url + "/", timeout=30)
    with running_server("--cache-dir", str(cache), "--title", "Another title") as url:
        assert "Another title" in requests.get(url + "/", timeout=30).text


def test_a_prepared_folder_in_use_is_never_removed(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(prepare_module, "KEEP", 1)
    first = tmp_path / "first.ttl"
    first.write_text("<http://example.org/id/a/1> <http://example.org/p> 1 .\n")
    held = prepare(settings_for(first, cache))
    handle = prepare_module.hold(held.folder)
    old = time.time() - 3600
    os.utime(held.folder, (old, old))
    second = tmp_path / "second.ttl"
    second.write_text("<http://example.org/id/a/2> <http://example.org/p> 2 .\n")
    prepare(settings_for(second, cache))
    assert held.folder.exists()
    handle.close()
    third = tmp_path / "third.ttl"
    third.write_text("<http://example.org/id/a/3> <http://example.org/p> 3 .\n")
    prepare(settings_for(third, cache))
    assert not held.folder.exists()


def test_old_prepared_folders_are_removed(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(prepare_module, "KEEP", 2)
    made = []
    for n in range(4):
        data = tmp_path / f"d{n}.ttl"
        data.write_text(f"<http://example.org/id/a/{n}> <http://example.org/p> {n} .\n")
        made.append(prepare(settings_for(data, cache)).folder)
        for folder in made:  # as if used long ago, so eviction may take them
            if folder != made[-1] and folder.exists():
                old = time.time() - 3600 - n
                os.utime(folder, (old, old))
    assert len([p for p in cache.iterdir() if p.is_dir()]) <= 2 and made[-1].exists()


def test_first_documents_render_while_the_gate_runs_and_a_refusal_stops_the_engine(tmp_path):
    """The server renders its first documents as soon as the engine is ready, while the SHACL gate may
    still run (the gate is the longest part of a first start); data the gate refuses is closed again:
    no engine process is left, and the caller gets the report."""
    from tourkg.dataset import PendingDataset
    from tourkg.errors import StartupError

    settings = build_settings({"data": [str(DATA / "generic-invalid.ttl")], "cache_dir": str(tmp_path),
                               "shapes": [str(DATA / "generic.shapes.ttl")]})
    pending = PendingDataset(settings)
    seen = []

    def meanwhile(dataset) -> None:
        assert pending.gate is not None and pending.gate.pid  # the gate has not been waited for yet
        seen.append(dataset.store.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"))

    with pytest.raises(StartupError) as refused:
        pending.finish(meanwhile)
    assert seen and refused.value.exit_code == 1 and "Every person needs a name." in refused.value.message
    assert pending.engine._process.poll() is not None  # stopped, not left running


def test_a_failed_open_leaves_no_process_pipe_or_hold_behind(tmp_path):
    """An engine that cannot load the files, or a renderer failing while the SHACL gate runs, stops the
    engine and the gate and closes every descriptor it opened: a reload of a broken file, over and over,
    must not leak."""
    from tourkg.dataset import PendingDataset
    from tourkg.errors import StartupError

    def open_descriptors() -> int:
        gc.collect()  # what earlier tests left to the collector is closed before counting
        return len(os.listdir("/proc/self/fd"))

    broken = build_settings({"data": [str(DATA / "generic-syntax-error.ttl")], "cache_dir": str(tmp_path),
                             "shapes": [str(DATA / "generic.shapes.ttl")]})
    fine = build_settings({"data": [str(DATA / "generic.ttl")], "cache_dir": str(tmp_path),
                           "shapes": [str(DATA / "generic.shapes.ttl")]})

    def failing(_dataset) -> None:
        raise RuntimeError("rendering failed")

    def children() -> set[str]:
        return {pid for task in os.listdir("/proc/self/task")
                for pid in open(f"/proc/self/task/{task}/children").read().split()}

    for settings, meanwhile, expected in ((broken, None, StartupError), (fine, failing, RuntimeError)):
        before, running = open_descriptors(), children()
        for _ in range(3):
            with pytest.raises(expected):
                PendingDataset(settings).finish(meanwhile)
        assert open_descriptors() <= before and children() <= running  # a leak: one more per attempt


def test_a_first_start_defers_the_rest_of_the_preparation_until_the_server_answers(tmp_path):
    """On a server's first start, the engine renders the other dumps and the snapshot only once told that
    the server answers (their CPU would go to the start); a dump asked for meanwhile is rendered at once;
    and ``tourkg serve`` does tell it."""
    from tourkg.dataset import PendingDataset
    from tourkg.engines.process import SERVING_WAIT
    from tourkg.formats import by_name

    settings = build_settings({"data": [str(DATA / "generic.ttl")], "cache_dir": str(tmp_path / "a")})
    dataset = PendingDataset(settings, defer_rest=True).finish()
    try:
        dataset.store.stats()  # the first preparation (statistics, N-Triples) is done, the rest waits
        time.sleep(1.0)
        assert dataset.store.status()["prepared"] is False
        assert not (dataset.dumps_folder / "dump.ttl").exists()
        assert dataset.store.dump(by_name("turtle")).path.exists()  # asked for: rendered at once
        dataset.serving()
        wait_prepared(dataset.prepared.folder, SERVING_WAIT / 3)  # told, not gone on by itself
        assert (dataset.prepared.folder / "store").is_dir()
        assert (dataset.dumps_folder / "dump.jsonld").exists()
    finally:
        dataset.close()
    served = tmp_path / "b"
    serve_once("--data", str(DATA / "generic.ttl"), "--cache-dir", str(served), until_prepared=served,
               prepared_wait=SERVING_WAIT / 2)  # well before the engine would go on by itself


def test_a_restart_from_the_snapshot_keeps_the_merged_default_graph(tmp_path, monkeypatch):
    """The tour states some triples in several graphs, so its default graph is stored as their merge. A
    restart opens the snapshot and loads the in-memory copy beside it; on data this small the copy can be
    done before the engine has read that the data is merged, and then its default graph was empty (a
    restarted engine answered ``ASK { ?s ?p ?o }`` with false). Here the copy runs at once, in the
    engine's own thread: the worst order of the two."""
    import threading

    from tourkg.dataset import PendingDataset
    from tourkg.engines import process, results

    settings = build_settings({"cache_dir": str(tmp_path)})
    dataset = PendingDataset(settings).finish()
    try:
        folder = dataset.prepared.folder
        wait_prepared(folder)
        plan = {"key": dataset.prepared.key, "prepared": str(folder), "mode": "memory",
                "inputs": list(dataset.prepared.inputs), "prefixes": dataset.prepared.prefixes}
    finally:
        dataset.close()
    assert json.loads((folder / "meta.json").read_text())["merged"] is True

    class AtOnce:
        def __init__(self, target, name=None, daemon=None, args=()):
            self.run = lambda: target(*args)

        def start(self):
            self.run()

    engine = process.Engine(plan)
    with monkeypatch.context() as patch:
        patch.setattr(threading, "Thread", AtOnce)
        patch.setattr(process.os, "setpriority", lambda *args: None)  # the copy's, not pytest's thread
        engine.open()
    assert engine.meta["engine"] == "in memory"  # the copy was swapped in during open()
    request = {"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", "results_format": "TSV", "max_rows": 10}
    status, body, _ = results.execute(engine.store, request, union=not engine.merged)
    assert status == "ok" and int(body.split(b"\n")[1].split(b"^^")[0].strip(b'"')) > 1000
