"""Addresses across the two servers of development: relative where one port serves everything.

In production one port serves the pages and the backend. In development (`reflex run`)
the pages come from the frontend server and the routes from the backend's: a page's
plain-HTML form must post to the backend, and a route's redirect must go to the frontend.
"""

from __future__ import annotations

import reflex as rx


def _one_port() -> bool:
    config = rx.config.get_config()
    return config.frontend_port == config.backend_port


def backend_url(path: str) -> str:
    """Where a page's form posts: the backend's route at ``path``."""
    return path if _one_port() else rx.config.get_config().api_url.rstrip("/") + path


def page_url(path: str) -> str:
    """Where a route redirects to show a page: the frontend's page at ``path``."""
    return path if _one_port() else (rx.config.get_config().deploy_url or "").rstrip("/") + path
