"""The soak script (``make soak``) in its 30-second version: a mixed workload at 32 connections against a
real server; it fails on any unexpected status (a 5xx other than the deliberate 503s), a traceback, a
server that stops, or memory growing too much."""

import subprocess
import sys

import pytest
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


def test_thirty_second_soak():
    # Memory over 30 s is noisier than over 10 minutes (the 10 % bound is for `make soak`'s run).
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--seconds", "30",
                             "--max-growth", "25"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Unexpected: 0" in result.stdout
    for kind in ("page en", "page es", "data .jsonld", "303 rdf", "304", "select csv",
                 "ask sparql-results+xml", "construct turtle", "dump gzip", "404", "syntax error", "runaway"):
        assert f"| {kind} |" in result.stdout
