"""Concurrent log ingest: N processes inserting batches of log chunks for a fixed time.

Each worker process opens its own connection (the repositories through ``open_database``, or
the bare driver for the floor), waits at a barrier so that all start together, then inserts
batches until its time is up. Every chunk's content carries the worker's running count, so
the parent can check afterwards that each worker's rows are all there, once, in order.
"""

from __future__ import annotations

import time
from typing import Any

LINE = "x" * 80


def content(agent_id: str, number: int) -> str:
    return f"{agent_id} #{number} {LINE}"


def number_of(text: str) -> int:
    return int(text.split(" ", 2)[1][1:])


def worker(
    mode: str,
    url: str,
    agent_id: str,
    seconds: float,
    batch: int,
    barrier: Any,
    results: Any,
) -> None:
    """Insert batches of ``batch`` chunks as ``agent_id`` for ``seconds``; report counts."""
    report: dict[str, Any] = {"agent_id": agent_id, "chunks": 0, "errors": 0, "samples": []}
    try:
        if mode == "repository":
            from codewalkers.db import open_database

            db = open_database(url)

            def insert(first: int) -> None:
                db.log_chunks.insert_chunks(
                    [
                        {
                            "agent_id": agent_id,
                            "agent_name": agent_id,
                            "content": content(agent_id, n),
                        }
                        for n in range(first, first + batch)
                    ]
                )
        else:
            from _floor import Floor
            from codewalkers.db.ids import new_id

            floor = Floor(url)
            sql = floor.sql.chunk_insert_many
            extra: tuple[int, ...] = (0, 1) if floor.is_sqlite else ()

            def insert(first: int) -> None:
                now = time.time_ns() // 1_000_000
                rows = [
                    (new_id(), agent_id, agent_id, 1, content(agent_id, n), now, *extra)
                    for n in range(first, first + batch)
                ]
                with floor.write() as conn:
                    floor.executemany(conn, sql, rows)

        barrier.wait(timeout=300)
        start = time.perf_counter()
        deadline = start + seconds
        stored = 0
        while time.perf_counter() < deadline:
            try:
                insert(stored)
            except Exception as exc:
                report["errors"] += 1
                if len(report["samples"]) < 3:
                    report["samples"].append(repr(exc))
                continue
            stored += batch
        report["elapsed"] = time.perf_counter() - start
        report["chunks"] = stored
    except BaseException as exc:
        report["fatal"] = repr(exc)
        barrier.abort()
    results.put(report)
