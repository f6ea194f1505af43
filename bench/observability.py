"""The bench's extra gateways: one with metrics off, one tracing to a local receiver.

Each is one more gateway_project server (as production runs it) on the stack's
databases, keys and services, on a port of its own (docs/observability.md "Cost"). The
traced one exports its spans to an OTLP/HTTP receiver in this process
(devstack/otlp.py), which parses and counts them.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from bench.harness import OBSERVABILITY_VARIANTS
from devstack.otlp import Receiver
from devstack.stack import Stack, answers_healthz, free_port, serve


@dataclass
class ExtraGateways:
    """The gateways of the chosen observability variants, by variant name."""

    stack: Stack
    variants: list[str]
    urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    receiver: Receiver | None = None

    def start(self) -> None:
        """Start one gateway per chosen variant and wait until each is healthy."""
        for variant in self.variants:
            if variant not in OBSERVABILITY_VARIANTS:
                continue
            env = {**self.stack.env, **OBSERVABILITY_VARIANTS[variant]}
            # Never the main gateway's metrics directory (a start empties it).
            env["PROMETHEUS_MULTIPROC_DIR"] = str(
                self.stack.workdir / f"metrics-{variant}"
            )
            for name in (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ):
                env.pop(name, None)
            if variant == "gateway_traced":
                self.receiver = self.receiver or Receiver(keep_spans=False)
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.receiver.url
            port = free_port()
            self.processes[variant] = serve(
                "gateway_project",
                f"127.0.0.1:{port}",
                env=env,
                log_path=self.stack.workdir / f"{variant}.log",
                workers=env.get("E2E_WORKERS", "1"),
                threads=env.get("E2E_THREADS", "8"),
            )
            self.urls[variant] = f"http://127.0.0.1:{port}"
        for variant in self.processes:
            self._wait(variant)

    def _wait(self, variant: str) -> None:
        if answers_healthz(self.urls[variant], self.processes[variant]):
            return
        raise RuntimeError(f"the {variant} gateway did not start")

    def spans_received(self) -> int:
        """Return how many spans the traced gateway exported so far."""
        return self.receiver.received if self.receiver else 0

    def stop(self) -> None:
        """Stop the gateways and the receiver."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.receiver:
            self.receiver.close()
