"""Pure arithmetic of the benchmark: percentiles, rates, and the hashing bound."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0-100) by linear interpolation between closest ranks; NaN if empty."""
    if not values:
        return math.nan
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = ordered[math.floor(rank)], ordered[math.ceil(rank)]
    return low + (high - low) * (rank - math.floor(rank))


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """Count, p50, p99 and max of round trips given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else math.nan,
    }


def rate(count: int, seconds: float) -> float:
    """Completions per second over a window."""
    return count / seconds if seconds > 0 else math.nan


def per_item_ms(cpu_seconds: float, count: int) -> float:
    """CPU milliseconds per completed item."""
    return cpu_seconds * 1000 / count if count else math.nan


def hash_bound_per_s(cores: int, hash_cpu_ms: float) -> float:
    """Signups per second the cores could do if they did nothing but hash."""
    return cores * 1000 / hash_cpu_ms if hash_cpu_ms > 0 else math.nan


def share_of(value: float, reference: float) -> float:
    """value / reference, NaN when the reference is missing."""
    if not reference or math.isnan(reference):
        return math.nan
    return value / reference
