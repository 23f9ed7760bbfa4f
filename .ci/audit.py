"""Audit the pinned dependencies with pip-audit, and say plainly when no audit could be made.

pip-audit exits 0 when the advisory service cannot be reached (every package is then "not found"), which
would read as a clean bill of health. Here: any known vulnerability fails (exit 1); an unreachable
service is reported as NOT AUDITED (exit 0, since the code is not at fault, but the log says so loudly);
otherwise the number of packages audited is printed.
"""

import json
import subprocess
import sys

constraints = sys.argv[1]
result = subprocess.run([sys.executable, "-m", "pip_audit", "-r", constraints, "--no-deps", "--disable-pip",
                         "--progress-spinner", "off", "--format", "json"], capture_output=True, text=True)
try:
    report = json.loads(result.stdout or "{}")
except ValueError:
    report = {}
packages = report.get("dependencies", [])
audited = [p for p in packages if "skip_reason" not in p]
vulnerable = [p for p in audited if p.get("vulns")]
for package in vulnerable:
    ids = ", ".join(v["id"] + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
                    for v in package["vulns"])
    print(f"VULNERABLE: {package['name']} {package['version']}: {ids}")
if vulnerable:
    sys.exit(1)
if not audited:
    reason = next((p.get("skip_reason") for p in packages), None) or result.stderr.strip()[-300:]
    print(f"NOT AUDITED: the advisory service could not be reached from this machine ({reason}). "
          f"Run `make audit` where PyPI's JSON API is reachable.")
    sys.exit(0)
print(f"audit: {len(audited)} pinned packages, no known vulnerability "
      f"({len(packages) - len(audited)} not found on the advisory service)")
