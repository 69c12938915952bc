"""Conflicts are handed back to the task's agent, then block the task; a coordinator that
stopped leaves its tasks recoverable."""

from __future__ import annotations

import subprocess

from codewalkers.db import Database, DispatchState, PhaseStatus, TaskStatus
from codewalkers.services.execution import DispatchSettings
from tests.agents.conftest import Remote
from tests.execution.conftest import Coordinator, scenario, tick_until, writes
from tests.factories import make_initiative, make_phase, make_task


def test_a_conflicting_task_is_handed_back_to_its_agent_then_blocked_with_the_files(
    db: Database, coordinator: Coordinator, remote: Remote
) -> None:
    initiative = make_initiative(db, name="Colours", merge_requires_approval=False)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative, name="Paint", status="approved")
    red = make_task(db, phase, name="Red", description=writes("colour.txt", "red\n", "Red."))
    blue = make_task(db, phase, name="Blue", description=writes("colour.txt", "blue\n", "Blue."))
    executor = coordinator.executor
    executor.execute(initiative.id)

    def one_blocked() -> bool:
        rows = [db.execution.find_dispatch(t.id) for t in (red, blue)]
        return any(r is not None and r.state == DispatchState.CONFLICTED for r in rows)

    tick_until(executor, one_blocked)
    rows = {t.id: db.execution.find_dispatch(t.id) for t in (red, blue)}
    [loser] = [t for t, r in rows.items() if r is not None and r.state == DispatchState.CONFLICTED]
    [winner] = [t for t in rows if t != loser]
    won = rows[winner]
    assert won is not None and won.state == DispatchState.DONE
    lost = rows[loser]
    assert lost is not None and lost.resolutions == 2
    assert lost.reason == "merge conflict in colour.txt"
    task = db.tasks.find_by_id(loser)
    assert task is not None and task.status == TaskStatus.BLOCKED
    # The fake agent cannot merge: each resolution ends without one, the merge conflicts
    # again, and after the second the task is blocked with the file named.
    agent = db.agents.find_by_task_id(loser)
    assert agent is not None and agent.session_number == 3
    prompt = coordinator.runtime.paths.workdir(agent.name) / ".cw" / "input" / "PROMPT.md"
    assert "git merge cw/colours--paint" in prompt.read_text(encoding="utf-8")
    all_events = db.events.find_after(0)
    conflicted = [e for e in all_events if e.type == "merge:conflicted"]
    assert len(conflicted) == 3 and conflicted[0].payload["conflicts"] == ["colour.txt"]
    assert "worktree:conflict" in [e.type for e in all_events]
    blocked = [e for e in all_events if e.type == "task:blocked"]
    assert [e.payload["conflicts"] for e in blocked] == [["colour.txt"]]
    # The phase branch is unchanged by the failed merges: it holds the winner's colour.
    repo = coordinator.runtime.paths.repo_path("app")
    shown = subprocess.run(
        ["git", "-C", str(repo), "show", "cw/colours--paint:colour.txt"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == ("red\n" if winner == red.id else "blue\n")
    current = db.phases.find_by_id(phase.id)
    assert current is not None and current.status == PhaseStatus.BLOCKED


def test_a_task_of_a_coordinator_that_stopped_is_recovered_after_its_heartbeat_expires(
    db: Database, coordinator: Coordinator
) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="in_progress")
    task = make_task(db, phase, description=scenario({"done": "recovered"}))
    coordinator.executor.execute(initiative.id)
    # Another workspace claimed it and died: its heartbeat lease has expired.
    db.execution.claim_task(task.id)
    db.execution.update_dispatch(
        task.id, state=DispatchState.DISPATCHED, attempts=1, workspace_id="gone"
    )
    assert db.execution.acquire_lease("workspace:gone", "gone", 0)

    def done() -> bool:
        current = db.tasks.find_by_id(task.id)
        return current is not None and current.status == TaskStatus.COMPLETED

    tick_until(coordinator.executor, done)
    row = db.execution.find_dispatch(task.id)
    assert row is not None and row.workspace_id == coordinator.runtime.workspace_id
    assert row.attempts == 2


def test_a_live_coordinators_tasks_are_left_alone(db: Database, coordinator: Coordinator) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="in_progress")
    task = make_task(db, phase, description=scenario({"done": "x"}))
    coordinator.executor.execute(initiative.id)
    db.execution.claim_task(task.id)
    db.execution.update_dispatch(
        task.id, state=DispatchState.DISPATCHED, attempts=1, workspace_id="alive"
    )
    assert db.execution.acquire_lease("workspace:alive", "alive", 600)
    for _ in range(3):
        coordinator.executor.tick()
    current = db.tasks.find_by_id(task.id)
    assert current is not None and current.status == TaskStatus.IN_PROGRESS
    assert db.agents.find_by_task_id(task.id) is None
    running = coordinator.executor.dispatch_status()["running"]
    assert [(r["task_id"], r["workspace_id"]) for r in running] == [(task.id, "alive")]


def test_settings_name_the_resolution_bound() -> None:
    assert DispatchSettings().max_resolutions == 2


def test_two_tasks_editing_the_same_lines_are_both_merged_after_a_resolution(
    db: Database, coordinator: Coordinator, remote: Remote
) -> None:
    """The loser of the race is resumed to merge the phase branch in and resolve; the fake
    agent does what the prompt says (keeps both sides), and the retried merge holds both."""
    initiative = make_initiative(db, name="Palette", merge_requires_approval=False)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative, name="Paint", status="approved")

    def colour(name: str) -> str:
        return scenario(
            {"write": {"path": "colour.txt", "content": f"{name}\n"}},
            {"commit": f"paint {name}"},
            {"done": f"{name.title()}."},
            {"resolve_conflicts": True},
            {"done": f"{name.title()}, merged with the others."},
        )

    red = make_task(db, phase, name="Red", description=colour("red"))
    blue = make_task(db, phase, name="Blue", description=colour("blue"))
    coordinator.executor.execute(initiative.id)

    def both_merged() -> bool:
        rows = [db.execution.find_dispatch(t.id) for t in (red, blue)]
        return all(r is not None and r.state == DispatchState.DONE for r in rows)

    tick_until(coordinator.executor, both_merged)
    repo = coordinator.runtime.paths.repo_path("app")
    shown = subprocess.run(
        ["git", "-C", str(repo), "show", "cw/palette--paint:colour.txt"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(shown.split()) == ["blue", "red"]
    conflicted = [e for e in db.events.find_after(0) if e.type == "merge:conflicted"]
    assert len(conflicted) == 1
