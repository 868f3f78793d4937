"""The benchmark's pure helpers: percentiles, the hashing bound, and the page's script references."""

from __future__ import annotations

import math

import pytest

from bench import stats
from bench.page_weight import script_refs


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 50) == 2.5
    assert stats.percentile(values, 100) == 4.0
    assert stats.percentile([7.0], 99) == 7.0
    assert math.isnan(stats.percentile([], 50))
    with pytest.raises(ValueError):
        stats.percentile(values, 101)


def test_p99_of_a_hundred_round_trips_sits_near_the_slowest() -> None:
    summary = stats.latency_summary_ms([i / 1000 for i in range(1, 101)])
    assert summary["count"] == 100
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["max_ms"] == pytest.approx(100)


def test_efficiency_and_bound() -> None:
    # 2 cores at 25 ms a hash could do 80 signups/s; a signup costing 40 ms is 62.5% hash.
    assert stats.hash_bound_per_s(2, 25.0) == pytest.approx(80.0)
    assert stats.share_of(25.0, 40.0) == pytest.approx(0.625)
    assert math.isnan(stats.share_of(25.0, math.nan))
    assert stats.share_of(72.0, 80.0) == pytest.approx(0.9)
    assert stats.per_item_ms(1.5, 60) == pytest.approx(25.0)
    assert math.isnan(stats.rate(10, 0))


def test_script_refs_reads_scripts_preloads_and_inline_imports_once() -> None:
    html = (
        '<head><link rel="modulepreload" href="/assets/a.js"/>'
        '<link rel="stylesheet" href="/assets/s.css"/><link rel="preload" as="style" href="/assets/s.css"/>'
        '<script src="/assets/b.js"></script>'
        '<script type="module">import "/assets/a.js"; import("/assets/c.js");</script>'
        "<script>document.documentElement.classList.add('dark');</script></head>"
    )
    assert script_refs(html) == ["/assets/a.js", "/assets/b.js", "/assets/c.js"]


def test_overload_rows_show_each_transport_and_flag_unanswered_submits() -> None:
    from bench.report import overload_rows

    def transport(other: int, probe_errors: int) -> dict[str, object]:
        latency = {"count": 3, "p50_ms": 5.0, "p99_ms": 9.0, "max_ms": 9.5}
        return {
            "answers": {"created": 10, "busy": 190 - other, "other": other},
            "created_latency": latency,
            "busy_latency": latency,
            "server_cpu_ms_per_answer": 1.5,
            "other_processes_cores_busy": 0.2,
            "others_cheap_event": {**latency, "errors": probe_errors},
        }

    rows = overload_rows({"clients": 200, "bursts": 3, "websocket": transport(0, 0), "json": transport(2, 1)})
    assert [row["met"] for row in rows] == [True, None, True, False, None, False]
    assert "(10 / 190 / 0)" in rows[0]["value"] and "(10 / 188 / 2)" in rows[3]["value"]
    assert overload_rows(None) == []
