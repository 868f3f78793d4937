"""The Reflex signup page's form action, in dev (two ports) and production (one port)."""

from __future__ import annotations

import pytest
import reflex as rx

from signup_app.web.pages.signup import form_action


def test_one_port_posts_to_the_relative_route(monkeypatch: pytest.MonkeyPatch) -> None:
    config = rx.config.get_config()
    monkeypatch.setattr(config, "frontend_port", 3000)
    monkeypatch.setattr(config, "backend_port", 3000)
    assert form_action() == "/signup"


def test_dev_posts_to_the_backend_not_the_dev_server(monkeypatch: pytest.MonkeyPatch) -> None:
    config = rx.config.get_config()
    monkeypatch.setattr(config, "frontend_port", 3000)
    monkeypatch.setattr(config, "backend_port", 8000)
    monkeypatch.setattr(config, "api_url", "http://localhost:8000")
    assert form_action() == "http://localhost:8000/signup"
