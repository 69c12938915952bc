"""The chat panel against a real coordinator (``cw start --detach``) whose chat agent is the
shipped fake agent, renaming the task through a change file: in real Chromium (SQLite, the
journey is slow) and over plain HTTP on SQLite and PostgreSQL (refusals, forged Origin).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from codewalkers.server.dashboard.stream import Scope, translate
from tests.dashboard.conftest import live, login, ok, scenario
from tests.server.conftest import Server, Workspace

OLD, NEW, BY_HAND = "Hash passwords", "Hash passwords with Argon2id", "Hash them somehow"


def chat_task(space: Workspace) -> tuple[str, str]:
    """An initiative with a phase and one task; (initiative id, task id)."""
    initiative = space.ok("initiative", "create", "User auth")
    phase = space.ok("phase", "create", "--initiative", initiative["id"], "Build")
    task = space.ok("task", "create", OLD, "--phase", phase["id"])
    return initiative["id"], task["id"]


def rename_message(task_id: str) -> str:
    change = {"action": "update", "entity": "task", "id": task_id, "fields": {"name": NEW}}
    return "Say which algorithm.\n\n" + scenario({"change": change}, {"done": "Renamed it."})


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_chat_on_a_task_renames_it_live_and_a_revert_refused_then_forced_restores_it(
    space: Workspace, coordinator: Server, context: Any
) -> None:
    from playwright.sync_api import expect

    iid, tid = chat_task(space)
    page = login(context, space)
    page.goto(f"{coordinator.url}/ui/initiatives/{iid}")
    page.get_by_role("link", name=f"Chat about {OLD}").click()
    page.wait_for_url(f"**/ui/chat?task={tid}")
    live(page)
    panel = page.locator("#chat-panel")
    expect(panel).to_contain_text("No messages yet")

    page.get_by_label("Message").fill(rename_message(tid))
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_label("Message")).to_have_value("")  # sent: the form is reset
    reply = panel.locator(".message[data-role=assistant]")
    expect(reply).to_contain_text("Renamed it.")  # arrived on the stream, no reload
    expect(reply.locator(".entry")).to_contain_text(f"updated task {tid}")
    expect(reply.locator(".fields")).to_contain_text(f"name: {OLD} → {NEW}")
    expect(page.locator("#chat-target-name")).to_have_text(NEW)
    expect(page.locator("#chat-waiting")).to_have_count(0)

    # Changed since by hand: the revert is refused in one line naming the task.
    space.ok("task", "update", tid, "--name", BY_HAND)
    expect(page.locator("#chat-target-name")).to_have_text(BY_HAND)
    reply.get_by_role("button", name="Revert").click()
    refusal = reply.locator(".refused")
    expect(refusal).to_contain_text(f"changed since: task {tid}")
    assert space.ok("task", "get", tid)["name"] == BY_HAND
    reply.get_by_role("button", name="Revert anyway").click()
    expect(page.locator("#chat-target-name")).to_have_text(OLD)
    expect(reply.locator(".change-set")).to_have_attribute("data-status", "reverted")
    expect(page.locator("#chat-notice")).to_contain_text("reverted change set")
    assert space.ok("task", "get", tid)["name"] == OLD

    page.goto(f"{coordinator.url}/ui/initiatives/{iid}")
    expect(page.locator(f"#task-{tid} .name")).to_have_text(OLD)


def refused(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert detail in response.text  # JSON from the routes, a page from the Origin guard


@pytest.mark.slow
def test_the_chat_routes_over_http_refuse_bad_input_and_forged_origins(
    space: Workspace, coordinator: Server, client: httpx.Client
) -> None:
    iid, tid = chat_task(space)
    plan = ok(client.get(f"/ui/initiatives/{iid}/plan"))
    assert f'href="/ui/chat?task={tid}"' in plan and 'href="/ui/chat?phase=' in plan
    opened = ok(client.get("/ui/chat", params={"task": tid}))
    assert "No messages yet" in opened and 'aria-current="page">Plan' in opened
    phase_id = space.ok("task", "get", tid)["phase_id"]
    assert "Chat about phase" in ok(client.get("/ui/chat", params={"phase": phase_id}))
    both = {"phase": phase_id, "task": tid}
    refused(client.post("/ui/chat/messages", data={**both, "content": "hi"}), 422, "one of")
    assert client.get("/ui/chat", params={"task": "nope"}).status_code == 404
    assert client.get("/ui/chat").status_code == 404
    refused(client.get("/ui/chat/panel"), 422, "phase or its task")

    # Refused sends record nothing: no session is started.
    refused(client.post("/ui/chat/messages", data={"task": tid, "content": " "}), 422, "empty")
    refused(client.post("/ui/chat/messages", data={"task": "nope", "content": "hi"}), 404, "nope")
    forged = client.post(
        "/ui/chat/messages",
        data={"task": tid, "content": "hi"},
        headers={"Origin": "http://evil.example"},
    )
    refused(forged, 403, "cross-origin")
    with httpx.Client(base_url=coordinator.url, headers={"Origin": coordinator.url}) as anon:
        assert anon.post("/ui/chat/messages", data={"task": tid, "content": "hi"}).is_error
    assert "No messages yet" in ok(client.get("/ui/chat/panel", params={"task": tid}))

    sent = ok(client.post("/ui/chat/messages", data={"task": tid, "content": rename_message(tid)}))
    assert 'data-role="user"' in sent and "Say which algorithm." in sent
    deadline = time.monotonic() + 60
    while 'data-role="assistant"' not in (panel := ok(client.get(f"/ui/chat/panel?task={tid}"))):
        assert time.monotonic() < deadline, panel
        time.sleep(0.2)
    assert "The agent is answering" not in panel and 'id="chat-agent"' in panel
    assert f'name</b>: <span class="before">{OLD}</span> → <span class="after">{NEW}' in panel
    (change_set,) = {
        line.split('id="change-set-')[1].split('"')[0]
        for line in panel.splitlines()
        if 'id="change-set-' in line
    }

    space.ok("task", "update", tid, "--name", BY_HAND)
    revert = f"/ui/change-sets/{change_set}/revert"
    refused_page = ok(client.post(revert, data={"task": tid}))
    assert f"changed since: task {tid}" in refused_page and "Revert anyway" in refused_page
    assert space.ok("task", "get", tid)["name"] == BY_HAND
    refused(client.post(revert, data={"force": "1"}), 422, "phase or its task")
    refused(client.post(revert, data={"task": "nope", "force": "1"}), 404, "nope")
    refused(
        client.post(revert, data={"task": tid, "force": "1"}, headers={"Origin": "null"}),
        403,
        "cross-origin",
    )
    assert space.ok("task", "get", tid)["name"] == BY_HAND  # every refusal changed nothing

    done = ok(client.post(revert, data={"task": tid, "force": "1"}))
    assert "reverted change set" in done and 'data-status="reverted"' in done
    assert space.ok("task", "get", tid)["name"] == OLD
    assert "already reverted" in ok(client.post(revert, data={"task": tid}))
    refused(client.post("/ui/change-sets/nope/revert", data={"task": tid}), 404, "nope")


def test_chat_messages_and_change_sets_refresh_their_initiatives_chat_panel() -> None:
    def names(kind: str, scope: Scope) -> list[str]:
        found = translate(7, kind, {"initiative_id": "I1", "entity_id": "X"}, scope, str)
        return [line[7:] for m in found for line in m.splitlines() if line.startswith("event: ")]

    for kind in ("chat:message_created", "change_set:applied", "change_set:reverted"):
        assert names(kind, Scope(initiative_id="I1")) == ["chat"]
        assert names(kind, Scope(initiative_id="I2")) == []
        assert names(kind, Scope()) == []
