"""Schemathesis against the real stack: both services, directly and via the gateway.

Every operation of each service's OpenAPI schema, every check (server errors,
status codes, content types, response schemas, positive data accepted,
negative data refused, auth not ignored, stateful links...), with alice's real
login token; a bounded number of examples per operation (``FUZZ_MAX_EXAMPLES``,
default 10) and a fixed seed (``FUZZ_SEED``) keep the run short and repeatable.
Any failure fails the test with schemathesis's report (each with a curl line).
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.stack import Stack
from tests.e2e.conftest import BACKENDS

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "10")
SEED = os.environ.get("FUZZ_SEED", "1")


def schemathesis(stack: Stack, service: str, base_url: str, workdir: Path) -> str:
    """Run schemathesis on ``service``'s schema against ``base_url``; its output.

    Raise ``AssertionError`` with the report if it found anything.
    """
    token = stack.login("alice")["access"]
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{stack.url(service)}/api/schema/",
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        # Threads would trip CPython 3.11's "AST constructor recursion depth
        # mismatch" in hypothesis; the stack is the bottleneck anyway.
        "--workers",
        "1",
        "--generation-database",
        "none",
    ]
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-30_000:] + result.stderr[-5_000:]
    return result.stdout


@pytest.mark.parametrize("stack", BACKENDS[-1:], indirect=True)
@pytest.mark.parametrize("via", ["direct", "gateway"])
@pytest.mark.parametrize("service", ["orders", "customers"])
def test_schemathesis_finds_nothing(stack, service, via, tmp_path, capsys):
    base_url = stack.url("gateway" if via == "gateway" else service)
    started = time.monotonic()
    output = schemathesis(stack, service, base_url, tmp_path)
    elapsed = time.monotonic() - started
    generated = int(re.search(r"(\d+) generated", output).group(1))
    with capsys.disabled():
        print(
            f"\nschemathesis {service} via {via}: {generated} generated requests, "
            f"0 failures, {elapsed:.1f} s"
        )
    assert generated > 100
