"""``cw open``: the web dashboard in a browser, signed in by a one-time login link."""

from __future__ import annotations

import os
import sys
import webbrowser
from typing import Annotated, Any

import typer

from codewalkers.cli._common import CliError, JsonOption, emit, ok, workspace
from codewalkers.server import runner


def register(app: typer.Typer) -> None:
    app.command("open", epilog="Example: cw open --print")(open_dashboard)


def open_dashboard(
    print_only: Annotated[
        bool,
        typer.Option("--print", help="Only print the link (e.g. to open it on another machine)."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Open the dashboard of the running server with a one-time login link.

    The link works once, within two minutes; it signs the browser in with a session cookie
    (HttpOnly, SameSite=Strict) that lasts 12 hours or until the server restarts.
    """
    from codewalkers.server.auth import read_token

    state = workspace().state_dir
    info, _stale = runner.running(state)
    if info is None:
        raise CliError("no server is running for this workspace: run `cw start --detach` first")
    try:
        ticket = runner.request_json(info, "/login-tickets", token=read_token(state), method="POST")
    except runner.ServerError as exc:
        raise CliError(str(exc)) from exc
    url = info.url + str(ticket["path"])
    opened = False
    if not print_only and _has_graphical_browser():
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
    data: dict[str, Any] = {"url": url, "expires_in": ticket["expires_in"], "opened": opened}

    def human() -> None:
        if opened:
            ok(f"opened the dashboard in your browser ({info.url}/ui/)")
        ok(f"login link (works once, within {int(ticket['expires_in'])} s): {url}")

    emit(data, json_output, human)


def _has_graphical_browser() -> bool:
    """Whether opening a browser makes sense here: without a display (an SSH session, a
    container) Python would fall back to a text browser that takes over the terminal."""
    if sys.platform in {"darwin", "win32"}:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
