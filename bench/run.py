"""The signup benchmark: `python -m bench` (or `python bench/run.py`), `--quick` for a short run.

The production server on SQLite and (when reachable) PostgreSQL, driven over loopback by simulated
browsers and plain HTTP; prints figure / value / target / met? and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
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
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import page_weight, pressure, scenarios, signing_in, stats, tabs
from bench.report import WHY_CORES, build_rows, other_load, print_table
from bench.scenarios import POSTGRES_ADMIN_URL, Plan, on_own_server
from tests.harness.protocol import app_protocol
from tests.harness.server import AppServer as Server
from tests.harness.server import launch, stop_process
from tests.harness.services import DatabaseUnavailableError, throwaway_postgres
from tests.harness.wire import Accounts

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_STATE_MANAGER = "disk (Reflex's default without Redis)"
Scenario = Callable[..., Awaitable[dict[str, Any]]]  # (server, concurrency, *, ramp_s, window_s, ...)


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
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, soft), max(wanted, hard)))
    except (ValueError, OSError):  # the hard limit may only be raised with privileges
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


@contextlib.contextmanager
def pyspy_record(pid: int, out_dir: Path | None, name: str) -> Iterator[None]:
    """Sample pid's running threads with py-spy while the block runs; no-op without out_dir or py-spy."""
    exe = shutil.which("py-spy")
    if out_dir is None or exe is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [exe, "record", "--pid", str(pid), "--nonblocking", "--rate", "250", "--format", "raw"]
    process = launch([*command, "--output", str(out_dir / f"{name}.txt")], Path(os.devnull))
    try:
        yield
    finally:
        stop_process(process, signal.SIGINT, 30)  # py-spy writes its output and exits


# Leaf frames of threads that wait (py-spy's idle detection lets some through): not CPU.
_WAITING = ("EpollSelector.select (", "Condition.wait (", "_worker (concurrent/futures/thread.py:81)")


def top_frames(collapsed: Path, limit: int = 25) -> dict[str, list[tuple[str, float]]]:
    """The functions most often on py-spy's stacks (inclusive) and on top (self), in % of busy samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(_WAITING):
            continue
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    total = sum(own.values()) or 1
    return {
        "inclusive": [(f, 100 * c / total) for f, c in inclusive.most_common(limit)],
        "self": [(f, 100 * c / total) for f, c in own.most_common(limit)],
    }


async def run_database(
    name: str, server: Server, plan: Plan, profiles: Path | None, hash_cpu_ms: float
) -> dict[str, Any]:
    """The database-bound figures on one server: signups, fairness, JSON signups, sign-ins, signed-in tabs."""
    measure_db = name == "postgresql"
    result: dict[str, Any] = {"websocket_signups": {}, "json_signups": {}, "json_signins": {}}
    emails, cookies = zip(*signing_in.signed_in(server.db_url, plan.idle_memory_clients), strict=True)
    json_signins = functools.partial(scenarios.json_signins, emails=emails[: max(plan.signup_levels)])
    # Warm up every path (imports, zxcvbn's dictionaries, pools) outside any window.
    warm_up = {"ramp_s": 0.5, "window_s": 1.0, "max_count": 40}
    for scenario in (scenarios.websocket_signups, scenarios.json_signups, json_signins):
        await scenario(server, 4, **warm_up)
    worker = server.worker_pids()[0]

    async def at_each_level(run: Scenario, key: str, per: str, profiled: Path | None) -> None:
        """One closed-loop window per level; py-spy (if profiled) samples the highest."""
        for level in plan.signup_levels:
            log(f"{name}: {key.replace('_', ' ')}, {level} concurrent clients")
            top = profiled if level == max(plan.signup_levels) else None
            with pyspy_record(worker, top, f"{name}-ws-{level}"):
                figures = await run(server, level, **plan.window(level, measure_db))
            # Efficiency: the share of the server's CPU per signup (or sign-in) that is the hash itself.
            figures["efficiency"] = stats.share_of(hash_cpu_ms, figures[f"server_cpu_ms_per_{per}"])
            result[key][str(level)] = figures

    await at_each_level(scenarios.websocket_signups, "websocket_signups", "signup", profiles)
    log(f"{name}: cheap events from {plan.fairness_probe_clients} tabs while signups saturate")
    with pyspy_record(worker, profiles, f"{name}-fairness"):
        result["fairness"] = await tabs.fairness(server, plan, measure_db)
    await at_each_level(scenarios.json_signups, "json_signups", "signup", None)
    await at_each_level(json_signins, "json_signins", "signin", None)
    # Last: the signed-in tabs leave 1,000 saved states behind, whose upkeep would weigh on the
    # signup figures above (the disk state manager looks at every saved state every 2 s).
    log(f"{name}: memory over {plan.idle_memory_clients:,} signed-in idle tabs, then the session check")
    result["signed_in_memory"] = await tabs.signed_in_memory(server, list(cookies))
    result["session_check"] = await signing_in.session_check(server.db_url, plan.session_checks, measure_db)
    with Accounts.of(server.db_url) as accounts:
        result["accounts_created"] = accounts.count()
    return result


async def run_connections(server: Server, plan: Plan, profiles: Path | None) -> dict[str, Any]:
    """The figures that do not depend on the database, on a fresh server of their own (SQLite).

    Fresh: no earlier phase has grown its heap, and its thousands of saved tabs weigh on no signup figure.
    """
    result: dict[str, Any] = {}
    log("page weight and the form without JavaScript")
    result["page_weight"] = page_weight.javascript_weight(server.workdir / ".web" / "build" / "client")
    result["no_js_form"] = await page_weight.form_without_javascript(server)
    log("trivial events")
    with pyspy_record(server.worker_pids()[0], profiles, "trivial-events"):
        result["trivial_events"] = await tabs.trivial_events(server, plan)
    log(f"idle clients: memory over {plan.idle_memory_clients}, then up to {plan.idle_steps[-1]:,} held")
    result["idle_clients"] = await tabs.idle_clients(server, plan)
    log("idle websockets on Granian alone (no Reflex)")
    result["idle_clients"]["bare_granian"] = await tabs.bare_granian_memory(plan.idle_memory_clients)
    return result


def run_on_server(
    name: str, folder: Path, measure: Scenario, database: contextlib.AbstractContextManager[str] | None = None
) -> dict[str, Any]:
    """on_own_server, logged, with how the server started under "server"."""
    log(f"{name}: starting the production server")
    started = time.perf_counter()

    async def measured(server: Server) -> dict[str, Any]:
        info = {
            "start_s": time.perf_counter() - started,
            "processes": len(server.pids()),
            "workers": len(server.worker_pids()),
            "cores": server.cores(),
            "state_manager": os.environ.get("REFLEX_STATE_MANAGER_MODE", DEFAULT_STATE_MANAGER),
        }
        return {**await measure(server), "server": info}

    return on_own_server(folder, measured, database)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="short windows and fewer connections (~2 min)")
    add("--databases", default="sqlite,postgresql", help="sqlite, postgresql (skipped when unreachable)")
    add("--output", type=Path, default=RESULTS_DIR / "latest.json", help="where to write JSON")
    add("--profile", action="store_true", help="py-spy the worker in the heaviest phases (perturbs figures)")
    add("--keep", action="store_true", help="keep the servers' folders (logs, builds)")
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


def run(args: argparse.Namespace) -> int:
    """Every phase, then the table printed and every figure (and the table) written to args.output."""
    plan = QUICK if args.quick else FULL
    started = time.time()
    limits = raise_open_files_limit(2 * max(plan.idle_steps) + 1024)
    profiles = args.output.parent / "profiles" if args.profile else None
    scenarios.QUIET_WAIT_S = plan.quiet_wait_s

    log("hash CPU, in-process")
    hash_figures = measure_hash_cpu_ms(plan.hash_runs)
    hash_ms = hash_figures["cpu_ms"]
    app_protocol()  # compile the client's view of the app once, before any window

    results: dict[str, Any] = {
        "meta": {
            "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "profiled": args.profile,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "open_files_limit": limits,
            "cheap_event": "set_is_hydrated(True) on Reflex's on-load state: the last event of the chain the "
            "page runs on each navigation; on a hydrated tab it changes nothing and answers with is_hydrated",
            "plan": plan.__dict__,
        },
        "hash": hash_figures,
        "databases": {},
    }
    with servers_folder(args.keep) as workdir:
        measure_connections = functools.partial(run_connections, plan=plan, profiles=profiles)
        connections = run_on_server("connections", workdir / "connections", measure_connections)
        results["connections_server"] = connections.pop("server")
        results.update(connections)
        cores = results["connections_server"]["cores"]
        log("flood: 1,000 submits from one address while other tabs work, abuse limits on")
        results["flood"] = pressure.run_flood(workdir)
        log(f"overload: {pressure.BURSTS} bursts of 200 signups at once, default hash bound")
        results["overload"] = pressure.run_overload(workdir, pressure.BURSTS)
        for name in args.databases:
            postgres = throwaway_postgres(POSTGRES_ADMIN_URL, prefix="signup_bench")  # dropped afterwards
            database = None if name == "sqlite" else postgres
            measure = functools.partial(run_database, name, plan=plan, profiles=profiles, hash_cpu_ms=hash_ms)
            try:
                results["databases"][name] = run_on_server(name, workdir / name, measure, database)
            except DatabaseUnavailableError as exc:
                log(f"{name}: skipped, not reachable ({exc})")
                results["databases"][name] = {"skipped": f"not reachable: {exc}"}

    bound = stats.hash_bound_per_s(cores, hash_ms)
    results["bound"] = {"cores": cores, "why": WHY_CORES, "signups_per_s": bound}
    results["meta"]["duration_s"] = time.time() - started
    if profiles is not None and profiles.is_dir():
        results["profiles"] = {p.stem: top_frames(p) for p in sorted(profiles.glob("*.txt"))}
    load = results["meta"]["other_programs_load"] = other_load(results)
    results["table"] = build_rows(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(results["table"])
    print(
        f"\nOther programs kept {load['mean_cores']:.2f} cores busy on average (at most "
        f"{load['max_cores']:.2f}) during the {load['windows']} measured windows; throughput figures count "
        f"on the whole machine.\nwritten: {args.output} ({results['meta']['duration_s']:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
