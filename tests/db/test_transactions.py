"""``with db.transaction():`` — calls inside commit together or roll back together."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from codewalkers.db import ConflictError, Database, DatabaseError, Initiative, open_database
from tests.factories import make_agent, make_initiative


class Boom(Exception):
    """An error of the caller's own, not the database's."""


@pytest.fixture
def other(database_url: str) -> Iterator[Database]:
    """A second handle on the same database: it sees only what was committed."""
    handle = open_database(database_url)
    yield handle
    handle.close()


def names(db: Database) -> set[str]:
    return {initiative.name for initiative in db.initiatives.find_all()}


def test_a_lone_call_commits_at_once(db: Database, other: Database) -> None:
    db.initiatives.create(name="Auth")
    assert names(other) == {"Auth"}


def test_calls_in_a_transaction_commit_together(db: Database, other: Database) -> None:
    with db.transaction():
        initiative = db.initiatives.create(name="Auth")
        phase = db.phases.create(initiative_id=initiative.id, name="Design")
        task = db.tasks.create(phase_id=phase.id, name="Sketch")
        assert names(other) == set(), "nothing is visible before the commit"
        assert db.tasks.find_by_id(task.id) == task, "the transaction reads its own writes"
    assert names(other) == {"Auth"}
    assert other.phases.find_by_id(phase.id) == phase
    assert other.tasks.find_by_id(task.id) == task


def test_an_exception_rolls_everything_back_and_propagates(db: Database, other: Database) -> None:
    with pytest.raises(Boom), db.transaction():
        initiative = db.initiatives.create(name="Auth")
        db.phases.create(initiative_id=initiative.id, name="Design")
        db.initiatives.update(initiative.id, name="Renamed")
        raise Boom
    assert db.initiatives.find_all() == []
    assert other.initiatives.find_all() == []
    assert db.phases.find_all() == []


def test_an_update_and_a_delete_are_rolled_back_too(db: Database) -> None:
    kept = make_initiative(db, name="Auth")
    doomed = make_initiative(db, name="Billing")
    with pytest.raises(Boom), db.transaction():
        db.initiatives.update(kept.id, name="Renamed", status="archived")
        db.initiatives.delete(doomed.id)
        raise Boom
    assert db.initiatives.find_by_id(kept.id) == kept
    assert db.initiatives.find_by_id(doomed.id) == doomed


def test_a_failing_repository_call_raised_out_commits_nothing(db: Database) -> None:
    make_agent(db, name="brave-otter")
    with pytest.raises(ConflictError), db.transaction():
        db.initiatives.create(name="Auth")
        db.agents.create(name="calm-heron")
        db.agents.create(name="brave-otter")
    assert names(db) == set()
    assert [agent.name for agent in db.agents.find_all()] == ["brave-otter"]


def test_without_savepoints_writes_still_commit_or_roll_back_together(
    db: Database, other: Database
) -> None:
    """``savepoints=False`` (the output path) spares a savepoint per write, nothing else:
    the block commits as one, a failed write raises out and rolls all of it back, and a
    nested block inside is still a savepoint of its own."""
    make_agent(db, name="brave-otter")
    with db.transaction(savepoints=False):
        initiative = db.initiatives.create(name="Auth")
        db.initiatives.update(initiative.id, name="Auth 2")
        with pytest.raises(Boom), db.transaction():
            db.initiatives.create(name="Inner")
            raise Boom
        assert names(other) == set()
    assert names(other) == {"Auth 2"}
    with pytest.raises(ConflictError), db.transaction(savepoints=False):
        db.initiatives.create(name="Billing")
        db.agents.create(name="brave-otter")
    assert names(other) == {"Auth 2"}
    assert [agent.name for agent in other.agents.find_all()] == ["brave-otter"]
    db.initiatives.create(name="After")  # the handle is fine afterwards
    assert names(other) == {"Auth 2", "After"}


def test_a_nested_transaction_is_a_savepoint(db: Database, other: Database) -> None:
    with db.transaction():
        db.initiatives.create(name="Outer")
        with pytest.raises(Boom), db.transaction():
            db.initiatives.create(name="Inner")
            raise Boom
        assert names(db) == {"Outer"}, "the inner block is rolled back at once"
        db.initiatives.create(name="After")
    assert names(other) == {"Outer", "After"}


def test_a_failed_call_in_a_nested_transaction_leaves_the_outer_usable(db: Database) -> None:
    make_agent(db, name="brave-otter")
    with db.transaction():
        initiative = db.initiatives.create(name="Outer")
        with pytest.raises(ConflictError), db.transaction():
            db.initiatives.create(name="Inner")
            db.agents.create(name="brave-otter")
        db.phases.create(initiative_id=initiative.id, name="Design")
    assert names(db) == {"Outer"}
    assert [phase.name for phase in db.phases.find_all()] == ["Design"]


def test_an_inner_success_is_undone_by_an_outer_failure(db: Database) -> None:
    with pytest.raises(Boom), db.transaction():
        db.initiatives.create(name="Outer")
        with db.transaction():
            db.initiatives.create(name="Inner")
            with db.transaction():
                db.initiatives.create(name="Innermost")
        raise Boom
    assert names(db) == set()


def test_three_levels_roll_back_only_the_failing_one(db: Database) -> None:
    with db.transaction():
        db.initiatives.create(name="1")
        with db.transaction():
            db.initiatives.create(name="2")
            with pytest.raises(Boom), db.transaction():
                db.initiatives.create(name="3")
                raise Boom
        db.initiatives.create(name="4")
    assert names(db) == {"1", "2", "4"}


def test_a_caught_failure_inside_a_transaction_leaves_it_usable(db: Database) -> None:
    # Each write inside the block is a savepoint: PostgreSQL would otherwise abort the block.
    make_agent(db, name="brave-otter")
    with db.transaction():
        db.initiatives.create(name="Auth")
        with pytest.raises(ConflictError):
            db.agents.create(name="brave-otter")
        db.initiatives.create(name="Billing")
    assert names(db) == {"Auth", "Billing"}


def test_after_a_transaction_calls_are_their_own_transactions_again(db: Database) -> None:
    with pytest.raises(Boom), db.transaction():
        db.initiatives.create(name="Rolled back")
        raise Boom
    db.initiatives.create(name="Alone")
    with pytest.raises(ConflictError):
        make_agent(db, name="x-y")
        make_agent(db, name="x-y")
    assert names(db) == {"Alone"}
    assert [agent.name for agent in db.agents.find_all()] == ["x-y"]


def test_another_threads_calls_are_not_part_of_this_transaction(db: Database) -> None:
    seen: list[Initiative | None] = []
    failures: list[BaseException] = []
    read_done = threading.Event()

    def elsewhere(uncommitted_id: str) -> None:
        try:
            seen.append(db.initiatives.find_by_id(uncommitted_id))
            read_done.set()
            # A write of its own: on SQLite it waits for this thread's lock, on PostgreSQL
            # it commits at once; either way the rollback below does not touch it.
            db.initiatives.create(name="From the other thread")
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
            read_done.set()

    thread = None
    with pytest.raises(Boom), db.transaction():
        mine = db.initiatives.create(name="Mine")
        thread = threading.Thread(target=elsewhere, args=(mine.id,))
        thread.start()
        assert read_done.wait(30)
        raise Boom
    thread.join(60)
    assert not thread.is_alive()
    assert failures == []
    assert seen == [None], "the other thread must not see this transaction's writes"
    assert names(db) == {"From the other thread"}


def test_each_thread_has_its_own_transaction(db: Database) -> None:
    barrier = threading.Barrier(2, timeout=30)
    failures: list[BaseException] = []

    def work(name: str, fail: bool) -> None:
        try:
            with db.transaction():
                db.initiatives.create(name=name)
                if fail:
                    raise Boom
        except Boom:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            barrier.wait()

    threads = [
        threading.Thread(target=work, args=("kept", False)),
        threading.Thread(target=work, args=("dropped", True)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert names(db) == {"kept"}


def test_a_database_error_inside_a_transaction_is_still_a_database_error(
    db: Database,
) -> None:
    make_agent(db, name="brave-otter")
    with pytest.raises(DatabaseError) as caught, db.transaction():
        db.agents.create(name="brave-otter")
    assert isinstance(caught.value, ConflictError)
