"""The signup benchmark: `python -m bench` (or `python bench/run.py`), `--quick` for a short run.

The production server on SQLite and (when reachable) PostgreSQL, driven over loopback by simulated
browsers and plain HTTP; prints figure / value / target / met? and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import page_weight, scenarios, stats, tabs
from bench.flood import run_flood
from bench.overload import BURSTS as OVERLOAD_BURSTS
from bench.overload import run_overload
from bench.profiling import pyspy_record, top_frames
from bench.report import WHY_CORES, build_rows, other_load, overload_rows, print_table
from bench.server import postgresql_database, running_server, sqlite_database
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server
from tests.harness.services import DatabaseUnavailableError
from tests.harness.wire import Accounts

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_STATE_MANAGER = "disk (Reflex's default without Redis)"
Scenario = Callable[..., Awaitable[dict[str, Any]]]  # (server, concurrency, *, ramp_s, window_s, ...)


@dataclass(frozen=True)
class Plan:
    """How long and how much each phase runs."""

    signup_levels: tuple[int, ...] = (1, 10, 50)
    ramp_s: float = 2.0
    window_s: float = 15.0
    max_signups: int = 3000
    fairness_signup_clients: int = 50
    fairness_probe_clients: int = 10
    fairness_probe_gap_s: float = 0.02
    trivial_count: int = 2000
    trivial_warmup: int = 200
    trivial_concurrency: int = 32
    trivial_window_s: float = 10.0
    idle_memory_clients: int = 1000
    idle_steps: tuple[int, ...] = (1000, 2000, 3000, 4000, 5000)
    idle_probe_tabs: int = 20
    idle_probe_events: int = 10
    hash_runs: int = 50
    quiet_wait_s: float = 10.0


FULL = Plan()
QUICK = Plan(
    ramp_s=1.0,
    window_s=4.0,
    max_signups=600,
    trivial_count=300,
    trivial_warmup=50,
    trivial_window_s=3.0,
    idle_steps=(1000,),
    idle_probe_tabs=10,
    idle_probe_events=5,
    hash_runs=15,
    quiet_wait_s=3.0,
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_open_files_limit(wanted: int) -> dict[str, int]:
    """Let this process (and the server it starts) hold `wanted` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, soft), max(wanted, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft": soft, "hard": hard}


def measure_hash_cpu_ms(runs: int) -> dict[str, Any]:
    """CPU ms of one hash_password with the project's parameters, in this process (time.process_time)."""
    from signup_app.accounts import passwords

    for i in range(2):
        passwords.hash_password(f"warm-up passphrase {i}")
    start = time.process_time()
    for i in range(runs):
        passwords.hash_password(f"violet tangerine lighthouse {i}")
    cpu_ms = (time.process_time() - start) * 1000 / runs
    # The same with every core hashing at once, as under saturating signups (shared caches and memory).
    cores = len(os.sched_getaffinity(0))
    with ThreadPoolExecutor(cores) as callers:
        start, wall = time.process_time(), time.perf_counter()
        list(callers.map(passwords.hash_password, [f"quiet harbor lantern {i}" for i in range(runs * cores)]))
        all_cores_ms = (time.process_time() - start) * 1000 / (runs * cores)
        all_cores_rate = runs * cores / (time.perf_counter() - wall)
    return {
        "cpu_ms": cpu_ms,
        "cpu_ms_all_cores_hashing": all_cores_ms,
        "hashes_per_s_all_cores": all_cores_rate,
        "runs": runs,
        "algorithm": "argon2id",
        "memory_kib": passwords.MEMORY_COST_KIB,
        "time_cost": passwords.TIME_COST,
        "parallelism": passwords.PARALLELISM,
    }


async def run_database(
    name: str, server: Server, plan: Plan, profile_dir: Path | None, hash_cpu_ms: float
) -> dict[str, Any]:
    """The database-bound figures on one server: websocket signups, fairness, JSON signups."""
    measure_db = name == "postgresql"
    result: dict[str, Any] = {"websocket_signups": {}, "json_signups": {}}
    # Warm up both paths (imports, zxcvbn's dictionaries, pools) outside any window.
    await scenarios.websocket_signups(server, 4, ramp_s=0.5, window_s=1.0, max_count=40, measure_db=False)
    await scenarios.json_signups(server, 4, ramp_s=0.5, window_s=1.0, max_count=40, measure_db=False)
    worker = server.worker_pids()[0]

    async def signups_at_each_level(run: Scenario, key: str, label: str, profiled: Path | None) -> None:
        """One closed-loop window per level; py-spy (if profiled) samples the highest."""
        for level in plan.signup_levels:
            log(f"{name}: {label} signups, {level} concurrent clients")
            top = profiled if level == max(plan.signup_levels) else None
            with pyspy_record(worker, top, f"{name}-ws-{level}"):
                figures = await run(
                    server,
                    level,
                    ramp_s=plan.ramp_s if level > 1 else 1.0,
                    window_s=plan.window_s,
                    max_count=plan.max_signups,
                    measure_db=measure_db,
                )
            figures["efficiency"] = stats.efficiency(hash_cpu_ms, figures["server_cpu_ms_per_signup"])
            result[key][str(level)] = figures

    await signups_at_each_level(scenarios.websocket_signups, "websocket_signups", "websocket", profile_dir)
    log(f"{name}: cheap events from {plan.fairness_probe_clients} tabs while signups saturate")
    with pyspy_record(worker, profile_dir, f"{name}-fairness"):
        result["fairness"] = await tabs.fairness(
            server,
            signup_clients=plan.fairness_signup_clients,
            probe_clients=plan.fairness_probe_clients,
            probe_gap_s=plan.fairness_probe_gap_s,
            ramp_s=plan.ramp_s,
            window_s=plan.window_s,
            max_count=plan.max_signups,
            measure_db=measure_db,
        )
    await signups_at_each_level(scenarios.json_signups, "json_signups", "JSON route", None)
    with Accounts.of(server.db_url) as accounts:
        result["accounts_created"] = accounts.count()
    return result


async def run_connections(server: Server, plan: Plan, profile_dir: Path | None) -> dict[str, Any]:
    """The figures that do not depend on the database, on a fresh server of their own (SQLite).

    Fresh: no earlier phase has grown its heap, and its thousands of saved tabs weigh on no signup figure.
    """
    result: dict[str, Any] = {}
    log("page weight and the form without JavaScript")
    result["page_weight"] = page_weight.javascript_weight(server.workdir / ".web" / "build" / "client")
    result["no_js_form"] = await page_weight.form_without_javascript(
        server.url, f"bench-nojs-{os.getpid()}-{time.time_ns()}@example.com", "quiet harbor lantern velvet"
    )
    log("trivial events")
    with pyspy_record(server.worker_pids()[0], profile_dir, "trivial-events"):
        result["trivial_events"] = await tabs.trivial_events(
            server,
            count=plan.trivial_count,
            warmup=plan.trivial_warmup,
            concurrency=plan.trivial_concurrency,
            window_s=plan.trivial_window_s,
            max_s=60,
        )
    log(f"idle clients: memory over {plan.idle_memory_clients}, then up to {plan.idle_steps[-1]:,} held")
    result["idle_clients"] = await tabs.idle_clients(
        server,
        memory_clients=plan.idle_memory_clients,
        steps=list(plan.idle_steps),
        probe_tabs=plan.idle_probe_tabs,
        probe_events=plan.idle_probe_events,
    )
    log("idle websockets on Granian alone (no Reflex)")
    result["idle_clients"]["bare_granian"] = await tabs.bare_granian_memory(plan.idle_memory_clients)
    return result


def run_on_server(
    name: str, db_url: str, folder: Path, measure: Callable[[Server], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Start a production server of its own in folder, measure it, stop it; its start under "server"."""
    log(f"{name}: starting the production server")
    started = time.perf_counter()
    with running_server(db_url, folder) as server:
        info = {
            "start_s": time.perf_counter() - started,
            "processes": len(server.pids()),
            "workers": len(server.worker_pids()),
            "cores": server.cores(),
            "state_manager": os.environ.get("REFLEX_STATE_MANAGER_MODE", DEFAULT_STATE_MANAGER),
        }
        figures = asyncio.run(measure(server))
    return {**figures, "server": info}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="short windows and fewer connections (~2 min)")
    add("--databases", default="sqlite,postgresql", help="sqlite, postgresql (skipped when unreachable)")
    add("--output", type=Path, default=RESULTS_DIR / "latest.json", help="where to write JSON")
    add("--profile", action="store_true", help="py-spy the worker in the heaviest phases (perturbs figures)")
    add("--keep", action="store_true", help="keep the servers' folders (logs, builds)")
    add("--only", choices=["overload"], help="run only this phase (200 signups at once, default hash bound)")
    args = parser.parse_args(argv)
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if "sqlite" not in args.databases or set(args.databases) - {"sqlite", "postgresql"}:
        parser.error("--databases must include sqlite, and may add postgresql")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; Ctrl-C or TERM stops it cleanly (servers stopped, database dropped)."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run(args)
    except KeyboardInterrupt:
        log("interrupted: every server it started is stopped and its database dropped")
        return 130


@contextlib.contextmanager
def servers_folder(keep: bool) -> Iterator[Path]:
    """A temporary folder for the servers (their databases, builds and logs), removed unless kept."""
    workdir = Path(tempfile.mkdtemp(prefix="signup-bench-"))
    try:
        yield workdir
    finally:
        if keep:
            log(f"servers' folders kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def meta(started: float, **more: Any) -> dict[str, Any]:
    started_at = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    return {"started": started_at, **more, "python": platform.python_version(), "cpus": os.cpu_count()}


def report(
    args: argparse.Namespace, results: dict[str, Any], rows: list[dict[str, Any]], note: str = ""
) -> int:
    """Write every figure (and the table) to args.output, print the table, the note and where it went."""
    results["table"] = rows
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(rows)
    if note:
        print(note)
    print(f"written: {args.output} ({results['meta']['duration_s']:.0f} s)")
    return 0


def run_only_overload(args: argparse.Namespace) -> int:
    """`--only overload`: the overload phase alone, on its own server."""
    started = time.time()
    raise_open_files_limit(4096)
    with servers_folder(args.keep) as workdir:
        log(f"overload: {OVERLOAD_BURSTS} bursts of 200 signups at once, default hash bound")
        overload = run_overload(workdir)
    results = {"meta": meta(started, only="overload", duration_s=time.time() - started), "overload": overload}
    return report(args, results, overload_rows(overload))


def run(args: argparse.Namespace) -> int:
    if args.only == "overload":
        return run_only_overload(args)
    plan = QUICK if args.quick else FULL
    started = time.time()
    limits = raise_open_files_limit(2 * max(plan.idle_steps) + 1024)
    profile_dir = args.output.parent / "profiles" if args.profile else None
    scenarios.QUIET_WAIT_S = plan.quiet_wait_s

    log("hash CPU, in-process")
    hash_figures = measure_hash_cpu_ms(plan.hash_runs)
    hash_ms = hash_figures["cpu_ms"]
    app_protocol()  # compile the client's view of the app once, before any window

    results: dict[str, Any] = {
        "meta": {
            **meta(started, quick=args.quick, profiled=args.profile),
            "open_files_limit": limits,
            "cheap_event": "set_is_hydrated(True) on Reflex's on-load state: the last event of the chain the "
            "page runs on each navigation; on a hydrated tab it changes nothing and answers with is_hydrated",
            "plan": plan.__dict__,
        },
        "hash": hash_figures,
        "databases": {},
    }
    with servers_folder(args.keep) as workdir:
        folder = workdir / "connections"
        with sqlite_database(folder) as url:
            connections = run_on_server(
                "connections", url, folder, lambda s: run_connections(s, plan, profile_dir)
            )
        results["connections_server"] = connections.pop("server")
        results.update(connections)
        cores = results["connections_server"]["cores"]
        log("flood: 1,000 submits from one address while other tabs work, abuse limits on")
        results["flood"] = run_flood(workdir)
        log(f"overload: {OVERLOAD_BURSTS} bursts of 200 signups at once, default hash bound")
        results["overload"] = run_overload(workdir, OVERLOAD_BURSTS)
        for name in args.databases:
            database = sqlite_database(workdir / name) if name == "sqlite" else postgresql_database()
            measure = functools.partial(
                run_database, name, plan=plan, profile_dir=profile_dir, hash_cpu_ms=hash_ms
            )
            try:
                with database as url:
                    results["databases"][name] = run_on_server(name, url, workdir / name, measure)
            except DatabaseUnavailableError as exc:
                log(f"{name}: skipped, not reachable ({exc})")
                results["databases"][name] = {"skipped": f"not reachable: {exc}"}

    results["bound"] = {
        "cores": cores,
        "why": WHY_CORES,
        "signups_per_s": stats.hash_bound_per_s(cores, hash_ms),
    }
    results["meta"]["duration_s"] = time.time() - started
    if profile_dir is not None and profile_dir.is_dir():
        results["profiles"] = {p.stem: top_frames(p) for p in sorted(profile_dir.glob("*.txt"))}
    load = results["meta"]["other_programs_load"] = other_load(results)
    note = (
        f"\nOther programs kept {load['mean_cores']:.2f} cores busy on average (at most "
        f"{load['max_cores']:.2f}) during the {load['windows']} measured windows; throughput figures count "
        "on the whole machine."
    )
    return report(args, results, build_rows(results), note)


if __name__ == "__main__":
    raise SystemExit(main())
