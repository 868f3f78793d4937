"""Readers of Linux /proc: process trees, CPU time, memory, connections (psutil is not pinned)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state [0], ppid [1], pgrp [2], utime [11]).

    None when the process is gone.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _processes(*, live: bool = False) -> dict[int, list[str]]:
    """Every process on the machine and its stat fields (zombies left out when live)."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := stat_fields(entry.name)) is not None:
            if not (live and fields[0] == "Z"):
                found[int(entry.name)] = fields
    return found


def children_of(pid: int) -> set[int]:
    """The live child processes of pid."""
    return {child for child, fields in _processes(live=True).items() if int(fields[1]) == pid}


def process_group_members(pgid: int) -> set[int]:
    """The live processes of a process group."""
    return {member for member, fields in _processes(live=True).items() if int(fields[2]) == pgid}


def process_tree(root: int) -> list[int]:
    """Root and every process descended from it."""
    children: dict[int, list[int]] = {}
    for pid, fields in _processes().items():
        children.setdefault(int(fields[1]), []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def leaves(tree: list[int]) -> list[int]:
    """The processes of a tree that have no child in it (a server's workers)."""
    parents = {int(fields[1]) for pid in tree if (fields := stat_fields(pid)) is not None}
    return [pid for pid in tree if pid not in parents]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads) and of their reaped children, in s.

    Pass a whole tree: a child that exits moves its time into its parent's reaped-children
    counters, so a tree's total never loses it.
    """
    ticks = 0
    for pid in pids:
        if (fields := stat_fields(pid)) is not None:
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / _CLOCK_TICKS


def thread_cpu_by_group(pid: int) -> dict[str, float]:
    """CPU seconds of one process's threads, grouped by what they run.

    The main thread runs the event loop; threads at nice +10 are the password-hashing pool
    (signup_app.accounts.passwords); tokio threads are Granian's Rust runtime; the other
    Python threads are asyncio's and Starlette's worker threads (validation, database,
    Reflex's state writes).
    """
    groups: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return groups
    for tid in tids:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if int(tid) == pid:
            group = "event_loop"
        elif int(fields[16]) > 0:
            group = "hash_pool"
        elif comm.startswith("tokio"):
            group = "granian"
        else:
            group = "worker_threads"
        groups[group] = groups.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return groups


def rss_bytes(pids: list[int]) -> int:
    """Resident set size of these processes, summed."""
    total = 0
    for pid in pids:
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
        total += resident * _PAGE_SIZE
    return total


def postgres_pids() -> list[int]:
    """The PostgreSQL server's process trees on this machine (its backends do the SQL work).

    Read again at each end of a window: backends come and go with pooled connections.
    """
    postgres = {}
    for pid, fields in _processes().items():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("postgres"):
            postgres[pid] = int(fields[1])
    roots = [pid for pid, parent in postgres.items() if parent not in postgres]
    return [pid for root in roots for pid in process_tree(root)]


def machine_busy_seconds() -> float:
    """CPU time all cores of the machine spent busy (not idle, not waiting on I/O), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return sum(fields[i] for i in (0, 1, 2, 5, 6, 7)) / _CLOCK_TICKS


def own_cpu_seconds() -> float:
    """CPU time of this process and its children, in seconds."""
    return cpu_seconds(process_tree(os.getpid()))


def environment(pid: int) -> dict[str, str]:
    """A process's environment variables."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.decode(errors="replace").partition("=")[::2] for entry in raw.split(b"\0") if entry)


def established_connections(pid: int, port: int) -> int:
    """How many established TCP connections to local `port` the process holds."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                    count += 1
    return count
