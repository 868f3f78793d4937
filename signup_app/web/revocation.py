"""Revocation reaches open tabs: every tab showing a revoked session is signed out at once.

The account page registers its tab under its session (``watch``). Whoever revokes a
session (sign-out, "sign out of all other devices", a sign-out in another tab) calls
``announce``, which signs out each registered tab's state through Reflex's
``modify_state``: the change is pushed to the tab over its own socket, on whichever
worker holds it (Reflex forwards it there through Redis).

With Redis the registry is shared by every worker (a set per session, expiring with
it); without it (development, one worker) it lives in this process.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from reflex.istate.manager.token import BaseStateToken

from signup_app import settings

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState

logger = logging.getLogger(__name__)

_KEY = "signup_app:session-tabs:{}"
# Tabs are only registered while a session can live; the set outlives none of them.
_local: dict[int, set[str]] = {}
_target: tuple[App, type[BaseState], Callable[[BaseState, frozenset[int]], None]] | None = None


def install(app: App, state: type[BaseState], sign_out: Callable[[BaseState, frozenset[int]], None]) -> None:
    """Revoked tabs get ``sign_out(state, revoked_ids)`` run on their ``state`` substate (the account page's).

    ``sign_out`` decides whether the tab still shows one of those sessions (a tab may have
    signed in again since it was registered).
    """
    global _target  # noqa: PLW0603  (set once, when the app is built)
    _target = (app, state, sign_out)


@functools.cache
def _redis(url: str) -> Redis:
    return Redis.from_url(url)


async def watch(session_id: int, tab: str, config: settings.Settings | None = None) -> None:
    """Register a tab (Reflex's tab token) as showing the session."""
    config = config or settings.load()
    if config.redis_url is None:
        _local.setdefault(session_id, set()).add(tab)
        return
    key = _KEY.format(session_id)
    async with _redis(config.redis_url).pipeline(transaction=False) as pipe:
        pipe.sadd(key, tab)
        pipe.expire(key, config.session_absolute_days * 86400)
        await pipe.execute()


async def _tabs(session_ids: Iterable[int], config: settings.Settings) -> set[str]:
    ids = list(session_ids)
    if config.redis_url is None:
        return {tab for session_id in ids for tab in _local.pop(session_id, set())}
    redis = _redis(config.redis_url)
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in ids:
            pipe.smembers(_KEY.format(session_id))
            pipe.delete(_KEY.format(session_id))
        replies = await pipe.execute()
    return {tab.decode() for members in replies[::2] for tab in members}


async def announce(
    session_ids: Iterable[int], *, skip: str | None = None, config: settings.Settings | None = None
) -> int:
    """Sign out every tab registered under these (just revoked) sessions; returns how many.

    Args:
        session_ids: The sessions revoked.
        skip: The tab whose event revoked them (its state is held by that event: it updates itself).
        config: The settings (None: the loaded ones).
    """
    if _target is None:
        return 0
    app, state_class, sign_out = _target
    revoked = frozenset(session_ids)
    tabs = await _tabs(revoked, config or settings.load()) - {skip or ""}
    for tab in tabs:
        try:
            async with app.modify_state(BaseStateToken(ident=tab, cls=state_class)) as root:
                sign_out(await root.get_state(state_class), revoked)
        except Exception:
            # One tab's state that cannot be loaded must not keep the others signed in.
            logger.exception("could not sign out a tab of a revoked session")
    return len(tabs)
