"""The Plan tab's proposals and architect modes against a real coordinator (``cw start
--detach``, the shipped fake agent acting the ``cw-fake`` scenario of the architect's
instructions): over plain HTTP on SQLite and PostgreSQL (refusals, a forged Origin), and one
journey in a real Chromium on SQLite (browser tests are slow).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from codewalkers.server.dashboard.stream import Scope, translate
from tests.dashboard.conftest import live, login, ok
from tests.server.conftest import Server, Workspace


def propose(*items: tuple[str, str, str, list[str]]) -> str:
    """Instructions whose cw-fake block proposes phases ``(file, title, id, depends_on)``."""
    files = [
        {
            "path": f"phases/{name}.md",
            "front": {"title": title, "id": pid, "depends_on": deps},
            "body": f"{title}, in a few words.",
        }
        for name, title, pid, deps in items
    ]
    steps = [{"propose": files}, {"done": f"{len(files)} phases proposed"}]
    return "Plan it in phases.\n```cw-fake\n" + json.dumps({"steps": steps}) + "\n```\n"


def three_phases(space: Workspace) -> tuple[str, str, str, str]:
    """Instructions proposing Design, Build (after Design), Ship (after Build); their ids."""
    design, build, ship = space.ok("id", "-n", "3")
    text = propose(
        ("01-design", "Design", design, []),
        ("02-build", "Build", build, [design]),
        ("03-ship", "Ship", ship, [build]),
    )
    return text, design, build, ship


def pending(space: Workspace, initiative_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        rows = space.ok("proposal", "list", "--initiative", initiative_id, "--status", "pending")
        if len(rows) == count:
            return list(rows)
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def test_proposal_events_refresh_their_initiatives_proposals_only() -> None:
    def names(event: dict[str, Any], scope: Scope) -> list[str]:
        found = translate(3, "proposal:created", event, scope, lambda _payload: "")
        return [line[7:] for m in found for line in m.splitlines() if line.startswith("event: ")]

    assert names({"initiative_id": "I1"}, Scope(initiative_id="I1")) == ["proposals"]
    assert names({"initiative_id": "I1"}, Scope(initiative_id="I2")) == []
    assert names({"initiative_id": "I1"}, Scope()) == []


def refused(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert detail in response.json()["detail"]


@pytest.mark.slow
def test_start_an_architect_then_dismiss_accept_and_accept_all_over_http(
    space: Workspace, coordinator: Server, client: httpx.Client
) -> None:
    cw = space.ok
    iid = cw("initiative", "create", "Auth")["id"]
    assert "No pending proposals" in ok(client.get(f"/ui/initiatives/{iid}"))
    instructions, design, build, ship = three_phases(space)
    start = f"/ui/initiatives/{iid}/architect"

    # Refusals: another site's page, a bad mode, detail without a phase, an unknown phase.
    forged = client.post(
        start,
        data={"mode": "plan", "instructions": instructions},
        headers={"Origin": "http://evil.test"},
    )
    assert forged.status_code == 403
    refused(client.post(start, data={"mode": "explode"}), 422, "mode: choose one of discuss")
    refused(client.post(start, data={"mode": "detail"}), 422, "detail needs a phase")
    refused(client.post(start, data={"mode": "plan", "phase": "nope"}), 404, "nope")
    refused(client.post("/ui/initiatives/nope/architect", data={"mode": "plan"}), 404, "nope")
    assert cw("agent", "list") == []

    said = ok(client.post(start, data={"mode": "plan", "instructions": instructions}))
    (agent,) = cw("agent", "list")
    assert f"started {agent['name']} (plan)" in said
    rows = {p["title"]: p for p in pending(space, iid, 3)}
    listed = ok(client.get(f"/ui/initiatives/{iid}/proposals"))
    assert all(f'id="proposal-{p["id"]}"' in listed for p in rows.values())
    assert f'data-agent="{agent["name"]}"' in listed and "3 pending" in listed

    # Dismiss Design: accepting Build then drops its dependency, said in one line.
    dismiss = f"/ui/proposals/{rows['Design']['id']}/dismiss"
    assert client.post(dismiss, headers={"Origin": "http://evil.test"}).status_code == 403
    assert len(pending(space, iid, 3)) == 3
    assert "dismissed &#39;Design&#39;" in ok(client.post(dismiss))
    refused(client.post(dismiss), 409, "already dismissed")
    accepted = ok(client.post(f"/ui/proposals/{rows['Build']['id']}/accept"))
    line = next(x for x in accepted.splitlines() if 'id="proposals-said"' in x)
    assert f"created phase {build}" in line and f"dropped the dependency on {design}" in line
    refused(client.post(f"/ui/proposals/{rows['Build']['id']}/accept"), 409, "already accepted")
    refused(client.post("/ui/proposals/nope/accept"), 404, "nope")
    refused(client.post("/ui/agents/nobody/proposals/accept"), 404, "nobody")

    everything = ok(client.post(f"/ui/agents/{agent['name']}/proposals/accept"))
    assert f"accepted 1 of {agent['name']}: created phase {ship}" in everything
    assert "No pending proposals" in everything
    assert "has no pending proposals" in ok(
        client.post(f"/ui/agents/{agent['name']}/proposals/accept")
    )
    assert cw("phase", "get", ship)["name"] == "Ship"
    plan = ok(client.get(f"/ui/initiatives/{iid}/plan"))
    assert f'id="phase-{ship}"' in plan and "after Build" in plan
    assert f'<option value="{ship}">Ship</option>' in ok(
        client.get(f"/ui/initiatives/{iid}/phase-options")
    )
    chosen = ok(client.get(f"/ui/initiatives/{iid}/phase-options", params={"phase": ship}))
    assert f'<option value="{ship}" selected>Ship</option>' in chosen

    # An architect waiting for an answer is shown at work, with the way to the Inbox.
    question = '```cw-fake\n{"steps": [{"ask": [{"id": "q1", "question": "Who signs in?"}]}]}\n```'
    ok(client.post(start, data={"mode": "discuss", "instructions": question}))
    deadline = time.monotonic() + 60
    while "answer in the Inbox" not in (
        panel := ok(client.get(f"/ui/initiatives/{iid}/proposals"))
    ):
        assert time.monotonic() < deadline, panel
        time.sleep(0.2)
    assert 'id="architects-working"' in panel and ">discuss<" in panel


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_plan_from_the_plan_tab_then_dismiss_one_and_accept_all_in_chromium(
    space: Workspace, coordinator: Server, context: Any
) -> None:
    """Start an architect plan from the page; its proposals appear live; dismiss one,
    accept the rest at once: the phases appear in the plan with their dependencies."""
    from playwright.sync_api import expect

    iid = space.ok("initiative", "create", "Checkout")["id"]
    instructions, design, build, ship = three_phases(space)
    page = login(context, space)
    page.goto(f"{coordinator.url}/ui/initiatives/{iid}")
    live(page)
    expect(page.locator("#proposals")).to_contain_text("No pending proposals")

    form = page.locator("#architect")
    form.get_by_label("Architect mode").select_option("plan")
    form.get_by_label("Architect instructions").fill(instructions)
    form.get_by_role("button", name="Start architect").click()
    expect(page.locator("#proposals-said")).to_contain_text("(plan)")
    proposals = page.locator("#proposals .proposal")
    expect(proposals.locator(".name")).to_have_text(["Design", "Build", "Ship"])

    page.get_by_role("button", name="Dismiss Ship").click()
    expect(proposals.locator(".name")).to_have_text(["Design", "Build"])
    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("#proposals-said")).to_contain_text("accepted 2 of")
    expect(proposals).to_have_count(0)
    expect(page.locator(f"#phase-{design} h2")).to_contain_text("Design")
    expect(page.locator(f"#phase-{build} .deps")).to_have_text("after Design")
    expect(page.locator(f"#phase-{ship}")).to_have_count(0)
    # The live re-renders that followed (plan, proposals) left the action's line in place.
    expect(page.locator("#proposals-said")).to_contain_text(f"created phase {build}")
    # The architect form offers the new phases (for detail) without a reload, and a
    # choice made there survives the plan's next change.
    choice = form.get_by_label("Architect phase")
    expect(choice.locator("option")).to_have_text(
        ["no phase (detail needs one)", "Design", "Build"]
    )
    choice.select_option(label="Build")
    space.ok("phase", "create", "--initiative", iid, "Polish")
    expect(choice.locator("option")).to_have_count(4)
    expect(choice).to_have_value(build)
