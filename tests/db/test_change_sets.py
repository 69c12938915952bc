"""Change sets: a revertable group of changes to pages, phases and tasks, each entry keeping
the entity's state before and after (the target of ``chat_messages.change_set_id``; issue 2)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    ChangeAction,
    ChangeEntityType,
    ChangeSetStatus,
    ConflictError,
    Database,
    NotFoundError,
    ReferenceNotFoundError,
    ValidationError,
)
from codewalkers.db.schema import change_set_entries, change_sets
from tests.factories import doc, make_agent, make_initiative


def entry(**fields: Any) -> dict[str, Any]:
    return {"entity_type": "task", "entity_id": "task-1", "action": "update", **fields}


def count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --- create -------------------------------------------------------------------------------


def test_a_change_set_is_created_applied(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)

    change_set = db.change_sets.create(
        initiative_id=initiative.id, agent_id=agent.id, summary="Split phase 2"
    )

    assert len(change_set.id) == 21
    assert change_set.initiative_id == initiative.id
    assert change_set.agent_id == agent.id
    assert change_set.summary == "Split phase 2"
    assert change_set.status == "applied"
    assert change_set.status is ChangeSetStatus.APPLIED
    assert change_set.reverted_at is None
    assert change_set.updated_at == change_set.created_at
    assert db.change_sets.find_by_id(change_set.id) == change_set
    assert db.change_sets.find_entries(change_set.id) == []


def test_a_change_set_is_stored_with_its_entries(db: Database) -> None:
    initiative = make_initiative(db)

    change_set = db.change_sets.create(
        initiative_id=initiative.id,
        entries=[
            entry(entity_type="phase", entity_id="ph-1", action="create", new_state={"n": 1}),
            entry(entity_type=ChangeEntityType.PAGE, entity_id="pg-1", action=ChangeAction.DELETE),
            entry(entity_id="t-1", previous_state={"a": 1}, new_state={"a": 2}),
        ],
    )

    found = db.change_sets.find_entries(change_set.id)
    assert [(e.entity_type, e.entity_id, e.action) for e in found] == [
        ("phase", "ph-1", "create"),
        ("page", "pg-1", "delete"),
        ("task", "t-1", "update"),
    ]
    assert all(e.change_set_id == change_set.id for e in found)
    assert all(len(e.id) == 21 and e.created_at.tzinfo is not None for e in found)


def test_entries_sort_order_defaults_to_their_position(db: Database) -> None:
    change_set = db.change_sets.create(
        initiative_id=make_initiative(db).id,
        entries=(entry(entity_id=f"t-{i}") for i in range(4)),
    )

    found = db.change_sets.find_entries(change_set.id)

    assert [e.sort_order for e in found] == [0, 1, 2, 3]
    assert [e.entity_id for e in found] == ["t-0", "t-1", "t-2", "t-3"]


def test_find_entries_follows_an_explicit_sort_order(db: Database) -> None:
    change_set = db.change_sets.create(
        initiative_id=make_initiative(db).id,
        entries=[
            entry(entity_id="last", sort_order=9),
            entry(entity_id="first", sort_order=-1),
            entry(entity_id="middle", sort_order=5),
        ],
    )

    found = db.change_sets.find_entries(change_set.id)

    assert [e.entity_id for e in found] == ["first", "middle", "last"]
    assert [e.sort_order for e in found] == [-1, 5, 9]


def test_entries_states_round_trip_as_json(db: Database) -> None:
    before = {
        "name": "Design",
        "content": doc("old", "ünïcødé ✓"),
        "order": 3,
        "requiresApproval": None,
        "tags": ["a", "b"],
        "ratio": 0.5,
        "done": False,
    }
    after = {**before, "name": "Design v2", "content": doc("new")}
    change_set = db.change_sets.create(
        initiative_id=make_initiative(db).id,
        entries=[
            entry(action="update", previous_state=before, new_state=after),
            entry(action="create", previous_state=None, new_state=[1, "x", None]),
            entry(action="delete", previous_state="a string", new_state=None),
        ],
    )

    update, create, delete = db.change_sets.find_entries(change_set.id)

    assert (update.previous_state, update.new_state) == (before, after)
    assert (create.previous_state, create.new_state) == (None, [1, "x", None])
    assert (delete.previous_state, delete.new_state) == ("a string", None)


def test_entries_may_each_omit_either_state(db: Database) -> None:
    change_set = db.change_sets.create(
        initiative_id=make_initiative(db).id,
        entries=[
            entry(entity_id="neither"),
            entry(entity_id="before only", action="delete", previous_state={"v": 1}),
            entry(entity_id="after only", action="create", new_state={"v": 2}),
            entry(entity_id="both", previous_state={"v": 3}, new_state={"v": 4}),
        ],
    )

    found = db.change_sets.find_entries(change_set.id)

    assert [(e.entity_id, e.previous_state, e.new_state) for e in found] == [
        ("neither", None, None),
        ("before only", {"v": 1}, None),
        ("after only", None, {"v": 2}),
        ("both", {"v": 3}, {"v": 4}),
    ]


def test_find_entries_returns_only_that_change_sets_entries(db: Database) -> None:
    initiative = make_initiative(db)
    mine = db.change_sets.create(initiative_id=initiative.id, entries=[entry(entity_id="m")])
    db.change_sets.create(initiative_id=initiative.id, entries=[entry(entity_id="o")])

    assert [e.entity_id for e in db.change_sets.find_entries(mine.id)] == ["m"]
    assert db.change_sets.find_entries("no-such-change-set") == []


BAD_ENTRIES = {
    "not a mapping": ["task", "t-1", "update"],
    "unknown entity type": entry(entity_type="initiative"),
    "unknown action": entry(action="rename"),
    "missing entity_id": {"entity_type": "task", "action": "update"},
    "missing action": {"entity_type": "task", "entity_id": "t"},
    "unknown field": entry(colour="red"),
    "its own change_set_id": entry(change_set_id="elsewhere"),
    "state not JSON": entry(new_state={"x": object()}),
    "sort_order not an int": entry(sort_order="1"),
}


@pytest.mark.parametrize("bad", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_bad_entry_stores_no_change_set(db: Database, bad: Any) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ValidationError):
        db.change_sets.create(initiative_id=initiative.id, entries=[entry(), bad, entry()])

    assert db.change_sets.find_by_initiative_id(initiative.id) == []
    assert count(db, change_set_entries) == 0


def test_an_entry_the_database_refuses_stores_no_change_set(db: Database) -> None:
    initiative = make_initiative(db)

    # Two entries with the same id pass every check but break the primary key in the insert.
    with pytest.raises(ConflictError):
        db.change_sets.create(
            initiative_id=initiative.id,
            entries=[entry(id="same-entry-id-xxxxxxx"), entry(id="same-entry-id-xxxxxxx")],
        )

    assert count(db, change_sets) == 0
    assert count(db, change_set_entries) == 0


def test_a_change_set_of_an_unknown_initiative_stores_nothing(db: Database) -> None:
    with pytest.raises(ReferenceNotFoundError):
        db.change_sets.create(initiative_id="no-such-initiative", entries=[entry()])

    assert count(db, change_sets) == 0
    assert count(db, change_set_entries) == 0


def test_a_change_set_needs_an_initiative(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.change_sets.create(summary="orphan")

    assert count(db, change_sets) == 0


@pytest.mark.parametrize(
    ("table", "column"),
    [
        (change_sets, "status"),
        (change_set_entries, "entity_type"),
        (change_set_entries, "action"),
    ],
)
def test_the_database_itself_enforces_the_enums(db: Database, table: sa.Table, column: str) -> None:
    change_set = db.change_sets.create(initiative_id=make_initiative(db).id, entries=[entry()])
    [stored] = db.change_sets.find_entries(change_set.id)
    id = change_set.id if table is change_sets else stored.id

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.text(f"UPDATE {table.name} SET {column} = 'bogus' WHERE id = :id"), {"id": id}
        )

    assert db.change_sets.find_by_id(change_set.id) == change_set
    assert db.change_sets.find_entries(change_set.id) == [stored]


# --- find ---------------------------------------------------------------------------------


def test_find_by_initiative_id_lists_its_change_sets_oldest_first(db: Database) -> None:
    initiative = make_initiative(db)
    first = db.change_sets.create(initiative_id=initiative.id)
    second = db.change_sets.create(initiative_id=initiative.id)
    db.change_sets.create(initiative_id=make_initiative(db).id)

    assert db.change_sets.find_by_initiative_id(initiative.id) == [first, second]
    assert db.change_sets.find_by_initiative_id("no-such-initiative") == []


def test_find_by_id_of_an_unknown_change_set_is_none(db: Database) -> None:
    assert db.change_sets.find_by_id("no-such-change-set") is None


# --- revert -------------------------------------------------------------------------------


def test_mark_reverted_sets_status_and_reverted_at(db: Database) -> None:
    change_set = db.change_sets.create(initiative_id=make_initiative(db).id)

    reverted = db.change_sets.mark_reverted(change_set.id)

    assert reverted.status == "reverted"
    assert reverted.status is ChangeSetStatus.REVERTED
    assert reverted.reverted_at is not None
    assert reverted.reverted_at.tzinfo is not None
    assert reverted.reverted_at > change_set.created_at
    assert reverted.updated_at == reverted.reverted_at
    assert reverted.created_at == change_set.created_at
    assert db.change_sets.find_by_id(change_set.id) == reverted


def test_mark_reverted_keeps_the_entries(db: Database) -> None:
    change_set = db.change_sets.create(initiative_id=make_initiative(db).id, entries=[entry()])
    before = db.change_sets.find_entries(change_set.id)

    db.change_sets.mark_reverted(change_set.id)

    assert db.change_sets.find_entries(change_set.id) == before


def test_reverting_twice_is_a_conflict(db: Database) -> None:
    change_set = db.change_sets.create(initiative_id=make_initiative(db).id)
    reverted = db.change_sets.mark_reverted(change_set.id)

    with pytest.raises(ConflictError):
        db.change_sets.mark_reverted(change_set.id)

    assert db.change_sets.find_by_id(change_set.id) == reverted


def test_mark_reverted_of_an_unknown_change_set_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.change_sets.mark_reverted("no-such-change-set")


def test_mark_reverted_touches_only_that_change_set(db: Database) -> None:
    initiative = make_initiative(db)
    change_set = db.change_sets.create(initiative_id=initiative.id)
    other = db.change_sets.create(initiative_id=initiative.id)

    db.change_sets.mark_reverted(change_set.id)

    assert db.change_sets.find_by_id(other.id) == other


# --- delete ----------------------------------------------------------------------


def test_delete_of_an_unknown_change_set_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.change_sets.delete("no-such-change-set")


# --- cascades and set-null ----------------------------------------------------------------


def test_deleting_a_change_set_deletes_its_entries(db: Database) -> None:
    initiative = make_initiative(db)
    doomed = db.change_sets.create(initiative_id=initiative.id, entries=[entry(), entry()])
    kept = db.change_sets.create(initiative_id=initiative.id, entries=[entry(entity_id="k")])
    kept_entries = db.change_sets.find_entries(kept.id)

    db.change_sets.delete(doomed.id)

    assert db.change_sets.find_by_id(doomed.id) is None
    assert db.change_sets.find_entries(doomed.id) == []
    assert count(db, change_set_entries) == 1
    assert db.change_sets.find_entries(kept.id) == kept_entries


def test_deleting_the_initiative_deletes_its_change_sets(db: Database) -> None:
    doomed, other = make_initiative(db), make_initiative(db)
    db.change_sets.create(initiative_id=doomed.id, entries=[entry()])
    kept = db.change_sets.create(initiative_id=other.id)

    db.initiatives.delete(doomed.id)

    assert db.change_sets.find_by_initiative_id(doomed.id) == []
    assert db.change_sets.find_by_initiative_id(other.id) == [kept]
    assert count(db, change_sets) == 1
    assert count(db, change_set_entries) == 0


def test_deleting_the_agent_unlinks_its_change_sets(db: Database) -> None:
    agent = make_agent(db)
    change_set = db.change_sets.create(initiative_id=make_initiative(db).id, agent_id=agent.id)

    db.agents.delete(agent.id)

    after = db.change_sets.find_by_id(change_set.id)
    assert after is not None
    assert after.agent_id is None
    assert after.status == ChangeSetStatus.APPLIED


# --- transactions -------------------------------------------------------------------------


def test_a_change_set_created_in_a_rolled_back_transaction_is_not_stored(db: Database) -> None:
    initiative = make_initiative(db)

    with pytest.raises(RuntimeError), db.transaction():
        db.change_sets.create(initiative_id=initiative.id, entries=[entry()])
        raise RuntimeError("the caller changed its mind")

    assert count(db, change_sets) == 0
    assert count(db, change_set_entries) == 0
