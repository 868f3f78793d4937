"""Optional py-spy sampling of the server's worker during a phase (`--profile`)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tests.harness.server import stop_process


@contextlib.contextmanager
def pyspy_record(pid: int, out_dir: Path | None, name: str) -> Iterator[None]:
    """Sample pid's running threads with py-spy while the block runs; no-op without out_dir or py-spy."""
    exe = shutil.which("py-spy")
    if out_dir is None or exe is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"{name}.txt"
    process = subprocess.Popen(
        [
            *(exe, "record", "--pid", str(pid), "--nonblocking", "--rate", "250"),
            *("--format", "raw", "--output", str(raw)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        stop_process(process, signal.SIGINT, 30, group=False)  # py-spy writes its output and exits


# Leaf frames of threads that wait (py-spy's idle detection lets some through): not CPU.
_WAITING = ("EpollSelector.select (", "Condition.wait (", "_worker (concurrent/futures/thread.py:81)")


def top_frames(collapsed: Path, limit: int = 25) -> dict[str, list[tuple[str, float]]]:
    """The functions most often on py-spy's stacks (inclusive) and on top (self), in % of busy samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(_WAITING):
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return {"inclusive": [], "self": []}
    return {
        "inclusive": [(f, 100 * c / total) for f, c in inclusive.most_common(limit)],
        "self": [(f, 100 * c / total) for f, c in own.most_common(limit)],
    }
