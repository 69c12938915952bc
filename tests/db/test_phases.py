"""Phases of an initiative, their Tiptap content, and the dependencies between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    Database,
    NotFoundError,
    Phase,
    PhaseStatus,
    ReferenceNotFoundError,
    ValidationError,
    schema,
)
from codewalkers.db.ids import new_id
from tests.factories import doc, make_conversation, make_initiative, make_phase, make_task

UNKNOWN = "does-not-exist-000000"


def count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def is_aware_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


# --- create ------------------------------------------------------------------------------


def test_create_returns_the_stored_phase_with_status_pending(db: Database) -> None:
    initiative = make_initiative(db)

    phase = db.phases.create(initiative_id=initiative.id, name="Design")

    assert isinstance(phase, Phase)
    assert phase.initiative_id == initiative.id
    assert phase.name == "Design"
    assert phase.status == "pending"
    assert phase.status == PhaseStatus.PENDING
    assert phase.content is None
    assert len(phase.id) == 21
    assert is_aware_utc(phase.created_at) and is_aware_utc(phase.updated_at)
    assert phase.created_at == phase.updated_at
    assert db.phases.find_by_id(phase.id) == phase


def test_every_seed_status_is_accepted(db: Database) -> None:
    initiative = make_initiative(db)
    for status in PhaseStatus:
        stored = db.phases.find_by_id(make_phase(db, initiative, status=status.value).id)
        assert stored is not None and stored.status == status.value
        assert isinstance(stored.status, PhaseStatus)


def test_tiptap_content_round_trips_as_a_parsed_document(db: Database) -> None:
    content = {
        "type": "doc",
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": "Goal"}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Ship ", "marks": [{"type": "bold"}]},
                    {
                        "type": "text",
                        "text": "auth — ünïcode ✓",
                        "marks": [{"type": "link", "attrs": {"href": "https://x.test"}}],
                    },
                ],
            },
            {"type": "bulletList", "content": [{"type": "listItem", "content": []}]},
        ],
    }

    phase = make_phase(db, content=content)

    assert phase.content == content
    stored = db.phases.find_by_id(phase.id)
    assert stored is not None and stored.content == content


def test_update_replaces_and_clears_the_content(db: Database) -> None:
    phase = make_phase(db, content=doc("first"))

    assert db.phases.update(phase.id, content=doc("second", "third")).content == doc(
        "second", "third"
    )
    assert db.phases.update(phase.id, content=None).content is None
    stored = db.phases.find_by_id(phase.id)
    assert stored is not None and stored.content is None


MALFORMED_TIPTAP = [
    pytest.param("plain text", id="a-string"),
    pytest.param('{"type": "doc", "content": []}', id="json-as-a-string"),
    pytest.param(["paragraph"], id="a-list"),
    pytest.param({"content": []}, id="no-type"),
    pytest.param({"type": "paragraph", "content": []}, id="not-a-doc"),
    pytest.param({"type": "doc", "content": "text"}, id="content-not-a-list"),
    pytest.param({"type": "doc", "content": [{"text": "x"}]}, id="node-without-type"),
    pytest.param({"type": "doc", "content": [{"type": "text"}]}, id="text-node-without-text"),
    pytest.param({"type": "doc", "content": [{"type": "p", "attrs": 3}]}, id="attrs-not-object"),
    pytest.param({"type": "doc", "content": [{"type": "p", "marks": "bold"}]}, id="bad-marks"),
    pytest.param({"type": "doc", "content": [{"type": "p", "colour": 1}]}, id="unknown-key"),
    pytest.param({"type": "doc", "content": [float("nan")]}, id="nan"),
]


@pytest.mark.parametrize("content", MALFORMED_TIPTAP)
def test_malformed_tiptap_content_is_rejected_on_create(db: Database, content: Any) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ValidationError):
        db.phases.create(initiative_id=initiative.id, name="Design", content=content)

    assert count(db, schema.phases) == 0


@pytest.mark.parametrize("content", MALFORMED_TIPTAP[:6])
def test_malformed_tiptap_content_is_rejected_on_update(db: Database, content: Any) -> None:
    phase = make_phase(db, content=doc("kept"))

    with pytest.raises(ValidationError):
        db.phases.update(phase.id, content=content)

    assert db.phases.find_by_id(phase.id) == phase


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "x", "status": "bogus"}, id="bad-enum"),
        pytest.param({"name": "x", "owner": "me"}, id="unknown-field"),
        pytest.param({"name": 3}, id="name-not-a-string"),
        pytest.param({}, id="missing-name"),
        pytest.param({"name": None}, id="name-none"),
    ],
)
def test_invalid_create_raises_validation_error_and_stores_nothing(
    db: Database, fields: dict[str, Any]
) -> None:
    initiative = make_initiative(db)
    make_phase(db, initiative)

    with pytest.raises(ValidationError):
        db.phases.create(initiative_id=initiative.id, **fields)

    assert count(db, schema.phases) == 1


def test_a_phase_needs_an_initiative(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.phases.create(name="Orphan")
    assert count(db, schema.phases) == 0


def test_a_phase_of_an_unknown_initiative_is_refused(db: Database) -> None:
    with pytest.raises(ReferenceNotFoundError) as raised:
        db.phases.create(initiative_id=UNKNOWN, name="Orphan")

    assert isinstance(raised.value, NotFoundError)
    assert isinstance(raised.value, ValidationError)
    assert count(db, schema.phases) == 0


def test_the_database_itself_refuses_a_status_the_seed_does_not_have(db: Database) -> None:
    phase = make_phase(db)

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.update(schema.phases)
            .where(schema.phases.c.id == phase.id)
            .values(status=sa.literal_column("'bogus'"))
        )

    assert db.phases.find_by_id(phase.id) == phase


# --- read --------------------------------------------------------------------------------


def test_find_by_id_returns_none_for_an_unknown_id(db: Database) -> None:
    make_phase(db)
    assert db.phases.find_by_id(UNKNOWN) is None


def test_find_all_returns_every_phase_oldest_first(db: Database) -> None:
    assert db.phases.find_all() == []
    first = make_phase(db)
    second = make_phase(db)
    third = make_phase(db, db.initiatives.find_by_id(first.initiative_id))

    assert db.phases.find_all() == [first, second, third]


def test_find_by_initiative_id_returns_its_phases_in_creation_order(db: Database) -> None:
    initiative = make_initiative(db)
    design = make_phase(db, initiative, name="Design")
    make_phase(db)  # another initiative
    build = make_phase(db, initiative, name="Build")

    assert db.phases.find_by_initiative_id(initiative.id) == [design, build]
    assert db.phases.find_by_initiative_id(UNKNOWN) == []


# --- update ------------------------------------------------------------------------------


def test_update_returns_the_stored_row_and_bumps_updated_at(db: Database) -> None:
    phase = make_phase(db)

    updated = db.phases.update(phase.id, name="Build", status="in_progress")

    assert updated.name == "Build"
    assert updated.status == "in_progress"
    assert updated.initiative_id == phase.initiative_id
    assert updated.created_at == phase.created_at
    assert updated.updated_at > phase.updated_at
    assert db.phases.find_by_id(phase.id) == updated


def test_update_of_an_unknown_id_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.phases.update(UNKNOWN, name="x")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"status": "bogus"}, id="bad-enum"),
        pytest.param({"owner": "me"}, id="unknown-field"),
        pytest.param({"name": None}, id="required-set-to-none"),
        pytest.param({"created_at": datetime.now(UTC)}, id="created-at"),
    ],
)
def test_invalid_update_raises_validation_error_and_changes_nothing(
    db: Database, changes: dict[str, Any]
) -> None:
    phase = make_phase(db)

    with pytest.raises(ValidationError):
        db.phases.update(phase.id, **changes)

    assert db.phases.find_by_id(phase.id) == phase


def test_a_phase_cannot_move_to_another_initiative(db: Database) -> None:
    # Moving would break "a phase may only depend on a phase of the same initiative".
    phase = make_phase(db)
    other = make_initiative(db)

    with pytest.raises(ValidationError):
        db.phases.update(phase.id, initiative_id=other.id)

    assert db.phases.find_by_id(phase.id) == phase


# --- delete ------------------------------------------------------------------------------


def test_delete_removes_the_phase(db: Database) -> None:
    phase = make_phase(db)
    other = make_phase(db)

    db.phases.delete(phase.id)

    assert db.phases.find_by_id(phase.id) is None
    assert db.phases.find_all() == [other]


def test_delete_of_an_unknown_id_raises_not_found(db: Database) -> None:
    make_phase(db)
    with pytest.raises(NotFoundError):
        db.phases.delete(UNKNOWN)
    assert count(db, schema.phases) == 1


def test_deleting_a_phase_deletes_its_tasks_and_their_subtasks(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    other_phase = make_phase(db, initiative)
    task = make_task(db, phase)
    subtask = make_task(db, parent_task_id=task.id)
    kept = make_task(db, other_phase)

    db.phases.delete(phase.id)

    assert db.tasks.find_by_id(task.id) is None
    assert db.tasks.find_by_id(subtask.id) is None
    assert db.tasks.find_all() == [kept]
    assert db.initiatives.find_by_id(initiative.id) == initiative


def test_deleting_a_phase_deletes_its_dependency_rows_both_ways(db: Database) -> None:
    initiative = make_initiative(db)
    first, middle, last = (make_phase(db, initiative) for _ in range(3))
    unrelated_a, unrelated_b = make_phase(db, initiative), make_phase(db, initiative)
    db.phases.create_dependency(middle.id, first.id)
    db.phases.create_dependency(last.id, middle.id)
    db.phases.create_dependency(unrelated_b.id, unrelated_a.id)

    db.phases.delete(middle.id)

    assert count(db, schema.phase_dependencies) == 1
    assert db.phases.get_dependents(first.id) == []
    assert db.phases.get_dependencies(last.id) == []
    assert db.phases.get_dependencies(unrelated_b.id) == [unrelated_a.id]


def test_deleting_a_phase_unlinks_its_conversations(db: Database) -> None:
    phase = make_phase(db)
    conversation = make_conversation(db, phase_id=phase.id)

    db.phases.delete(phase.id)

    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None and stored.phase_id is None


# --- dependencies ------------------------------------------------------------------------


def phases_of_one_initiative(db: Database, n: int) -> list[Phase]:
    initiative = make_initiative(db)
    return [make_phase(db, initiative, name=f"phase {i}") for i in range(n)]


def test_create_dependency_records_the_edge_both_ways(db: Database) -> None:
    design, build, ship = phases_of_one_initiative(db, 3)

    assert db.phases.create_dependency(build.id, design.id) is True
    assert db.phases.create_dependency(ship.id, design.id) is True
    assert db.phases.create_dependency(ship.id, build.id) is True

    assert db.phases.get_dependencies(ship.id) == [design.id, build.id]
    assert db.phases.get_dependencies(build.id) == [design.id]
    assert db.phases.get_dependencies(design.id) == []
    assert db.phases.get_dependents(design.id) == [build.id, ship.id]
    assert db.phases.get_dependents(build.id) == [ship.id]
    assert db.phases.get_dependents(ship.id) == []


def test_adding_an_existing_dependency_is_a_no_op(db: Database) -> None:
    design, build = phases_of_one_initiative(db, 2)
    db.phases.create_dependency(build.id, design.id)

    assert db.phases.create_dependency(build.id, design.id) is False

    assert count(db, schema.phase_dependencies) == 1
    assert db.phases.get_dependencies(build.id) == [design.id]


def test_the_database_refuses_a_duplicate_dependency_row(db: Database) -> None:
    design, build = phases_of_one_initiative(db, 2)
    db.phases.create_dependency(build.id, design.id)
    row = {"phase_id": build.id, "depends_on_phase_id": design.id, "created_at": 0}

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(sa.insert(schema.phase_dependencies).values(id=new_id(), **row))

    assert count(db, schema.phase_dependencies) == 1


def test_a_phase_cannot_depend_on_itself(db: Database) -> None:
    (phase,) = phases_of_one_initiative(db, 1)

    with pytest.raises(ValidationError) as raised:
        db.phases.create_dependency(phase.id, phase.id)

    assert phase.id in str(raised.value)
    assert count(db, schema.phase_dependencies) == 0


def test_a_two_phase_cycle_is_refused(db: Database) -> None:
    a, b = phases_of_one_initiative(db, 2)
    db.phases.create_dependency(a.id, b.id)

    with pytest.raises(ValidationError) as raised:
        db.phases.create_dependency(b.id, a.id)

    message = str(raised.value)
    assert "cycle" in message
    assert a.id in message and b.id in message
    assert count(db, schema.phase_dependencies) == 1
    assert db.phases.get_dependencies(b.id) == []


def test_a_three_phase_cycle_is_refused_and_named(db: Database) -> None:
    a, b, c, bystander = phases_of_one_initiative(db, 4)
    db.phases.create_dependency(a.id, b.id)
    db.phases.create_dependency(b.id, c.id)
    db.phases.create_dependency(bystander.id, a.id)

    with pytest.raises(ValidationError) as raised:
        db.phases.create_dependency(c.id, a.id)

    message = str(raised.value)
    assert "cycle" in message
    assert all(phase.id in message for phase in (a, b, c))
    assert bystander.id not in message
    assert count(db, schema.phase_dependencies) == 3


def test_a_diamond_is_not_a_cycle(db: Database) -> None:
    top, left, right, bottom = phases_of_one_initiative(db, 4)
    db.phases.create_dependency(left.id, top.id)
    db.phases.create_dependency(right.id, top.id)
    db.phases.create_dependency(bottom.id, left.id)

    assert db.phases.create_dependency(bottom.id, right.id) is True
    assert db.phases.create_dependency(bottom.id, top.id) is True
    assert sorted(db.phases.get_dependencies(bottom.id)) == sorted([left.id, right.id, top.id])


def test_a_phase_may_only_depend_on_a_phase_of_its_own_initiative(db: Database) -> None:
    mine = make_phase(db)
    theirs = make_phase(db)

    with pytest.raises(ValidationError) as raised:
        db.phases.create_dependency(mine.id, theirs.id)

    assert not isinstance(raised.value, NotFoundError)
    assert count(db, schema.phase_dependencies) == 0


@pytest.mark.parametrize("unknown_side", ["phase_id", "depends_on_phase_id"])
def test_a_dependency_on_an_unknown_phase_is_refused(db: Database, unknown_side: str) -> None:
    (phase,) = phases_of_one_initiative(db, 1)
    ids = {"phase_id": phase.id, "depends_on_phase_id": phase.id, unknown_side: UNKNOWN}

    with pytest.raises(ReferenceNotFoundError) as raised:
        db.phases.create_dependency(ids["phase_id"], ids["depends_on_phase_id"])

    assert isinstance(raised.value, NotFoundError)
    assert isinstance(raised.value, ValidationError)
    assert UNKNOWN in str(raised.value)
    assert count(db, schema.phase_dependencies) == 0


def test_remove_dependency_deletes_the_edge(db: Database) -> None:
    design, build, ship = phases_of_one_initiative(db, 3)
    db.phases.create_dependency(build.id, design.id)
    db.phases.create_dependency(ship.id, design.id)

    assert db.phases.remove_dependency(build.id, design.id) is True

    assert db.phases.get_dependencies(build.id) == []
    assert db.phases.get_dependents(design.id) == [ship.id]
    assert db.phases.remove_dependency(build.id, design.id) is False
    assert count(db, schema.phase_dependencies) == 1


def test_a_removed_dependency_can_be_reversed(db: Database) -> None:
    a, b = phases_of_one_initiative(db, 2)
    db.phases.create_dependency(a.id, b.id)
    db.phases.remove_dependency(a.id, b.id)

    assert db.phases.create_dependency(b.id, a.id) is True


def test_find_dependencies_by_initiative_id_lists_only_that_initiatives_edges(
    db: Database,
) -> None:
    design, build, ship = phases_of_one_initiative(db, 3)
    db.phases.create_dependency(build.id, design.id)
    db.phases.create_dependency(ship.id, build.id)
    other_a, other_b = phases_of_one_initiative(db, 2)
    db.phases.create_dependency(other_b.id, other_a.id)

    assert db.phases.find_dependencies_by_initiative_id(design.initiative_id) == [
        (build.id, design.id),
        (ship.id, build.id),
    ]
    assert db.phases.find_dependencies_by_initiative_id(other_a.initiative_id) == [
        (other_b.id, other_a.id)
    ]
    assert db.phases.find_dependencies_by_initiative_id(UNKNOWN) == []


def test_a_refused_dependency_inside_a_transaction_leaves_the_transaction_usable(
    db: Database,
) -> None:
    a, b = phases_of_one_initiative(db, 2)
    with db.transaction():
        db.phases.create_dependency(a.id, b.id)
        with pytest.raises(ValidationError):
            db.phases.create_dependency(b.id, a.id)
        db.phases.update(a.id, status="approved")

    assert db.phases.get_dependencies(a.id) == [b.id]
    stored = db.phases.find_by_id(a.id)
    assert stored is not None and stored.status == "approved"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda db: db.phases.find_by_id(7), id="find_by_id"),
        pytest.param(lambda db: db.phases.update(7, name="x"), id="update"),
        pytest.param(lambda db: db.phases.delete(7), id="delete"),
        pytest.param(lambda db: db.phases.find_by_initiative_id(7), id="find_by_initiative_id"),
        pytest.param(lambda db: db.phases.create_dependency(7, 8), id="create_dependency"),
        pytest.param(lambda db: db.phases.remove_dependency(7, 8), id="remove_dependency"),
        pytest.param(lambda db: db.phases.get_dependencies(7), id="get_dependencies"),
        pytest.param(lambda db: db.phases.get_dependents(7), id="get_dependents"),
        pytest.param(
            lambda db: db.phases.find_dependencies_by_initiative_id(7),
            id="find_dependencies_by_initiative_id",
        ),
    ],
)
def test_an_id_that_is_not_a_string_is_a_validation_error(db: Database, call: Any) -> None:
    with pytest.raises(ValidationError):
        call(db)
