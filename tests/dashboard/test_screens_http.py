"""The routes of the Execution and Review tabs, Settings and the palette over plain HTTP
against a real coordinator, on SQLite and PostgreSQL (the browser journeys in
``test_screens.py`` run on SQLite only: they are slow). Plus the pure parts: dependency
levels and the diff parser.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from codewalkers.server.dashboard import pipeline
from codewalkers.server.dashboard.stream import Scope, translate
from tests.agents.conftest import make_remote
from tests.dashboard.conftest import ok
from tests.server.conftest import Server, Workspace


def test_phases_are_levelled_by_their_deepest_dependency() -> None:
    deps = {"ui": ["api", "schema"], "api": ["schema"], "docs": []}
    assert pipeline.levels(["schema", "api", "ui", "docs"], deps) == {
        "schema": 0,
        "api": 1,
        "ui": 2,
        "docs": 0,
    }
    assert pipeline.levels(["a", "b"], {"a": ["b"], "b": ["a"]}) in (
        {"a": 1, "b": 0},
        {"a": 0, "b": 1},
    )


def test_review_comments_refresh_their_initiatives_review_and_accounts_the_settings() -> None:
    def names(kind: str, event: dict[str, Any], scope: Scope) -> list[str]:
        found = translate(7, kind, event, scope, lambda _payload: "")
        return [
            line[len("event: ") :]
            for m in found
            for line in m.splitlines()
            if line.startswith("event: ")
        ]

    comment = {"initiative_id": "I1", "entity_id": "C1"}
    assert names("review:comment_created", comment, Scope(initiative_id="I1")) == ["review"]
    assert names("review:resolved", comment, Scope(initiative_id="I2")) == []
    assert names("account:exhausted", {"entity_id": "A1"}, Scope()) == ["settings"]
    assert names("project:synced", {"entity_id": "P1"}, Scope()) == ["settings"]


DIFF = """diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,4 +1,4 @@
 import os
-print("hi")
+print("hello")
 x = 1
 y = 2
@@ -10,2 +10,3 @@ def f():
     return 1
+    # done
 z = 3
diff --git a/logo.png b/logo.png
new file mode 100644
Binary files /dev/null and b/logo.png differ
"""


def test_a_unified_diff_is_parsed_into_numbered_lines_and_paired_side_by_side() -> None:
    app, logo = pipeline.parse_diff("proj", DIFF)
    assert (app.path, app.added, app.removed) == ("app.py", 2, 1)
    assert logo.path == "logo.png" and logo.binary and not logo.lines
    numbered = [(ln.kind, ln.old, ln.new) for ln in app.lines if ln.kind != "hunk"]
    assert numbered[:3] == [("context", 1, 1), ("removed", 2, None), ("added", None, 2)]
    assert ("added", None, 11) in numbered and ("context", 11, 12) in numbered
    removed = next(ln for ln in app.lines if ln.kind == "removed")
    assert removed.number == 2 and removed.text == 'print("hi")'
    rows = app.split()
    paired = next(r for r in rows if r.left and r.left.kind == "removed")
    assert paired.right is not None and paired.right.text == 'print("hello")'
    assert sum(r.hunk is not None for r in rows) == 2


def refused(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert detail in response.json()["detail"]


def wait_status(space: Workspace, kind: str, id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while space.ok(kind, "get", id)["status"] != status:
        assert time.monotonic() < deadline, space.ok(kind, "get", id)
        time.sleep(0.1)


@pytest.mark.slow
def test_execute_complete_review_approve_and_merge_over_http(
    space: Workspace, coordinator: Server, client: httpx.Client, tmp_path: Any
) -> None:
    """A phase whose only task is a checkpoint and a phase after it: queue, execute,
    pause/resume, complete, comment, resolve, approve, merge, push; refusals change
    nothing."""
    cw = space.ok
    remote = make_remote(tmp_path / "remote", files=1)
    project = cw("project", "add", "app", remote.url)
    iid = cw("initiative", "create", "Audit", "--project", project["id"])["id"]
    first = cw("phase", "create", "--initiative", iid, "Check")
    then = cw("phase", "create", "--initiative", iid, "Close")
    cw("phase", "depend", then["id"], "--on", first["id"])
    task = cw(
        "task",
        "create",
        "Read the logs",
        "--phase",
        first["id"],
        "--type",
        "checkpoint:human-action",
    )["id"]

    page = ok(client.get(f"/ui/initiatives/{iid}/execution"))
    assert re.search(r'data-level="0".*Check.*data-level="1".*Close', page, re.S)
    assert 'id="execution-state" data-state="not executing"' in page
    # Writes need this origin: another site's page cannot execute anything.
    forged = client.post(f"/ui/initiatives/{iid}/execute", headers={"Origin": "http://evil.test"})
    assert forged.status_code == 403
    assert cw("dispatch", "status", "--initiative", iid)["initiatives"] == []

    for phase in (first, then):
        assert f'id="phase-{phase["id"]}" data-status="approved"' in ok(
            client.post(f"/ui/phases/{phase['id']}/queue")
        )
    refused(client.post(f"/ui/initiatives/{iid}/pause"), 409, "not executing: execute it first")
    assert 'data-state="running"' in ok(client.post(f"/ui/initiatives/{iid}/execute"))
    assert 'data-state="paused"' in ok(client.post(f"/ui/initiatives/{iid}/pause"))
    assert ">Resume</button>" in ok(client.get(f"/ui/initiatives/{iid}/pipeline"))
    assert 'data-state="running"' in ok(client.post(f"/ui/initiatives/{iid}/execute"))

    refused(client.post(f"/ui/tasks/{task}/retry"), 409, "not blocked")
    done = ok(client.post(f"/ui/tasks/{task}/complete", data={"summary": "all quiet"}))
    assert f'id="task-{task}" data-status="completed"' in done
    refused(client.post(f"/ui/tasks/{task}/complete"), 409, "completed already")
    assert cw("task", "get", task)["summary"] == "all quiet"
    wait_status(space, "phase", first["id"], "pending_review")

    review = ok(client.get(f"/ui/initiatives/{iid}/review"))
    assert "Check" in review and "No changes to review." in review
    line = {"file_path": "NOTES.md", "line_number": "3", "line_type": "added"}
    refused(
        client.post(f"/ui/phases/{first['id']}/comments", data={**line, "body": " "}), 422, "body"
    )
    refused(
        client.post(
            f"/ui/phases/{first['id']}/comments", data={**line, "line_number": "x", "body": "b"}
        ),
        422,
        "line_number",
    )
    assert cw("review", "list", "--phase", first["id"]) == []
    body = ok(client.post(f"/ui/phases/{first['id']}/comments", data={**line, "body": "Log it"}))
    assert "Comments on files no longer in the diff" in body and "Log it" in body
    assert "1 unresolved" in body
    resolved = ok(client.post(f"/ui/phases/{first['id']}/threads/resolve", data=line))
    assert 'data-resolved="true"' in resolved and "0 unresolved" in resolved
    refused(
        client.post(f"/ui/phases/{first['id']}/request-changes", data={"summary": ""}),
        422,
        "nothing to change",
    )
    assert cw("phase", "get", first["id"])["status"] == "pending_review"

    approved = ok(client.post(f"/ui/phases/{first['id']}/approve"))
    assert "approved: &#34;Check&#34; is merged into cw/audit" in approved
    wait_status(space, "phase", then["id"], "pending_review")
    ok(client.post(f"/ui/phases/{then['id']}/approve"))
    wait_status(space, "initiative", iid, "pending_review")
    pushed = ok(client.post(f"/ui/initiatives/{iid}/push", data={"phase": then["id"]}))
    assert "pushed cw/audit" in pushed
    merged = ok(client.post(f"/ui/initiatives/{iid}/merge"))
    assert "merged and pushed: app at" in merged
    assert cw("initiative", "get", iid)["status"] == "completed"
    refused(client.post(f"/ui/initiatives/{iid}/merge"), 409, "not pending_review")


@pytest.mark.slow
def test_settings_and_the_palette_over_http(
    space: Workspace, coordinator: Server, client: httpx.Client, tmp_path: Any
) -> None:
    page = ok(client.get("/ui/settings"))
    assert "runs agents and executes initiatives" in page and "max_agents" in page
    secret = "sk-SECRET-in-http-test"
    added = ok(
        client.post(
            "/ui/settings/accounts", data={"email": "bo@example.com", "credentials": secret}
        )
    )
    assert "credentials set" in added and secret not in added
    assert secret not in ok(client.get("/ui/settings"))
    assert secret not in ok(client.get("/ui/settings/accounts"))
    refused(client.post("/ui/settings/accounts", data={"email": "bo@example.com"}), 409, "bo@")
    assert len(space.ok("account", "list")) == 1

    refused(client.post("/ui/settings/projects", data={"name": "x", "url": ""}), 422, "url")
    remote = make_remote(tmp_path / "remote", files=1)
    listed = ok(client.post("/ui/settings/projects", data={"name": "app", "url": remote.url}))
    assert 'data-project="app"' in listed
    (project,) = space.ok("project", "list")
    synced = ok(client.post(f"/ui/settings/projects/{project['id']}/sync"))
    assert re.search(r'class="fetched"><time', synced)

    iid = space.ok("initiative", "create", "Search me", "--project", project["id"])["id"]
    found = ok(client.get("/ui/palette", params={"q": "search"}))
    assert f"/ui/initiatives/{iid}/execution" in found and "Execute Search me" in found
    assert "Nothing matches" in ok(client.get("/ui/palette", params={"q": "zzz-nothing"}))
    refused(
        client.post("/ui/palette/run", data={"kind": "initiative", "action": "delete", "id": iid}),
        422,
        "no action",
    )
    ran = ok(
        client.post("/ui/palette/run", data={"kind": "initiative", "action": "execute", "id": iid})
    )
    assert "executing &#34;Search me&#34;" in ran

    # Queue one task: its phase is queued (approved); one waiting for approval is approved.
    phase = space.ok("phase", "create", "--initiative", iid, "Later")
    task = space.ok("task", "create", "Tidy up", "--phase", phase["id"])["id"]
    gated = space.ok("task", "create", "Gated", "--phase", phase["id"])["id"]
    space.ok("task", "status", gated, "pending_approval")
    assert "Queue Tidy up" in ok(client.get("/ui/palette", params={"q": "tidy"}))
    queued = ok(client.post(f"/ui/tasks/{task}/queue"))
    assert f'id="phase-{phase["id"]}" data-status="pending"' not in queued
    assert space.ok("phase", "get", phase["id"])["status"] != "pending"  # queued: approved
    refused(client.post(f"/ui/tasks/{task}/queue"), 409, "nothing to queue")
    ran = ok(client.post("/ui/palette/run", data={"kind": "task", "action": "queue", "id": gated}))
    assert "queued &#34;Gated&#34;" in ran
    assert space.ok("task", "get", gated)["status"] != "pending_approval"


def test_settings_remove_accounts_and_projects_and_lift_an_exhaustion(
    space: Workspace, coordinator: Server, client: httpx.Client, tmp_path: Any
) -> None:
    account = space.ok("account", "add", "lifted@example.com", "--provider", "codex")
    space.ok("account", "exhaust", account["id"], "--until", "3h")
    listed = ok(client.get("/ui/settings/accounts"))
    assert f"/ui/settings/accounts/{account['id']}/available" in listed
    lifted = ok(client.post(f"/ui/settings/accounts/{account['id']}/available"))
    assert f"/ui/settings/accounts/{account['id']}/available" not in lifted
    (stored,) = [a for a in space.ok("account", "list") if a["id"] == account["id"]]
    assert stored["is_exhausted"] is False
    refused(client.post("/ui/settings/accounts/Ac-nope/available"), 404, "not found")

    removed = ok(client.post(f"/ui/settings/accounts/{account['id']}/remove"))
    assert "lifted@example.com" not in removed
    assert all(a["id"] != account["id"] for a in space.ok("account", "list"))
    refused(client.post(f"/ui/settings/accounts/{account['id']}/remove"), 404, "not found")

    remote = make_remote(tmp_path / "gone", files=1)
    project = space.ok("project", "add", "gone", remote.url)
    iid = space.ok("initiative", "create", "Outlives it", "--project", project["id"])["id"]
    page = ok(client.get("/ui/settings/projects"))
    assert "unlinked from 1 initiative(s)" in page
    after = ok(client.post(f"/ui/settings/projects/{project['id']}/remove"))
    assert 'data-project="gone"' not in after
    assert space.ok("initiative", "get", iid)["id"] == iid  # the initiative stays
    refused(client.post(f"/ui/settings/projects/{project['id']}/remove"), 404, "not found")
