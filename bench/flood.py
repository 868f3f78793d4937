"""The flood phase: one address sends 1,000 submits for one email while other tabs keep working.

Its server has the abuse limits on, trusting 127.0.0.1 as a proxy: each tab names its address.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.browser import Tab
from bench.scenarios import client_session, signup_fields
from bench.server import running_server, sqlite_database
from bench.tabs import close_tabs, probing
from tests.harness.protocol import app_protocol

FLOOD_SUBMITS = 1_000
FLOOD_TABS = 20  # the per-address socket cap (a welcomed tab ignores further submits)
OTHER_TABS = 10
PER_ADDRESS = "10/minute"
TOO_MANY = "Too many attempts"


async def _flood(url: str, protocol: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(7)
    async with client_session() as session:
        flooders = [
            Tab(session, url, protocol, {"X-Forwarded-For": "198.51.100.66"}) for _ in range(FLOOD_TABS)
        ]
        others = [
            Tab(session, url, protocol, {"X-Forwarded-For": f"203.0.113.{i + 1}"}) for i in range(OTHER_TABS)
        ]
        await asyncio.gather(*(tab.connect() for tab in [*flooders, *others]))
        outcomes: list[str] = []

        # Stuffing one address: every submit names the same email, with a new password.
        target = signup_fields(rng)["email"]

        async def flood_tab(tab: Tab, count: int) -> None:
            for _ in range(count):
                vars_ = await tab.submit({**signup_fields(rng), "email": target})
                if vars_.get("welcome_name"):
                    outcomes.append("created")
                    return  # a signed-up tab ignores further submits
                errors = str(vars_.get("errors"))
                outcomes.append(
                    "throttled" if TOO_MANY in errors else "taken" if "already" in errors else "other"
                )

        rtts: list[float] = []
        probe_errors: list[str] = []
        async with probing(others, 0, rtts, probe_errors):
            started = time.perf_counter()
            await asyncio.gather(*(flood_tab(tab, FLOOD_SUBMITS // FLOOD_TABS) for tab in flooders))
            flood_s = time.perf_counter() - started
        await close_tabs([*flooders, *others])
    counts = {kind: outcomes.count(kind) for kind in ("created", "taken", "throttled", "other")}
    return {
        "submits": len(outcomes),
        "outcomes": counts,
        "flood_s": flood_s,
        "others_cheap_event": {
            **stats.latency_summary_ms(rtts),
            "p95_ms": stats.percentile([r * 1000 for r in rtts], 95),
            "errors": len(probe_errors),
        },
        "per_address_limit": PER_ADDRESS,
    }


def run_flood(workdir: Path) -> dict[str, Any]:
    """Start a server with the abuse limits on, flood it, and measure the other tabs."""
    protocol = app_protocol()  # computed outside any event loop
    folder = workdir / "flood"
    with (
        sqlite_database(folder) as url,
        running_server(
            url,
            folder,
            extra_env={
                "SIGNUP_RATE_LIMIT_PER_ADDRESS": PER_ADDRESS,
                "SIGNUP_RATE_LIMIT_PER_EMAIL": "5/minute",
                "SIGNUP_MAX_CONNECTIONS_PER_ADDRESS": "20",
                "SIGNUP_TRUSTED_PROXIES": "127.0.0.1",
            },
        ) as server,
    ):
        return asyncio.run(_flood(server.url, protocol))
