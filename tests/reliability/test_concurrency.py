"""Concurrency: 8 processes write at once, for a bounded time, to one SQLite file or one
PostgreSQL database, mixing every hot write path:

- log chunk batches (``insert_chunks``),
- task status changes on their own task,
- conversations created for another worker and answered by their addressee,
- account claims (``find_next_available``), all workers at the same moment (a barrier),
  with exactly as many free accounts as workers,
- ``get_or_create_root_page`` on the round's initiative, all workers at once.

Afterwards: no worker saw an error, every write a worker was told succeeded is there, no
account went to two workers in one round, each initiative has one root page, and the counts
in the database are the sums of what the workers report.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import Database, open_database
from tests.factories import make_account, make_agent, make_initiative, make_phase, make_task

pytestmark = pytest.mark.slow

FORK = multiprocessing.get_context("fork")
BARRIER_TIMEOUT = 120


def worker(
    url: str,
    number: int,
    plan: dict[str, Any],
    barrier: Any,
    stop: Any,
    out: str,
) -> None:
    """One writer: rounds until the barrier's action says the time is up."""
    rng = random.Random(number)
    agent_id = plan["agents"][number]
    task_id = plan["tasks"][number]
    workers = len(plan["agents"])
    report: dict[str, Any] = {
        "errors": [],
        "chunks": [],
        "conversations": [],
        "answered": {},
        "claims": [],
        "roots": [],
        "statuses": [],
    }
    db = open_database(url)

    def attempt(what: str, call: Any) -> Any:
        try:
            return call()
        except Exception:
            report["errors"].append(f"{what}: {traceback.format_exc()}")
            return None

    try:
        round_ = 0
        while True:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            if stop.value:
                break
            account = attempt("claim", lambda: db.accounts.find_next_available("claude"))
            report["claims"].append(None if account is None else account.id)
            initiative = plan["initiatives"][round_ % len(plan["initiatives"])]
            page = attempt("root page", lambda i=initiative: db.pages.get_or_create_root_page(i))
            report["roots"].append([initiative, None if page is None else page.id])

            batch = [
                {
                    "agent_id": agent_id,
                    "agent_name": f"worker-{number}",
                    "content": f"{number}:{round_}:{n}",
                }
                for n in range(rng.randint(1, 20))
            ]
            if attempt("chunks", lambda b=batch: db.log_chunks.insert_chunks(b)) == len(batch):
                report["chunks"].extend(item["content"] for item in batch)

            status = ("in_progress", "completed", "pending")[round_ % 3]
            if attempt("status", lambda s=status: db.tasks.update(task_id, status=s)):
                report["statuses"].append(status)

            to_agent = plan["agents"][(number + 1 + rng.randrange(workers - 1)) % workers]
            asked = attempt(
                "ask",
                lambda a=to_agent, r=round_: db.conversations.create(
                    from_agent_id=agent_id, to_agent_id=a, question=f"q {number}:{r}"
                ),
            )
            if asked is not None:
                report["conversations"].append(asked.id)
            pending = attempt("listen", lambda: db.conversations.find_pending_for_agent(agent_id))
            for conversation in pending or []:
                answer = f"a {number} to {conversation.id}"
                if attempt(
                    "answer", lambda c=conversation, a=answer: db.conversations.answer(c.id, a)
                ):
                    report["answered"][conversation.id] = answer
            round_ += 1
    except Exception:
        report["errors"].append(traceback.format_exc())
        barrier.abort()
    finally:
        db.close()
        Path(out).write_text(json.dumps(report))


def test_eight_processes_writing_at_once_lose_nothing_and_share_nothing(
    db: Database, database_url: str, backend: str, tmp_path: Path, long_run: bool, report: Any
) -> None:
    workers, seconds = (12, 20.0) if long_run else (8, 10.0)
    phase = make_phase(db)
    plan = {
        "agents": [make_agent(db).id for _ in range(workers)],
        "tasks": [make_task(db, phase).id for _ in range(workers)],
        "initiatives": [make_initiative(db).id for _ in range(400 if long_run else 100)],
    }
    accounts = {make_account(db, sort_order=n).id for n in range(workers)}
    # No dispose before forking: a forked child replaces the pool it inherits (engine.py).

    stop = FORK.Value("b", 0)
    # The clock starts when every worker has reached the first barrier: starting 8 processes
    # on a loaded 2-core CI machine once took longer than the whole run, leaving no rounds.
    first_round = FORK.Value("d", 0.0)

    def decide() -> None:  # runs once per round, before any worker leaves the barrier
        now = time.monotonic()
        if not first_round.value:
            first_round.value = now
        stop.value = now >= first_round.value + seconds

    barrier = FORK.Barrier(workers, action=decide)
    outs = [str(tmp_path / f"worker-{n}.json") for n in range(workers)]
    processes = [
        FORK.Process(target=worker, args=(database_url, n, plan, barrier, stop, outs[n]))
        for n in range(workers)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=seconds + BARRIER_TIMEOUT)
    elapsed = time.monotonic() - started
    assert [p.exitcode for p in processes] == [0] * workers
    reports = [json.loads(Path(out).read_text()) for out in outs]

    # No error surfaced in any worker: no "database is locked", no serialization failure.
    errors = [error for r in reports for error in r["errors"]]
    assert errors == [], errors[0]
    rounds = len(reports[0]["claims"])
    assert rounds > 0 and all(len(r["claims"]) == rounds for r in reports)

    # Accounts: every round, each worker got an account and no two got the same one.
    for round_ in range(rounds):
        claimed = [r["claims"][round_] for r in reports]
        assert None not in claimed, f"round {round_}: a worker got no account"
        assert sorted(claimed) == sorted(accounts), f"round {round_}: {Counter(claimed)}"

    # Root pages: all workers of a round got the same page, the only root of its initiative.
    roots: dict[str, set[str]] = {}
    for r in reports:
        for initiative, page in r["roots"]:
            roots.setdefault(initiative, set()).add(page)
    with db.engine.connect() as connection:
        stored_roots = Counter(
            row[0]
            for row in connection.execute(
                sa.text("SELECT initiative_id FROM pages WHERE parent_page_id IS NULL")
            )
        )
    for initiative, pages in roots.items():
        assert len(pages) == 1, f"initiative {initiative}: {pages}"
        assert stored_roots[initiative] == 1
        root = db.pages.find_root_page(initiative)
        assert root is not None and {root.id} == pages
    assert sum(stored_roots.values()) == len(roots)

    # Log chunks: every acknowledged chunk is there, in each worker's order, nothing else.
    total_chunks = 0
    for number, r in enumerate(reports):
        stored = [c.content for c in db.log_chunks.find_by_agent_id(plan["agents"][number])]
        assert stored == r["chunks"]
        total_chunks += len(stored)
    assert len(db.log_chunks.find_all()) == total_chunks

    # Task status: each task ends in the last status its worker set.
    for number, r in enumerate(reports):
        task = db.tasks.find_by_id(plan["tasks"][number])
        assert task is not None and task.status == r["statuses"][-1]
    status_changes = sum(len(r["statuses"]) for r in reports)
    assert status_changes == workers * rounds

    # Conversations: each created one exists; each answered one has its answerer's answer.
    created = [c for r in reports for c in r["conversations"]]
    answered = {cid: answer for r in reports for cid, answer in r["answered"].items()}
    stored_conversations = {c.id: c for c in db.conversations.find_all()}
    assert sorted(stored_conversations) == sorted(created)
    assert len(created) == workers * rounds
    for cid, conversation in stored_conversations.items():
        if cid in answered:
            assert conversation.status == "answered" and conversation.answer == answered[cid]
        else:
            assert conversation.status == "pending" and conversation.answer is None

    writes = total_chunks + status_changes + len(created) + len(answered) + 2 * workers * rounds
    report(
        backend=backend,
        processes=workers,
        seconds=round(elapsed, 1),
        startup_seconds=round(first_round.value - started, 1),
        rounds=rounds,
        account_claims=workers * rounds,
        root_page_calls=workers * rounds,
        initiatives=len(roots),
        log_chunks=total_chunks,
        status_changes=status_changes,
        conversations=len(created),
        answered=len(answered),
        acknowledged_writes=writes,
    )
