"""The Reflex signup page's form action, in dev (two ports) and production (one port)."""

from __future__ import annotations

import pytest
import reflex as rx

from signup_app.web.pages.signup import form_action


@pytest.mark.parametrize(
    ("backend_port", "action"),
    [(3000, "/signup"), (8000, "http://localhost:8000/signup")],
    ids=["one-port-posts-to-the-relative-route", "dev-posts-to-the-backend-not-the-dev-server"],
)
def test_the_form_posts_to_the_backend(
    monkeypatch: pytest.MonkeyPatch, backend_port: int, action: str
) -> None:
    config = rx.config.get_config()
    monkeypatch.setattr(config, "frontend_port", 3000)
    monkeypatch.setattr(config, "backend_port", backend_port)
    monkeypatch.setattr(config, "api_url", "http://localhost:8000")
    assert form_action() == action
