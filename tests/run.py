"""Run every test suite, each in its own pytest process under its own settings.

Exit status is non-zero if any suite fails. Extra arguments go to every pytest
run (e.g. ``-x`` or ``-k name``); ``SUITES=gateway,e2e`` picks suites.
"""

import os
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "var" / "test-reports"

# The services of common/services.py, one suite each (tests/<name>).
SERVICES = runpy.run_path(str(ROOT / "common" / "services.py"))["SERVICES"]

# suite directory -> pytest arguments selecting its Django settings
SUITES = {
    "shared_auth": ["--ds=tests.shared_auth.settings"],
    "gateway": ["--ds=gateway_project.settings"],
    **{name: [f"--ds={name}_service.settings"] for name in SERVICES},
    "e2e": ["-p", "no:django"],
    "deploy": ["-p", "no:django"],
}
NO_TESTS_COLLECTED = 5


def main(argv: list[str]) -> int:
    wanted = [s for s in os.environ.get("SUITES", ",".join(SUITES)).split(",") if s]
    REPORTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VAR_DIR": str(ROOT / "var" / "test")}
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed_suites = []
    for suite in wanted:
        report = REPORTS / f"{suite}.xml"
        report.unlink(missing_ok=True)
        print(f"\n=== suite {suite} ===", flush=True)
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                f"tests/{suite}",
                *SUITES[suite],
                f"--junitxml={report}",
                *argv,
            ],
            cwd=ROOT,
            env=env,
        )
        if code not in (0, NO_TESTS_COLLECTED):
            failed_suites.append(suite)
        if report.exists():
            node = ET.parse(report).getroot().find("testsuite")
            tests, skipped = int(node.get("tests")), int(node.get("skipped"))
            bad = int(node.get("failures")) + int(node.get("errors"))
            totals["passed"] += tests - skipped - bad
            totals["failed"] += bad
            totals["skipped"] += skipped
    if failed_suites:
        print(f"\nfailed suites: {', '.join(failed_suites)}")
    print(
        f"\ntotal: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped"
    )
    return 1 if failed_suites or totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
