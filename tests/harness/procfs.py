"""Readers of Linux /proc: process trees, CPU time, memory, connections (psutil is not pinned)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _read(path: str) -> str:
    """A /proc file's text; empty when its process is gone."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _stat(path: str) -> tuple[str, list[str]] | None:
    """A stat file's command name and the fields after it (state [0], ppid [1], pgrp [2], utime [11])."""
    if not (text := _read(path)):
        return None
    return text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name; None when the process is gone."""
    return (_stat(f"/proc/{pid}/stat") or ("", None))[1]


def _processes(*, live: bool = False) -> dict[int, list[str]]:
    """Every process on the machine and its stat fields (zombies left out when live)."""
    stats = {int(e.name): stat_fields(e.name) for e in os.scandir("/proc") if e.name.isdigit()}
    return {pid: fields for pid, fields in stats.items() if fields and not (live and fields[0] == "Z")}


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
    """User + system CPU seconds of these processes and their reaped children (pass a whole tree)."""
    stats = [fields for pid in pids if (fields := stat_fields(pid)) is not None]
    return sum(int(v) for fields in stats for v in fields[11:15]) / _CLOCK_TICKS  # utime stime cutime cstime


def thread_cpu_by_group(pid: int) -> dict[str, float]:
    """CPU seconds of a process's threads: event_loop, hash_pool (niced), granian (tokio), worker_threads."""
    groups: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return groups
    for tid in tids:
        if (stat := _stat(f"/proc/{pid}/task/{tid}/stat")) is None:
            continue
        comm, fields = stat
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
    return sum(int(statm.split()[1]) * _PAGE_SIZE for pid in pids if (statm := _read(f"/proc/{pid}/statm")))


def postgres_pids() -> list[int]:
    """The PostgreSQL server's process trees on this machine (backends come and go: read it again)."""
    processes = _processes()
    postgres = {pid for pid in processes if _read(f"/proc/{pid}/comm").startswith("postgres")}
    roots = [pid for pid in postgres if int(processes[pid][1]) not in postgres]
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


def _tcp_sockets(port: int, state: str) -> Iterator[tuple[str, str]]:
    """(local hex address, inode) of each TCP socket on local port in `state` (01 established, 0A listen)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                address, _, hex_port = parts[1].partition(":")
                if parts[3] == state and int(hex_port, 16) == port:
                    yield address, parts[9]


def established_connections(pid: int, port: int) -> int:
    """How many established TCP connections to local `port` the process holds."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    return sum(inode in inodes for _, inode in _tcp_sockets(port, "01"))


def listening_addresses(port: int) -> set[str]:
    """The local addresses TCP sockets listen on at port."""
    # The kernel prints each 32-bit word of an address in host (little-endian) order.
    raws = [bytes.fromhex(address) for address, _ in _tcp_sockets(port, "0A")]
    return {
        str(ipaddress.ip_address(b"".join(r[i : i + 4][::-1] for i in range(0, len(r), 4)))) for r in raws
    }
