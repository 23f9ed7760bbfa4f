"""Write the pinned constraints file from a freshly resolved environment (``make lock``)."""

import subprocess
import sys
from pathlib import Path

HEADER = """# Every dependency pinned (runtime, tests, benchmark, audit): pip constraints for make and CI.
# Update: `make lock` (resolves the newest versions pyproject.toml allows in a fresh environment),
# then `make test` and `make audit`, and commit this file.
"""
SKIP = {"pip", "setuptools", "wheel", "tourkg"}

venv, target = Path(sys.argv[1]), Path(sys.argv[2])
frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
                        capture_output=True, text=True, check=True).stdout
pins = sorted((line for line in frozen.splitlines() if "==" in line
               and line.split("==")[0].lower() not in SKIP), key=str.lower)
target.write_text(HEADER + "\n".join(pins) + "\n")
print(f"{target}: {len(pins)} pinned")
