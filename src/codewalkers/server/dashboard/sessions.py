"""Who may use the dashboard: one-time login tickets and the sessions they open.

The browser cannot send the API's Bearer token on a navigation, so ``cw open`` (which can
read ``.cw/api-token``) asks the server for a *ticket* (``POST /login-tickets``) and opens
``/login?ticket=...``. The server exchanges the ticket, once, for a *session*: a random id
in an HttpOnly, SameSite=Strict cookie. Both live in the server process's memory only: a
restarted server has forgotten every session (run ``cw open`` again), and nothing secret is
written to disk. Only SHA-256 digests of tickets and session ids are kept, so a lookup's
timing says nothing about a valid value.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: A ticket is good for one exchange within this many seconds.
TICKET_TTL = 120.0
#: A session lasts this long from login (no sliding renewal: log in again with ``cw open``).
SESSION_TTL = 12 * 3600.0
#: Bounds on what memory may hold; the oldest entries make room.
MAX_TICKETS = 100
MAX_SESSIONS = 1000

COOKIE_PREFIX = "cw_session_"


def cookie_name(host: str) -> str:
    """The session cookie for the server at ``host`` (``"127.0.0.1:3847"``).

    Browsers share cookies between the ports of one host: naming the cookie after the port
    keeps two workspaces' dashboards on the same machine from logging each other out.
    """
    port = host.rsplit(":", 1)[-1] if ":" in host else "80"
    return COOKIE_PREFIX + "".join(ch for ch in port if ch.isdigit())


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Ticket:
    value: str
    expires_in: float


class DashboardSessions:
    """Tickets and sessions in memory, safe to use from any thread."""

    def __init__(
        self,
        *,
        ticket_ttl: float = TICKET_TTL,
        session_ttl: float = SESSION_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ticket_ttl = ticket_ttl
        self.session_ttl = session_ttl
        self._clock = clock
        self._tickets: dict[str, float] = {}  # digest -> expiry
        self._sessions: dict[str, float] = {}
        self._lock = threading.Lock()

    def mint_ticket(self) -> Ticket:
        """A new one-time ticket."""
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._expire(self._tickets, MAX_TICKETS)
            self._tickets[_digest(value)] = self._clock() + self.ticket_ttl
        return Ticket(value, self.ticket_ttl)

    def exchange(self, ticket: str) -> str | None:
        """A new session id for a valid, unused, unexpired ticket (used up now); else
        ``None``."""
        if not ticket:
            return None
        with self._lock:
            expiry = self._tickets.pop(_digest(ticket), None)
            if expiry is None or expiry < self._clock():
                return None
            self._expire(self._sessions, MAX_SESSIONS)
            session = secrets.token_urlsafe(32)
            self._sessions[_digest(session)] = self._clock() + self.session_ttl
        return session

    def valid(self, session: str | None) -> bool:
        """Whether ``session`` is a live session id."""
        if not session:
            return False
        with self._lock:
            expiry = self._sessions.get(_digest(session))
            if expiry is None:
                return False
            if expiry < self._clock():
                del self._sessions[_digest(session)]
                return False
            return True

    def end(self, session: str | None) -> None:
        """Forget ``session`` (logout)."""
        if session:
            with self._lock:
                self._sessions.pop(_digest(session), None)

    def _expire(self, entries: dict[str, float], limit: int) -> None:
        now = self._clock()
        for key in [key for key, expiry in entries.items() if expiry < now]:
            del entries[key]
        while len(entries) >= limit:
            del entries[min(entries, key=entries.__getitem__)]
