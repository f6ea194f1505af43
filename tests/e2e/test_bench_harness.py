"""Unit tests of the bench's pure functions (bench/harness.py, bench/nginx.py).

No server, no timing: the bench itself is ``make bench``, never part of the suite.
"""

from pathlib import Path

import pytest

from bench import harness
from bench.nginx import render_config

WRK_STDOUT = """\
Running 5s test @ http://127.0.0.1:40001/api/orders/1/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.12ms    2.01ms  40.10ms   80.00%
  12500 requests in 5.00s, 4.10MB read
Requests/sec:   2500.00
BENCH_RESULT {"requests": 12500, "duration_us": 5000000, "p50_us": 5900, \
"p99_us": 14250, "errors": {"connect": 0, "read": 0, "write": 0, "status": 3, \
"timeout": 0}}
"""


def run(variant, conns, rep, requests, p50, cpu=None, errors=None):
    return harness.Measurement(
        variant=variant,
        connections=conns,
        repetition=rep,
        requests=requests,
        duration_s=5.0,
        p50_ms=p50,
        p99_ms=p50 * 3,
        errors=errors or {},
        cpu_ms=cpu or {},
    )


def test_parse_wrk_output_reads_the_result_line():
    result = harness.parse_wrk_output(WRK_STDOUT)

    assert result == {
        "requests": 12500,
        "duration_s": 5.0,
        "p50_ms": 5.9,
        "p99_ms": 14.25,
        "errors": {"status": 3},
    }


def test_parse_wrk_output_without_result_line_raises():
    with pytest.raises(ValueError, match="BENCH_RESULT"):
        harness.parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused")


def test_wrk_script_prints_the_fields_the_parser_reads():
    script = (Path(harness.__file__).parent / "wrk.lua").read_text()

    for key in ("requests", "duration_us", "p50_us", "p99_us", "errors"):
        assert f'"{key}"' in script
    assert harness.RESULT_MARKER.strip() in script


@pytest.mark.parametrize(
    ("pct", "expected"), [(50, 5), (99, 10), (100, 10), (0, 1), (10, 1)]
)
def test_percentile_nearest_rank(pct, expected):
    assert harness.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], pct) == expected


def test_percentile_of_nothing_is_zero():
    assert harness.percentile([], 50) == 0.0


def test_parse_proc_stat_handles_spaces_and_parentheses_in_the_name():
    line = (
        "4242 (gunicorn: (worker) x) S 4200 4242 4242 0 -1 4194560 100 0 0 0 "
        "150 25 0 0 20 0 5 0 123 0 0"
    )

    assert harness.parse_proc_stat(line) == (4200, 175)


def test_descendants_follows_the_whole_tree_only():
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 21: 20}

    assert harness.descendants(10, parents) == {10, 11, 12, 13}
    assert harness.descendants(21, parents) == {21}


def test_summarize_takes_medians_and_sums_errors():
    runs = [
        run("direct", 16, 0, 10000, 5.0, {"orders": 5000.0}),
        run("direct", 16, 1, 12000, 4.0, {"orders": 6600.0}, {"status": 2}),
        run("direct", 16, 2, 11000, 6.0, {"orders": 5500.0}, {"status": 1}),
    ]

    row = harness.summarize(runs)["direct"][16]

    assert row["rps"] == 2200.0
    assert row["p50_ms"] == 5.0
    assert row["p99_ms"] == 15.0
    assert row["cpu_ms_per_request"] == {"orders": 0.5}
    assert row["requests"] == 33000
    assert row["errors"] == {"status": 3}
    assert row["repetitions"] == 3


def test_ratios_against_direct():
    table = harness.summarize(
        [
            run("direct", 1, 0, 5000, 0.9),
            run("direct", 16, 0, 12500, 6.0),
            run("gateway", 1, 0, 2500, 1.6),
            run("gateway", 16, 0, 6250, 12.5),
        ]
    )

    headline = harness.ratios(table)

    assert headline["gateway_to_direct_throughput_c16"] == 0.5
    assert headline["gateway_added_p50_ms_c1"] == 0.7
    assert headline["gateway_to_direct_throughput_c1"] == 0.5
    assert headline["gateway_added_p50_ms_c16"] == 6.5
    assert headline["gateway_p99_ratio_c16"] == round(12.5 / 6.0, 3)
    assert headline["gateway_p99_ratio_c1"] == round(1.6 / 0.9, 3)
    assert headline["nginx_to_direct_throughput_c16"] is None
    assert headline["nginx_p99_ratio_c16"] is None


def test_targets_met_missed_and_unmeasured():
    met = harness.targets(
        {
            "gateway_to_direct_throughput_c16": 0.65,
            "gateway_added_p50_ms_c1": 0.61,
            "gateway_p99_ratio_c16": 1.5,
        },
        verify_us=None,
        queries=0,
        lopsided_runs=1,
    )

    assert met == {
        "gateway_throughput_c16_at_least_0.65_of_direct": True,
        "gateway_added_p50_c1_at_most_0.6_ms": False,
        "gateway_p99_c16_at_most_1.5x_direct": True,
        "no_run_with_one_worker_holding_every_connection": False,
        "gateway_rss_per_worker_within_10_pct_after_100k": None,
        "verify_one_token_under_100_us": None,
        "service_auth_zero_db_queries": True,
        "metrics_cost_c16_under_5_pct": None,
        "tracing_cost_c16_under_15_pct": None,
    }


@pytest.mark.parametrize(
    ("growth", "expected"), [(1.1, True), (1.101, False), (0.9, True)]
)
def test_rss_target_allows_ten_percent_growth(growth, expected):
    met = harness.targets({}, None, None, rss_growth=growth)

    assert met["gateway_rss_per_worker_within_10_pct_after_100k"] is expected


def test_parse_vm_rss_reads_kilobytes():
    status = "Name:\tgunicorn\nVmHWM:\t  90000 kB\nVmRSS:\t   81234 kB\n"

    assert harness.parse_vm_rss_kb(status) == 81234
    assert harness.parse_vm_rss_kb("Name:\tkthreadd\n") is None


def test_rss_growth_is_the_worst_worker_seen_twice():
    before = {1: 80_000, 2: 100_000, 3: 50_000}
    after = {1: 84_000, 2: 120_000, 4: 200_000}  # 3 restarted as 4

    assert harness.rss_growth(before, after) == 1.2
    assert harness.rss_growth({1: 1}, {2: 1}) is None


def test_observability_costs_against_the_gateway_with_metrics_off():
    table = harness.summarize(
        [
            run("gateway_nometrics", 16, 0, 10000, 5.0),
            run("gateway", 16, 0, 9600, 5.2),
            run("gateway_traced", 16, 0, 8000, 6.0),
            run("gateway", 1, 0, 2000, 1.0),
        ]
    )

    costs = harness.observability_costs(table)

    assert costs == {
        "metrics_cost_pct_c16": 4.0,
        "metrics_cost_pct_c1": None,
        "tracing_cost_pct_c16": 20.0,
    }
    met = harness.targets(costs, verify_us=None, queries=None)
    assert met["metrics_cost_c16_under_5_pct"] is True
    assert met["tracing_cost_c16_under_15_pct"] is False


def test_format_table_shows_each_gateways_own_cpu():
    table = harness.summarize(
        [
            run("gateway_nometrics", 1, 0, 2500, 1.5, {"gateway_nometrics": 2000.0}),
            run("gateway_traced", 1, 0, 2000, 1.9, {"gateway_traced": 3000.0}),
        ]
    )

    lines = harness.format_table(table).splitlines()[2:]

    assert "0.800" in lines[0] and "metrics off" in lines[0]
    assert "1.500" in lines[1] and "tracing on" in lines[1]


def test_format_table_shows_gateway_cpu_only_for_gateway_variants():
    table = harness.summarize(
        [
            run("direct", 1, 0, 5000, 0.9, {"gateway": 0.0, "orders": 2500.0}),
            run("gateway", 1, 0, 2500, 1.6, {"gateway": 2500.0, "orders": 1250.0}),
        ]
    )

    lines = harness.format_table(table).splitlines()

    assert "req/s" in lines[0]
    direct, gateway = lines[2], lines[3]
    assert direct.split()[-6:] == ["1000", "0.90", "2.70", "0.500", "0", "0%"]
    assert gateway.split()[-7:] == ["500", "1.60", "4.80", "1.000", "0.500", "0", "0%"]


def test_top_frames_ranks_self_time():
    collapsed = (
        "main (app.py:1);handle (app.py:5);verify (jwt.py:9) 60\n"
        "main (app.py:1);handle (app.py:5);forward (proxy.py:3) 30\n"
        "main (app.py:1);idle (app.py:2) 10\n"
        "garbage line\n"
    )

    top = harness.top_frames(collapsed, limit=2)

    assert top == [
        ("verify (jwt.py:9)", 60.0, 60.0),
        ("forward (proxy.py:3)", 30.0, 30.0),
    ]


def test_nginx_config_proxies_to_the_upstream_in_the_foreground(tmp_path):
    config = render_config(tmp_path, 4321, "127.0.0.1:8001")

    assert "daemon off;" in config
    assert "listen 127.0.0.1:4321;" in config
    assert "server 127.0.0.1:8001;" in config
    assert f"pid {tmp_path}/nginx.pid;" in config


def test_top_inclusive_keeps_project_frames_only():
    collapsed = (
        'process 1:"gunicorn";run (gunicorn/app.py:1);proxy (gateway_project/'
        "proxy/views.py:10);decode (shared_auth/authentication.py:5) 3\n"
        "run (gunicorn/app.py:1);proxy (gateway_project/proxy/views.py:10) 1\n"
    )

    top = harness.top_inclusive(collapsed, ("gateway_project/", "shared_auth/"))

    assert top == [
        ("proxy (gateway_project/proxy/views.py:10)", 100.0),
        ("decode (shared_auth/authentication.py:5)", 75.0),
    ]


def test_parse_cpu_busy_leaves_out_idle_and_iowait():
    proc_stat = "cpu  100 5 50 1000 40 3 2 1 0 0\ncpu0 50 2 25 500 20 1 1 0 0 0\n"

    assert harness.parse_cpu_busy(proc_stat) == 161


def test_cpu_delta_turns_the_machine_total_into_outside_load():
    before = {"gateway": 1.0, "orders": 2.0, "load": 0.5, "machine": 10.0}
    after = {"gateway": 1.5, "orders": 3.0, "load": 0.75, "machine": 12.0}

    delta = harness.cpu_delta_ms(before, after)

    assert delta == {"gateway": 500.0, "orders": 1000.0, "load": 250.0, "other": 250.0}


def test_other_cpu_pct_is_per_core_share_of_the_run():
    measurement = run("direct", 1, 0, 100, 1.0, {"other": 2500.0})

    assert measurement.other_cpu_pct == 50.0
    assert harness.busiest_other(harness.summarize([measurement])) == 50.0


def test_cpu_ratios_count_every_serving_process_but_outside_load():
    table = harness.summarize(
        [
            run("direct", 16, 0, 1000, 5.0, {"orders": 2000.0, "load": 100.0}),
            run(
                "gateway",
                16,
                0,
                1000,
                9.0,
                {"gateway": 1500.0, "orders": 2100.0, "load": 100.0, "other": 9e3},
            ),
        ]
    )

    assert harness.cpu_ratios(table) == {
        "gateway_cpu_bound_throughput_ratio_c16": round(2.1 / 3.7, 3)
    }


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({1: 10.0, 2: 10.0}, {1: 110.0, 2: 10.0}, 100.0),  # one worker did it all
        ({1: 0.0, 2: 0.0}, {1: 60.0, 2: 40.0}, 60.0),
        ({1: 0.0}, {1: 50.0}, None),  # a single worker
        ({1: 5.0, 2: 5.0}, {1: 5.0, 2: 5.0}, None),  # no CPU used
        ({1: 0.0}, {1: 30.0, 2: 10.0}, 75.0),  # a worker started meanwhile
    ],
)
def test_busiest_share_is_the_busiest_workers_part_of_the_service_cpu(
    before, after, expected
):
    assert harness.busiest_share_pct(before, after) == expected
