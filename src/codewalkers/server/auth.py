"""The API token and the checks every request passes: the ``Host`` header, then the token.

The token lives in ``.cw/api-token`` (mode 0600, created by ``cw init`` and ``cw start``).
Every request except ``GET /health`` carries ``Authorization: Bearer <token>``; the
comparison is constant-time. A ``Host`` header other than the bound address is refused
(421), which defeats DNS rebinding: a web page cannot make the browser talk to the server
under another name. There is deliberately no CORS middleware.

The dashboard (``/``, ``/login``, ``/ui/...``; ``server/dashboard/``) is for browsers, which
cannot send the token on a navigation: its pages need the session cookie that ``cw open``'s
one-time login link opens instead, and its state-changing requests (anything but GET/HEAD)
need an ``Origin`` header naming this very server (a page elsewhere cannot post a form here).
The Host check applies to it all the same.
"""

from __future__ import annotations

import html
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from codewalkers.server.dashboard.sessions import cookie_name

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from codewalkers.server.dashboard.sessions import DashboardSessions

TOKEN_FILE = "api-token"

#: Paths anyone on the allowed hosts may read without the token.
OPEN_PATHS = frozenset({"/health"})

#: The dashboard's login checks its one-time ticket itself; its assets are public.
DASHBOARD_LOGIN = "/login"
DASHBOARD_ASSETS = "/ui/static/"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def is_dashboard_path(path: str) -> bool:
    """Paths served to browsers with the session cookie instead of the token."""
    return path in {"/", "/ui", "/login"} or path.startswith("/ui/")


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def ensure_token(state_dir: Path) -> str:
    """The workspace's API token, created (random, mode 0600) when ``state_dir`` has none.

    Raises ``OSError`` when the file cannot be read or written.
    """
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if token:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return token
    token = secrets.token_urlsafe(32)
    # O_EXCL: two processes creating it at once must not end with different tokens.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def read_token(state_dir: Path) -> str | None:
    """The token in ``state_dir``, or ``None`` when there is none."""
    try:
        return (state_dir / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "localhost", "::1", "[::1]"} or host.startswith("127.")


def allowed_hosts_for(host: str, port: int) -> list[str]:
    """The ``Host`` header values a server bound to ``host:port`` answers: the address itself
    and, for a loopback or wildcard bind, the loopback names.
    """
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {shown}
    if is_loopback(host) or host in {"0.0.0.0", "::", "[::]"}:
        names.update(LOOPBACK_NAMES)
    return sorted(f"{name}:{port}" for name in names)


class GuardMiddleware:
    """Refuse a request whose ``Host`` is not allowed (421), then one without the token (401).

    A plain ASGI middleware (not ``BaseHTTPMiddleware``), so that streamed responses (the
    event stream) pass through untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        allowed_hosts: Iterable[str],
        sessions: DashboardSessions | None = None,
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.allowed = frozenset(host.lower() for host in allowed_hosts)
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.allowed:
            await _refuse(send, 421, "misdirected_request", f"host {host!r} is not served here")
            return
        path = scope["path"]
        if self.sessions is not None and is_dashboard_path(path):
            refusal = self._dashboard_refusal(scope, headers, host)
            if refusal is not None:
                await _refuse_page(send, refusal[0], refusal[2])
                return
        elif path not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                await _refuse(
                    send,
                    401,
                    "unauthorized",
                    "missing or wrong API token: send Authorization: Bearer <.cw/api-token>",
                    extra=[(b"www-authenticate", b"Bearer")],
                )
                return
        await self.app(scope, receive, send)

    def _dashboard_refusal(
        self, scope: Scope, headers: dict[bytes, bytes], host: str
    ) -> tuple[int, str, str] | None:
        """Why a dashboard request is refused (status, code, one line), or ``None``."""
        assert self.sessions is not None
        path = scope["path"]
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get(b"origin", b"").decode("latin-1").lower()
            if origin != f"http://{host}":
                return 403, "forbidden", "cross-origin request refused (Origin must be this server)"
        if path == DASHBOARD_LOGIN or path.startswith(DASHBOARD_ASSETS):
            return None
        cookies = parse_cookies(headers.get(b"cookie", b"").decode("latin-1"))
        if not self.sessions.valid(cookies.get(cookie_name(host))):
            return 401, "unauthorized", "not signed in: run `cw open` for a login link"
        return None


def parse_cookies(header: str) -> dict[str, str]:
    """``"a=1; b=2"`` → ``{"a": "1", "b": "2"}`` (the first of repeated names wins)."""
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


async def _refuse_page(send: Send, status: int, line: str) -> None:
    """A dashboard refusal: a small HTML page for a browser, the line in ``X-CW-Error``
    for the dashboard's own script."""
    text = html.escape(line)
    body = (
        '<!doctype html><meta charset="utf-8"><title>Codewalkers</title>'
        '<link rel="stylesheet" href="/ui/static/dashboard.css">'
        f'<main class="refused"><h1>Codewalkers</h1><p class="error-line">{text}</p></main>'
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"x-cw-error", line.encode("ascii", "replace")),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse(
    send: Send,
    status: int,
    code: str,
    detail: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"detail": detail, "code": code, "field": None}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
