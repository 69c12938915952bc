"""Tasks: their placement (initiative > phase > task > subtask), dependencies, and readiness."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    Database,
    NotFoundError,
    ReferenceNotFoundError,
    Task,
    TaskCategory,
    TaskPriority,
    TaskStatus,
    TaskType,
    ValidationError,
    schema,
)
from codewalkers.db.ids import new_id
from tests.factories import (
    make_agent,
    make_conversation,
    make_initiative,
    make_phase,
    make_task,
)

UNKNOWN = "does-not-exist-000000"


def count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def is_aware_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


def ids(tasks: list[Task]) -> list[str]:
    return [task.id for task in tasks]


# --- create ------------------------------------------------------------------------------


def test_create_returns_the_stored_task_with_the_defaults(db: Database) -> None:
    phase = make_phase(db)

    task = db.tasks.create(phase_id=phase.id, name="Sketch the schema")

    assert isinstance(task, Task)
    assert task.name == "Sketch the schema"
    assert task.phase_id == phase.id
    assert task.parent_task_id is None
    assert task.description is None
    assert task.type == "auto"
    assert task.category == "execute"
    assert task.priority == "medium"
    assert task.status == "pending"
    assert task.requires_approval is None
    assert task.order == 0
    assert task.summary is None
    assert len(task.id) == 21
    assert is_aware_utc(task.created_at) and is_aware_utc(task.updated_at)
    assert task.created_at == task.updated_at
    assert db.tasks.find_by_id(task.id) == task


def test_create_stores_every_given_field(db: Database) -> None:
    phase = make_phase(db)

    task = db.tasks.create(
        phase_id=phase.id,
        name="Decide the token format",
        description="JWT or opaque?",
        type="checkpoint:decision",
        category="discuss",
        priority="high",
        status="pending_approval",
        requires_approval=False,
        order=7,
        summary="Chose opaque tokens",
    )

    assert task.type == TaskType.DECISION
    assert task.category == TaskCategory.DISCUSS
    assert task.priority == TaskPriority.HIGH
    assert task.status == TaskStatus.PENDING_APPROVAL
    assert task.requires_approval is False
    assert task.order == 7
    assert task.description == "JWT or opaque?"
    assert task.summary == "Chose opaque tokens"
    assert db.tasks.find_by_id(task.id) == task


@pytest.mark.parametrize(
    ("field", "enum"),
    [
        ("type", TaskType),
        ("category", TaskCategory),
        ("priority", TaskPriority),
        ("status", TaskStatus),
    ],
)
def test_every_seed_enum_value_is_accepted_and_reads_back_equal_to_its_string(
    db: Database, field: str, enum: type[StrEnum]
) -> None:
    phase = make_phase(db)
    for member in enum:
        stored = db.tasks.find_by_id(make_task(db, phase, **{field: member.value}).id)

        assert stored is not None
        assert getattr(stored, field) == member.value
        assert isinstance(getattr(stored, field), enum)


def test_requires_approval_reads_back_as_a_bool_or_none(db: Database) -> None:
    for value in (True, False, None):
        stored = db.tasks.find_by_id(make_task(db, requires_approval=value).id)
        assert stored is not None and stored.requires_approval is value


def test_initiative_id_is_filled_from_the_phase_when_omitted(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)

    task = db.tasks.create(phase_id=phase.id, name="t")

    assert task.initiative_id == initiative.id
    assert db.tasks.find_by_id(task.id) == task


def test_a_task_may_name_both_its_phase_and_that_phases_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)

    task = db.tasks.create(phase_id=phase.id, initiative_id=initiative.id, name="t")

    assert (task.phase_id, task.initiative_id) == (phase.id, initiative.id)


def test_a_task_whose_phase_belongs_to_another_initiative_is_refused(db: Database) -> None:
    phase = make_phase(db)
    other = make_initiative(db)

    with pytest.raises(ValidationError):
        db.tasks.create(phase_id=phase.id, initiative_id=other.id, name="t")

    assert count(db, schema.tasks) == 0


def test_a_task_may_sit_directly_under_an_initiative(db: Database) -> None:
    initiative = make_initiative(db)

    task = db.tasks.create(initiative_id=initiative.id, name="Plan the initiative")

    assert task.phase_id is None
    assert task.initiative_id == initiative.id


def test_a_subtask_inherits_its_parents_phase_and_initiative(db: Database) -> None:
    parent = make_task(db)

    subtask = db.tasks.create(parent_task_id=parent.id, name="Step 1")

    assert subtask.parent_task_id == parent.id
    assert subtask.phase_id == parent.phase_id
    assert subtask.initiative_id == parent.initiative_id
    assert db.tasks.find_by_id(subtask.id) == subtask


def test_a_subtask_of_an_initiative_level_task_inherits_the_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    parent = make_task(db, initiative_id=initiative.id)

    subtask = db.tasks.create(parent_task_id=parent.id, name="Step 1")

    assert subtask.phase_id is None
    assert subtask.initiative_id == initiative.id


@pytest.mark.parametrize("field", ["phase_id", "initiative_id", "parent_task_id"])
def test_a_task_referring_to_an_unknown_row_is_refused(db: Database, field: str) -> None:
    make_task(db)

    with pytest.raises(ReferenceNotFoundError) as raised:
        db.tasks.create(name="t", **{field: UNKNOWN})

    assert isinstance(raised.value, NotFoundError)
    assert isinstance(raised.value, ValidationError)
    assert count(db, schema.tasks) == 1


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "t", "type": "manual"}, id="bad-type"),
        pytest.param({"name": "t", "category": "build"}, id="bad-category"),
        pytest.param({"name": "t", "priority": "urgent"}, id="bad-priority"),
        pytest.param({"name": "t", "status": "done"}, id="bad-status"),
        pytest.param({"name": "t", "assignee": "me"}, id="unknown-field"),
        pytest.param({"name": "t", "order": "1"}, id="order-as-string"),
        pytest.param({"name": "t", "order": True}, id="order-as-bool"),
        pytest.param({"name": "t", "order": 1.5}, id="order-as-float"),
        pytest.param({"name": "t", "order": 2**40}, id="order-out-of-range"),
        pytest.param({"name": "t", "requires_approval": "yes"}, id="approval-as-string"),
        pytest.param({"name": "t", "description": 5}, id="description-not-a-string"),
        pytest.param({"name": "t", "order": None}, id="order-none"),
        pytest.param({}, id="missing-name"),
        pytest.param({"name": None}, id="name-none"),
    ],
)
def test_invalid_create_raises_validation_error_and_stores_nothing(
    db: Database, fields: dict[str, Any]
) -> None:
    phase = make_phase(db)
    make_task(db, phase)

    with pytest.raises(ValidationError):
        db.tasks.create(phase_id=phase.id, **fields)

    assert count(db, schema.tasks) == 1


@pytest.mark.parametrize("column", ["type", "category", "priority", "status"])
def test_the_database_itself_refuses_enum_values_the_seed_does_not_have(
    db: Database, column: str
) -> None:
    task = make_task(db)

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.update(schema.tasks)
            .where(schema.tasks.c.id == task.id)
            .values({column: sa.literal_column("'bogus'")})
        )

    assert db.tasks.find_by_id(task.id) == task


# --- read --------------------------------------------------------------------------------


def test_find_by_id_returns_none_for_an_unknown_id(db: Database) -> None:
    make_task(db)
    assert db.tasks.find_by_id(UNKNOWN) is None


def test_find_all_returns_every_task(db: Database) -> None:
    assert db.tasks.find_all() == []
    tasks = [make_task(db) for _ in range(3)]

    assert db.tasks.find_all() == tasks


def test_find_by_phase_id_returns_its_tasks_by_order_then_age(db: Database) -> None:
    phase = make_phase(db)
    third = make_task(db, phase, order=2)
    first = make_task(db, phase, order=1)
    second = make_task(db, phase, order=1)
    make_task(db)  # another phase

    assert db.tasks.find_by_phase_id(phase.id) == [first, second, third]
    assert db.tasks.find_by_phase_id(UNKNOWN) == []


def test_find_by_initiative_id_returns_every_task_of_the_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    in_phase = make_task(db, phase)
    subtask = make_task(db, parent_task_id=in_phase.id)
    directly_under = make_task(db, initiative_id=initiative.id)
    make_task(db)  # another initiative

    found = db.tasks.find_by_initiative_id(initiative.id)

    assert found == [in_phase, subtask, directly_under]
    assert db.tasks.find_by_initiative_id(UNKNOWN) == []


def test_find_by_parent_task_id_returns_only_direct_subtasks(db: Database) -> None:
    parent = make_task(db)
    second = make_task(db, parent_task_id=parent.id, order=1)
    first = make_task(db, parent_task_id=parent.id)
    make_task(db, parent_task_id=first.id)  # a grandchild
    make_task(db, phase=db.phases.find_by_id(str(parent.phase_id)))  # a sibling

    assert db.tasks.find_by_parent_task_id(parent.id) == [first, second]
    assert db.tasks.find_by_parent_task_id(second.id) == []


def test_find_pending_approval_returns_waiting_tasks_by_order_then_age(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    later = make_task(db, phase, status="pending_approval", order=5)
    make_task(db, phase, status="pending")
    make_task(db, phase, status="completed")
    earlier = make_task(db, phase, status="pending_approval", order=1)
    earlier_but_younger = make_task(db, phase, status="pending_approval", order=1)
    elsewhere = make_task(db, status="pending_approval", order=0)

    assert db.tasks.find_pending_approval(initiative.id) == [earlier, earlier_but_younger, later]
    assert db.tasks.find_pending_approval() == [elsewhere, earlier, earlier_but_younger, later]


# --- update ------------------------------------------------------------------------------


def test_update_returns_the_stored_row_and_bumps_updated_at(db: Database) -> None:
    task = make_task(db)

    updated = db.tasks.update(task.id, status="in_progress", summary="Half done", order=3)

    assert updated.status == "in_progress"
    assert updated.summary == "Half done"
    assert updated.order == 3
    assert updated.name == task.name
    assert updated.phase_id == task.phase_id
    assert updated.initiative_id == task.initiative_id
    assert updated.created_at == task.created_at
    assert updated.updated_at > task.updated_at
    assert db.tasks.find_by_id(task.id) == updated


def test_update_of_an_unknown_id_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.tasks.update(UNKNOWN, status="completed")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"priority": "urgent"}, id="bad-enum"),
        pytest.param({"assignee": "me"}, id="unknown-field"),
        pytest.param({"name": None}, id="required-set-to-none"),
        pytest.param({"order": "2"}, id="wrong-type"),
        pytest.param({"updated_at": datetime.now(UTC)}, id="updated-at"),
    ],
)
def test_invalid_update_raises_validation_error_and_changes_nothing(
    db: Database, changes: dict[str, Any]
) -> None:
    task = make_task(db)

    with pytest.raises(ValidationError):
        db.tasks.update(task.id, **changes)

    assert db.tasks.find_by_id(task.id) == task


def test_moving_a_task_to_another_phase_keeps_its_initiative_that_of_the_phase(
    db: Database,
) -> None:
    task = make_task(db)
    elsewhere = make_phase(db)

    moved = db.tasks.update(task.id, phase_id=elsewhere.id)

    assert moved.phase_id == elsewhere.id
    assert moved.initiative_id == elsewhere.initiative_id


def test_a_task_cannot_be_moved_to_an_initiative_its_phase_is_not_in(db: Database) -> None:
    task = make_task(db)
    other = make_initiative(db)

    with pytest.raises(ValidationError):
        db.tasks.update(task.id, initiative_id=other.id)

    assert db.tasks.find_by_id(task.id) == task


def test_a_task_outside_any_phase_can_move_to_another_initiative(db: Database) -> None:
    task = make_task(db, initiative_id=make_initiative(db).id)
    other = make_initiative(db)

    assert db.tasks.update(task.id, initiative_id=other.id).initiative_id == other.id


def test_a_task_can_be_moved_under_another_parent_and_takes_its_placement(
    db: Database,
) -> None:
    task = make_task(db)
    new_parent = make_task(db)

    moved = db.tasks.update(task.id, parent_task_id=new_parent.id)

    assert moved.parent_task_id == new_parent.id
    assert (moved.phase_id, moved.initiative_id) == (new_parent.phase_id, new_parent.initiative_id)
    assert db.tasks.find_by_parent_task_id(new_parent.id) == [moved]


def test_a_task_cannot_be_its_own_parent(db: Database) -> None:
    task = make_task(db)

    with pytest.raises(ValidationError) as raised:
        db.tasks.update(task.id, parent_task_id=task.id)

    assert task.id in str(raised.value)
    assert db.tasks.find_by_id(task.id) == task


def test_a_task_cannot_become_a_subtask_of_its_own_subtask(db: Database) -> None:
    parent = make_task(db)
    child = make_task(db, parent_task_id=parent.id)
    grandchild = make_task(db, parent_task_id=child.id)

    with pytest.raises(ValidationError) as raised:
        db.tasks.update(parent.id, parent_task_id=grandchild.id)

    assert all(task.id in str(raised.value) for task in (parent, child, grandchild))
    assert db.tasks.find_by_id(parent.id) == parent


def test_an_update_naming_a_phase_of_another_initiative_is_refused(db: Database) -> None:
    task = make_task(db)
    elsewhere = make_phase(db)

    with pytest.raises(ValidationError):
        db.tasks.update(task.id, phase_id=elsewhere.id, initiative_id=task.initiative_id)

    assert db.tasks.find_by_id(task.id) == task


def test_an_update_to_an_unknown_phase_is_refused(db: Database) -> None:
    task = make_task(db)

    with pytest.raises(ReferenceNotFoundError):
        db.tasks.update(task.id, phase_id=UNKNOWN)

    assert db.tasks.find_by_id(task.id) == task


# --- delete ------------------------------------------------------------------------------


def test_delete_removes_the_task(db: Database) -> None:
    task = make_task(db)
    other = make_task(db)

    db.tasks.delete(task.id)

    assert db.tasks.find_by_id(task.id) is None
    assert db.tasks.find_all() == [other]


def test_delete_of_an_unknown_id_raises_not_found(db: Database) -> None:
    make_task(db)
    with pytest.raises(NotFoundError):
        db.tasks.delete(UNKNOWN)
    assert count(db, schema.tasks) == 1


def test_deleting_a_parent_task_deletes_its_subtasks_all_the_way_down(db: Database) -> None:
    parent = make_task(db)
    child = make_task(db, parent_task_id=parent.id)
    grandchild = make_task(db, parent_task_id=child.id)
    sibling = make_task(db, phase=db.phases.find_by_id(str(parent.phase_id)))

    db.tasks.delete(parent.id)

    for task in (parent, child, grandchild):
        assert db.tasks.find_by_id(task.id) is None
    assert db.tasks.find_all() == [sibling]


def test_deleting_a_subtask_keeps_its_parent(db: Database) -> None:
    parent = make_task(db)
    child = make_task(db, parent_task_id=parent.id)

    db.tasks.delete(child.id)

    assert db.tasks.find_by_id(parent.id) == parent


def test_deleting_a_task_deletes_its_dependency_rows_both_ways(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    first, middle, last, a, b = (make_task(db, phase) for _ in range(5))
    db.tasks.create_dependency(middle.id, first.id)
    db.tasks.create_dependency(last.id, middle.id)
    db.tasks.create_dependency(b.id, a.id)

    db.tasks.delete(middle.id)

    assert count(db, schema.task_dependencies) == 1
    assert db.tasks.get_dependents(first.id) == []
    assert db.tasks.get_dependencies(last.id) == []
    assert db.tasks.get_dependencies(b.id) == [a.id]


def test_deleting_a_task_unassigns_its_agents(db: Database) -> None:
    task = make_task(db)
    agent = make_agent(db, task_id=task.id, initiative_id=task.initiative_id)

    db.tasks.delete(task.id)

    stored = db.agents.find_by_id(agent.id)
    assert stored is not None
    assert stored.task_id is None
    assert stored.initiative_id == task.initiative_id


def test_deleting_a_task_unlinks_its_conversations(db: Database) -> None:
    task = make_task(db)
    conversation = make_conversation(db, task_id=task.id, phase_id=task.phase_id)

    db.tasks.delete(task.id)

    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None
    assert stored.task_id is None
    assert stored.phase_id == task.phase_id


# --- dependencies ------------------------------------------------------------------------


def test_create_dependency_records_the_edge_both_ways(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    schema_task, api, ui = make_task(db, phase), make_task(db, phase), make_task(db, phase)

    assert db.tasks.create_dependency(api.id, schema_task.id) is True
    assert db.tasks.create_dependency(ui.id, schema_task.id) is True
    assert db.tasks.create_dependency(ui.id, api.id) is True

    assert db.tasks.get_dependencies(ui.id) == [schema_task.id, api.id]
    assert db.tasks.get_dependencies(api.id) == [schema_task.id]
    assert db.tasks.get_dependencies(schema_task.id) == []
    assert db.tasks.get_dependents(schema_task.id) == [api.id, ui.id]
    assert db.tasks.get_dependents(ui.id) == []


def test_adding_an_existing_dependency_is_a_no_op(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    a, b = make_task(db, phase), make_task(db, phase)
    db.tasks.create_dependency(b.id, a.id)

    assert db.tasks.create_dependency(b.id, a.id) is False

    assert count(db, schema.task_dependencies) == 1
    assert db.tasks.get_dependencies(b.id) == [a.id]


def test_the_database_refuses_a_duplicate_dependency_row(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    a, b = make_task(db, phase), make_task(db, phase)
    db.tasks.create_dependency(b.id, a.id)
    row = {"task_id": b.id, "depends_on_task_id": a.id, "created_at": 0}

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(sa.insert(schema.task_dependencies).values(id=new_id(), **row))

    assert count(db, schema.task_dependencies) == 1


def test_a_task_cannot_depend_on_itself(db: Database) -> None:
    task = make_task(db)

    with pytest.raises(ValidationError) as raised:
        db.tasks.create_dependency(task.id, task.id)

    assert task.id in str(raised.value)
    assert count(db, schema.task_dependencies) == 0


def test_a_cycle_across_several_tasks_is_refused_and_named(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    chain = [make_task(db, phase) for _ in range(5)]
    for task, dependency in itertools.pairwise(chain):
        db.tasks.create_dependency(task.id, dependency.id)
    bystander = make_task(db, phase)
    db.tasks.create_dependency(bystander.id, chain[0].id)

    with pytest.raises(ValidationError) as raised:
        db.tasks.create_dependency(chain[-1].id, chain[0].id)

    message = str(raised.value)
    assert "cycle" in message
    assert all(task.id in message for task in chain)
    assert bystander.id not in message
    assert count(db, schema.task_dependencies) == 5


def test_a_two_task_cycle_is_refused(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    a, b = make_task(db, phase), make_task(db, phase)
    db.tasks.create_dependency(a.id, b.id)

    with pytest.raises(ValidationError) as raised:
        db.tasks.create_dependency(b.id, a.id)

    assert a.id in str(raised.value) and b.id in str(raised.value)
    assert db.tasks.get_dependencies(b.id) == []


def test_a_three_task_cycle_is_refused(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    a, b, c = make_task(db, phase), make_task(db, phase), make_task(db, phase)
    db.tasks.create_dependency(a.id, b.id)
    db.tasks.create_dependency(b.id, c.id)

    with pytest.raises(ValidationError) as raised:
        db.tasks.create_dependency(c.id, a.id)

    assert all(task.id in str(raised.value) for task in (a, b, c))
    assert count(db, schema.task_dependencies) == 2


def test_a_diamond_of_tasks_is_not_a_cycle(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    top, left, right, bottom = (make_task(db, phase) for _ in range(4))
    db.tasks.create_dependency(left.id, top.id)
    db.tasks.create_dependency(right.id, top.id)
    db.tasks.create_dependency(bottom.id, left.id)

    assert db.tasks.create_dependency(bottom.id, right.id) is True
    assert db.tasks.create_dependency(bottom.id, top.id) is True


@pytest.mark.parametrize("unknown_side", ["task_id", "depends_on_task_id"])
def test_a_dependency_on_an_unknown_task_is_refused(db: Database, unknown_side: str) -> None:
    task = make_task(db)
    sides = {"task_id": task.id, "depends_on_task_id": task.id, unknown_side: UNKNOWN}

    with pytest.raises(ReferenceNotFoundError) as raised:
        db.tasks.create_dependency(sides["task_id"], sides["depends_on_task_id"])

    assert isinstance(raised.value, NotFoundError)
    assert isinstance(raised.value, ValidationError)
    assert count(db, schema.task_dependencies) == 0


def add_both_ways_at_once(db: Database, a: Task, b: Task) -> list[str]:
    """``a → b`` and ``b → a`` from two threads released together; what each got."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(task_id: str, depends_on: str) -> None:
        barrier.wait()
        try:
            db.tasks.create_dependency(task_id, depends_on)
            outcomes.append("added")
        except ValidationError:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=add, args=(a.id, b.id)),
        threading.Thread(target=add, args=(b.id, a.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_callers_closing_a_cycle_at_once_never_both_succeed(db: Database) -> None:
    # Each caller alone would pass the cycle check; together they must not both insert.
    for _ in range(5):
        phase = make_phase(db)  # dependencies stay within one initiative
        a, b = make_task(db, phase), make_task(db, phase)

        assert add_both_ways_at_once(db, a, b) == ["added", "refused"]
        assert len(db.tasks.get_dependencies(a.id) + db.tasks.get_dependencies(b.id)) == 1


def test_remove_dependency_deletes_the_edge(db: Database) -> None:
    phase = make_phase(db)  # dependencies stay within one initiative
    a, b, c = make_task(db, phase), make_task(db, phase), make_task(db, phase)
    db.tasks.create_dependency(b.id, a.id)
    db.tasks.create_dependency(c.id, a.id)

    assert db.tasks.remove_dependency(b.id, a.id) is True

    assert db.tasks.get_dependencies(b.id) == []
    assert db.tasks.get_dependents(a.id) == [c.id]
    assert db.tasks.remove_dependency(b.id, a.id) is False
    assert db.tasks.create_dependency(a.id, b.id) is True  # no longer a cycle


# --- effective approval ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merge_requires_approval", "requires_approval", "expected"),
    [
        (True, None, True),
        (False, None, False),
        (True, False, False),
        (False, True, True),
        (True, True, True),
        (False, False, False),
    ],
)
def test_effective_requires_approval_inherits_the_initiative_unless_the_task_says(
    db: Database, merge_requires_approval: bool, requires_approval: bool | None, expected: bool
) -> None:
    initiative = make_initiative(db, merge_requires_approval=merge_requires_approval)
    task = make_task(db, make_phase(db, initiative), requires_approval=requires_approval)

    assert db.tasks.get_effective_requires_approval(task.id) is expected


def test_effective_requires_approval_follows_a_change_of_the_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    task = make_task(db, initiative_id=initiative.id)
    assert db.tasks.get_effective_requires_approval(task.id) is True

    db.initiatives.update(initiative.id, merge_requires_approval=False)

    assert db.tasks.get_effective_requires_approval(task.id) is False


def test_effective_requires_approval_of_a_task_outside_any_initiative_is_true(
    db: Database,
) -> None:
    # No initiative to inherit from: the initiatives' default (true) applies.
    task = db.tasks.create(name="Loose end")
    assert task.initiative_id is None

    assert db.tasks.get_effective_requires_approval(task.id) is True


def test_effective_requires_approval_of_an_unknown_task_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.tasks.get_effective_requires_approval(UNKNOWN)


# --- readiness ---------------------------------------------------------------------------


def test_find_ready_returns_only_pending_tasks(db: Database) -> None:
    phase = make_phase(db)
    pending = make_task(db, phase)
    for status in ("pending_approval", "in_progress", "completed", "blocked"):
        make_task(db, phase, status=status)

    assert db.tasks.find_ready(phase.initiative_id) == [pending]


def test_find_ready_waits_until_every_task_dependency_is_completed(db: Database) -> None:
    phase = make_phase(db)
    first, second = make_task(db, phase), make_task(db, phase)
    waiting = make_task(db, phase)
    db.tasks.create_dependency(waiting.id, first.id)
    db.tasks.create_dependency(waiting.id, second.id)

    assert waiting.id not in ids(db.tasks.find_ready(phase.initiative_id))

    db.tasks.update(first.id, status="completed")
    db.tasks.update(second.id, status="in_progress")
    assert ids(db.tasks.find_ready(phase.initiative_id)) == []

    db.tasks.update(second.id, status="completed")
    assert ids(db.tasks.find_ready(phase.initiative_id)) == [waiting.id]


def test_find_ready_waits_until_every_dependency_of_the_tasks_phase_is_completed(
    db: Database,
) -> None:
    initiative = make_initiative(db)
    design, review, build = (make_phase(db, initiative) for _ in range(3))
    db.phases.create_dependency(build.id, design.id)
    db.phases.create_dependency(build.id, review.id)
    design_task = make_task(db, design)
    build_task = make_task(db, build)

    assert db.tasks.find_ready(initiative.id) == [design_task]

    db.phases.update(design.id, status="completed")
    db.phases.update(review.id, status="in_progress")
    assert ids(db.tasks.find_ready(initiative.id)) == [design_task.id]

    db.phases.update(review.id, status="completed")
    assert ids(db.tasks.find_ready(initiative.id)) == [design_task.id, build_task.id]


def test_a_phases_own_status_does_not_hold_back_its_tasks(db: Database) -> None:
    phase = make_phase(db, status="blocked")
    task = make_task(db, phase)

    assert db.tasks.find_ready(phase.initiative_id) == [task]


def test_find_ready_includes_tasks_directly_under_the_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    task = make_task(db, initiative_id=initiative.id)

    assert db.tasks.find_ready(initiative.id) == [task]


def test_find_ready_orders_high_before_medium_before_low_then_oldest(db: Database) -> None:
    phase = make_phase(db)
    low = make_task(db, phase, priority="low", order=0)
    high_old = make_task(db, phase, priority="high", order=9)
    medium = make_task(db, phase, priority="medium")
    high_young = make_task(db, phase, priority="high", order=1)
    low_young = make_task(db, phase, priority="low")

    assert db.tasks.find_ready(phase.initiative_id) == [
        high_old,
        high_young,
        medium,
        low,
        low_young,
    ]


def test_find_ready_is_scoped_to_the_initiative(db: Database) -> None:
    mine = make_task(db)
    theirs = make_task(db)

    assert db.tasks.find_ready(str(mine.initiative_id)) == [mine]
    assert db.tasks.find_ready(str(theirs.initiative_id)) == [theirs]
    assert db.tasks.find_ready(UNKNOWN) == []


# --- transactions ------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_a_task_and_its_dependency_commit_or_roll_back_together(db: Database) -> None:
    first = make_task(db)
    with pytest.raises(Boom), db.transaction():
        second = make_task(db, db.phases.find_by_id(str(first.phase_id)))
        db.tasks.create_dependency(second.id, first.id)
        raise Boom

    assert db.tasks.find_all() == [first]
    assert count(db, schema.task_dependencies) == 0

    with db.transaction():
        second = make_task(db, db.phases.find_by_id(str(first.phase_id)))
        db.tasks.create_dependency(second.id, first.id)

    assert db.tasks.get_dependencies(second.id) == [first.id]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda db: db.tasks.find_by_id(7), id="find_by_id"),
        pytest.param(lambda db: db.tasks.update(7, name="x"), id="update"),
        pytest.param(lambda db: db.tasks.delete(7), id="delete"),
        pytest.param(lambda db: db.tasks.find_by_phase_id(7), id="find_by_phase_id"),
        pytest.param(lambda db: db.tasks.find_by_initiative_id(7), id="find_by_initiative_id"),
        pytest.param(lambda db: db.tasks.find_by_parent_task_id(7), id="find_by_parent_task_id"),
        pytest.param(lambda db: db.tasks.find_pending_approval(7), id="find_pending_approval"),
        pytest.param(lambda db: db.tasks.find_ready(7), id="find_ready"),
        pytest.param(
            lambda db: db.tasks.get_effective_requires_approval(7),
            id="get_effective_requires_approval",
        ),
        pytest.param(lambda db: db.tasks.create_dependency(7, 8), id="create_dependency"),
        pytest.param(lambda db: db.tasks.remove_dependency(7, 8), id="remove_dependency"),
        pytest.param(lambda db: db.tasks.get_dependencies(7), id="get_dependencies"),
        pytest.param(lambda db: db.tasks.get_dependents(7), id="get_dependents"),
        pytest.param(lambda db: db.tasks.create(name="t", phase_id=7), id="create"),
    ],
)
def test_an_id_that_is_not_a_string_is_a_validation_error(db: Database, call: Any) -> None:
    with pytest.raises(ValidationError):
        call(db)
