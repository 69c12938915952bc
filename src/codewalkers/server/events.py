"""Live domain events for ``GET /events``: one hub per server, fed from the outbox.

The outbox (``db.events``) is the source of truth: every write made through the services
records its event in the same transaction, whichever process made it (the server, a ``cw``
command, an agent, another machine on PostgreSQL). The hub follows the outbox and fans new
events out to the connected streams:

- Wake-up: on PostgreSQL a dedicated psycopg connection LISTENs on ``codewalkers_events``
  (``append`` notifies on commit) and wakes the hub at once, with a slow safety poll; if
  LISTEN cannot be set up, or on SQLite, the hub polls the outbox every ``poll_interval``,
  and every ``busy_poll_interval`` for ``busy_window`` seconds after a poll found events
  (agents writing output): a line then waits ~20 ms for the hub, not up to 250 ms, and an
  idle outbox costs no more than before.
- Each stream has a bounded queue. A client too slow to keep up is not dropped and loses
  nothing: its queue is discarded and it catches up from the outbox, as a reconnecting
  client with ``Last-Event-ID`` does.
- Retention: every ``prune_interval`` the hub deletes events older than ``retention``
  except the newest ``keep_last`` (default: 7 days, at least the newest 10,000 stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from codewalkers.db import Database
from codewalkers.db.records import Event

log = logging.getLogger("codewalkers.server.events")

CHANNEL = "codewalkers_events"
BATCH = 500


@dataclass(frozen=True)
class EventSettings:
    """How the hub follows the outbox and paces the streams."""

    heartbeat: float = 20.0  # seconds between keep-alive comments on an idle stream
    poll_interval: float = 0.25  # SQLite, or PostgreSQL without LISTEN
    busy_poll_interval: float = 0.02  # polling, while events keep coming
    busy_window: float = 1.0  # seconds after the last poll that found events
    listen_poll_interval: float = 5.0  # PostgreSQL with LISTEN: a safety net only
    queue_size: int = 1000  # events buffered per stream before it falls back to the outbox
    retention: timedelta = timedelta(days=7)
    keep_last: int = 10_000
    prune_interval: float = 3600.0


@dataclass(eq=False)
class Subscriber:
    """One connected stream: its filters, its queue, and whether it overflowed."""

    types: tuple[str, ...]
    initiative_id: str | None
    queue: asyncio.Queue[Event]
    overflowed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, event: Event) -> bool:
        if self.initiative_id is not None and event.initiative_id != self.initiative_id:
            return False
        return type_matches(self.types, event.type)


def type_matches(patterns: Sequence[str], name: str) -> bool:
    """``name`` matches one of ``patterns``: exact, or a prefix ending in ``*``; no
    patterns match everything.
    """
    if not patterns:
        return True
    for pattern in patterns:
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def format_event(event: Event) -> str:
    """One Server-Sent Event: ``id`` = seq, ``event`` = type, ``data`` = the event as JSON."""
    data = {
        "seq": event.seq,
        "type": event.type,
        "initiative_id": event.initiative_id,
        "entity_id": event.entity_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.type}\ndata: {text}\n\n"


class EventHub:
    """Follows the outbox and feeds every connected stream. Start it with :meth:`start`
    inside the server's event loop; :meth:`stop` on shutdown.
    """

    def __init__(self, db: Database, settings: EventSettings | None = None) -> None:
        self.db = db
        self.settings = settings or EventSettings()
        self.last_seq = 0
        self.listening = False
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._closing = False

    # --- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        self.last_seq = await run_in_threadpool(self.db.events.latest_seq)
        loop = asyncio.get_running_loop()
        if self.db.dialect == "postgresql":
            self._listener = threading.Thread(
                target=self._listen, args=(loop,), name="cw-events-listen", daemon=True
            )
            self._listener.start()
        self._tasks = [
            asyncio.create_task(self._follow(), name="cw-events-follow"),
            asyncio.create_task(self._prune_periodically(), name="cw-events-prune"),
        ]

    def close_streams(self) -> None:
        """End every stream (the server is shutting down); call in the event loop."""
        self._closing = True
        for subscriber in list(self._subscribers):
            subscriber.wake.set()

    async def stop(self) -> None:
        self.close_streams()
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._listener is not None:
            await run_in_threadpool(self._listener.join, 2.0)

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def stream_count(self) -> int:
        """How many streams are connected."""
        return len(self._subscribers)

    # --- following the outbox -------------------------------------------------------

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """LISTEN on a dedicated connection; each notification wakes the hub."""
        try:
            with self.db.events.subscribe() as notifications:
                self.listening = True
                loop.call_soon_threadsafe(self._wake.set)  # read what came before LISTEN
                while not self._stop.is_set():
                    # Returns within 1 s even when quiet, to notice a stop request.
                    for _ in notifications(1.0):
                        loop.call_soon_threadsafe(self._wake.set)
        except Exception as exc:
            if not self._stop.is_set():
                log.warning("LISTEN %s failed (%s); polling the outbox instead", CHANNEL, exc)
        finally:
            self.listening = False

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        busy_until = 0.0
        while True:
            if self.listening:
                interval = self.settings.listen_poll_interval
            elif loop.time() < busy_until:
                interval = min(self.settings.busy_poll_interval, self.settings.poll_interval)
            else:
                interval = self.settings.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                if await self._read_new():
                    busy_until = loop.time() + self.settings.busy_window
            except Exception as exc:  # the database may be briefly unavailable
                log.warning("reading the outbox failed: %s", exc)
                await asyncio.sleep(self.settings.poll_interval)

    async def _read_new(self) -> int:
        """Publish every event after ``last_seq``; return how many."""
        count = 0
        while True:
            events = await run_in_threadpool(self.db.events.find_after, self.last_seq, limit=BATCH)
            for event in events:
                self._publish(event)
                self.last_seq = event.seq
            count += len(events)
            if len(events) < BATCH:
                return count

    def _publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            if subscriber.overflowed or not subscriber.matches(event):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.overflowed = True
            subscriber.wake.set()

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.prune_interval)
            try:
                await self.prune()
            except Exception as exc:
                log.warning("pruning old events failed: %s", exc)

    async def prune(self) -> int:
        """Apply the retention rule once; return how many events were deleted."""
        cutoff = datetime.now(UTC) - self.settings.retention
        deleted: int = await run_in_threadpool(
            self.db.events.prune, cutoff, self.settings.keep_last
        )
        if deleted:
            log.info("pruned %d events older than %s", deleted, cutoff.isoformat())
        return deleted

    # --- streams --------------------------------------------------------------------

    async def stream(
        self,
        *,
        after_seq: int | None,
        types: Sequence[str] = (),
        initiative_id: str | None = None,
    ) -> AsyncIterator[str]:
        """The SSE text of a stream: the events after ``after_seq`` (``None``: only new
        ones), then every new event, with a heartbeat comment when idle.
        """
        subscriber = Subscriber(
            types=tuple(types),
            initiative_id=initiative_id,
            queue=asyncio.Queue(maxsize=self.settings.queue_size),
        )
        # Subscribe first, then read the backlog: nothing falls between the two.
        self._subscribers.add(subscriber)
        try:
            # "From now on" is the outbox's now, not how far the hub has read yet.
            last = await run_in_threadpool(self.db.events.latest_seq)
            if after_seq is not None:
                last = after_seq
            yield f": connected, last seq {last}\nretry: 2000\n\n"
            if after_seq is not None:
                async for chunk, seq in self._catch_up(subscriber, last):
                    last = seq
                    yield chunk
            while not self._closing:
                if subscriber.overflowed:
                    # Too slow for the queue: drop it and read from the outbox instead.
                    subscriber.queue = asyncio.Queue(maxsize=self.settings.queue_size)
                    subscriber.overflowed = False
                    async for chunk, seq in self._catch_up(subscriber, last):
                        last = seq
                        yield chunk
                    continue
                if subscriber.queue.empty():
                    subscriber.wake.clear()
                    try:
                        await asyncio.wait_for(
                            subscriber.wake.wait(), timeout=self.settings.heartbeat
                        )
                    except TimeoutError:
                        yield ": heartbeat\n\n"
                    continue
                event = subscriber.queue.get_nowait()
                if event.seq > last:
                    last = event.seq
                    yield format_event(event)
        finally:
            self._subscribers.discard(subscriber)

    async def _catch_up(self, subscriber: Subscriber, last: int) -> AsyncIterator[tuple[str, int]]:
        """Events after ``last`` from the outbox, up to what the hub has published."""
        while True:
            events = await run_in_threadpool(
                self.db.events.find_after,
                last,
                types=list(subscriber.types) or None,
                initiative_id=subscriber.initiative_id,
                limit=BATCH,
            )
            for event in events:
                last = event.seq
                yield format_event(event), last
            if len(events) < BATCH:
                return

    def history(
        self,
        after_seq: int,
        types: Sequence[str],
        initiative_id: str | None,
        limit: int,
    ) -> list[Event]:
        """A page of stored events (for clients that poll instead of streaming)."""
        return self.db.events.find_after(
            after_seq, types=list(types) or None, initiative_id=initiative_id, limit=limit
        )


def parse_types(value: str | None) -> list[str]:
    """``"task:status_changed, phase:*"`` → ``["task:status_changed", "phase:*"]``."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
