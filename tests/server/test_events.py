"""``GET /events``: Server-Sent Events received by a real client, filters, resumption with
``Last-Event-ID``, and events written by a separate ``cw`` process.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.server.conftest import Server, wait_until

WAIT = 15.0  # seconds: every wait for an event is bounded by this


@dataclass
class Sse:
    id: str | None
    event: str | None
    data: Any


@dataclass
class Stream:
    """A live SSE connection read on a thread: events land in ``events``, comments too."""

    events: queue.Queue[Sse] = field(default_factory=queue.Queue)
    comments: list[str] = field(default_factory=list)
    status: int | None = None
    error: BaseException | None = None

    def next(self, timeout: float = WAIT) -> Sse:
        return self.events.get(timeout=timeout)

    def until(self, type: str, timeout: float = WAIT) -> Sse:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event.event == type:
                return event

    def drain(self, quiet: float = 0.8) -> list[Sse]:
        got = []
        try:
            while True:
                got.append(self.events.get(timeout=quiet))
        except queue.Empty:
            return got


@contextmanager
def stream(
    server: Server, headers: dict[str, str] | None = None, **params: str
) -> Iterator[Stream]:
    result = Stream()
    ready = threading.Event()
    stop = threading.Event()

    def read() -> None:
        try:
            with (
                server.client() as client,
                client.stream(
                    "GET",
                    "/events",
                    params=params,
                    headers=headers or {},
                    timeout=httpx.Timeout(10.0, read=5.0),
                ) as response,
            ):
                result.status = response.status_code
                ready.set()
                if response.status_code != 200:
                    return
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith(":"):
                        result.comments.append(line[1:].strip())
                    elif line == "":
                        if "data" in fields:
                            result.events.put(
                                Sse(
                                    fields.get("id"),
                                    fields.get("event"),
                                    json.loads(fields["data"]),
                                )
                            )
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
        except BaseException as exc:  # surfaced by the test through result.error
            result.error = exc
            ready.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert ready.wait(WAIT), "the stream did not open"
    # The first comment says the stream is subscribed: events from now on reach it.
    deadline = time.monotonic() + WAIT
    while not result.comments and result.status == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield result
    finally:
        stop.set()
        thread.join(timeout=3)


def test_events_stream_to_a_real_client_with_heartbeats(server: Server) -> None:
    with stream(server) as events, server.client() as client:
        assert events.status == 200
        initiative = client.post("/initiatives", json={"name": "Live"}).json()
        created = events.until("initiative:created")
        assert created.data["entity_id"] == initiative["id"]
        assert created.data["initiative_id"] == initiative["id"]
        assert created.data["payload"]["name"] == "Live"
        assert created.id == str(created.data["seq"])
        phase = client.post("/phases", json={"initiative_id": initiative["id"], "name": "P"}).json()
        client.patch(f"/phases/{phase['id']}", json={"status": "in_progress"})
        changed = events.until("phase:status_changed")
        assert changed.data["payload"]["previous_status"] == "pending"
        assert changed.data["payload"]["status"] == "in_progress"
        assert int(changed.id or 0) > int(created.id or 0)
        # A heartbeat every 0.5 s in tests: one arrives well within the bound.
        wait_until(lambda: "heartbeat" in events.comments, timeout=WAIT)
        # A failed write records no event.
        client.post("/tasks", json={"name": "x", "phase_id": phase["id"], "priority": "bad"})
        client.post("/phases", json={"initiative_id": "nope", "name": "x"})
        assert [e.event for e in events.drain()] == []


def test_a_client_resumes_with_last_event_id(server: Server) -> None:
    with server.client() as client:
        with stream(server) as first:
            one = client.post("/initiatives", json={"name": "One"}).json()
            seen = first.until("initiative:created")
            assert seen.data["entity_id"] == one["id"]
        # Disconnected: these happen while nobody listens.
        two = client.post("/initiatives", json={"name": "Two"}).json()
        three = client.post("/initiatives", json={"name": "Three"}).json()
        with stream(server, headers={"Last-Event-ID": seen.id or ""}) as resumed:
            names = [resumed.until("initiative:created").data["payload"]["name"] for _ in range(2)]
            assert names == ["Two", "Three"]
            four = client.post("/initiatives", json={"name": "Four"}).json()
            assert resumed.until("initiative:created").data["entity_id"] == four["id"]
            assert resumed.drain(0.5) == []  # each event once
        with stream(server, after_seq="0") as everything:
            ids = [everything.until("initiative:created").data["entity_id"] for _ in range(4)]
            assert ids == [one["id"], two["id"], three["id"], four["id"]]
        bad = client.get("/events", headers={"Last-Event-ID": "not-a-number"})
        assert bad.status_code == 422


def test_filters_by_type_and_initiative(server: Server) -> None:
    with server.client() as client:
        mine = client.post("/initiatives", json={"name": "Mine"}).json()
        other = client.post("/initiatives", json={"name": "Other"}).json()
        with (
            stream(server, types="phase:*,task:status_changed") as typed,
            stream(server, initiative_id=mine["id"]) as scoped,
        ):
            for initiative in (mine, other):
                phase = client.post(
                    "/phases", json={"initiative_id": initiative["id"], "name": "P"}
                ).json()
                task = client.post("/tasks", json={"name": "T", "phase_id": phase["id"]}).json()
                client.patch(f"/tasks/{task['id']}", json={"status": "completed"})
            typed_events = [typed.next() for _ in range(4)]
            assert [e.event for e in typed_events] == [
                "phase:created",
                "task:status_changed",
                "phase:created",
                "task:status_changed",
            ]
            scoped_events = [scoped.next() for _ in range(3)]
            assert {e.data["initiative_id"] for e in scoped_events} == {mine["id"]}
            assert [e.event for e in scoped_events] == [
                "phase:created",
                "task:created",
                "task:status_changed",
            ]
            assert typed.drain(0.5) == [] and scoped.drain(0.1) == []


def test_events_written_by_a_separate_cli_process_arrive(server: Server) -> None:
    with stream(server) as events:
        workspace = server.workspace
        initiative = workspace.ok("initiative", "create", "From the CLI")
        created = events.until("initiative:created")
        assert created.data["entity_id"] == initiative["id"]
        phase = workspace.ok("phase", "create", "--initiative", initiative["id"], "Build")
        task = workspace.ok("task", "create", "Ship", "--phase", phase["id"])
        workspace.ok("task", "status", task["id"], "in_progress")
        changed = events.until("task:status_changed")
        assert changed.data["entity_id"] == task["id"]
        assert changed.data["payload"]["status"] == "in_progress"
