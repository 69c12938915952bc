"""Crashes: a writer killed with SIGKILL at random moments, mid-transaction, again and again;
and migrations killed the same way.

The writer (a forked child, see ``_fork.py``) commits transactions in a loop, each writing
several rows that only make sense together: a phase and its three tasks, or a change set and
its three entries. It says ``B`` when a transaction begins and ``C <id>`` once the commit has
returned (the acknowledgement). After each kill: every acknowledged transaction is there in
full, no transaction is there in part, SQLite's ``PRAGMA integrity_check`` says ``ok``, and
the next ``open_database`` succeeds.

A database whose schema is newer than the code is refused and left untouched: proven in
``tests/db/test_migrations.py::test_a_database_at_an_unknown_revision_is_refused_and_left_alone``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    Database,
    create_engine,
    current_revision,
    ensure_schema,
    head_revision,
    open_database,
)
from codewalkers.db.schema import SQLITE_ONLY_TABLES, metadata
from tests.factories import make_initiative
from tests.reliability._fork import Child, say

pytestmark = pytest.mark.slow

TASKS_PER_PHASE = 3
ENTRIES_PER_SET = 3


def write_forever(url: str, initiative_id: str, fd: int) -> None:
    db = open_database(url)
    say(fd, "OPEN")
    n = 0
    while True:
        n += 1
        say(fd, "B")
        if n % 2:
            with db.transaction():
                phase = db.phases.create(initiative_id=initiative_id, name=f"phase {n}")
                for t in range(TASKS_PER_PHASE):
                    db.tasks.create(phase_id=phase.id, name=f"task {n}.{t}", order=t)
            say(fd, f"C phase {phase.id}")
        else:
            entries = [
                {
                    "entity_type": "task",
                    "entity_id": f"entity-{n}-{e}",
                    "action": "update",
                    "previous_state": {"n": n, "e": e},
                    "new_state": {"n": n, "e": e + 1},
                }
                for e in range(ENTRIES_PER_SET)
            ]
            with db.transaction():
                change_set = db.change_sets.create(
                    initiative_id=initiative_id, summary=f"set {n}", entries=entries
                )
                db.initiatives.update(initiative_id, branch=f"cw/{n}")
            say(fd, f"C change_set {change_set.id}")


def acknowledged(output: str) -> tuple[list[tuple[str, str]], bool]:
    """The acknowledged (kind, id) pairs, and whether the kill came inside a transaction."""
    assert "ERROR" not in output, output
    acks = []
    last = ""
    for line in output.splitlines():
        if line.startswith("C "):
            _, kind, id_ = line.split()
            acks.append((kind, id_))
        if line:
            last = line
    return acks, last == "B"


def check_consistent(url: str, initiative_id: str, acks: list[tuple[str, str]]) -> int:
    """Every acknowledged transaction is there in full, none is there in part; return how
    many transactions are stored."""
    with open_database(url) as db, db.engine.connect() as connection:  # the next open works
        if db.dialect == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        tasks_per_phase = dict(
            connection.execute(
                sa.text(
                    "SELECT p.id, COUNT(t.id) FROM phases p LEFT JOIN tasks t "
                    "ON t.phase_id = p.id WHERE p.initiative_id = :i GROUP BY p.id"
                ),
                {"i": initiative_id},
            ).all()
        )
        entries_per_set = dict(
            connection.execute(
                sa.text(
                    "SELECT s.id, COUNT(e.id) FROM change_sets s LEFT JOIN change_set_entries e "
                    "ON e.change_set_id = s.id WHERE s.initiative_id = :i GROUP BY s.id"
                ),
                {"i": initiative_id},
            ).all()
        )
    phases, sets = set(tasks_per_phase), set(entries_per_set)
    for kind, id_ in acks:
        assert id_ in (phases if kind == "phase" else sets), f"acknowledged {kind} {id_} lost"
    partial_phases = {p: n for p, n in tasks_per_phase.items() if n != TASKS_PER_PHASE}
    partial_sets = {s: n for s, n in entries_per_set.items() if n != ENTRIES_PER_SET}
    assert partial_phases == {}, f"partial transactions visible: {partial_phases}"
    assert partial_sets == {}, f"partial transactions visible: {partial_sets}"
    return len(phases) + len(sets)


def test_a_writer_killed_mid_transaction_loses_no_commit_and_leaves_no_half(
    db: Database, database_url: str, backend: str, long_run: bool, report: Any
) -> None:
    kills = 200 if long_run else 50
    rng = random.Random(20260301)
    initiative = make_initiative(db).id
    db.close()
    all_acks: list[tuple[str, str]] = []
    inside = 0
    started = time.monotonic()
    for _ in range(kills):
        child = Child(lambda fd: write_forever(database_url, initiative, fd))
        # Let it open the database, then kill it after a random number of milliseconds.
        opened = ""
        deadline = time.monotonic() + 30
        while "OPEN" not in opened and "ERROR" not in opened and time.monotonic() < deadline:
            opened = child.read(0.05)
        time.sleep(rng.uniform(0.0, 0.15))
        output = child.kill()
        assert child.was_killed, output
        acks, in_transaction = acknowledged(output)
        inside += in_transaction
        all_acks.extend(acks)
        stored = check_consistent(database_url, initiative, all_acks)
    elapsed = time.monotonic() - started

    assert len(all_acks) > kills, "the writer barely wrote: the test proves little"
    assert inside >= kills // 2, f"only {inside} of {kills} kills came inside a transaction"
    report(
        backend=backend,
        kills=kills,
        kills_inside_a_transaction=inside,
        acknowledged_transactions=len(all_acks),
        stored_transactions=stored,
        rows_per_transaction=1 + TASKS_PER_PHASE,
        seconds=round(elapsed, 1),
    )


# --- migrations ---------------------------------------------------------------------------


def _reset(url: str) -> None:
    """Make the database empty again (a new file, or a new public schema)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def _state(url: str) -> tuple[str | None, set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    # SQLite also keeps the log chunk seq high-water mark (migration 0007), outside the models.
    return revision, tables - {"alembic_version"} - SQLITE_ONLY_TABLES


def migrate(url: str, fd: int, stop_at: int | None = None) -> None:
    """``open_database(url)``, step by step: say ``S`` before each SQL statement and, at
    statement number ``stop_at``, say ``AT`` and wait there to be killed."""
    engine = create_engine(url)
    statements = 0

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _each(*_args: Any) -> None:
        nonlocal statements
        statements += 1
        say(fd, "S")
        if statements == stop_at:
            say(fd, "AT")
            time.sleep(3600)

    ensure_schema(engine)  # what open_database() does before handing out the database
    engine.dispose()
    say(fd, "DONE")


def test_a_migration_killed_part_way_is_finished_by_the_next_start(
    fresh_database_url: str, backend: str, long_run: bool, report: Any
) -> None:
    url = fresh_database_url
    kills = 40 if long_run else 12
    rng = random.Random(7)
    # How many statements a whole migration runs here, to spread the kills over them.
    child = Child(lambda fd: migrate(url, fd))
    output = child.wait()
    assert "DONE" in output, output
    total = output.count("S\n")
    models = {table.name for table in metadata.sorted_tables}
    stops = sorted(rng.sample(range(2, total + 1), min(kills, total - 1)))

    outcomes = {"empty": 0, "migrated": 0}
    for stop_at in stops:
        _reset(url)
        child = Child(lambda fd, at=stop_at: migrate(url, fd, at))  # type: ignore[misc]
        seen = ""
        deadline = time.monotonic() + 30
        while "AT" not in seen and "ERROR" not in seen and time.monotonic() < deadline:
            seen = child.read(0.5)
        output = child.kill()
        assert "ERROR" not in output and "AT" in output, output
        revision, tables = _state(url)
        # One transaction: the kill leaves no migration half-applied.
        if revision is None:
            assert tables == set(), f"killed migration left {sorted(tables)} behind"
            outcomes["empty"] += 1
        else:
            assert revision == head_revision() and tables == models
            outcomes["migrated"] += 1
        # The next start finishes the job, and the database works.
        with open_database(url) as db:
            assert db.initiatives.create(name="after the crash").name == "after the crash"
        revision, tables = _state(url)
        assert revision == head_revision() and tables == models

    assert outcomes["empty"] >= len(stops) // 2, outcomes
    report(
        backend=backend,
        migration_kills=len(stops),
        migration_statements=total,
        killed_at_statements=stops,
        left_empty=outcomes["empty"],
        left_migrated=outcomes["migrated"],
    )
