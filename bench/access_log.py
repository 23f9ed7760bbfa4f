"""What the access log costs a prepared answer: tourkg on a 1k dataset with its access log going to a
file, to a pipe (as to journald or a terminal), and with ``--no-access-log``, driven in turn by wrk
(8 connections) on one resource and on the small gzip dump. Reports requests/s and the CPU time of
tourkg's whole process tree per request, and writes docs/access-log.md.

    .venv/bin/python bench/access_log.py [--rounds 6] [--seconds 4]

Nothing here is a test: no figure is asserted. Each round measures every server once, alternating the
order (this machine is shared); the figures are the rounds' medians. Run it on an earlier commit
(``PYTHONPATH=<its checkout>/src``) to compare two versions of the log.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import run  # noqa: E402
import synthetic  # noqa: E402

CONNECTIONS = 8
WORKLOADS = {"one resource, /data ….ttl": (f"/data/{run.RESOURCE}.ttl", {}),
             "dump .nt gzip": ("/dump.nt", {"Accept-Encoding": "gzip"})}


@dataclass
class Variant:
    name: str
    args: tuple[str, ...]
    pipe: bool = False
    proc: subprocess.Popen | None = None
    reader: subprocess.Popen | None = None
    url: str = ""
    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)


def start(variant: Variant, data: Path, work: Path) -> None:
    port = run.free_port()
    command = [str(run.BIN / "tourkg"), "serve", "--port", str(port), "--data", str(data), "--cache-dir",
               str(work / "cache"), *variant.args]
    if variant.pipe:  # a reader of its own, as journald: its CPU is not tourkg's
        variant.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        variant.reader = subprocess.Popen(["cat"], stdin=variant.proc.stderr, stdout=subprocess.DEVNULL)
    else:
        log = (work / f"{variant.name.replace(' ', '-')}.log").open("ab")
        variant.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    variant.url = f"http://127.0.0.1:{port}"
    run.wait_for(lambda: requests.get(variant.url + "/robots.txt", timeout=5).status_code == 200, 120)
    for path, headers in WORKLOADS.values():  # prepared before the first measurement
        assert requests.get(variant.url + path, headers=headers, timeout=30).status_code == 200


def measure(variant: Variant, name: str, seconds: float) -> None:
    path, headers = WORKLOADS[name]
    assert variant.proc is not None
    before = run.cpu_seconds(variant.proc.pid)
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run([*command, variant.url + path], capture_output=True, text=True, check=True).stdout
    used = run.cpu_seconds(variant.proc.pid) - before
    count = int(re.search(r"(\d+) requests in", out)[1])
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    variant.rates.setdefault(name, []).append(count / seconds)
    variant.cpu.setdefault(name, []).append(used / count * 1e6)
    run.settle(variant.proc)


def report(variants: list[Variant], rounds: int, seconds: float) -> str:
    lines = ["# What the access log costs", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; reproduce with `.venv/bin/python bench/access_log.py` "
             f"(1k triples, wrk with {CONNECTIONS} connections, {rounds} rounds of {seconds:g} s, "
             "alternating the order; medians, with the rounds' lowest and highest CPU figures in brackets). "
             "CPU is tourkg's whole process tree (supervisor, engine, web workers) per request answered; "
             "the pipe's reader is not counted.", "",
             "| workload | access log | requests/s | CPU per request (µs) | ÷ no log |",
             "|---|---|---:|---:|---:|"]
    bare = variants[-1]
    for name in WORKLOADS:
        for variant in variants:
            cpu = variant.cpu[name]
            ratio = statistics.median(cpu) / statistics.median(bare.cpu[name])
            lines.append(f"| {name} | {variant.name} | {statistics.median(variant.rates[name]):,.0f} | "
                         f"{statistics.median(cpu):.1f} ({min(cpu):.1f}–{max(cpu):.1f}) | {ratio:.2f}× |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "access-log.md")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is needed (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="tourkg-access-log-"))
    data = synthetic.write(work / "synthetic-1k.ttl", 1000)
    variants = [Variant("to a file", ()), Variant("to a pipe", (), pipe=True),
                Variant("none (--no-access-log)", ("--no-access-log",))]
    try:
        for variant in variants:
            start(variant, data, work)
        for number in range(options.rounds):
            for variant in variants if number % 2 == 0 else variants[::-1]:
                for name in WORKLOADS:
                    measure(variant, name, options.seconds)
        text = report(variants, options.rounds, options.seconds)
        options.out.write_text(text)
        print(text)
    finally:
        for variant in variants:
            if variant.proc is not None:
                run.stop(variant.proc)
            if variant.reader is not None:
                variant.reader.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
