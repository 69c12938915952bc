from collections.abc import Iterator
from typing import Any

import pytest

from codewalkers.content import tiptap_to_markdown
from codewalkers.db import Agent, Database, Initiative, Proposal
from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw


@pytest.fixture
def db(cw: Cw, backend: str, database_url: str) -> Iterator[Database]:
    """The workspace's own database: agents and their proposals come from elsewhere."""
    with workspace_db(cw) as database:
        yield database


@pytest.fixture
def initiative(db: Database) -> Initiative:
    return db.initiatives.create(name="Auth")


@pytest.fixture
def agent(db: Database, initiative: Initiative) -> Agent:
    return db.agents.create(name="brave-otter", initiative_id=initiative.id, mode="plan")


def propose(db: Database, agent: Agent, target_type: str, title: str, **fields: Any) -> Proposal:
    assert agent.initiative_id is not None
    return db.proposals.create(
        agent_id=agent.id,
        initiative_id=agent.initiative_id,
        target_type=target_type,
        title=title,
        **fields,
    )


def test_accepting_proposals_creates_and_updates_pages_phases_and_tasks(
    cw: Cw, db: Database, initiative: Initiative, agent: Agent
) -> None:
    phase = db.phases.create(initiative_id=initiative.id, name="Build")
    task = db.tasks.create(phase_id=phase.id, name="Old name")
    proposed = [
        propose(db, agent, "page", "Design", content="# Design\n\nUse *JWT*.\n"),
        propose(db, agent, "phase", "Test", content="Write the tests.\n"),
        propose(
            db, agent, "task", "Login form", summary="The form", metadata={"phase_id": phase.id}
        ),
        propose(db, agent, "task", "Renamed", target_id=task.id, content="Do it well."),
    ]
    listed = cw.ok("proposal", "list", "--agent", "brave-otter", "--status", "pending")
    assert [p["id"] for p in listed] == [p.id for p in proposed]
    assert listed[2]["metadata"] == {"phase_id": phase.id} and listed[0]["target_id"] is None

    page = cw.ok("proposal", "accept", proposed[0].id)
    assert page["action"] == "created" and page["proposal"]["status"] == "accepted"
    root = db.pages.find_root_page(initiative.id)
    assert root is not None and page["entity"]["parent_page_id"] == root.id
    stored = db.pages.find_by_id(page["entity"]["id"])
    assert stored is not None and tiptap_to_markdown(stored.content) == "# Design\n\nUse *JWT*.\n"

    new_phase = cw.ok("proposal", "accept", proposed[1].id)["entity"]
    assert new_phase["name"] == "Test" and new_phase["initiative_id"] == initiative.id
    new_task = cw.ok("proposal", "accept", proposed[2].id)["entity"]
    assert (new_task["name"], new_task["phase_id"], new_task["description"]) == (
        "Login form",
        phase.id,
        "The form",
    )
    human = cw("proposal", "accept", proposed[3].id)
    assert human.code == 0 and f"updated task {task.id}" in human.stdout
    updated = db.tasks.find_by_id(task.id)
    assert updated is not None and (updated.name, updated.description) == ("Renamed", "Do it well.")

    assert cw.ok("proposal", "list", "--agent", agent.id, "--status", "pending") == []
    table = cw("proposal", "list", "--agent", "brave-otter")
    assert table.code == 0 and table.stdout.count("accepted") == 4


def test_a_proposal_is_applied_once_and_a_failed_accept_changes_nothing(
    cw: Cw, db: Database, initiative: Initiative, agent: Agent
) -> None:
    other = db.initiatives.create(name="Billing")
    foreign_phase = db.phases.create(initiative_id=other.id, name="Elsewhere")
    bad = propose(db, agent, "task", "Misplaced", metadata={"phase_id": foreign_phase.id})
    page = propose(db, agent, "page", "Design")
    dropped = propose(db, agent, "phase", "Maybe")

    assert "belongs to initiative" in cw.fails("proposal", "accept", bad.id).stderr
    assert db.proposals.find_by_id(bad.id) == bad  # still pending, not even touched
    assert db.tasks.find_by_initiative_id(initiative.id) == []

    cw.ok("proposal", "accept", page.id)
    assert "already accepted" in cw.fails("proposal", "accept", page.id).stderr
    assert "already accepted" in cw.fails("proposal", "dismiss", page.id).stderr
    assert len(db.pages.find_by_initiative_id(initiative.id)) == 2  # the root and one page

    dismissed = cw.ok("proposal", "dismiss", dropped.id)
    assert dismissed["status"] == "dismissed"
    assert "already dismissed" in cw.fails("proposal", "accept", dropped.id).stderr
    assert db.phases.find_by_initiative_id(initiative.id) == []

    assert "proposal 'nope' not found" in cw.fails("proposal", "accept", "nope").stderr
    assert (
        "status" in cw.fails("proposal", "list", "--agent", "brave-otter", "--status", "x").stderr
    )
    assert "--agent NAME or --initiative ID" in cw.fails("proposal", "list").stderr
    listed = cw.ok("proposal", "list", "--initiative", initiative.id, "--status", "pending")
    assert [p["id"] for p in listed] == [bad.id]
    assert [p["id"] for p in cw.ok("proposal", "list", "--initiative", initiative.id)] == [
        bad.id,
        page.id,
        dropped.id,
    ]
    shown = cw("proposal", "get", bad.id)
    assert shown.code == 0 and "Misplaced" in shown.stdout and "pending" in shown.stdout
