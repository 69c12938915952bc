"""Initiatives: the top of the plan (initiative > phase > task), as the seed describes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    Database,
    Initiative,
    InitiativeStatus,
    NotFoundError,
    ValidationError,
    schema,
)
from tests.factories import make_agent, make_conversation, make_initiative, make_phase, make_task


def count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def is_aware_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


# --- create ------------------------------------------------------------------------------


def test_create_returns_the_stored_initiative_with_the_seed_defaults(db: Database) -> None:
    initiative = db.initiatives.create(name="User auth")

    assert isinstance(initiative, Initiative)
    assert initiative.name == "User auth"
    assert initiative.status == "active"
    assert initiative.merge_requires_approval is True
    assert initiative.branch is None
    assert isinstance(initiative.id, str) and len(initiative.id) == 21
    assert db.initiatives.find_by_id(initiative.id) == initiative


def test_create_stores_every_given_field(db: Database) -> None:
    initiative = db.initiatives.create(
        name="User auth",
        status="pending_review",
        merge_requires_approval=False,
        branch="cw/user-auth",
    )

    assert initiative.status == InitiativeStatus.PENDING_REVIEW
    assert initiative.merge_requires_approval is False
    assert initiative.branch == "cw/user-auth"
    assert db.initiatives.find_by_id(initiative.id) == initiative


def test_each_initiative_gets_its_own_id(db: Database) -> None:
    ids = {make_initiative(db).id for _ in range(5)}
    assert len(ids) == 5


def test_timestamps_are_aware_utc_datetimes_set_on_insert(db: Database) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    initiative = make_initiative(db)
    after = datetime.now(UTC) + timedelta(seconds=1)

    assert is_aware_utc(initiative.created_at)
    assert is_aware_utc(initiative.updated_at)
    assert before <= initiative.created_at <= after
    assert initiative.updated_at == initiative.created_at


def test_status_compares_equal_to_its_string_and_to_the_enum_member(db: Database) -> None:
    initiative = make_initiative(db, status=InitiativeStatus.ARCHIVED)

    assert initiative.status == "archived"
    assert initiative.status == InitiativeStatus.ARCHIVED
    assert isinstance(initiative.status, InitiativeStatus)


def test_every_seed_status_is_accepted(db: Database) -> None:
    for status in InitiativeStatus:
        stored = db.initiatives.find_by_id(make_initiative(db, status=status.value).id)
        assert stored is not None and stored.status == status.value


def test_merge_requires_approval_reads_back_as_a_bool(db: Database) -> None:
    stored = db.initiatives.find_by_id(make_initiative(db, merge_requires_approval=False).id)
    assert stored is not None
    assert stored.merge_requires_approval is False


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "x", "status": "bogus"}, id="bad-enum"),
        pytest.param({"name": "x", "status": "ACTIVE"}, id="enum-is-case-sensitive"),
        pytest.param({"name": "x", "colour": "red"}, id="unknown-field"),
        pytest.param({"name": 42}, id="name-not-a-string"),
        pytest.param({"name": "x", "merge_requires_approval": "yes"}, id="bool-as-string"),
        pytest.param({"name": "x", "merge_requires_approval": 1}, id="bool-as-int"),
        pytest.param({"name": "x", "branch": ["cw/x"]}, id="branch-not-a-string"),
        pytest.param({}, id="missing-name"),
        pytest.param({"name": None}, id="name-none"),
        pytest.param({"name": "x", "status": None}, id="status-none"),
        pytest.param({"name": "x", "created_at": datetime.now(UTC)}, id="managed-timestamp"),
    ],
)
def test_invalid_create_raises_validation_error_and_stores_nothing(
    db: Database, fields: dict[str, Any]
) -> None:
    make_initiative(db)
    before = count(db, schema.initiatives)

    with pytest.raises(ValidationError):
        db.initiatives.create(**fields)

    assert count(db, schema.initiatives) == before


def test_the_database_itself_refuses_a_status_the_seed_does_not_have(db: Database) -> None:
    initiative = make_initiative(db)

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.update(schema.initiatives)
            .where(schema.initiatives.c.id == initiative.id)
            .values(status=sa.literal_column("'bogus'"))
        )

    assert db.initiatives.find_by_id(initiative.id) == initiative


# --- read --------------------------------------------------------------------------------


def test_find_by_id_returns_none_for_an_unknown_id(db: Database) -> None:
    make_initiative(db)
    assert db.initiatives.find_by_id("does-not-exist-000000") is None


def test_find_all_returns_every_initiative_oldest_first(db: Database) -> None:
    assert db.initiatives.find_all() == []
    first, second, third = (make_initiative(db) for _ in range(3))

    assert db.initiatives.find_all() == [first, second, third]


def test_find_by_status_returns_only_initiatives_with_that_status(db: Database) -> None:
    active = make_initiative(db)
    archived = make_initiative(db, status="archived")
    also_active = make_initiative(db, status="active")
    make_initiative(db, status="completed")

    assert db.initiatives.find_by_status("active") == [active, also_active]
    assert db.initiatives.find_by_status(InitiativeStatus.ARCHIVED) == [archived]
    assert db.initiatives.find_by_status("pending_review") == []


def test_find_by_id_refuses_an_id_that_is_not_a_string(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.initiatives.find_by_id(42)  # type: ignore[arg-type]


def test_find_by_status_refuses_a_status_the_seed_does_not_have(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.initiatives.find_by_status("bogus")


# --- update ------------------------------------------------------------------------------


def test_update_returns_the_stored_row_and_bumps_updated_at(db: Database) -> None:
    initiative = make_initiative(db)

    updated = db.initiatives.update(
        initiative.id, name="Renamed", status="completed", merge_requires_approval=False
    )

    assert updated.id == initiative.id
    assert updated.name == "Renamed"
    assert updated.status == "completed"
    assert updated.merge_requires_approval is False
    assert updated.created_at == initiative.created_at
    assert updated.updated_at > initiative.updated_at
    assert is_aware_utc(updated.updated_at)
    assert db.initiatives.find_by_id(initiative.id) == updated


def test_update_changes_only_the_named_fields(db: Database) -> None:
    initiative = make_initiative(db, branch="cw/a", merge_requires_approval=False)

    updated = db.initiatives.update(initiative.id, status="pending_review")

    assert updated.branch == "cw/a"
    assert updated.merge_requires_approval is False
    assert updated.name == initiative.name


def test_update_can_clear_a_nullable_field(db: Database) -> None:
    initiative = make_initiative(db, branch="cw/a")
    assert db.initiatives.update(initiative.id, branch=None).branch is None


def test_update_of_an_unknown_id_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.initiatives.update("does-not-exist-000000", name="x")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"status": "bogus"}, id="bad-enum"),
        pytest.param({"colour": "red"}, id="unknown-field"),
        pytest.param({"name": None}, id="required-set-to-none"),
        pytest.param({"merge_requires_approval": "no"}, id="wrong-type"),
        pytest.param({"updated_at": datetime.now(UTC)}, id="updated-at"),
        pytest.param({"created_at": datetime.now(UTC)}, id="created-at"),
    ],
)
def test_invalid_update_raises_validation_error_and_changes_nothing(
    db: Database, changes: dict[str, Any]
) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ValidationError):
        db.initiatives.update(initiative.id, **changes)

    assert db.initiatives.find_by_id(initiative.id) == initiative


# --- delete ------------------------------------------------------------------------------


def test_delete_removes_the_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    other = make_initiative(db)

    db.initiatives.delete(initiative.id)

    assert db.initiatives.find_by_id(initiative.id) is None
    assert db.initiatives.find_all() == [other]


def test_delete_of_an_unknown_id_raises_not_found(db: Database) -> None:
    make_initiative(db)
    with pytest.raises(NotFoundError):
        db.initiatives.delete("does-not-exist-000000")
    assert count(db, schema.initiatives) == 1


def test_deleting_an_initiative_deletes_its_phases_and_tasks(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    in_phase = make_task(db, phase)
    subtask = make_task(db, parent_task_id=in_phase.id)
    directly_under = make_task(db, initiative_id=initiative.id)
    survivor = make_task(db)  # in a phase of another initiative

    db.initiatives.delete(initiative.id)

    assert db.phases.find_by_id(phase.id) is None
    for task in (in_phase, subtask, directly_under):
        assert db.tasks.find_by_id(task.id) is None
    assert db.tasks.find_all() == [survivor]
    assert db.phases.find_all() == [db.phases.find_by_id(str(survivor.phase_id))]


def test_deleting_an_initiative_deletes_its_phase_and_task_dependencies(db: Database) -> None:
    initiative = make_initiative(db)
    first, second = make_phase(db, initiative), make_phase(db, initiative)
    db.phases.create_dependency(second.id, first.id)
    a, b = make_task(db, first), make_task(db, second)
    db.tasks.create_dependency(b.id, a.id)
    other = make_initiative(db)
    kept_a, kept_b = make_phase(db, other), make_phase(db, other)
    db.phases.create_dependency(kept_b.id, kept_a.id)

    db.initiatives.delete(initiative.id)

    assert count(db, schema.task_dependencies) == 0
    assert count(db, schema.phase_dependencies) == 1
    assert db.phases.get_dependencies(kept_b.id) == [kept_a.id]


def test_deleting_an_initiative_keeps_its_agents_and_conversations_unlinked(
    db: Database,
) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db, initiative_id=initiative.id)
    conversation = make_conversation(db, initiative_id=initiative.id)

    db.initiatives.delete(initiative.id)

    stored_agent = db.agents.find_by_id(agent.id)
    stored_conversation = db.conversations.find_by_id(conversation.id)
    assert stored_agent is not None and stored_agent.initiative_id is None
    assert stored_conversation is not None and stored_conversation.initiative_id is None


# --- transactions ------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_a_transaction_that_raises_leaves_neither_the_initiative_nor_its_phase(
    db: Database,
) -> None:
    with pytest.raises(Boom), db.transaction():
        initiative = db.initiatives.create(name="Doomed")
        db.phases.create(initiative_id=initiative.id, name="Design")
        # Inside the transaction, its own writes are visible.
        assert db.initiatives.find_by_id(initiative.id) is not None
        raise Boom

    assert db.initiatives.find_all() == []
    assert db.phases.find_all() == []


def test_a_transaction_that_completes_keeps_the_initiative_and_its_phase(db: Database) -> None:
    with db.transaction():
        initiative = db.initiatives.create(name="Kept")
        phase = db.phases.create(initiative_id=initiative.id, name="Design")

    assert db.initiatives.find_by_id(initiative.id) == initiative
    assert db.phases.find_by_initiative_id(initiative.id) == [phase]


def test_a_failed_write_inside_a_transaction_rolls_back_the_earlier_writes(
    db: Database,
) -> None:
    with pytest.raises(ValidationError), db.transaction():
        db.initiatives.create(name="Doomed")
        db.initiatives.create(name="Also doomed", status="bogus")

    assert db.initiatives.find_all() == []


def test_a_nested_transaction_rolls_back_alone(db: Database) -> None:
    with db.transaction():
        kept = db.initiatives.create(name="Kept")
        with pytest.raises(Boom), db.transaction():
            db.phases.create(initiative_id=kept.id, name="Doomed")
            raise Boom
        phase = db.phases.create(initiative_id=kept.id, name="Kept too")

    assert db.initiatives.find_all() == [kept]
    assert db.phases.find_all() == [phase]
