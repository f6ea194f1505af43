"""``make chaos`` in its short form: one minute of faults under load, then the
invariants (chaos/run.py), on its own PostgreSQL cluster and Redis server."""

import subprocess
import sys

from devstack.stack import ROOT


def test_a_minute_of_chaos_keeps_every_invariant():
    result = subprocess.run(
        [sys.executable, "-m", "chaos.run", "--duration", "60", "--seed", "20261201"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-15000:] + result.stderr[-5000:]
    assert "[FAIL]" not in result.stdout
    assert result.stdout.count("[OK]") >= 8
