"""The dispatch queue (and a task put first by hand), a task's own provider, and tasks in no
phase: in-process, real agents (the fake one) and real git; SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from codewalkers.db import (
    ConflictError,
    Database,
    DispatchState,
    InitiativeStatus,
    NotFoundError,
    PhaseStatus,
    TaskStatus,
    ValidationError,
)
from codewalkers.services.execution import DispatchSettings, set_task_provider
from tests.agents.conftest import Remote
from tests.execution.conftest import (
    Coordinator,
    close_coordinator,
    make_coordinator,
    scenario,
    tick_until,
    writes,
)
from tests.execution.test_executor import dispatched_task_ids, git_out
from tests.factories import make_initiative, make_phase, make_task


def status_of(db: Database, task_id: str) -> TaskStatus:
    task = db.tasks.find_by_id(task_id)
    assert task is not None
    return task.status


def test_the_queue_lists_ready_tasks_in_dispatch_order_and_a_person_can_put_one_first(
    db: Database, tmp_path: Path
) -> None:
    coordinator = make_coordinator(db, tmp_path / "ws", DispatchSettings(max_agents=1))
    try:
        initiative = make_initiative(db, merge_requires_approval=False)
        phase = make_phase(db, initiative, name="Work", status="approved")
        quick = scenario({"sleep": 0.3}, {"done": "ok"})
        low = make_task(db, phase, name="low", priority="low", description=quick)
        high = make_task(db, phase, name="high", priority="high", description=quick)
        medium = make_task(db, phase, name="medium", priority="medium", description=quick)
        later = make_task(db, phase, name="later", priority="high", description=quick)
        db.tasks.create_dependency(later.id, medium.id)
        executor = coordinator.executor
        executor.execute(initiative.id)
        executor.tick()  # starts the phase, dispatches "high" into the one slot

        queue = executor.queue(initiative.id)
        assert (queue["max_agents"], queue["running_agents"], queue["free_slots"]) == (1, 1, 0)
        entries = queue["queue"]
        assert [(e["position"], e["task_id"]) for e in entries] == [(1, medium.id), (2, low.id)]
        assert entries[0]["priority"] == "medium" and entries[0]["phase"] == "Work"
        assert entries[0]["waits_for"] == "a free agent slot (1 of 1 running)"
        assert entries[0]["provider"] == "claude" and entries[0]["by_hand"] is False
        assert entries[0]["age_seconds"] >= 0 and entries[0]["attempt"] == 1

        # Not ready: refused with why, nothing changed.
        with pytest.raises(ConflictError, match=r"task later is not ready: waits for medium"):
            executor.queue_task(later.id)
        with pytest.raises(ConflictError, match=r"task high is not ready: in_progress"):
            executor.queue_task(high.id)
        with pytest.raises(NotFoundError):
            executor.queue_task("no-such-task-id-00000")
        row = db.execution.find_dispatch(later.id)
        assert row is None or row.queued_by_hand_at is None

        first = executor.queue_task(low.id)
        assert (first["task_id"], first["position"], first["by_hand"]) == (low.id, 1, True)
        assert [e["task_id"] for e in executor.queue()["queue"]] == [low.id, medium.id]
        status = executor.dispatch_status()
        assert [q["task_id"] for q in status["queued"]] == [low.id, medium.id]
        queued = [e for e in db.events.find_after(0) if e.type == "task:queued"]
        assert [e.payload["id"] for e in queued if e.payload.get("by_hand")] == [low.id]

        def all_done() -> bool:
            return all(
                status_of(db, t.id) == TaskStatus.COMPLETED for t in (low, high, medium, later)
            )

        tick_until(executor, all_done)
        assert dispatched_task_ids(db) == [high.id, low.id, medium.id, later.id]
        row = db.execution.find_dispatch(low.id)
        assert row is not None and row.queued_by_hand_at is None  # spent on its dispatch
    finally:
        close_coordinator(coordinator)


def test_a_task_runs_on_its_own_provider_and_an_unknown_provider_is_refused(
    db: Database, coordinator: Coordinator
) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="approved")
    own = make_task(db, phase, name="own", description=scenario({"done": "own"}))
    usual = make_task(db, phase, name="usual", description=scenario({"done": "usual"}))
    stale = make_task(db, phase, name="stale", description=scenario({"done": "stale"}))
    executor = coordinator.executor

    with pytest.raises(ValidationError, match=r"unknown provider 'nope' \(known: claude, codex\)"):
        executor.set_task_provider(own.id, "nope")
    assert db.tasks.find_by_id(own.id).provider is None  # type: ignore[union-attr]
    assert executor.set_task_provider(own.id, "codex").provider == "codex"
    updated = [e for e in db.events.find_after(0) if e.type == "task:updated"]
    assert [e.payload["provider"] for e in updated] == ["codex"]
    # A provider set when another .cwrc was in force: the task is blocked, not crashed.
    db.tasks.update(stale.id, provider="gone")

    executor.execute(initiative.id)

    def settled() -> bool:
        return status_of(db, own.id) == status_of(db, usual.id) == TaskStatus.COMPLETED and (
            status_of(db, stale.id) == TaskStatus.BLOCKED
        )

    tick_until(executor, settled)
    agents = {a.task_id: a for a in db.agents.find_all()}
    assert agents[own.id].provider == "codex" and agents[usual.id].provider == "claude"
    assert stale.id not in agents
    row = db.execution.find_dispatch(stale.id)
    assert row is not None and row.state == DispatchState.BLOCKED
    assert row.reason is not None and row.reason.startswith("unknown provider 'gone'")
    blocked = [e for e in db.events.find_after(0) if e.type == "task:blocked"]
    assert [e.payload["id"] for e in blocked] == [stale.id]

    # Once an agent ran it, retries resume that agent: its provider stays.
    with pytest.raises(ConflictError, match="its provider stays"):
        executor.set_task_provider(own.id, "claude")
    # Back to the workspace's provider, retried by hand: it runs.
    assert set_task_provider(db, stale.id, "default", ["claude", "codex"]).provider is None
    executor.retry_task(stale.id)
    tick_until(executor, lambda: status_of(db, stale.id) == TaskStatus.COMPLETED)
    assert db.agents.find_by_task_id(stale.id).provider == "claude"  # type: ignore[union-attr]


def test_tasks_in_no_phase_run_on_branches_from_the_initiative_branch_and_merge_into_it(
    db: Database, coordinator: Coordinator, remote: Remote
) -> None:
    """Executing the initiative dispatches its tasks in no phase at once (a dependency on a
    phase's task is honoured); each works on its own branch from the initiative branch and
    is merged into it; the initiative waits for review only once they are merged too."""
    initiative = make_initiative(db, name="Docs drive", merge_requires_approval=True)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative, name="Code", status="approved")
    code = make_task(db, phase, name="Code", description=writes("code.py", "x = 1\n", "Code."))
    readme = make_task(
        db,
        initiative_id=initiative.id,
        name="Readme",
        description=writes("README.md", "# Docs\n", "Wrote the readme."),
    )
    guide = make_task(
        db,
        initiative_id=initiative.id,
        name="Guide",
        description=writes("GUIDE.md", "uses code.py\n", "Wrote the guide."),
    )
    db.tasks.create_dependency(guide.id, code.id)
    executor = coordinator.executor
    executor.execute(initiative.id)

    def phase_waits() -> bool:
        current = db.phases.find_by_id(phase.id)
        return current is not None and current.status == PhaseStatus.PENDING_REVIEW

    tick_until(executor, phase_waits)
    assert status_of(db, readme.id) == TaskStatus.COMPLETED
    # The guide waits for the code task's merge into its phase branch, not for the review.
    tick_until(executor, lambda: status_of(db, guide.id) == TaskStatus.COMPLETED)
    current = db.initiatives.find_by_id(initiative.id)
    assert current is not None and current.status == InitiativeStatus.ACTIVE  # phase unmerged

    repo = coordinator.runtime.paths.repo_path("app")
    branch = "cw/docs-drive"
    tick_until(
        executor,
        lambda: all(
            (r := db.execution.find_dispatch(t.id)) is not None and r.state == DispatchState.DONE
            for t in (readme, guide)
        ),
    )
    files = git_out(repo, "ls-tree", "-r", "--name-only", branch).split()
    assert {"README.md", "GUIDE.md"} <= set(files) and "code.py" not in files
    merges = [
        e.payload
        for e in db.events.find_after(0)
        if e.type == "merge:completed" and "task_id" in e.payload
    ]
    into = {m["task_id"]: (m["source"], m["target"]) for m in merges}
    assert into[readme.id][1] == branch
    assert into[readme.id][0].startswith(f"{branch}--readme-")
    assert into[code.id][1] == f"{branch}--code"

    executor.approve_phase_review(phase.id)
    tick_until(
        executor,
        lambda: (
            (i := db.initiatives.find_by_id(initiative.id)) is not None
            and i.status == InitiativeStatus.PENDING_REVIEW
        ),
    )
    files = git_out(repo, "ls-tree", "-r", "--name-only", branch).split()
    assert {"README.md", "GUIDE.md", "code.py"} <= set(files)
