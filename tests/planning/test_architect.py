"""Architect modes end to end in-process: the coordinator's runtime (and executor) with the
shipped fake agent acting each mode in real worktrees of a real bare remote, its output
files becoming proposals, accepted into the plan; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codewalkers.agents import workdir
from codewalkers.content import tiptap_to_markdown
from codewalkers.db import AgentStatus, Database, DispatchState, Initiative, TaskStatus, new_id
from codewalkers.services import proposals
from codewalkers.services.architect import ArchitectRequest, spawn_architect
from codewalkers.services.runtime import AgentRuntime
from tests.agents.conftest import Remote, make_remote
from tests.agents.test_runtime import runtime, scenario, wait_for  # noqa: F401 (fixture)
from tests.execution.conftest import close_coordinator, make_coordinator, tick_until
from tests.factories import make_initiative, make_phase, make_task


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=1)


def linked(db: Database, remote: Remote) -> Initiative:
    initiative = make_initiative(db, name="User auth")
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    return initiative


def propose(*files: tuple[str, dict[str, Any], str], done: str = "Proposed.") -> str:
    """A scenario (for ``--instructions``) that writes these proposal files, then is done."""
    return scenario(
        {"propose": [{"path": p, "front": front, "body": body} for p, front, body in files]},
        {"done": done},
    )


def run(runtime: AgentRuntime, db: Database, request: ArchitectRequest) -> dict[str, Any]:  # noqa: F811
    agent = spawn_architect(runtime, request)
    ended = wait_for(db, agent, lambda a: a.status != AgentStatus.RUNNING)
    assert ended.status == AgentStatus.IDLE, ended.status_reason
    return {"agent": ended, **ended.result}


def deps(db: Database, kind: str, entity_id: str) -> set[str]:
    repository: Any = db.phases if kind == "phase" else db.tasks
    return set(repository.get_dependencies(entity_id))


def test_plan_detail_and_refine_become_the_plan(
    db: Database,
    runtime: AgentRuntime,  # noqa: F811
    remote: Remote,
) -> None:
    initiative = linked(db, remote)
    base = make_phase(db, initiative, name="Foundation")
    old = make_task(db, base, name="Old task", description="vague")
    other = make_task(db, base, name="Other task")
    third = make_task(db, base, name="Third task")
    db.tasks.create_dependency(old.id, other.id)

    # plan: three phases (and a broken file) with dependencies on each other and on one
    # that exists.
    schema, api, ui = new_id(), new_id(), new_id()
    planned = run(
        runtime,
        db,
        ArchitectRequest(
            mode="plan",
            initiative_id=initiative.id,
            instructions=propose(
                (
                    "phases/01-schema.md",
                    {"title": "Schema", "id": schema, "depends_on": [base.id]},
                    "Tables.",
                ),
                (
                    "phases/02-api.md",
                    {"title": "API", "id": api, "depends_on": [schema]},
                    "Endpoints.",
                ),
                ("phases/03-broken.md", {"title": "Broken", "depends_on": "not an id!"}, ""),
                (
                    "phases/04-ui.md",
                    {"title": "UI", "id": ui, "depends_on": [schema, api]},
                    "Forms.",
                ),
            ),
        ),
    )
    agent = planned["agent"]
    assert agent.mode == "plan" and planned["result"] == "Proposed."
    assert [p["file"] for p in planned["proposal_problems"]] == ["phases/03-broken.md"]
    assert "depends_on" in planned["proposal_problems"][0]["problem"]
    rejected = [e for e in db.events.find_after(0) if e.type == "proposal:rejected"]
    assert [e.payload["file"] for e in rejected] == ["phases/03-broken.md"]
    pending = db.proposals.find_by_agent_id_and_status(agent.id, "pending")
    assert [p.id for p in pending] == planned["proposals"]
    assert [p.title for p in pending] == ["Schema", "API", "UI"]
    assert db.phases.find_by_id(schema) is None  # nothing counts before it is accepted

    accepted = proposals.accept_all(db, agent.id)
    assert [a.entity.id for a in accepted] == [schema, api, ui]
    assert all(a.action == "created" and not a.warnings for a in accepted)
    assert deps(db, "phase", schema) == {base.id}
    assert deps(db, "phase", api) == {schema}
    assert deps(db, "phase", ui) == {schema, api}

    # detail: the tasks of API, accepted one by one in another order, one dismissed.
    t1, t2, t3, t4, t5 = (new_id() for _ in range(5))
    detailed = run(
        runtime,
        db,
        ArchitectRequest(
            mode="detail",
            initiative_id=initiative.id,
            phase_id=api,
            instructions=propose(
                (
                    "tasks/01-spike.md",
                    {"title": "Spike", "id": t1, "priority": "high", "category": "research"},
                    "Try.",
                ),
                (
                    "tasks/02-login.md",
                    {"title": "Login", "id": t2, "depends_on": [t1], "priority": "low"},
                    "POST.",
                ),
                (
                    "tasks/03-check.md",
                    {
                        "title": "Check",
                        "id": t3,
                        "depends_on": [t2, old.id],
                        "type": "checkpoint:human-verify",
                    },
                    "Look.",
                ),
                (
                    "tasks/04-logout.md",
                    {"title": "Logout", "id": t4, "depends_on": [t1, t5]},
                    "DELETE.",
                ),
                ("tasks/05-extra.md", {"title": "Extra", "id": t5}, "Not needed."),
            ),
        ),
    )
    manifest = workdir.read_manifest(runtime.paths.workdir(detailed["agent"].name))
    assert manifest is not None and (manifest["mode"], manifest["phase_id"]) == ("detail", api)
    by_title = {p.title: p for p in db.proposals.find_by_agent_id(detailed["agent"].id)}
    assert detailed["proposal_problems"] == [] and len(by_title) == 5
    proposals.accept_proposal(db, by_title["Check"].id)  # its dependency Login is pending
    assert deps(db, "task", t3) == {old.id}
    proposals.accept_proposal(db, by_title["Login"].id)  # Check -> Login made now
    assert deps(db, "task", t3) == {t2, old.id} and deps(db, "task", t2) == set()
    proposals.dismiss_proposal(db, by_title["Extra"].id)
    logout = proposals.accept_proposal(db, by_title["Logout"].id)
    assert len(logout.warnings) == 1 and f"dependency on {t5}" in logout.warnings[0]
    assert "dismissed" in logout.warnings[0]
    proposals.accept_proposal(db, by_title["Spike"].id)  # the last: Login and Logout wait on it
    assert deps(db, "task", t2) == {t1} and deps(db, "task", t4) == {t1}
    tasks = {t.id: t for t in db.tasks.find_by_phase_id(api)}
    assert set(tasks) == {t1, t2, t3, t4}
    assert (tasks[t1].priority, tasks[t1].category) == ("high", "research")
    assert (tasks[t2].priority, tasks[t2].category) == ("low", "execute")
    assert tasks[t3].type == "checkpoint:human-verify"
    assert tasks[t2].description == "POST." and tasks[t2].initiative_id == initiative.id

    # refine: the old task, changed in place (same id), its dependencies replaced.
    refined = run(
        runtime,
        db,
        ArchitectRequest(
            mode="refine",
            initiative_id=initiative.id,
            instructions=propose(
                (
                    "tasks/01-old.md",
                    {
                        "title": "Sharper task",
                        "target_id": old.id,
                        "depends_on": [third.id],
                        "priority": "high",
                    },
                    "Precise: done when the tests pass.",
                ),
            ),
        ),
    )
    [change] = db.proposals.find_by_agent_id(refined["agent"].id)
    assert change.target_id == old.id
    result = proposals.accept_proposal(db, change.id)
    assert result.action == "updated" and result.entity.id == old.id
    task = db.tasks.find_by_id(old.id)
    assert task is not None
    assert (task.name, task.description, task.priority, task.phase_id) == (
        "Sharper task",
        "Precise: done when the tests pass.",
        "high",
        base.id,
    )
    assert deps(db, "task", old.id) == {third.id}
    assert len(db.tasks.find_by_initiative_id(initiative.id)) == 7  # nothing else created


def test_a_discuss_agent_asks_then_proposes_a_page_with_the_answer(
    db: Database,
    runtime: AgentRuntime,  # noqa: F811
) -> None:
    initiative = make_initiative(db, name="Billing")
    steps = scenario(
        {"ask": [{"id": "q1", "question": "Which database?"}]},
        {
            "propose": [
                {
                    "path": "pages/01-decisions.md",
                    "front": {"title": "Decisions"},
                    "body": "# Decisions\n\nWe use {answer:q1}.\n",
                }
            ]
        },
        {"done": "Captured the decisions."},
    )
    agent = spawn_architect(
        runtime, ArchitectRequest(mode="discuss", initiative_id=initiative.id, instructions=steps)
    )
    waiting = wait_for(db, agent, lambda a: a.status != AgentStatus.RUNNING)
    assert waiting.status == AgentStatus.WAITING_FOR_INPUT
    assert db.proposals.find_by_agent_id(agent.id) == []  # questions are no end
    runtime.answer(agent.name, "PostgreSQL")
    done = wait_for(db, agent, lambda a: a.status == AgentStatus.IDLE)
    assert done.result["result"] == "Captured the decisions."
    [proposal] = db.proposals.find_by_agent_id(agent.id)
    assert (proposal.target_type, proposal.title) == ("page", "Decisions")
    page = proposals.accept_proposal(db, proposal.id).entity
    stored = db.pages.find_by_id(page.id)
    assert stored is not None
    assert tiptap_to_markdown(stored.content) == "# Decisions\n\nWe use PostgreSQL.\n"
    root = db.pages.find_root_page(initiative.id)
    assert root is not None and stored.parent_page_id == root.id


def test_a_plan_task_dispatched_by_execution_runs_as_a_plan_agent(
    db: Database, tmp_path: Path, remote: Remote
) -> None:
    initiative = linked(db, remote)
    phase = make_phase(db, initiative, name="Planning", status="approved")
    task = make_task(
        db,
        phase,
        name="Plan the rest",
        category="plan",
        description=propose(
            ("phases/01-build.md", {"title": "Build", "depends_on": [phase.id]}, "Build it."),
            done="Proposed one phase.",
        ),
    )
    coordinator = make_coordinator(db, tmp_path / "ws")
    try:
        coordinator.executor.execute(initiative.id)
        tick_until(
            coordinator.executor,
            lambda: (
                (row := db.execution.find_dispatch(task.id)) is not None
                and row.state == DispatchState.DONE
            ),
        )
    finally:
        close_coordinator(coordinator)
    done = db.tasks.find_by_id(task.id)
    assert done is not None and done.status == TaskStatus.COMPLETED
    assert done.summary == "Proposed one phase."
    agent = db.agents.find_by_task_id(task.id)
    assert agent is not None and agent.mode == "plan"
    [proposal] = db.proposals.find_by_agent_id(agent.id)
    assert (proposal.title, proposal.metadata["depends_on"]) == ("Build", [phase.id])
    assert json.loads(json.dumps(agent.result))["proposals"] == [proposal.id]
