"""The coordination server: the HTTP API over the services, and the live event stream.

Thin, as the CLI is: validate, call a service (or read a repository), serialize. See
docs/server-api.md. ``create_app`` and the event hub are imported on first use, so that
``cw`` commands which never serve do not pay for FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codewalkers.server.auth import ensure_token

if TYPE_CHECKING:
    from codewalkers.server.app import create_app
    from codewalkers.server.events import EventHub, EventSettings

__all__ = ["EventHub", "EventSettings", "create_app", "ensure_token"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from codewalkers.server.app import create_app

        return create_app
    if name in {"EventHub", "EventSettings"}:
        from codewalkers.server import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
