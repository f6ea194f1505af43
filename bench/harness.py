"""Pure functions of the bench: parsing, statistics, ratios and the table.

Nothing here starts a process or opens a socket, so all of it is unit tested
(tests/e2e/test_bench_harness.py).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

RESULT_MARKER = "BENCH_RESULT "

# Variants in the order they are measured (and printed).
VARIANTS: dict[str, str] = {
    "direct": "GET /api/orders/{id}/ direct to orders",
    "gateway": "GET /api/orders/{id}/ through the gateway",
    "nginx": "GET /api/orders/{id}/ through nginx (floor)",
    "gateway_post": "POST /api/orders/ through the gateway",
    # docs/observability.md "Cost": the same GET through gateways started apart.
    "gateway_nometrics": "GET /api/orders/{id}/ via a gateway, metrics off",
    "gateway_traced": "GET /api/orders/{id}/ via a gateway, tracing on",
}
# The variants that need a gateway process of their own, with its environment.
OBSERVABILITY_VARIANTS: dict[str, dict[str, str]] = {
    "gateway_nometrics": {"METRICS_ENABLED": "0"},
    "gateway_traced": {},  # + OTEL_EXPORTER_OTLP_ENDPOINT: the bench's receiver
}
# Issue 15's aims: metrics cost under 5% of throughput, tracing under 15%.
TARGET_METRICS_COST_PCT = 5.0
TARGET_TRACING_COST_PCT = 15.0

# Targets (issue 16), all measured by one run of ``make bench``.
TARGET_THROUGHPUT_RATIO_C16 = 0.65
TARGET_ADDED_P50_MS_C1 = 0.6
TARGET_P99_RATIO_C16 = 1.5
# Gateway RSS per worker after many proxied requests over its RSS after 1k.
TARGET_RSS_GROWTH = 1.1
TARGET_VERIFY_US = 100.0


@dataclass
class Measurement:
    """One load run: a variant at a number of connections, one repetition."""

    variant: str
    connections: int
    repetition: int
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    # Per service: % of its workers' CPU that its busiest gunicorn worker used.
    busiest_worker_pct: dict[str, float] = field(default_factory=dict)

    @property
    def other_cpu_pct(self) -> float:
        """Return the CPU that processes outside the bench used, in % of one core."""
        other = self.cpu_ms.get("other", 0.0)
        return 100 * other / (self.duration_s * 1e3) if self.duration_s else 0.0

    @property
    def rps(self) -> float:
        """Return the completed requests per second."""
        return self.requests / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict:
        """Return the measurement as JSON-ready data, with ``rps`` and CPU/request."""
        data = asdict(self)
        data["rps"] = round(self.rps, 1)
        data["cpu_ms_per_request"] = cpu_per_request(self.cpu_ms, self.requests)
        return data


def parse_wrk_output(stdout: str) -> dict:
    """Return the result that bench/wrk.lua's ``done()`` printed in ``stdout``.

    Raise ``ValueError`` if wrk printed no result line (it failed to run).
    """
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER) :])
            return {
                "requests": int(data["requests"]),
                "duration_s": data["duration_us"] / 1e6,
                "p50_ms": data["p50_us"] / 1e3,
                "p99_ms": data["p99_us"] / 1e3,
                "errors": {k: int(v) for k, v in data["errors"].items() if v},
            }
    raise ValueError(f"no {RESULT_MARKER.strip()} line in wrk output:\n{stdout}")


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (nearest rank) of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def parse_proc_stat(text: str) -> tuple[int, int]:
    """Return ``(ppid, utime + stime in clock ticks)`` from a /proc/<pid>/stat line.

    The command name (field 2) may hold spaces and parentheses, so fields are
    counted from its closing parenthesis.
    """
    fields = text[text.rindex(")") + 2 :].split()
    # After the name: state(3) ppid(4) ... utime(14) stime(15), 1-based.
    return int(fields[1]), int(fields[11]) + int(fields[12])


def parse_cpu_busy(proc_stat: str) -> int:
    """Return the machine's busy clock ticks (all but idle, iowait) from /proc/stat."""
    fields = [int(v) for v in proc_stat.splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    return sum(fields[:8]) - fields[3] - fields[4]


def cpu_delta_ms(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Return CPU milliseconds used between two snapshots, per name.

    ``machine`` (the whole machine) is replaced by ``other``: what the machine
    used beyond the named processes, i.e. load from outside the bench.
    """
    delta = {k: (after[k] - before[k]) * 1e3 for k in before}
    machine = delta.pop("machine", None)
    if machine is not None:
        delta["other"] = max(0.0, machine - sum(delta.values()))
    return {k: round(v, 1) for k, v in delta.items()}


def descendants(root: int, parents: dict[int, int]) -> set[int]:
    """Return ``root`` and every process below it, given ``{pid: ppid}``."""
    found = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    return found


def cpu_per_request(cpu_ms: dict[str, float], requests: int) -> dict[str, float]:
    """Return each process's CPU milliseconds per completed request."""
    if not requests:
        return {}
    return {name: round(ms / requests, 3) for name, ms in cpu_ms.items()}


def busiest_share_pct(
    before: dict[int, float], after: dict[int, float]
) -> float | None:
    """Return the % of the CPU of a service's workers that the busiest one used.

    ``before``/``after`` map each worker pid to its CPU so far. None with fewer
    than two workers or no CPU used. Near 100 with several workers means one
    worker accepted every connection (keep-alive connections stay with the
    worker that accepted them): that service then had a single core (the GIL).
    """
    used = [after[pid] - before.get(pid, 0.0) for pid in after]
    total = sum(used)
    if len(used) < 2 or total <= 0:
        return None
    return round(100 * max(used) / total, 1)


def parse_vm_rss_kb(status: str) -> int | None:
    """Return ``VmRSS`` in kB from a /proc/<pid>/status text (None if absent)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def rss_growth(before: dict[int, int], after: dict[int, int]) -> float | None:
    """Return the largest ``after / before`` RSS ratio of the workers in both.

    A worker present in only one snapshot (restarted meanwhile) is left out;
    None when no worker is in both.
    """
    ratios = [after[pid] / before[pid] for pid in after if before.get(pid)]
    return round(max(ratios), 3) if ratios else None


def median(values: Iterable[float]) -> float:
    """Return the median of ``values`` (0.0 for none)."""
    values = list(values)
    return statistics.median(values) if values else 0.0


def summarize(measurements: Sequence[Measurement]) -> dict[str, dict[int, dict]]:
    """Return ``{variant: {connections: row}}``, each row the median of repetitions.

    A row holds ``rps``, ``p50_ms``, ``p99_ms``, ``cpu_ms_per_request`` (per
    process), ``requests`` and ``errors`` (summed), and ``repetitions``.
    """
    groups: dict[tuple[str, int], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.variant, m.connections), []).append(m)
    table: dict[str, dict[int, dict]] = {}
    for (variant, conns), runs in groups.items():
        processes = sorted({name for m in runs for name in m.cpu_ms})
        errors: Counter[str] = Counter()
        for m in runs:
            errors.update(m.errors)
        table.setdefault(variant, {})[conns] = {
            "rps": round(median(m.rps for m in runs), 1),
            "p50_ms": round(median(m.p50_ms for m in runs), 3),
            "p99_ms": round(median(m.p99_ms for m in runs), 3),
            "cpu_ms_per_request": {
                name: round(
                    median(
                        m.cpu_ms[name] / m.requests
                        for m in runs
                        if m.requests and name in m.cpu_ms
                    ),
                    3,
                )
                for name in processes
            },
            "other_cpu_pct": round(median(m.other_cpu_pct for m in runs), 1),
            "requests": sum(m.requests for m in runs),
            "errors": dict(errors),
            "repetitions": len(runs),
        }
    return table


def ratios(table: dict[str, dict[int, dict]]) -> dict[str, float | None]:
    """Return the headline ratios and differences against the direct variant.

    ``<variant>_to_direct_throughput_c<N>`` is the variant's req/s over the
    direct req/s; ``<variant>_added_p50_ms_c<N>`` its p50 minus the direct p50;
    ``<variant>_p99_ratio_c<N>`` its p99 over the direct p99. A value is None
    where either side was not measured.
    """
    result: dict[str, float | None] = {}
    direct = table.get("direct", {})
    for variant in ("gateway", "nginx"):
        rows = table.get(variant, {})
        for conns in sorted(set(direct) | set(rows)):
            base, row = direct.get(conns), rows.get(conns)
            ok = bool(base and row and base["rps"])
            result[f"{variant}_to_direct_throughput_c{conns}"] = (
                round(row["rps"] / base["rps"], 3) if ok else None
            )
            result[f"{variant}_added_p50_ms_c{conns}"] = (
                round(row["p50_ms"] - base["p50_ms"], 3) if ok else None
            )
            result[f"{variant}_p99_ratio_c{conns}"] = (
                round(row["p99_ms"] / base["p99_ms"], 3)
                if ok and base["p99_ms"]
                else None
            )
    return result


def observability_costs(table: dict[str, dict[int, dict]]) -> dict[str, float | None]:
    """Return the throughput lost to metrics and to tracing, in %.

    ``metrics_cost_pct_c<N>``: the gateway (metrics on) against the gateway with
    metrics off; ``tracing_cost_pct_c<N>``: the gateway with tracing (and
    metrics) on against the same without metrics. None where a side is missing.
    """
    result: dict[str, float | None] = {}
    base_rows = table.get("gateway_nometrics", {})
    for name, variant in (("metrics", "gateway"), ("tracing", "gateway_traced")):
        rows = table.get(variant, {})
        for conns in sorted(set(base_rows) | set(rows)):
            base, row = base_rows.get(conns), rows.get(conns)
            ok = bool(base and row and base["rps"])
            result[f"{name}_cost_pct_c{conns}"] = (
                round(100 * (1 - row["rps"] / base["rps"]), 1) if ok else None
            )
    return result


def stack_cpu_ms(row: dict) -> float:
    """Return the CPU ms per request of everything serving a row: the stack's
    processes, nginx and the load generator (not the outside load)."""
    return sum(v for k, v in row["cpu_ms_per_request"].items() if k != "other")


def cpu_ratios(table: dict[str, dict[int, dict]]) -> dict[str, float | None]:
    """Return ``<variant>_cpu_bound_throughput_ratio_c<N>``: direct's CPU per
    request over the variant's, both counting every process that serves it.

    On a machine whose cores are all busy this is what the throughput ratio
    tends to, and it moves far less than req/s when other work shares the CPU.
    """
    result: dict[str, float | None] = {}
    direct = table.get("direct", {})
    for variant in ("gateway", "nginx"):
        for conns, row in sorted(table.get(variant, {}).items()):
            base = direct.get(conns)
            cost = stack_cpu_ms(row)
            result[f"{variant}_cpu_bound_throughput_ratio_c{conns}"] = (
                round(stack_cpu_ms(base) / cost, 3) if base and cost else None
            )
    return result


def targets(
    headline: dict[str, float | None],
    verify_us: float | None,
    queries: int | None,
    *,
    lopsided_runs: int | None = None,
    rss_growth: float | None = None,
) -> dict[str, bool | None]:
    """Return which targets this run met (None: not measured).

    ``lopsided_runs`` counts the runs where one worker of a service took its
    every connection; ``rss_growth`` is the largest ratio of a gateway worker's
    RSS after many requests to its RSS after 1k (``rss_growth``).
    """

    def check(value: float | None, ok) -> bool | None:
        return None if value is None else bool(ok(value))

    return {
        f"gateway_throughput_c16_at_least_{TARGET_THROUGHPUT_RATIO_C16}_of_direct": (
            check(
                headline.get("gateway_to_direct_throughput_c16"),
                lambda v: v >= TARGET_THROUGHPUT_RATIO_C16,
            )
        ),
        f"gateway_added_p50_c1_at_most_{TARGET_ADDED_P50_MS_C1}_ms": check(
            headline.get("gateway_added_p50_ms_c1"),
            lambda v: v <= TARGET_ADDED_P50_MS_C1,
        ),
        f"gateway_p99_c16_at_most_{TARGET_P99_RATIO_C16}x_direct": check(
            headline.get("gateway_p99_ratio_c16"),
            lambda v: v <= TARGET_P99_RATIO_C16,
        ),
        "no_run_with_one_worker_holding_every_connection": check(
            lopsided_runs, lambda v: v == 0
        ),
        "gateway_rss_per_worker_within_10_pct_after_100k": check(
            rss_growth, lambda v: v <= TARGET_RSS_GROWTH
        ),
        "verify_one_token_under_100_us": check(
            verify_us, lambda v: v < TARGET_VERIFY_US
        ),
        "service_auth_zero_db_queries": check(queries, lambda v: v == 0),
        "metrics_cost_c16_under_5_pct": check(
            headline.get("metrics_cost_pct_c16"),
            lambda v: v < TARGET_METRICS_COST_PCT,
        ),
        "tracing_cost_c16_under_15_pct": check(
            headline.get("tracing_cost_pct_c16"),
            lambda v: v < TARGET_TRACING_COST_PCT,
        ),
    }


def format_table(table: dict[str, dict[int, dict]]) -> str:
    """Return the human table: one line per variant and connection count."""
    header = (
        f"{'variant':<44} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'gw CPU ms/req':>13} {'orders CPU ms/req':>17} {'errors':>6} "
        f"{'other CPU':>9}"
    )
    lines = [header, "-" * len(header)]
    for variant, label in VARIANTS.items():
        for conns, row in sorted(table.get(variant, {}).items()):
            cpu = row["cpu_ms_per_request"]
            gateway = (
                cpu.get(variant, cpu.get("gateway"))
                if variant.startswith("gateway")
                else None
            )
            orders = cpu.get("orders")
            lines.append(
                f"{label:<44} {conns:>5} {row['rps']:>7.0f} {row['p50_ms']:>7.2f} "
                f"{row['p99_ms']:>7.2f} {_cell(gateway):>13} {_cell(orders):>17} "
                f"{sum(row['errors'].values()):>6} {row['other_cpu_pct']:>8.0f}%"
            )
    return "\n".join(lines)


def busiest_other(table: dict[str, dict[int, dict]]) -> float:
    """Return the highest outside CPU load of any row, in % of one core."""
    return max(
        (
            row.get("other_cpu_pct", 0.0)
            for rows in table.values()
            for row in rows.values()
        ),
        default=0.0,
    )


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def format_headline(headline: dict[str, float | None]) -> str:
    """Return the ratio lines printed under the table."""
    lines = []
    for key, value in headline.items():
        shown = "n/a" if value is None else f"{value:.3f}"
        lines.append(f"  {key:<40} {shown}")
    return "\n".join(lines)


def top_frames(collapsed: str, limit: int = 15) -> list[tuple[str, float, float]]:
    """Return ``(frame, self %, total %)`` of the hottest frames of a profile.

    ``collapsed`` is py-spy's ``--format raw`` output (Brendan Gregg's collapsed
    stacks: ``frame;frame;frame count`` per line). Frames are ranked by the share
    of samples in which they are the innermost frame (self time).
    """
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        self_counts[frames[-1]] += n
        for frame in set(frames):
            total_counts[frame] += n
    if not samples:
        return []
    return [
        (
            frame,
            round(100 * n / samples, 1),
            round(100 * total_counts[frame] / samples, 1),
        )
        for frame, n in self_counts.most_common(limit)
    ]


def top_inclusive(
    collapsed: str, prefixes: Sequence[str], limit: int = 15
) -> list[tuple[str, float]]:
    """Return ``(frame, total %)`` of the costliest frames whose file starts with
    one of ``prefixes`` (the project's own packages), by inclusive samples.
    """
    counts: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples += int(count)
        for frame in set(stack.split(";")):
            location = frame[frame.rfind("(") + 1 :]
            if location.startswith(tuple(prefixes)):
                counts[frame] += int(count)
    if not samples:
        return []
    return [
        (frame, round(100 * n / samples, 1)) for frame, n in counts.most_common(limit)
    ]
