"""Whole-plan views cost a fixed number of queries, whatever the plan's size (issue 9 item 9)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from codewalkers.db import Database
from codewalkers.services import plan
from tests.factories import make_initiative, make_phase, make_task


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """Every statement the engine runs in the block (the fast path's too: issue 9 item 6)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def _plan(db: Database, tasks: int) -> str:
    """An initiative with two dependent phases, ``tasks`` tasks in the first (every third a
    subtask of the one before, each depending on the previous), one in the second depending
    on the last, and one task outside any phase.
    """
    initiative = make_initiative(db)
    design = make_phase(db, initiative)
    build = make_phase(db, initiative)
    db.phases.create_dependency(build.id, design.id)
    previous = None
    for n in range(tasks):
        if previous is not None and n % 3 == 0:
            task = make_task(db, parent_task_id=previous.id)
        else:
            task = make_task(db, design)
        if previous is not None:
            db.tasks.create_dependency(task.id, previous.id)
        previous = task
    assert previous is not None
    db.tasks.create_dependency(make_task(db, build).id, previous.id)
    make_task(db, initiative_id=initiative.id)
    return initiative.id


def test_initiative_tree_issues_a_fixed_number_of_queries(db: Database) -> None:
    small, large = _plan(db, 5), _plan(db, 50)
    with counted(db) as few:
        small_tree = plan.initiative_tree(db, small)
    with counted(db) as many:
        large_tree = plan.initiative_tree(db, large)
    assert len(many) == len(few), many
    assert len(few) <= 6

    # Same tree as asking task by task.
    def walk(nodes: list[plan.TaskNode]) -> Iterator[plan.TaskNode]:
        for node in nodes:
            yield node
            yield from walk(node.children)

    for tree, size in ((small_tree, 5), (large_tree, 50)):
        nodes = [n for phase in tree.phases for n in walk(phase.tasks)] + list(walk(tree.tasks))
        assert len(nodes) == size + 2
        for node in nodes:
            assert node.depends_on == db.tasks.get_dependencies(node.task.id)
        assert [len(phase.depends_on) for phase in tree.phases] == [0, 1]
