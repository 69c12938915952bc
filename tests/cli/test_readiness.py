"""Issue 15, "Plans that can never progress": ``cw task ready --why`` says what each pending
task waits for, and nothing is completed past unfinished work unless ``--force`` says so.
"""

from __future__ import annotations

from typing import Any

from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw


def test_ready_why_names_what_each_waiting_task_waits_for(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    design = cw.ok("phase", "create", "Design", "--initiative", initiative)["id"]
    rollout = cw.ok("phase", "create", "Rollout", "--initiative", initiative)["id"]
    cw.ok("phase", "depend", rollout, "--on", design)
    sketch = cw.ok("task", "create", "Sketch", "--phase", design)["id"]
    verify = cw.ok(
        "task", "create", "Verify", "--phase", design, "--type", "checkpoint:human-verify"
    )["id"]
    build = cw.ok("task", "create", "Build", "--phase", design)["id"]
    cw.ok("task", "depend", build, "--on", sketch)
    cw.ok("task", "depend", build, "--on", verify)
    ship = cw.ok("task", "create", "Ship", "--phase", rollout)["id"]
    gated = cw.ok("task", "create", "Gated", "--initiative", initiative)["id"]
    cw.ok("task", "update", gated, "--status", "pending_approval")

    result = cw.ok("task", "ready", "--initiative", initiative, "--why")
    assert {t["id"] for t in result["ready"]} == {sketch, verify}
    waits = {
        entry["task"]["id"]: [(r["kind"], r["id"]) for r in entry["waits_for"]]
        for entry in result["not_ready"]
    }
    assert waits == {
        build: [("task", sketch), ("person", verify)],
        ship: [("phase", design)],
        gated: [("approval", gated)],
    }
    human = cw("task", "ready", "--initiative", initiative[:6], "--why").stdout
    assert f'task "Build" ({build}) waits for:' in human
    assert f'phase "Design" ({design}, pending)' in human
    assert "approval: cw task approve" in human and "a person" in human
    # Without --why the JSON stays the list it always was.
    assert [t["id"] for t in cw.ok("task", "ready", "--initiative", initiative)] == [
        sketch,
        verify,
    ]


def test_completion_waits_for_dependencies_and_tasks_unless_forced(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    design = cw.ok("phase", "create", "Design", "--initiative", initiative)["id"]
    sketch = cw.ok("task", "create", "Sketch", "--phase", design)["id"]
    build = cw.ok("task", "create", "Build", "--phase", design)["id"]
    cw.ok("task", "depend", build, "--on", sketch)

    refused = cw.fails("task", "status", build, "completed").stderr
    assert f'task "Build" ({build}) cannot be completed' in refused
    assert f'"Sketch" ({sketch}, pending)' in refused and "--force" in refused
    refused = cw.fails("task", "update", build, "--status", "completed").stderr
    assert "cannot be completed" in refused
    refused = cw.fails("phase", "status", design, "completed").stderr
    assert f'phase "Design" ({design}) cannot be completed' in refused and "Build" in refused
    assert cw.ok("task", "get", build)["status"] == "pending"

    forced = cw("task", "status", build, "completed", "--force")
    assert forced.code == 0 and "skipped unfinished dependencies" in forced.stdout
    assert f'"Sketch" ({sketch}, pending)' in forced.stdout
    forced_json = cw.ok("phase", "status", design, "completed", "--force")
    assert forced_json["status"] == "completed" and forced_json["forced_past"] == [sketch]
    with workspace_db(cw) as db:
        changes: list[Any] = [
            e.payload for e in db.events.find_after(0) if e.type.endswith(":status_changed")
        ]
    assert changes[0]["forced_past"] == [sketch] and changes[1]["forced_past"] == [sketch]

    # Completing in order needs no force.
    other = cw.ok("phase", "create", "Other", "--initiative", initiative)["id"]
    first = cw.ok("task", "create", "First", "--phase", other)["id"]
    cw.ok("task", "status", first, "completed")
    assert cw.ok("phase", "status", other, "completed")["status"] == "completed"
