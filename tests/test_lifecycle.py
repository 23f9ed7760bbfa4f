"""No process outlives the server (issue 8): after SIGTERM, SIGINT or SIGKILL of the top process, every
web worker and the engine process exit within a few seconds, even when busy. Real servers on loopback,
under load, with runaway queries in flight; health answers while serving."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from tests.conftest import ROOT, free_port
from tests.test_sparql_limits import RUNAWAY

EXIT_WITHIN = 5.0


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc: children of children too)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # its own session: a SIGKILL of the top process leaves the others to fend for themselves, as in life
    proc = subprocess.Popen([sys.executable, "-m", "tourkg", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "2", "--query-timeout", "30", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def load(url: str, stop: threading.Event) -> list[threading.Thread]:
    """Pages and runaway queries in flight: every process is busy when the signal comes."""
    def pages():
        session = requests.Session()
        while not stop.is_set():
            try:
                session.get(url + "/page/country/panama", timeout=5)
            except requests.RequestException:
                return

    def runaway():
        try:
            requests.post(url + "/sparql", data={"query": RUNAWAY}, timeout=60)
        except requests.RequestException:
            pass

    threads = [threading.Thread(target=pages) for _ in range(4)] + [threading.Thread(target=runaway)
                                                                    for _ in range(2)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["KILL", "TERM", "INT"])
def test_no_process_outlives_the_server(sig):
    proc, url = start()
    stop = threading.Event()
    threads = load(url, stop)
    try:
        time.sleep(1.0)
        below = descendants(proc.pid)
        assert len(below) >= 3  # two web workers and the engine at least
        os.kill(proc.pid, sig)
        proc.wait(30)
        deadline = time.monotonic() + EXIT_WITHIN
        while time.monotonic() < deadline and any(alive(pid) for pid in below):
            time.sleep(0.1)
        left = [pid for pid in below if alive(pid)]
        assert left == [], f"still running {EXIT_WITHIN} s after {sig.name}: {left}"
        if sig is not signal.SIGKILL:
            assert proc.returncode in (0, -sig), proc.returncode
    finally:
        stop.set()
        for pid in descendants(proc.pid) | {proc.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for thread in threads:
            thread.join(60)


def test_health_and_readiness():
    proc, url = start()
    try:
        alive_answer = requests.get(url + "/healthz")
        assert alive_answer.status_code == 200 and alive_answer.text == "ok\n"
        assert alive_answer.headers["Cache-Control"] == "no-store"
        ready = requests.get(url + "/readyz")
        assert ready.status_code == 200 and ready.text.startswith("ready")
        assert requests.head(url + "/readyz").status_code == 200
        assert requests.post(url + "/healthz").status_code == 405
        robots = requests.get(url + "/robots.txt").text
        assert "Disallow: /healthz" in robots and "Disallow: /readyz" in robots
        assert "healthz" not in requests.get(url + "/sitemap.xml").text
        # the engine gone (as when it restarts after an overrun): not ready, and says why
        engine = [pid for pid in descendants(proc.pid) if "tourkg.engines.process" in
                  Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
        assert engine
        os.kill(engine[0], signal.SIGSTOP)
        try:
            # every worker (new connections reach both), whether or not it already holds a connection
            # to the engine: a stuck engine never hangs a request (found: a new connection's handshake
            # waited for ever)
            for _ in range(6):
                started = time.monotonic()
                stopped = requests.get(url + "/readyz", timeout=30)
                assert stopped.status_code == 503 and "engine" in stopped.text
                assert stopped.headers["Retry-After"] and time.monotonic() - started < 10
            assert requests.get(url + "/healthz").status_code == 200  # alive all the same
        finally:
            os.kill(engine[0], signal.SIGCONT)
        assert requests.get(url + "/readyz").status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)
