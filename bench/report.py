"""The benchmark's report: every figure against its target, as a table of figure / value / target / met?."""

from __future__ import annotations

import math
from statistics import fmean
from typing import Any

from bench import stats

CONNECTIONS_TARGET = 5000
# The targets.
EFFICIENCY_MIN = 0.85
BOUND_SHARE_MIN = 0.90
FAIRNESS_P99_MAX_MS = 50.0
TRIVIAL_P50_MAX_MS = 2.0
TRIVIAL_EVENTS_PER_S_MIN = 1000.0
IDLE_KB_MAX = 50.0
JS_GZIP_MAX_KB = 135.0
FLOOD_P95_MAX_MS = 200.0

MET = {None: "—", True: "yes", False: "NO"}
Row = dict[str, Any]  # one line of the table
WHY_CORES = (
    "Without Redis, Reflex runs one worker process. The handler hashes on a worker thread and "
    "argon2-cffi releases the GIL, so that one process hashes on every core its affinity allows."
)


def _fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _row(figure: str, value: str, target: str = "", met: bool | None = None, raw: Any = None) -> Row:
    """One line of the table; raw is the figure's number, kept in the JSON."""
    return {"figure": figure, "value": value, "target": target, "met": met, "value_raw": raw}


def _database_rows(db: str, figures: dict[str, Any], bound: float, hash_ms: float) -> list[Row]:
    """One database's rows: websocket signups against the bound, efficiency, fairness, the JSON routes."""
    if "skipped" in figures:
        return [{**_row(f"{db}: all figures", "skipped"), "reason": figures["skipped"]}]
    rows = []
    signups = figures["websocket_signups"]
    for level, f in signups.items():
        share = stats.share_of(f["signup_per_s"], bound)
        value = f"{_fmt(f['signup_per_s'])} ({_fmt(100 * share, 0)}% of bound)"
        target = "" if level == "1" else f"≥ {BOUND_SHARE_MIN:.0%} of bound"
        met = None if level == "1" else share >= BOUND_SHARE_MIN
        rows.append(_row(f"{db}: websocket signups/s @{level}", value, target, met, f["signup_per_s"]))
    for level, f in signups.items():
        value = f"{_fmt(f['server_cpu_ms_per_signup'], 2)} → {_fmt(f['efficiency'], 2)}"
        figure, met = f"{db}: server CPU ms/signup @{level} → efficiency", f["efficiency"] >= EFFICIENCY_MIN
        rows.append(_row(figure, value, f"≥ {EFFICIENCY_MIN}", met, f["efficiency"]))
    top = signups[str(max(int(level) for level in signups))]
    split = top["worker_cpu_ms_per_signup_by_thread"]
    figure = (
        f"{db}: worker CPU ms/signup @{top['concurrency']}: hash pool / worker threads / event loop / Granian"
    )
    groups = ("hash_pool", "worker_threads", "event_loop", "granian")
    rows.append(_row(figure, " / ".join(_fmt(split.get(g, 0.0), 1) for g in groups), raw=split))
    fairness = figures["fairness"]
    fair = fairness["cheap_event"]
    figure = f"{db}: cheap event p50 / p99 while {fairness['signup_clients']} clients sign up, ms"
    met = fair["p99_ms"] <= FAIRNESS_P99_MAX_MS and not fair["errors"]
    value = f"{_fmt(fair['p50_ms'], 2)} / {_fmt(fair['p99_ms'], 2)}"
    rows.append(_row(figure, value, f"p99 ≤ {FAIRNESS_P99_MAX_MS:.0f}", met, fair["p99_ms"]))
    for level, f in figures["json_signups"].items():
        ws = signups[level]
        value = (
            f"{_fmt(f['signup_per_s'])} ({_fmt(ws['signup_per_s'])}), "
            f"{_fmt(f['server_cpu_ms_per_signup'], 2)} ({_fmt(ws['server_cpu_ms_per_signup'], 2)})"
        )
        figure = f"{db}: JSON route signups/s @{level} (websocket), CPU ms/signup"
        rows.append(_row(figure, value, raw=f["signup_per_s"]))
    for level, f in figures.get("json_signins", {}).items():
        cpu = f["server_cpu_ms_per_signin"]
        ratio = stats.share_of(cpu, hash_ms)
        value = f"{_fmt(f['signin_per_s'])}, {_fmt(ratio, 2)} ({_fmt(cpu - hash_ms, 2)})"
        figure = f"{db}: JSON sign-ins/s @{level}, CPU per sign-in ÷ hash CPU (CPU beyond the hash, ms)"
        rows.append(_row(figure, value, raw=f["signin_per_s"]))
    if check := figures.get("session_check"):
        postgres = " + PostgreSQL's CPU" if check["postgres_cpu_us"] else ""
        figure = f"{db}: session check per privileged event, µs CPU / wall (Cookie parse + sessions.resolve"
        figure += f" on a worker thread, in-process{postgres})"
        cpu = check["cpu_us"] + check["postgres_cpu_us"]
        rows.append(_row(figure, f"{_fmt(cpu)} / {_fmt(check['wall_us'])}", raw=cpu))
    return rows


def build_rows(results: dict[str, Any]) -> list[Row]:
    """The table: one row per figure, with its target and whether it is met (None: no target)."""
    hashing, bound = results["hash"], results["bound"]
    all_cores, per_s = hashing["cpu_ms_all_cores_hashing"], bound["signups_per_s"]
    rows = [
        _row("argon2id hash, CPU ms (in-process)", _fmt(hashing["cpu_ms"], 2), raw=hashing["cpu_ms"]),
        _row("  the same with every core hashing at once, CPU ms", _fmt(all_cores, 2), raw=all_cores),
        _row(f"bound: {bound['cores']} cores ÷ hash CPU, signups/s", _fmt(per_s), raw=per_s),
    ]
    for db, figures in results["databases"].items():
        rows += _database_rows(db, figures, per_s, hashing["cpu_ms"])
    if trivial := results.get("trivial_events"):
        one = trivial["concurrency_1"]
        many = next(v for k, v in trivial.items() if k != "concurrency_1")
        value = f"{_fmt(one['p50_ms'], 2)} / {_fmt(one['p99_ms'], 2)}"
        target, met = f"p50 ≤ {TRIVIAL_P50_MAX_MS:.0f}", one["p50_ms"] <= TRIVIAL_P50_MAX_MS
        rows.append(_row("trivial event round trip p50 / p99 @1, ms", value, target, met, one["p50_ms"]))
        figure = f"trivial events/s, one worker (@{many['concurrency']}; server CPU ms/event)"
        value = f"{_fmt(many['event_per_s'], 0)} ({_fmt(many['server_cpu_ms_per_event'], 3)})"
        met = many["event_per_s"] >= TRIVIAL_EVENTS_PER_S_MIN
        rows.append(_row(figure, value, f"≥ {TRIVIAL_EVENTS_PER_S_MIN:,.0f}", met, many["event_per_s"]))
    if idle := results.get("idle_clients"):
        memory = idle["memory"]
        figure = f"server memory per idle client (RSS over {memory['clients']}), KB"
        kb = memory["kb_per_client"]
        rows.append(_row(figure, _fmt(kb), f"≤ {IDLE_KB_MAX:.0f}", kb <= IDLE_KB_MAX, kb))
        for db, figures in results["databases"].items():
            if signed_in := figures.get("signed_in_memory"):
                figure = f"  {db}: per signed-in idle tab (its cookie checked, account view loaded), KB"
                rows.append(_row(figure, _fmt(signed_in["kb_per_client"]), raw=signed_in["kb_per_client"]))
        if bare := idle.get("bare_granian"):
            figure = "  of which Granian alone holds (bare ASGI websocket), KB"
            rows.append(_row(figure, _fmt(bare["kb_per_client"]), raw=bare["kb_per_client"]))
        if after := idle.get("idle_after"):
            figure = f"server CPU with no tab open, {after['state_files']:,} saved tab states on disk, cores"
            cores = after["server_cpu_cores_busy"]
            rows.append(_row(figure, _fmt(cores, 3), raw=cores))
        last = idle["held"][-1] if idle["held"] else {}
        held = idle["max_held_with_p99_under_100ms"]
        figure = "connections held with cheap-event p99 < 100 ms (p99 at the last step)"
        value = f"{held:,} ({_fmt(last.get('cheap_event', {}).get('p99_ms'), 2)} ms)"
        rows.append(_row(figure, value, f"{CONNECTIONS_TARGET:,}", held >= CONNECTIONS_TARGET, held))
    if weight := results.get("page_weight"):
        figure = f"JavaScript for the signup page ({weight['files']} files), KB raw / gzip -9"
        value = f"{_fmt(weight['raw_bytes'] / 1024)} / {_fmt(weight['gzip9_bytes'] / 1024)}"
        met = weight["gzip9_bytes"] / 1024 <= JS_GZIP_MAX_KB
        rows.append(_row(figure, value, f"gzip ≤ {JS_GZIP_MAX_KB:.0f}", met, weight["gzip9_bytes"]))
    rows += overload_rows(results.get("overload"))
    if flood := results.get("flood"):
        others, outcomes = flood["others_cheap_event"], flood["outcomes"]
        figure = (
            f"flood: {flood['submits']:,} submits for one email from one address in "
            f"{_fmt(flood['flood_s'], 2)} s (created / taken / throttled): other tabs' cheap event p95, ms"
        )
        counts = " / ".join(str(outcomes[kind]) for kind in ("created", "taken", "throttled"))
        value = f"{_fmt(others['p95_ms'], 2)} ({counts})"
        met = others["p95_ms"] < FLOOD_P95_MAX_MS
        rows.append(_row(figure, value, f"p95 < {FLOOD_P95_MAX_MS:.0f}", met, others["p95_ms"]))
    if nojs := results.get("no_js_form"):
        figure = "form works without JavaScript (plain POST /signup)"
        value = f"{nojs['post_status']} → {nojs['post_location']}"
        rows.append(_row(figure, value, "303", nojs["works"], nojs["works"]))
    return rows


def overload_rows(overload: dict[str, Any] | None) -> list[Row]:
    """The overload phase's rows: per transport, the latency of each answer and the other tabs' p99."""
    rows: list[Row] = []
    for transport in ("websocket", "json"):
        if not (f := (overload or {}).get(transport)):
            continue
        answers, created, busy = f["answers"], f["created_latency"], f["busy_latency"]
        label = f"overload, {transport}: {overload['bursts']} × {overload['clients']} signups at once"
        value = (
            f"{_fmt(created['p99_ms'])}, {_fmt(busy['p50_ms'], 2)} / {_fmt(busy['p99_ms'], 2)}"
            f" ({answers['created']} / {answers['busy']} / {answers['other']})"
        )
        figure = f"{label} (created / busy / other): created p99, busy p50 / p99, ms"
        rows.append(_row(figure, value, "every submit answered", answers["other"] == 0, created["p99_ms"]))
        cpu = f["server_cpu_ms_per_answer"]
        value = f"{_fmt(cpu, 2)} ({_fmt(f['other_processes_cores_busy'], 2)})"
        figure = "  server CPU ms per answer (other programs' load meanwhile, cores)"
        rows.append(_row(figure, value, raw=cpu))
        others = f["others_cheap_event"]
        value = f"{_fmt(others['p50_ms'], 2)} / {_fmt(others['p99_ms'], 2)}"
        figure = "  other tabs' cheap event p50 / p99 meanwhile, ms"
        rows.append(_row(figure, value, "answered", not others["errors"], others["p99_ms"]))
    return rows


def other_load(results: dict[str, Any]) -> dict[str, float]:
    """How busy other programs kept the cores during the measured windows (they compete with the server)."""
    seen: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "other_processes_cores_busy" in node:
                seen.append(node["other_processes_cores_busy"])
            for value in node.values():
                walk(value)

    walk(results.get("databases", {}))
    walk(results.get("trivial_events", {}))
    return {"windows": len(seen), "max_cores": max(seen, default=0.0), "mean_cores": fmean(seen or [0.0])}


def print_table(rows: list[Row]) -> None:
    headers = ("figure", "value", "target", "met?")
    cells = [(r["figure"], r["value"], r["target"], MET[r["met"]]) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
