"""The event hub in-process: how fast it follows the outbox when it polls (SQLite)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from codewalkers.db import Database
from codewalkers.server.events import EventHub, EventSettings
from codewalkers.services import plan
from tests.factories import make_initiative


def test_while_events_keep_coming_the_hub_polls_fast_then_slows_down(db: Database) -> None:
    """Polling every 2 s, the first event may wait up to 2 s; the ones after it (agents
    writing output) wait one busy poll (20 ms), not another 2 s."""
    initiative = make_initiative(db)
    settings = EventSettings(poll_interval=2.0, busy_poll_interval=0.02, busy_window=5.0)

    async def scenario() -> list[float]:
        hub = EventHub(db, settings)
        await hub.start()
        stream = hub.stream(after_seq=None)
        try:
            assert (await anext(stream)).startswith(": connected")
            waits = []
            for n in range(3):
                await asyncio.to_thread(plan.create_phase, db, initiative.id, f"Phase {n}")
                started = time.monotonic()
                chunk = await asyncio.wait_for(anext(stream), timeout=5)
                assert "phase:created" in chunk
                waits.append(time.monotonic() - started)
            return waits
        finally:
            await stream.aclose()
            await hub.stop()

    # A thread of its own: the browser tests' Playwright keeps an event loop running in
    # the main thread for the whole session, where asyncio.run() refuses to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        waits = pool.submit(asyncio.run, scenario()).result()
    assert max(waits[1:]) < 0.5, waits
