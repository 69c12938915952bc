"""Two coordinators (workspaces) on one database share an initiative through one remote; a
task that the *other* coordinator's agent ran conflicts when the bookkeeper merges it. The
bookkeeper spawns a new agent of its own on the task's branch (as the other one pushed it)
to resolve the conflict, then merges again; twice unresolved, the task is blocked with the
files named."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from codewalkers.db import Database, DispatchState, PhaseStatus, Task, TaskStatus
from tests.agents.conftest import Remote
from tests.execution.conftest import (
    FAST,
    Coordinator,
    close_coordinator,
    make_coordinator,
    scenario,
    tick_until,
)
from tests.factories import make_initiative, make_phase, make_task

SHARED = replace(FAST, share_branches=True)


@pytest.fixture
def pair(db: Database, tmp_path: Path) -> Iterator[tuple[Coordinator, Coordinator]]:
    """A (the bookkeeper, several agents) and B (one agent at a time)."""
    a = make_coordinator(db, tmp_path / "ws-a", SHARED)
    b = make_coordinator(db, tmp_path / "ws-b", replace(SHARED, max_agents=1))
    yield a, b
    for made, name in ((a, "ws-a"), (b, "ws-b")):
        close_coordinator(made)
        shutil.rmtree(tmp_path / name, ignore_errors=True)


def paint(colour: str, *, resolves: bool) -> str:
    steps: list[object] = [
        {"write": {"path": "colour.txt", "content": f"{colour}\n"}},
        {"commit": f"paint {colour}"},
        {"done": f"{colour.title()}."},
    ]
    if resolves:
        steps += [{"resolve_conflicts": True}, {"done": f"{colour.title()}, merged."}]
    return scenario(*steps)


def remote_show(remote: Remote, spec: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote.path), "show", spec],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def race(
    db: Database, a: Coordinator, b: Coordinator, remote: Remote, *, resolves: bool
) -> tuple[Task, Task, str]:
    """B runs Red, A runs Blue; Blue is merged first, so Red's merge (by A) conflicts.
    Returns Red, Blue and the id of B's agent that ran Red."""
    initiative = make_initiative(db, name="Palette", merge_requires_approval=False)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative, name="Paint", status="in_progress")
    red = make_task(
        db, phase, name="Red", priority="high", description=paint("red", resolves=resolves)
    )
    blue = make_task(
        db, phase, name="Blue", priority="low", description=paint("blue", resolves=resolves)
    )
    a.executor.execute(initiative.id)
    # A keeps the bookkeeping (merges); B only dispatches.
    assert db.execution.acquire_lease(f"initiative:{initiative.id}", a.runtime.workspace_id, 600)
    assert b.executor.tick().dispatched == [red.id]

    def state(task: Task) -> DispatchState | None:
        row = db.execution.find_dispatch(task.id)
        return row.state if row is not None else None

    # Only A ticks: Blue runs and is merged while B's Red waits to be recorded by B.
    tick_until(a.executor, lambda: state(blue) == DispatchState.DONE)
    first = db.agents.find_by_task_id(red.id)
    assert first is not None and first.workspace_id == b.runtime.workspace_id

    def b_ticks() -> None:
        assert not b.executor.tick().errors

    final = {DispatchState.DONE, DispatchState.CONFLICTED}
    tick_until(a.executor, lambda: state(red) in final, each=b_ticks)
    return red, blue, first.id


def test_a_conflict_on_another_coordinators_task_is_resolved_by_a_new_local_agent(
    db: Database, pair: tuple[Coordinator, Coordinator], remote: Remote
) -> None:
    a, b = pair
    red, blue, foreign = race(db, a, b, remote, resolves=True)
    row = db.execution.find_dispatch(red.id)
    assert row is not None and row.state == DispatchState.DONE and row.resolutions == 1
    assert row.workspace_id == a.runtime.workspace_id
    resolver = db.agents.find_by_id(row.agent_id or "")
    assert resolver is not None and resolver.id != foreign
    assert resolver.workspace_id == a.runtime.workspace_id and resolver.task_id == red.id
    prompt = (a.runtime.paths.workdir(resolver.name) / ".cw" / "input" / "PROMPT.md").read_text(
        encoding="utf-8"
    )
    assert "git merge cw/palette--paint" in prompt and "`colour.txt`" in prompt
    assert "Do not do the task again" in prompt
    # Both colours are on the phase branch on the remote, and the resolved branch was pushed.
    assert sorted(remote_show(remote, "cw/palette--paint:colour.txt").split()) == ["blue", "red"]
    branch = next(b for b in remote_branches(remote) if b.startswith("cw/palette--paint--red-"))
    local = a.runtime.paths.repo_path("app")
    assert git_out(local, "rev-parse", branch) == git_out(remote.path, "rev-parse", branch)
    # The task is done; the phase merged (YOLO); one conflict, one resolution dispatch.
    current = db.tasks.find_by_id(red.id)
    assert current is not None and current.status == TaskStatus.COMPLETED
    assert db.execution.find_dispatch(blue.id).state == DispatchState.DONE  # type: ignore[union-attr]
    tick_until(
        a.executor,
        lambda: db.phases.find_by_id(red.phase_id or "").status == PhaseStatus.COMPLETED,  # type: ignore[union-attr]
    )
    found = db.events.find_after(0)
    conflicted = [e for e in found if e.type == "merge:conflicted"]
    assert [e.payload["conflicts"] for e in conflicted] == [["colour.txt"]]
    resolutions = [
        e for e in found if e.type == "task:dispatched" and e.payload.get("resolution") == 1
    ]
    assert [e.payload["agent_id"] for e in resolutions] == [resolver.id]
    assert not [e for e in found if e.type == "task:blocked"]


def test_a_foreign_tasks_conflict_unresolved_twice_blocks_it_with_the_files_named(
    db: Database, pair: tuple[Coordinator, Coordinator], remote: Remote
) -> None:
    """The new agent (and then the same agent, resumed) ends without merging: after two
    resolutions the task is blocked, the phase too, and the phase branch holds Blue only."""
    a, b = pair
    red, _, foreign = race(db, a, b, remote, resolves=False)
    row = db.execution.find_dispatch(red.id)
    assert row is not None and row.state == DispatchState.CONFLICTED and row.resolutions == 2
    assert row.reason == "merge conflict in colour.txt"
    resolver = db.agents.find_by_id(row.agent_id or "")
    assert resolver is not None and resolver.id != foreign
    assert resolver.workspace_id == a.runtime.workspace_id
    assert resolver.session_number == 2  # spawned for the first resolution, resumed for the second
    current = db.tasks.find_by_id(red.id)
    assert current is not None and current.status == TaskStatus.BLOCKED
    found = db.events.find_after(0)
    assert len([e for e in found if e.type == "merge:conflicted"]) == 3
    blocked = [e for e in found if e.type == "task:blocked"]
    assert [(e.entity_id, e.payload["conflicts"]) for e in blocked] == [(red.id, ["colour.txt"])]
    phase = db.phases.find_by_id(red.phase_id or "")
    assert phase is not None and phase.status == PhaseStatus.BLOCKED
    assert remote_show(remote, "cw/palette--paint:colour.txt") == "blue\n"


def remote_branches(remote: Remote) -> list[str]:
    out = git_out(remote.path, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    return out.split()


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()
