"""Issue 15, "Edit, delete, undo": every entity a person creates can be changed and taken
back through ``cw``, with the same errors and events as the rest; deleting what others hang
on says what goes with it and asks (``--yes`` for scripts; no terminal means no prompt).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import CW, Cw


def events_about(cw: Cw, entity_id: str) -> list[tuple[str, dict[str, Any]]]:
    with workspace_db(cw) as db:
        return [(e.type, e.payload) for e in db.events.find_after(0) if e.entity_id == entity_id]


def plan(cw: Cw) -> dict[str, str]:
    """An initiative with Design → Rollout, a task in each and a subtask of the first."""
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    design = cw.ok("phase", "create", "Design", "--initiative", initiative)["id"]
    rollout = cw.ok("phase", "create", "Rollout", "--initiative", initiative)["id"]
    cw.ok("phase", "depend", rollout, "--on", design)
    sketch = cw.ok("task", "create", "Sketch", "--phase", design)["id"]
    ship = cw.ok("task", "create", "Ship", "--phase", rollout)["id"]
    sub = cw.ok("task", "create", "Sub", "--parent", sketch)["id"]
    return {
        "initiative": initiative,
        "design": design,
        "rollout": rollout,
        "sketch": sketch,
        "ship": ship,
        "sub": sub,
    }


def test_a_task_is_updated_moved_and_its_dependency_undone(cw: Cw) -> None:
    ids = plan(cw)
    updated = cw.ok("task", "update", ids["ship"], "--name", "Ship it", "--priority", "high")
    assert (updated["name"], updated["priority"]) == ("Ship it", "high")
    human = cw("task", "update", ids["ship"], "--description", "carefully")
    assert human.code == 0 and f'task "Ship it" ({ids["ship"]})' in human.stdout

    cw.ok("task", "depend", ids["ship"], "--on", ids["sketch"])
    undone = cw.ok("task", "undepend", ids["ship"], "--on", ids["sketch"])
    assert undone["removed"] is True
    assert cw.ok("task", "get", ids["ship"])["depends_on"] == []
    cw.ok("task", "depend", ids["ship"], "--on", ids["sketch"])
    assert cw.ok("task", "depend", ids["ship"], "--on", ids["sketch"], "--remove")["removed"]
    assert cw.ok("task", "undepend", ids["ship"], "--on", ids["sketch"])["removed"] is False

    moved = cw.ok("task", "update", ids["ship"], "--phase", ids["design"])
    assert moved["phase_id"] == ids["design"]
    types = [t for t, _ in events_about(cw, ids["ship"])]
    assert types.count("task:updated") >= 6  # two updates, four dependency changes, a move
    assert types[-1] == "task:updated"
    assert "nothing to change" in cw.fails("task", "update", ids["ship"]).stderr


def test_moving_a_task_where_the_plan_could_never_finish_is_refused(cw: Cw) -> None:
    ids = plan(cw)
    # Sketch (Design) waits for Ship; moving Ship into Rollout (after Design) closes a cycle.
    cw.ok("task", "update", ids["ship"], "--phase", ids["design"])
    cw.ok("task", "depend", ids["sketch"], "--on", ids["ship"])
    result = cw.fails("task", "update", ids["ship"], "--phase", ids["rollout"])
    assert "impossible" in result.stderr and f"task {ids['ship']}" in result.stderr
    assert f"phase {ids['design']}" in result.stderr
    assert cw.ok("task", "get", ids["ship"])["phase_id"] == ids["design"]

    other = cw.ok("initiative", "create", "Billing")["id"]
    elsewhere = cw.ok("phase", "create", "Elsewhere", "--initiative", other)["id"]
    refused = cw.fails("task", "update", ids["ship"], "--phase", elsewhere).stderr
    assert "dependencies" in refused
    assert cw.ok("task", "get", ids["ship"])["initiative_id"] == ids["initiative"]


def test_deleting_what_others_hang_on_asks_first(cw: Cw) -> None:
    ids = plan(cw)
    cw.ok("task", "depend", ids["ship"], "--on", ids["sketch"])
    refused = cw.fails("task", "delete", ids["sketch"]).stderr
    assert f'task "Sketch" ({ids["sketch"]})' in refused
    assert "deletes 1 subtask" in refused and "removes the dependency of 1 task" in refused
    assert "--yes" in refused and "not a terminal" in refused
    assert cw.ok("task", "get", ids["sub"])["id"] == ids["sub"]

    refused = cw.fails("initiative", "delete", ids["initiative"]).stderr
    assert "deletes 2 phases, 3 tasks" in refused
    refused = cw.fails("phase", "delete", ids["design"]).stderr
    assert "deletes 2 tasks" in refused and "dependency of 1 phase" in refused

    assert cw.ok("task", "delete", ids["sketch"], "--yes")["deleted"] is True
    assert cw.fails("task", "get", ids["sub"]).stderr.endswith("not found\n")
    assert [t for t, _ in events_about(cw, ids["sketch"])][-1] == "task:deleted"
    # Nothing hangs on Ship: no question asked.
    assert cw.ok("task", "delete", ids["ship"])["deleted"] is True
    assert cw.ok("phase", "delete", ids["rollout"], "-y")["deleted"] is True
    done = cw("initiative", "delete", ids["initiative"], "--yes")
    assert done.code == 0 and 'deleted initiative "Auth"' in done.stdout


def test_a_person_at_a_terminal_is_asked(cw: Cw) -> None:
    ids = plan(cw)

    def at_terminal(answer: str) -> subprocess.CompletedProcess[bytes]:
        leader, follower = os.openpty()
        try:
            os.write(leader, answer.encode())
            return subprocess.run(
                [*CW, "task", "delete", ids["sketch"]],
                cwd=cw.root,
                env=cw.env,
                stdin=follower,
                capture_output=True,
                timeout=60,
            )
        finally:
            os.close(leader)
            os.close(follower)

    declined = at_terminal("n\n")
    assert declined.returncode == 1 and b"Go ahead?" in declined.stderr
    assert cw.ok("task", "get", ids["sketch"])["id"] == ids["sketch"]
    accepted = at_terminal("y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert b"deleted task" in accepted.stdout
    assert cw("task", "get", ids["sub"]).code == 1


def test_a_phase_is_updated_and_its_dependency_undone(cw: Cw, tmp_path: Path) -> None:
    ids = plan(cw)
    content = tmp_path / "design.md"
    content.write_text("# Design\n\nThe token flow.\n")
    updated = cw.ok("phase", "update", ids["design"], "--name", "Design v2", "--content", content)
    assert updated["name"] == "Design v2"
    assert "token flow" in cw.ok("phase", "get", ids["design"])["content_markdown"]
    assert cw.ok("phase", "undepend", ids["rollout"], "--on", ids["design"])["removed"] is True
    assert cw.ok("phase", "get", ids["rollout"])["depends_on"] == []
    cw.ok("phase", "depend", ids["rollout"], "--on", ids["design"])
    assert cw.ok("phase", "depend", ids["rollout"], "--on", ids["design"], "--remove")["removed"]
    types = [t for t, _ in events_about(cw, ids["rollout"])]
    assert types.count("phase:updated") == 4
    assert "nothing to change" in cw.fails("phase", "update", ids["design"]).stderr
    assert "not found" in cw.fails("phase", "undepend", "x" * 21, "--on", ids["design"]).stderr


def test_a_project_is_updated_and_removed(cw: Cw) -> None:
    api = cw.ok("project", "add", "api", "git@example.com:acme/api.git")["id"]
    web = cw.ok("project", "add", "web", "https://example.com/web.git")["id"]
    initiative = cw.ok("initiative", "create", "Auth", "--project", api)["id"]
    updated = cw.ok("project", "update", api, "--name", "api2", "--default-branch", "dev")
    assert (updated["name"], updated["default_branch"]) == ("api2", "dev")
    taken = cw.fails("project", "update", web, "--name", "api2").stderr
    assert "already exists" in taken or "api2" in taken

    refused = cw.fails("project", "remove", api).stderr
    assert 'project "api2"' in refused and "unlinks it from 1 initiative" in refused
    assert cw.ok("project", "remove", web)["deleted"] is True  # linked to nothing: no question
    assert cw.ok("project", "remove", api, "--yes")["deleted"] is True
    assert cw.ok("project", "list") == []
    assert cw.ok("initiative", "get", initiative)["project_ids"] == []
    deleted = [p for t, p in events_about(cw, api) if t == "project:deleted"]
    assert deleted and deleted[0]["initiative_ids"] == [initiative]
    assert [t for t, _ in events_about(cw, api)][:2] == ["project:created", "project:updated"]


def test_an_account_is_updated_and_removed(cw: Cw, tmp_path: Path) -> None:
    secret = "sk-SECRET-in-update"
    credentials = tmp_path / "credentials.json"
    credentials.write_text(secret)
    a = cw.ok("account", "add", "a@example.com")["id"]
    b = cw.ok("account", "add", "b@example.com")["id"]
    updated = cw("account", "update", a, "--credentials-file", str(credentials), "--json")
    assert updated.code == 0 and secret not in updated.stdout
    assert updated.json["has_credentials"] is True
    taken = cw.fails("account", "update", b, "--email", "a@example.com").stderr
    assert "already has an account 'a@example.com'" in taken
    with workspace_db(cw) as db:
        db.agents.create(name="brave-otter", account_id=a)

    refused = cw.fails("account", "remove", a).stderr
    assert 'account "a@example.com"' in refused and "leaves without an account 1 agent" in refused
    assert cw.ok("account", "remove", b)["deleted"] is True
    assert cw.ok("account", "remove", a, "--yes")["deleted"] is True
    assert cw.ok("account", "list") == []
    with workspace_db(cw) as db:
        otter = db.agents.find_by_name("brave-otter")
        assert otter is not None and otter.account_id is None
    payloads = events_about(cw, a)
    assert [t for t, _ in payloads] == ["account:created", "account:updated", "account:deleted"]
    assert all(secret not in str(p) for _, p in payloads)
