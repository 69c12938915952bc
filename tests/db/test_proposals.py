"""Proposals: pages, phases and tasks an agent suggests (seed: ``proposals``,
``ProposalRepository`` + findByAgentIdAndStatus, updateManyByAgentId, countByAgentIdAndStatus)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    Agent,
    Database,
    Initiative,
    NotFoundError,
    Proposal,
    ProposalStatus,
    ProposalTargetType,
    ReferenceNotFoundError,
    ValidationError,
)
from codewalkers.db.schema import proposals as proposals_table
from tests.factories import make_agent, make_initiative


def make_proposal(
    db: Database,
    agent: Agent | None = None,
    initiative: Initiative | None = None,
    **fields: Any,
) -> Proposal:
    initiative = initiative or make_initiative(db)
    agent = agent or make_agent(db, initiative_id=initiative.id)
    return db.proposals.create(
        **{
            "agent_id": agent.id,
            "initiative_id": initiative.id,
            "target_type": "task",
            "title": "Add a login task",
            **fields,
        }
    )


def proposal_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(proposals_table)).scalar_one()
        )


# --- standard CRUD ------------------------------------------------------------------------


def test_a_proposal_is_created_pending(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)

    proposal = db.proposals.create(
        agent_id=agent.id,
        initiative_id=initiative.id,
        target_type=ProposalTargetType.PAGE,
        title="Write the overview",
        summary="A summary",
        content="# Overview\n\nBody.",
    )

    assert len(proposal.id) == 21
    assert proposal.agent_id == agent.id
    assert proposal.initiative_id == initiative.id
    assert proposal.target_type == "page"
    assert proposal.target_id is None
    assert proposal.title == "Write the overview"
    assert proposal.summary == "A summary"
    assert proposal.content == "# Overview\n\nBody."
    assert proposal.metadata is None
    assert proposal.status == "pending"
    assert proposal.status is ProposalStatus.PENDING
    assert proposal.sort_order == 0
    assert proposal.updated_at == proposal.created_at
    assert db.proposals.find_by_id(proposal.id) == proposal


def test_a_proposal_may_target_an_existing_entity(db: Database) -> None:
    proposal = make_proposal(db, target_type="phase", target_id="phase-123")

    assert proposal.target_type == ProposalTargetType.PHASE
    assert proposal.target_id == "phase-123"


def test_a_proposal_needs_agent_initiative_target_type_and_title(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)
    complete = {
        "agent_id": agent.id,
        "initiative_id": initiative.id,
        "target_type": "task",
        "title": "t",
    }

    for missing in complete:
        fields = {k: v for k, v in complete.items() if k != missing}
        with pytest.raises(ValidationError):
            db.proposals.create(**fields)

    assert proposal_count(db) == 0


def test_a_proposal_of_an_unknown_agent_or_initiative_is_refused(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)

    with pytest.raises(ReferenceNotFoundError):
        make_proposal(db, agent=agent, agent_id="no-such-agent", initiative=initiative)
    with pytest.raises(ReferenceNotFoundError):
        make_proposal(db, agent=agent, initiative_id="no-such-initiative")

    assert proposal_count(db) == 0


def test_find_by_id_of_an_unknown_proposal_is_none(db: Database) -> None:
    assert db.proposals.find_by_id("no-such-proposal") is None


def test_find_all_lists_proposals_by_sort_order(db: Database) -> None:
    second = make_proposal(db, sort_order=2)
    first = make_proposal(db, sort_order=1)

    assert db.proposals.find_all() == [first, second]


def test_update_changes_status_and_stamps_updated_at(db: Database) -> None:
    proposal = make_proposal(db)

    accepted = db.proposals.update(proposal.id, status="accepted")

    assert accepted.status == ProposalStatus.ACCEPTED
    assert accepted.updated_at > proposal.updated_at
    assert accepted.created_at == proposal.created_at
    assert db.proposals.find_by_id(proposal.id) == accepted


def test_update_of_an_unknown_proposal_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.proposals.update("no-such-proposal", status="accepted")


def test_delete_removes_the_proposal(db: Database) -> None:
    proposal = make_proposal(db)

    db.proposals.delete(proposal.id)

    assert db.proposals.find_by_id(proposal.id) is None


def test_delete_of_an_unknown_proposal_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.proposals.delete("no-such-proposal")


# --- JSON metadata ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        {"phase": {"name": "Design", "dependsOn": ["a", "b"]}, "confidence": 0.75, "ok": True},
        [1, "two", None, {"three": [3]}],
        "just text",
        42,
        {"unicode": "ünïcødé ✓ 日本語", "empty": {}, "null": None},
    ],
    ids=["object", "list", "string", "number", "unicode"],
)
def test_metadata_round_trips_as_json(db: Database, metadata: Any) -> None:
    proposal = make_proposal(db, metadata=metadata)

    assert proposal.metadata == metadata
    found = db.proposals.find_by_id(proposal.id)
    assert found is not None
    assert found.metadata == metadata


def test_metadata_that_is_not_json_is_refused(db: Database) -> None:
    with pytest.raises(ValidationError):
        make_proposal(db, metadata={"when": object()})
    with pytest.raises(ValidationError):
        make_proposal(db, metadata={1: "non-string key"})
    with pytest.raises(ValidationError):
        make_proposal(db, metadata=float("nan"))

    assert proposal_count(db) == 0


# --- enums --------------------------------------------------------------------------------


def test_target_type_must_be_page_phase_or_task(db: Database) -> None:
    with pytest.raises(ValidationError):
        make_proposal(db, target_type="initiative")

    assert proposal_count(db) == 0


def test_status_must_be_pending_accepted_or_dismissed(db: Database) -> None:
    proposal = make_proposal(db)

    with pytest.raises(ValidationError):
        db.proposals.update(proposal.id, status="approved")

    assert db.proposals.find_by_id(proposal.id) == proposal


@pytest.mark.parametrize(("column", "value"), [("target_type", "bogus"), ("status", "bogus")])
def test_the_database_itself_enforces_the_enums(db: Database, column: str, value: str) -> None:
    proposal = make_proposal(db)

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.text(f"UPDATE proposals SET {column} = :value WHERE id = :id"),
            {"value": value, "id": proposal.id},
        )

    assert db.proposals.find_by_id(proposal.id) == proposal


# --- by agent and status ------------------------------------------------------------------


def test_find_by_agent_id_and_status(db: Database) -> None:
    initiative = make_initiative(db)
    agent, other = make_agent(db), make_agent(db)
    second = make_proposal(db, agent, initiative, sort_order=2)
    first = make_proposal(db, agent, initiative, sort_order=1)
    accepted = make_proposal(db, agent, initiative, status="accepted")
    make_proposal(db, other, initiative)

    assert db.proposals.find_by_agent_id_and_status(agent.id, "pending") == [first, second]
    assert db.proposals.find_by_agent_id_and_status(agent.id, ProposalStatus.ACCEPTED) == [accepted]
    assert db.proposals.find_by_agent_id_and_status(agent.id, "dismissed") == []
    assert db.proposals.find_by_agent_id_and_status("no-such-agent", "pending") == []


def test_find_by_agent_id_and_status_refuses_an_unknown_status(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.proposals.find_by_agent_id_and_status(make_agent(db).id, "bogus")


def test_count_by_agent_id_and_status(db: Database) -> None:
    initiative = make_initiative(db)
    agent, other = make_agent(db), make_agent(db)
    for _ in range(3):
        make_proposal(db, agent, initiative)
    make_proposal(db, agent, initiative, status="dismissed")
    make_proposal(db, other, initiative)

    assert db.proposals.count_by_agent_id_and_status(agent.id, "pending") == 3
    assert db.proposals.count_by_agent_id_and_status(agent.id, ProposalStatus.DISMISSED) == 1
    assert db.proposals.count_by_agent_id_and_status(agent.id, "accepted") == 0
    assert db.proposals.count_by_agent_id_and_status("no-such-agent", "pending") == 0


def test_count_by_agent_id_and_status_refuses_an_unknown_status(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.proposals.count_by_agent_id_and_status(make_agent(db).id, "bogus")


def test_find_by_agent_id_and_find_by_initiative_id(db: Database) -> None:
    one, two = make_initiative(db), make_initiative(db)
    agent, other = make_agent(db), make_agent(db)
    a1 = make_proposal(db, agent, one)
    a2 = make_proposal(db, agent, two)
    o1 = make_proposal(db, other, one)

    assert db.proposals.find_by_agent_id(agent.id) == [a1, a2]
    assert db.proposals.find_by_initiative_id(one.id) == [a1, o1]


# --- update many --------------------------------------------------------------------------


def test_update_many_by_agent_id_changes_only_that_agents_proposals(db: Database) -> None:
    initiative = make_initiative(db)
    agent, other = make_agent(db), make_agent(db)
    mine = [make_proposal(db, agent, initiative) for _ in range(3)]
    theirs = make_proposal(db, other, initiative)

    changed = db.proposals.update_many_by_agent_id(agent.id, status="dismissed")

    assert changed == 3
    for before in mine:
        after = db.proposals.find_by_id(before.id)
        assert after is not None
        assert after.status == ProposalStatus.DISMISSED
        assert after.updated_at > before.updated_at
        assert after.created_at == before.created_at
    assert db.proposals.find_by_id(theirs.id) == theirs


def test_update_many_by_agent_id_counts_every_matching_row(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)
    make_proposal(db, agent, initiative, status="accepted")
    make_proposal(db, agent, initiative)

    # Rows already in the target state are still the agent's proposals: both count.
    assert db.proposals.update_many_by_agent_id(agent.id, status="accepted") == 2
    assert db.proposals.count_by_agent_id_and_status(agent.id, "accepted") == 2


def test_update_many_by_agent_id_of_an_agent_without_proposals_is_zero(db: Database) -> None:
    theirs = make_proposal(db)

    assert db.proposals.update_many_by_agent_id(make_agent(db).id, status="accepted") == 0
    assert db.proposals.update_many_by_agent_id("no-such-agent", status="accepted") == 0
    assert db.proposals.find_by_id(theirs.id) == theirs


def test_update_many_by_agent_id_refuses_bad_changes_and_changes_nothing(db: Database) -> None:
    proposal = make_proposal(db)

    with pytest.raises(ValidationError):
        db.proposals.update_many_by_agent_id(proposal.agent_id, status="bogus")
    with pytest.raises(ValidationError):
        db.proposals.update_many_by_agent_id(proposal.agent_id, id="new-id")
    with pytest.raises(ValidationError):
        db.proposals.update_many_by_agent_id(proposal.agent_id, no_such_field=1)

    assert db.proposals.find_by_id(proposal.id) == proposal


# --- cascades -----------------------------------------------------------------------------


def test_deleting_an_agent_deletes_its_proposals(db: Database) -> None:
    initiative = make_initiative(db)
    agent, other = make_agent(db), make_agent(db)
    make_proposal(db, agent, initiative)
    make_proposal(db, agent, initiative)
    kept = make_proposal(db, other, initiative)

    db.agents.delete(agent.id)

    assert db.proposals.find_by_agent_id(agent.id) == []
    assert db.proposals.find_all() == [kept]


def test_deleting_an_initiative_deletes_its_proposals(db: Database) -> None:
    doomed, other = make_initiative(db), make_initiative(db)
    agent = make_agent(db)
    make_proposal(db, agent, doomed)
    kept = make_proposal(db, agent, other)

    db.initiatives.delete(doomed.id)

    assert db.proposals.find_all() == [kept]
    assert db.agents.find_by_id(agent.id) is not None
