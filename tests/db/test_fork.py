"""A forked child can keep using its parent's ``Database`` (issue 9, item 1): the child gets
connections of its own, and the parent's stay the parent's.
"""

from __future__ import annotations

from codewalkers.db import Database
from tests.reliability._fork import Child, say


def _use(db: Database, name: str) -> str:
    for index in range(20):
        with db.transaction():
            created = db.initiatives.create(name=f"{name} {index}")
            db.phases.create(initiative_id=created.id, name="p")
        assert db.initiatives.find_by_id(created.id) is not None
    return created.id


def test_a_forked_child_and_its_parent_both_keep_using_one_database(db: Database) -> None:
    # Connections in the pool and on the fast path's idle list, inherited by the child.
    _use(db, "before")
    with db.transaction():
        db.initiatives.find_all()

    def child(fd: int) -> None:
        last = _use(db, "child")
        say(fd, f"OK {last}")

    forked = Child(child)
    parent_last = _use(db, "parent")
    output = forked.wait()
    assert forked.exit_status == 0, output
    child_id = output.split("OK ", 1)[1].strip()
    assert db.initiatives.find_by_id(child_id) is not None
    assert db.initiatives.find_by_id(parent_last) is not None
    assert len(db.initiatives.find_all()) == 60


def test_a_child_forked_inside_a_transaction_is_not_in_it(db: Database) -> None:
    with db.transaction():
        db.initiatives.create(name="parent's, uncommitted yet")

        def child(fd: int) -> None:
            # (A read: the parent holds SQLite's write lock until the child has ended.)
            assert not db.in_transaction
            say(fd, f"OK {len(db.initiatives.find_all())}")

        forked = Child(child)
        output = forked.wait()
    assert forked.exit_status == 0, output
    assert output.strip() == "OK 0"  # the parent's uncommitted row is not the child's
    assert len(db.initiatives.find_all()) == 1
