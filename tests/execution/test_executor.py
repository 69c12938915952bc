"""An approved plan runs itself: dispatch, merges, phases, crashes, checkpoints, slots."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codewalkers.db import (
    AgentStatus,
    ConflictError,
    Database,
    DispatchState,
    InitiativeStatus,
    PhaseStatus,
    TaskStatus,
    ValidationError,
    open_database,
)
from codewalkers.services.execution import DispatchSettings
from tests.agents.conftest import Remote
from tests.conftest import TEST_SECRET_KEY
from tests.execution.conftest import (
    FAST,
    Coordinator,
    close_coordinator,
    make_coordinator,
    scenario,
    tick_until,
    writes,
)
from tests.factories import make_initiative, make_phase, make_task


def event_types(db: Database) -> list[str]:
    return [e.type for e in db.events.find_after(0)]


def dispatched_task_ids(db: Database) -> list[str]:
    return [e.payload["id"] for e in db.events.find_after(0) if e.type == "task:dispatched"]


def git_out(repo: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *argv], capture_output=True, text=True, check=True
    ).stdout


def test_a_yolo_initiative_of_three_phases_runs_to_completion_by_itself(
    db: Database, coordinator: Coordinator, remote: Remote
) -> None:
    initiative = make_initiative(db, name="User auth", merge_requires_approval=False)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    schema = make_phase(db, initiative, name="Schema", status="approved")
    api = make_phase(db, initiative, name="API", status="approved")
    ui = make_phase(db, initiative, name="UI", status="approved")
    db.phases.create_dependency(ui.id, schema.id)
    db.phases.create_dependency(ui.id, api.id)
    users = make_task(
        db,
        schema,
        name="Users table",
        description=writes("users.sql", "u\n", "Users table: id, email."),
    )
    roles = make_task(
        db, schema, name="Roles table", description=writes("roles.sql", "r\n", "Roles added.")
    )
    db.tasks.create_dependency(roles.id, users.id)
    login = make_task(
        db, api, name="Login endpoint", description=writes("login.py", "l\n", "POST /login.")
    )
    form = make_task(db, ui, name="Login form", description=writes("form.html", "f\n", "The form."))
    db.tasks.create_dependency(form.id, login.id)

    executor = coordinator.executor
    execution = executor.execute(initiative.id)
    assert execution.state == "running"
    named = db.initiatives.find_by_id(initiative.id)
    assert named is not None and named.branch == "cw/user-auth"

    def finished() -> bool:
        current = db.initiatives.find_by_id(initiative.id)
        return current is not None and current.status == InitiativeStatus.PENDING_REVIEW

    tick_until(executor, finished)

    repo = coordinator.runtime.paths.repo_path("app")
    files = git_out(repo, "ls-tree", "--name-only", "cw/user-auth").split()
    assert {"users.sql", "roles.sql", "login.py", "form.html"} <= set(files)
    for phase in (schema, api, ui):
        current = db.phases.find_by_id(phase.id)
        assert current is not None and current.status == PhaseStatus.COMPLETED
    for task in (users, roles, login, form):
        current = db.tasks.find_by_id(task.id)
        assert current is not None and current.status == TaskStatus.COMPLETED
        row = db.execution.find_dispatch(task.id)
        assert row is not None and row.state == DispatchState.DONE and row.attempts == 1
        assert row.merge_commit
        assert len([a for a in db.agents.find_all() if a.task_id == task.id]) == 1
    # The dependent started after its dependency was merged: its branch holds the work,
    # and its input carried the dependency's summary.
    roles_agent = next(a for a in db.agents.find_all() if a.task_id == roles.id)
    task_md = coordinator.runtime.paths.workdir(roles_agent.name) / ".cw" / "input" / "task.md"
    assert "Users table: id, email." in task_md.read_text(encoding="utf-8")
    schema_log = git_out(repo, "log", "--first-parent", "--format=%s", "cw/user-auth--schema")
    assert schema_log.index("Roles table") < schema_log.index("Users table")  # newest first
    # Phases merged in dependency order: UI after Schema and API.
    merged = git_out(repo, "log", "--first-parent", "--format=%s", "cw/user-auth").splitlines()
    assert merged[0].startswith("Merge phase 'UI'")
    types = event_types(db)
    for expected in (
        "initiative:executing",
        "task:queued",
        "task:dispatched",
        "task:completed",
        "merge:queued",
        "merge:started",
        "merge:completed",
        "phase:started",
        "phase:completed",
        "initiative:pending_review",
    ):
        assert expected in types, expected
    assert types.index("phase:completed") < len(types) - types[::-1].index("phase:started")
    assert sorted(dispatched_task_ids(db)) == sorted([users.id, roles.id, login.id, form.id])

    # A person lands it: merged into the remote's default branch, pushed.
    landed = executor.merge_initiative(initiative.id)
    assert landed["initiative"].status == InitiativeStatus.COMPLETED
    on_main = git_out(remote.path, "ls-tree", "--name-only", "main").split()
    assert {"users.sql", "roles.sql", "login.py", "form.html"} <= set(on_main)
    assert landed["commits"]["app"] == remote.head()
    kinds = event_types(db)
    assert kinds.index("initiative:review_approved") + 1 == kinds.index("initiative:merged")


def test_review_mode_phase_waits_for_review_then_merges(
    db: Database, coordinator: Coordinator, remote: Remote
) -> None:
    initiative = make_initiative(db, name="Billing", merge_requires_approval=True)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative, name="Invoices", status="approved")
    make_task(db, phase, name="Invoice model", description=writes("invoice.py", "i\n", "Done."))
    executor = coordinator.executor
    executor.execute(initiative.id)

    def waiting() -> bool:
        current = db.phases.find_by_id(phase.id)
        return current is not None and current.status == PhaseStatus.PENDING_REVIEW

    tick_until(executor, waiting)
    assert "phase:pending_review" in event_types(db)
    status = executor.dispatch_status(initiative.id)
    assert any(w["id"] == phase.id and "review" in w["reason"] for w in status["waiting"])
    repo = coordinator.runtime.paths.repo_path("app")
    assert "invoice.py" not in git_out(repo, "ls-tree", "--name-only", "cw/billing")

    # Comments -> request changes -> a review task runs on the phase branch -> review again.
    db.review_comments.create(
        phase_id=phase.id, file_path="invoice.py", line_number=1, line_type="added", body="Cents?"
    )
    review = executor.request_phase_changes(phase.id, summary="Store amounts in cents.")
    assert review.category == "review" and review.priority == "high"
    assert "Store amounts in cents." in (review.description or "")
    assert "`invoice.py` line 1 (added, you): Cents?" in (review.description or "")
    current_phase = db.phases.find_by_id(phase.id)
    assert current_phase is not None and current_phase.status == PhaseStatus.IN_PROGRESS
    tick_until(executor, waiting)
    done = db.execution.find_dispatch(review.id)
    assert done is not None and done.state == DispatchState.DONE and done.merge_commit
    assert "phase:changes_requested" in event_types(db)

    executor.push_initiative(initiative.id)  # e.g. for a pull request
    assert "invoice.py" not in git_out(remote.path, "ls-tree", "--name-only", "cw/billing")
    approved = executor.approve_phase_review(phase.id)
    assert approved.status == PhaseStatus.COMPLETED
    assert "invoice.py" in git_out(repo, "ls-tree", "--name-only", "cw/billing")
    executor.tick()
    current = db.initiatives.find_by_id(initiative.id)
    assert current is not None and current.status == InitiativeStatus.PENDING_REVIEW


def test_at_most_max_agents_run_at_once(db: Database, tmp_path: Path) -> None:
    coordinator = make_coordinator(
        db, tmp_path / "ws", DispatchSettings(max_agents=2, backoff=0.05)
    )
    try:
        initiative = make_initiative(db, merge_requires_approval=False)
        phase = make_phase(db, initiative, status="approved")
        tasks = [
            make_task(db, phase, description=scenario({"sleep": 0.4}, {"done": f"t{i}"}))
            for i in range(5)
        ]
        coordinator.executor.execute(initiative.id)
        most = 0

        def count() -> None:
            nonlocal most
            running = db.agents.find_by_status(AgentStatus.RUNNING)
            most = max(most, len(running))
            assert len(running) <= 2

        def all_done() -> bool:
            return all(
                (t := db.tasks.find_by_id(task.id)) is not None and t.status == TaskStatus.COMPLETED
                for task in tasks
            )

        tick_until(coordinator.executor, all_done, each=count)
        assert most == 2
    finally:
        close_coordinator(coordinator)


def test_ready_tasks_are_dispatched_high_before_medium_before_low_then_oldest(
    db: Database, tmp_path: Path
) -> None:
    coordinator = make_coordinator(db, tmp_path / "ws", DispatchSettings(max_agents=1))
    try:
        initiative = make_initiative(db, merge_requires_approval=False)
        phase = make_phase(db, initiative, status="approved")
        quick = scenario({"done": "ok"})
        low = make_task(db, phase, name="low", priority="low", description=quick)
        high = make_task(db, phase, name="high", priority="high", description=quick)
        medium = make_task(db, phase, name="medium", priority="medium", description=quick)
        later_high = make_task(db, phase, name="later high", priority="high", description=quick)
        coordinator.executor.execute(initiative.id)
        coordinator.executor.tick()  # starts the phase and dispatches the first
        status = coordinator.executor.dispatch_status()
        assert [r["task_id"] for r in status["running"]] == [high.id]
        assert [q["task_id"] for q in status["queued"]] == [later_high.id, medium.id, low.id]
        assert status["free_slots"] == 0

        def all_done() -> bool:
            return len(dispatched_task_ids(db)) == 4 and all(
                (t := db.tasks.find_by_id(i)) is not None and t.status == TaskStatus.COMPLETED
                for i in (low.id, high.id, medium.id, later_high.id)
            )

        tick_until(coordinator.executor, all_done)
        assert dispatched_task_ids(db) == [high.id, later_high.id, medium.id, low.id]
    finally:
        close_coordinator(coordinator)


def test_a_checkpoint_task_waits_for_a_person(db: Database, coordinator: Coordinator) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="approved")
    check = make_task(db, phase, name="Try it on staging", type="checkpoint:human-verify")
    after = make_task(db, phase, name="Announce", description=scenario({"done": "announced"}))
    db.tasks.create_dependency(after.id, check.id)
    executor = coordinator.executor
    executor.execute(initiative.id)
    for _ in range(5):
        executor.tick()
    assert dispatched_task_ids(db) == []
    status = executor.dispatch_status()
    reasons = {w["id"]: w["reason"] for w in status["waiting"]}
    assert "waits for a person" in reasons[check.id]
    assert "Try it on staging" in reasons[after.id]
    assert status["queued"] == []

    executor.complete_task(check.id, summary="Looks good on staging.")

    def finished() -> bool:
        current = db.phases.find_by_id(phase.id)
        return current is not None and current.status == PhaseStatus.COMPLETED

    tick_until(executor, finished)
    assert dispatched_task_ids(db) == [after.id]


def test_a_crashing_task_is_retried_then_blocked_and_can_be_retried_by_hand(
    db: Database, tmp_path: Path
) -> None:
    settings = DispatchSettings(max_retries=2, backoff=0.05, backoff_max=0.1)
    coordinator = make_coordinator(db, tmp_path / "ws", settings)
    try:
        initiative = make_initiative(db, merge_requires_approval=False)
        phase = make_phase(db, initiative, status="approved")
        always = scenario(*[{"crash": True}] * 6)
        crash = make_task(db, phase, name="Flaky", description=always)
        dependent = make_task(db, phase, name="After", description=scenario({"done": "ok"}))
        db.tasks.create_dependency(dependent.id, crash.id)
        executor = coordinator.executor
        executor.execute(initiative.id)

        def blocked() -> bool:
            current = db.tasks.find_by_id(crash.id)
            row = db.execution.find_dispatch(crash.id)
            return (
                current is not None
                and current.status == TaskStatus.BLOCKED
                and row is not None
                and row.state == DispatchState.BLOCKED
            )

        tick_until(executor, blocked)
        row = db.execution.find_dispatch(crash.id)
        assert row is not None and row.attempts == 3  # the first run and two retries
        assert row.reason and "gave up after 3 attempts" in row.reason
        # Retries resumed the same agent (its worktree and branch), once per attempt.
        agents = [a for a in db.agents.find_all() if a.task_id == crash.id]
        assert len(agents) == 1 and agents[0].session_number == 3
        blocked_events = [e for e in db.events.find_after(0) if e.type == "task:blocked"]
        assert len(blocked_events) == 1
        assert blocked_events[0].payload["waiting_dependents"] == [dependent.id]
        current_phase = db.phases.find_by_id(phase.id)
        assert current_phase is not None and current_phase.status == PhaseStatus.BLOCKED
        assert dispatched_task_ids(db).count(dependent.id) == 0
        reasons = {w["id"]: w["reason"] for w in executor.dispatch_status()["waiting"]}
        assert "cw task retry" in reasons[crash.id]

        retried = executor.retry_task(crash.id)
        assert retried.status == TaskStatus.PENDING
        row = db.execution.find_dispatch(crash.id)
        assert row is not None and row.state == DispatchState.QUEUED and row.attempts == 0
        current_phase = db.phases.find_by_id(phase.id)
        assert current_phase is not None and current_phase.status == PhaseStatus.IN_PROGRESS
        # The retry resumes the same agent (its worktree holds the branch): three more runs.
        tick_until(executor, blocked)
        agents = [a for a in db.agents.find_all() if a.task_id == crash.id]
        assert len(agents) == 1 and agents[0].session_number == 6
    finally:
        close_coordinator(coordinator)


def test_a_task_that_crashes_twice_then_succeeds_is_retried_until_done(
    db: Database, coordinator: Coordinator
) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="approved")
    flaky = make_task(
        db, phase, description=scenario({"crash": True}, {"crash": True}, {"done": "third time"})
    )
    coordinator.executor.execute(initiative.id)

    def done() -> bool:
        current = db.phases.find_by_id(phase.id)
        return current is not None and current.status == PhaseStatus.COMPLETED

    tick_until(coordinator.executor, done)
    task = db.tasks.find_by_id(flaky.id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert task.summary == "third time"
    row = db.execution.find_dispatch(flaky.id)
    assert row is not None and row.attempts == 3 and row.state == DispatchState.DONE
    assert "task:blocked" not in event_types(db)
    assert dispatched_task_ids(db) == [flaky.id] * 3


def test_a_paused_initiative_dispatches_nothing_until_resumed(
    db: Database, coordinator: Coordinator
) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="approved")
    task = make_task(db, phase, description=scenario({"done": "ok"}))
    executor = coordinator.executor
    executor.execute(initiative.id)
    executor.pause(initiative.id)
    for _ in range(3):
        executor.tick()
    assert dispatched_task_ids(db) == []
    reasons = {w["id"]: w["reason"] for w in executor.dispatch_status()["waiting"]}
    assert "paused" in reasons[task.id]
    executor.resume(initiative.id)

    def done() -> bool:
        current = db.tasks.find_by_id(task.id)
        return current is not None and current.status == TaskStatus.COMPLETED

    tick_until(executor, done)


def test_two_coordinators_on_one_database_never_dispatch_a_task_twice(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    other_db = open_database(database_url, secret_key=TEST_SECRET_KEY)
    settings = DispatchSettings(max_agents=3, backoff=0.05)
    first = make_coordinator(db, tmp_path / "one", settings)
    second = make_coordinator(other_db, tmp_path / "two", settings)
    try:
        initiative = make_initiative(db, merge_requires_approval=False)
        phases = [make_phase(db, initiative, status="approved") for _ in range(2)]
        db.phases.create_dependency(phases[1].id, phases[0].id)
        tasks = [
            make_task(db, phases[i % 2], description=scenario({"sleep": 0.1}, {"done": "ok"}))
            for i in range(8)
        ]
        first.executor.execute(initiative.id)
        failures: list[BaseException] = []

        def finished() -> bool:
            current = db.initiatives.find_by_id(initiative.id)
            return current is not None and current.status == InitiativeStatus.PENDING_REVIEW

        def run(coordinator: Coordinator) -> None:
            try:
                tick_until(coordinator.executor, finished)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not failures, failures
        dispatched = dispatched_task_ids(db)
        assert sorted(dispatched) == sorted(t.id for t in tasks)
        for task in tasks:
            agents = [a for a in db.agents.find_all() if a.task_id == task.id]
            assert len(agents) == 1
        workspaces = {a.workspace_id for a in db.agents.find_all()}
        assert workspaces == {first.runtime.workspace_id, second.runtime.workspace_id}
        assert event_types(db).count("task:completed") == 8
    finally:
        close_coordinator(first)
        close_coordinator(second)
        other_db.close()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_agent": 2}, "dispatch.max_agent: unknown setting"),
        ({"max_agents": "two"}, "dispatch.max_agents: expected"),
        ({"max_agents": 0}, "at least 1"),
    ],
)
def test_bad_dispatch_settings_are_named(table: dict[str, object], message: str) -> None:
    from codewalkers.services.execution import DispatchSettingsError

    with pytest.raises(DispatchSettingsError, match=message):
        DispatchSettings.from_settings({"dispatch": table})


def test_dispatch_settings_defaults_and_overrides() -> None:
    assert DispatchSettings.from_settings({}) == DispatchSettings()
    assert DispatchSettings().max_retries == 3
    assert DispatchSettings.from_settings({"dispatch": {"max_agents": 2, "backoff": 5}}) == (
        DispatchSettings(max_agents=2, backoff=5.0)
    )
    assert FAST.max_agents == 4


def test_two_coordinators_sharing_branches_through_the_remote_build_one_initiative(
    db: Database, database_url: str, tmp_path: Path, remote: Remote
) -> None:
    other_db = open_database(database_url, secret_key=TEST_SECRET_KEY)
    settings = DispatchSettings(max_agents=2, backoff=0.05, share_branches=True)
    first = make_coordinator(db, tmp_path / "one", settings)
    second = make_coordinator(other_db, tmp_path / "two", settings)
    try:
        initiative = make_initiative(db, name="Shared", merge_requires_approval=False)
        project = db.projects.create(name="app", url=remote.url)
        db.projects.set_initiative_projects(initiative.id, [project.id])
        base = make_phase(db, initiative, name="Base", status="approved")
        top = make_phase(db, initiative, name="Top", status="approved")
        db.phases.create_dependency(top.id, base.id)
        tasks = [
            make_task(
                db,
                base if i < 4 else top,
                name=f"file {i}",
                description=writes(f"f{i}.txt", f"{i}\n", f"wrote f{i}"),
            )
            for i in range(6)
        ]
        first.executor.execute(initiative.id)
        failures: list[BaseException] = []

        def finished() -> bool:
            current = db.initiatives.find_by_id(initiative.id)
            return current is not None and current.status == InitiativeStatus.PENDING_REVIEW

        def run(coordinator: Coordinator) -> None:
            try:
                tick_until(coordinator.executor, finished)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(150)
        assert not failures, failures
        assert sorted(dispatched_task_ids(db)) == sorted(t.id for t in tasks)
        for task in tasks:
            assert len([a for a in db.agents.find_all() if a.task_id == task.id]) == 1
        # Every task's file reached the initiative branch on the remote.
        on_remote = git_out(remote.path, "ls-tree", "--name-only", "cw/shared").split()
        assert {f"f{i}.txt" for i in range(6)} <= set(on_remote)
    finally:
        close_coordinator(first)
        close_coordinator(second)
        other_db.close()


def test_the_coordinators_loop_blocks_a_task_whose_agent_reports_an_error_without_retrying(
    db: Database, coordinator: Coordinator
) -> None:
    initiative = make_initiative(db, merge_requires_approval=False)
    phase = make_phase(db, initiative, status="approved")
    task = make_task(db, phase, description=scenario({"error": "the spec contradicts itself"}))
    stop = threading.Event()
    loop = threading.Thread(target=coordinator.executor.run, args=(stop, 5.0))
    loop.start()
    try:
        coordinator.executor.execute(initiative.id)  # wakes the loop: no 5 s wait
        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline:
            row = db.execution.find_dispatch(task.id)
            if row is not None and row.state == DispatchState.BLOCKED:
                break
            time.sleep(0.05)
        assert row is not None and row.state == DispatchState.BLOCKED
        assert row.attempts == 1
        assert row.reason == "the agent reported an error: the spec contradicts itself"
        current = db.tasks.find_by_id(task.id)
        assert current is not None and current.status == TaskStatus.BLOCKED
    finally:
        stop.set()
        coordinator.executor.wake()
        loop.join(30)
    assert not loop.is_alive()


def test_a_finished_initiative_sent_back_for_changes_runs_a_review_phase_then_waits_again(
    db: Database, coordinator: Coordinator, remote: Remote
) -> None:
    initiative = make_initiative(db, name="Search", merge_requires_approval=False)
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative, name="Index", status="approved")
    make_task(db, phase, name="Indexer", description=writes("index.py", "i\n", "Indexed."))
    executor = coordinator.executor
    executor.execute(initiative.id)

    def status_is(value: InitiativeStatus) -> Callable[[], bool]:
        def check() -> bool:
            current = db.initiatives.find_by_id(initiative.id)
            return current is not None and current.status == value

        return check

    tick_until(executor, status_is(InitiativeStatus.PENDING_REVIEW))
    with pytest.raises(ValidationError):
        executor.request_initiative_changes(initiative.id, "  ")
    task = executor.request_initiative_changes(initiative.id, "Also index titles")
    assert task.category == "review" and "Also index titles" in (task.description or "")
    current = db.initiatives.find_by_id(initiative.id)
    assert current is not None and current.status == InitiativeStatus.ACTIVE
    tick_until(executor, status_is(InitiativeStatus.PENDING_REVIEW))
    done = db.tasks.find_by_id(task.id)
    assert done is not None and done.status == TaskStatus.COMPLETED
    phases = {p.name: p.status for p in db.phases.find_by_initiative_id(initiative.id)}
    assert phases == {"Index": PhaseStatus.COMPLETED, "Changes requested": PhaseStatus.COMPLETED}
    assert "initiative:changes_requested" in event_types(db)
    executor.merge_initiative(initiative.id)
    with pytest.raises(ConflictError, match="completed, not pending_review"):
        executor.request_initiative_changes(initiative.id, "Too late")
