"""The concurrency claims, proven with several real processes on one database.

- N processes asking ``find_next_available`` at the same moment with N free accounts get N
  different accounts, round after round;
- processes racing ``get_or_create_root_page`` all get the same page, and only one exists;
- processes writing at once never see "database is locked", and no write is lost;
- processes starting on the same new database at once all migrate it successfully.

The workers are separate interpreters (``spawn``), started once for the module and reused:
each task is a top-level function that opens the database itself from its URL, then waits on
a barrier shared by all workers so that they act at the same moment.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import Database, create_engine, current_revision, head_revision, open_database
from codewalkers.db.schema import metadata
from tests.factories import make_account, make_initiative, make_task

pytestmark = pytest.mark.slow

SPAWN = multiprocessing.get_context("spawn")
WORKERS = 6
WAIT_SECONDS = 60


# --- running tasks in several processes at once ---------------------------------------------

_barrier: Any = None


def _init_worker(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def together() -> None:
    """Wait until every worker process reaches this point."""
    _barrier.wait(timeout=WAIT_SECONDS)


def _entry(target: Callable[..., Any], args: tuple[Any, ...]) -> tuple[int, Any]:
    try:
        return os.getpid(), target(*args)
    except BaseException:
        _barrier.abort()  # release the others at once instead of after the timeout
        raise


class Workers:
    """``WORKERS`` spawned processes; :meth:`run` gives each one task, all at once."""

    def __init__(self) -> None:
        self.barrier = SPAWN.Barrier(WORKERS)
        self.executor = ProcessPoolExecutor(
            WORKERS, mp_context=SPAWN, initializer=_init_worker, initargs=(self.barrier,)
        )

    def run(self, target: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``target(*args[i])`` in a different process for each i; their results, in order.

        A worker's exception is re-raised here, with its traceback.
        """
        assert len(args) == WORKERS, "every worker takes part, or the barrier never opens"
        self.barrier.reset()
        futures = [self.executor.submit(_entry, target, task_args) for task_args in args]
        outcomes = [future.result(timeout=2 * WAIT_SECONDS) for future in futures]
        pids = [pid for pid, _ in outcomes]
        assert len(set(pids)) == WORKERS, f"tasks shared a process: {pids}"
        return [result for _, result in outcomes]

    def close(self) -> None:
        processes = list((self.executor._processes or {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    pool = Workers()
    yield pool
    pool.close()


# --- workers (top level, so that spawned processes can import them) -------------------------


def claim_accounts(url: str, rounds: int, provider: str) -> list[str | None]:
    db = open_database(url)
    try:
        claimed: list[str | None] = []
        for _ in range(rounds):
            together()
            account = db.accounts.find_next_available(provider)
            claimed.append(None if account is None else account.id)
        return claimed
    finally:
        db.close()


def get_root_pages(url: str, initiative_ids: list[str]) -> list[str]:
    db = open_database(url)
    try:
        ids = []
        for initiative_id in initiative_ids:
            together()
            ids.append(db.pages.get_or_create_root_page(initiative_id).id)
        return ids
    finally:
        db.close()


def write_many(url: str, writer: int, task_id: str, rounds: int) -> int:
    """``2 * rounds`` single-row writes, each its own transaction (a log chunk insert and a
    task update per round), plus a read-then-write transaction every tenth round.
    """
    db = open_database(url)
    agent_id = f"writer-agent-{writer:09d}"
    try:
        together()
        for n in range(rounds):
            db.log_chunks.insert_chunk(agent_id, f"writer-{writer}", f"{writer}:{n}")
            db.tasks.update(
                task_id, summary=f"{writer}:{n}", status=("in_progress", "pending")[n % 2]
            )
            if n % 10 == 0:
                # A transaction that reads before it writes: the classic SQLite deadlock when
                # transactions start deferred and several processes upgrade to writers at once.
                with db.transaction():
                    task = db.tasks.find_by_id(task_id)
                    assert task is not None
                    db.log_chunks.insert_chunk(agent_id, f"writer-{writer}", f"tx:{n}", 2)
        return rounds
    finally:
        db.close()


def open_fresh(url: str) -> str | None:
    together()
    db = open_database(url)
    try:
        with db.engine.connect() as connection:
            return current_revision(connection)
    finally:
        db.close()


# --- accounts -------------------------------------------------------------------------------


def test_concurrent_processes_never_get_the_same_account(
    workers: Workers, db: Database, database_url: str
) -> None:
    accounts = {make_account(db, sort_order=n).id for n in range(WORKERS)}
    make_account(db, provider="codex")

    claimed = workers.run(claim_accounts, [(database_url, 1, "claude") for _ in range(WORKERS)])

    ids = [worker[0] for worker in claimed]
    assert set(ids) == accounts
    for account_id in accounts:
        stored = db.accounts.find_by_id(account_id)
        assert stored is not None and stored.last_used_at is not None


def test_round_after_round_concurrent_processes_get_different_accounts(
    workers: Workers, db: Database, database_url: str
) -> None:
    rounds = 5
    accounts = {make_account(db, sort_order=n).id for n in range(WORKERS)}

    claimed = workers.run(
        claim_accounts, [(database_url, rounds, "claude") for _ in range(WORKERS)]
    )

    for round_ in range(rounds):
        in_round = [worker[round_] for worker in claimed]
        assert set(in_round) == accounts, f"round {round_}: {in_round}"


def test_more_processes_than_accounts_share_them_round_robin(
    workers: Workers, db: Database, database_url: str
) -> None:
    accounts = {make_account(db, sort_order=n).id for n in range(WORKERS // 2)}

    claimed = workers.run(claim_accounts, [(database_url, 1, "claude") for _ in range(WORKERS)])

    counts = Counter(worker[0] for worker in claimed)
    assert None not in counts, "a caller got no account although none was exhausted"
    assert set(counts) == accounts
    assert set(counts.values()) == {2}


def test_concurrent_processes_never_get_an_exhausted_account(
    workers: Workers, db: Database, database_url: str
) -> None:
    free = {make_account(db, sort_order=n).id for n in range(2)}
    for n in range(3):
        account = make_account(db, sort_order=-1 - n)
        db.accounts.mark_exhausted(account.id, datetime.now(UTC) + timedelta(hours=1))

    claimed = workers.run(claim_accounts, [(database_url, 1, "claude") for _ in range(WORKERS)])

    counts = Counter(worker[0] for worker in claimed)
    assert counts == dict.fromkeys(free, WORKERS // 2)


# --- root page ------------------------------------------------------------------------------


def test_concurrent_get_or_create_root_page_leaves_exactly_one_root(
    workers: Workers, db: Database, database_url: str
) -> None:
    initiatives = [make_initiative(db).id for _ in range(4)]

    results = workers.run(get_root_pages, [(database_url, initiatives) for _ in range(WORKERS)])

    for index, initiative_id in enumerate(initiatives):
        ids = {worker[index] for worker in results}
        assert len(ids) == 1, f"initiative {initiative_id}: {ids}"
        roots = [
            page
            for page in db.pages.find_by_initiative_id(initiative_id)
            if page.parent_page_id is None
        ]
        assert [page.id for page in roots] == list(ids)
        root = db.pages.find_root_page(initiative_id)
        assert root is not None and root.id in ids


# --- many writers ---------------------------------------------------------------------------


def test_concurrent_writers_never_see_a_locked_database_and_lose_nothing(
    workers: Workers, db: Database, database_url: str
) -> None:
    rounds = 100  # 200 single-row writes per process
    tasks = [make_task(db).id for _ in range(WORKERS)]

    done = workers.run(
        write_many,
        [(database_url, writer, tasks[writer], rounds) for writer in range(WORKERS)],
    )

    assert done == [rounds] * WORKERS
    for writer, task_id in enumerate(tasks):
        chunks = db.log_chunks.find_by_agent_id(f"writer-agent-{writer:09d}", session_number=1)
        assert [chunk.content for chunk in chunks] == [f"{writer}:{n}" for n in range(rounds)]
        in_tx = db.log_chunks.find_by_agent_id(f"writer-agent-{writer:09d}", session_number=2)
        assert [chunk.content for chunk in in_tx] == [f"tx:{n}" for n in range(0, rounds, 10)]
        task = db.tasks.find_by_id(task_id)
        assert task is not None
        assert task.summary == f"{writer}:{rounds - 1}"
        assert task.status == "pending"
    seqs = [chunk.seq for chunk in db.log_chunks.find_all()]
    assert len(seqs) == len(set(seqs)) == WORKERS * (rounds + rounds // 10)


# --- migrations -----------------------------------------------------------------------------


def test_processes_starting_on_the_same_new_database_all_succeed(
    workers: Workers, fresh_database_url: str
) -> None:
    revisions = workers.run(open_fresh, [(fresh_database_url,)] * WORKERS)

    head = head_revision()
    assert revisions == [head] * WORKERS
    engine = create_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == head
            tables = set(sa.inspect(connection).get_table_names())
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert [row[0] for row in versions] == [head]
    finally:
        engine.dispose()
    assert {table.name for table in metadata.sorted_tables} <= tables
    with open_database(fresh_database_url) as db:
        assert db.initiatives.create(name="works").name == "works"
