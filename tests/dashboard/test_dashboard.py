"""The dashboard in a real browser against a real coordinator: login, initiatives, the
plan live over SSE, an agent's output arriving live (windowed), stop and resume, the inbox.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from codewalkers.db import open_database
from codewalkers.server.runner import stop as stop_server
from codewalkers.services.agents import record_output
from tests.agents.conftest import make_remote
from tests.dashboard.conftest import (
    live,
    login,
    login_link,
    plan_with_agent_task,
    scenario,
    wait_for,
)
from tests.server.conftest import Server, Workspace

pytestmark = pytest.mark.slow

expect: Any = None


@pytest.fixture(autouse=True)
def _expect(browser: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


def test_a_login_link_works_once_and_only_the_session_opens_the_dashboard(
    space: Workspace, coordinator: Server, context: Any, browser: Any, page_errors: list[str]
) -> None:
    """Without a session: a page saying to run `cw open`. The link signs in (HttpOnly,
    SameSite=Strict cookie) and is then used up; the cookie does not open the API, and a
    post from another origin is refused."""
    page = context.new_page()
    refused = page.goto(coordinator.url + "/ui/initiatives")
    assert refused is not None and refused.status == 401
    expect(page.locator(".error-line")).to_contain_text("cw open")

    link = login_link(space)
    page.goto(link)
    page.wait_for_url("**/ui/initiatives")
    expect(page.locator("h1")).to_have_text("Initiatives")
    (cookie,) = [c for c in context.cookies() if c["name"].startswith("cw_session_")]
    assert cookie["name"] == f"cw_session_{coordinator.port}"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"

    other = browser.new_context()
    try:
        again = other.new_page()
        second = again.goto(link)
        assert second is not None and second.status == 401
        expect(again.locator("#refused")).to_contain_text("used up")
        assert not other.cookies()
    finally:
        other.close()

    # Log out: a real form post (the browser sends Origin), the session is gone.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    expect(page.locator("#refused")).to_contain_text("Not signed in")
    assert page.goto(coordinator.url + "/ui/agents").status == 401

    page.goto(login_link(space))
    page.wait_for_url("**/ui/initiatives")
    (cookie,) = [c for c in context.cookies() if c["name"].startswith("cw_session_")]
    jar = {cookie["name"]: cookie["value"]}
    with httpx.Client(base_url=coordinator.url, cookies=jar, timeout=10) as client:
        assert client.get("/initiatives").status_code == 401  # the API still wants the token
        assert client.get("/ui/initiatives").status_code == 200
        forged = client.post(
            "/ui/initiatives", data={"name": "forged"}, headers={"Origin": "http://evil.test"}
        )
        assert forged.status_code == 403
        missing = client.post("/ui/initiatives", data={"name": "forged"})
        assert missing.status_code == 403
    assert space.ok("initiative", "list") == []

    # The health dot says when live updates are lost (the server went away).
    live(page)
    stop_server(space.state, timeout=10)
    expect(page.locator("#health")).to_have_attribute("data-state", "down")
    page.close()
    page_errors.clear()  # htmx reports the lost stream on the console, as it should


def test_an_initiative_created_in_one_tab_appears_in_another_without_reload(
    space: Workspace, coordinator: Server, context: Any
) -> None:
    """Create from the form; the second tab's cards, then its plan, follow the event stream;
    a refused create says why in one line and creates nothing."""
    first = login(context, space)
    second = context.new_page()
    second.goto(coordinator.url + "/ui/initiatives")
    expect(second.locator(".cards .empty")).to_be_visible()
    live(first)
    live(second)

    first.get_by_label("New initiative name").fill("Auth overhaul")
    first.get_by_role("button", name="Create").click()
    expect(first.locator(".card .name")).to_have_text(["Auth overhaul"])
    expect(first.get_by_label("New initiative name")).to_have_value("")
    expect(second.locator(".card .name")).to_have_text(["Auth overhaul"])
    expect(second.locator(".card .phases")).to_have_text("Phases 0/0")

    first.get_by_label("New initiative name").fill("   ")
    first.get_by_role("button", name="Create").click()
    expect(first.locator("form.create .error-line")).to_have_text(
        "name: give the initiative a name"
    )
    assert [i["name"] for i in space.ok("initiative", "list")] == ["Auth overhaul"]

    # The plan tab follows changes made elsewhere (here: the CLI).
    (initiative,) = space.ok("initiative", "list")
    second.locator(".card .name").click()
    second.wait_for_url(f"**/ui/initiatives/{initiative['id']}")
    live(second)
    expect(second.locator("#plan .empty")).to_contain_text("No plan yet")
    build = space.ok("phase", "create", "--initiative", initiative["id"], "Build")
    ship = space.ok("phase", "create", "--initiative", initiative["id"], "Ship")
    space.ok("phase", "depend", ship["id"], "--on", build["id"])
    task = space.ok("task", "create", "Write the login form", "--phase", build["id"])
    expect(second.locator(f"#task-{task['id']} .name")).to_have_text("Write the login form")
    expect(second.locator(f"#phase-{ship['id']} .deps")).to_have_text("after Build")
    space.ok("task", "status", task["id"], "completed")
    expect(second.locator(f"#task-{task['id']}")).to_have_attribute("data-status", "completed")
    # ... and the first tab's card counts it, still without a reload.
    expect(first.locator(".card .tasks")).to_have_text("Tasks 1/1 · 100%")
    expect(first.locator(".card .phases")).to_have_text("Phases 0/2")


def test_an_agents_output_appears_live_and_stop_and_resume_work(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Any
) -> None:
    remote = make_remote(tmp_path / "remote", files=1)
    _initiative, task = plan_with_agent_task(
        space,
        remote.url,
        scenario({"print": {"lines": 40, "rate": 10}}, {"hang": True}),
    )
    page = login(context, space)
    name = space.ok("agent", "spawn", "--task", task)["name"]
    page.goto(coordinator.url + f"/ui/agents/{name}")
    live(page)
    log = page.locator("#log")
    expect(log).to_contain_text("line 40 of 40", timeout=30_000)
    text = log.inner_text()
    for n in range(1, 41):
        assert len(re.findall(rf"\bline {n} of 40\b", text)) == 1, n
    ids = page.locator("#log .chunk").evaluate_all("els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))
    expect(page.locator("#agent-status")).to_have_text("running")
    # The running count in the nav is live too.
    expect(page.locator("#running-count")).to_have_text("1")

    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#agent-status")).to_have_text("stopped")
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()
    expect(page.locator("#running-count")).to_have_text("0")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#agent-status")).to_have_text("running")
    assert space.ok("agent", "get", name)["session_number"] == 2

    # The agents list filters by status.
    page.goto(coordinator.url + "/ui/agents?filter=running")
    expect(page.locator("table.agents tbody tr")).to_have_count(1)
    page.goto(coordinator.url + "/ui/agents?filter=crashed")
    expect(page.locator(".empty")).to_have_text("No crashed agents.")

    # The resumed session hangs (its scenario's last step): stop it from its page again.
    page.goto(coordinator.url + f"/ui/agents/{name}")
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#agent-status")).to_have_text("stopped")


def test_a_long_log_opens_windowed_and_pages_older_output_on_demand(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Any
) -> None:
    """600 chunks: the page loads the newest 200 and pages backwards, 200 at a time."""
    remote = make_remote(tmp_path / "remote", files=1)
    _initiative, task = plan_with_agent_task(
        space, remote.url, scenario({"print": {"lines": 600, "rate": 5000}}, {"done": "long"})
    )
    name = space.ok("agent", "spawn", "--task", task)["name"]
    wait_for(lambda: space.ok("agent", "get", name)["status"] in {"idle", "crashed"})
    with coordinator.client() as client:
        total = len(client.get(f"/agents/{name}/logs", params={"limit": 1000}).json())
    assert total > 600  # one line per chunk (max_chunk_chars), plus init and result

    page = login(context, space)
    page.goto(coordinator.url + f"/ui/agents/{name}")
    chunks = page.locator("#log .chunk")
    expect(chunks).to_have_count(200)
    expect(page.locator("#log")).to_contain_text("line 600 of 600")
    expect(page.locator("#log")).not_to_contain_text("line 1 of 600")
    expected = 200
    while page.locator("#log .older").count():
        page.locator("#log .older").click()
        expected = min(total, expected + 200)
        expect(chunks).to_have_count(expected)
    assert expected == total
    expect(page.locator("#log")).to_contain_text("line 1 of 600")
    seqs = chunks.evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(seqs) and len(set(seqs)) == total


def test_answering_a_question_in_the_inbox_resumes_the_agent(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Any
) -> None:
    remote = make_remote(tmp_path / "remote", files=1)
    _initiative, task = plan_with_agent_task(
        space,
        remote.url,
        scenario(
            {"print": 2},
            {"ask": [{"id": "q1", "question": "Which colour?"}]},
            {"print": 1},
            {"done": "Chose {answer:q1}"},
        ),
    )
    page = login(context, space)
    page.goto(coordinator.url + "/ui/inbox")
    live(page)
    expect(page.locator("#inbox .empty")).to_have_text("Nothing waits for you.")
    name = space.ok("agent", "spawn", "--task", task)["name"]

    card = page.locator(f'.question-card[data-agent="{name}"]')
    expect(card).to_contain_text("Which colour?")
    expect(page.locator("#inbox-count")).to_have_text("1")
    card.get_by_label(re.compile("Which colour")).fill("blue")
    card.get_by_role("button", name="Send answer").click()
    expect(page.locator("#inbox .empty")).to_have_text("Nothing waits for you.")
    expect(page.locator("#inbox-count")).to_have_text("0")

    page.goto(coordinator.url + f"/ui/agents/{name}")
    expect(page.locator("#agent-status")).to_have_text("idle")
    agent = space.ok("agent", "get", name)
    assert agent["session_number"] == 2
    assert space.ok("agent", "result", name)["result"]["result"] == "Chose blue"
    assert space.ok("task", "get", task)["status"] == "completed"


def test_a_100000_line_log_opens_fast_and_follows_live_within_its_window(
    space: Workspace, coordinator: Server, context: Any, backend: str, database_url: str
) -> None:
    """The page holds a window of the log, never the whole: 100,000 stored lines open as the
    newest 200 chunks; new output is appended live; past the window's size the oldest
    chunks leave the page (and can be paged back); the page stays responsive."""
    url = database_url if backend == "postgresql" else f"sqlite:///{space.state / 'cw.db'}"
    db = open_database(url)
    try:
        agent = db.agents.create(
            name="long-log", provider="claude", worktree_id="long-log", status="idle"
        )

        def line(n: int, total: int) -> str:
            text = f"line {n} of {total}"
            return json.dumps(
                {"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}}
            )

        for start in range(0, 100_000, 10_000):
            db.log_chunks.insert_chunks(
                {"agent_id": agent.id, "agent_name": agent.name, "content": line(n, 100_000)}
                for n in range(start + 1, start + 10_001)
            )

        page = login(context, space)
        started = time.monotonic()
        page.goto(coordinator.url + "/ui/agents/long-log")
        chunks = page.locator("#log .chunk")
        expect(chunks).to_have_count(200)
        expect(page.locator("#log")).to_contain_text("line 100000 of 100000")
        opened = time.monotonic() - started
        assert opened < 10, f"the page took {opened:.1f} s to open"
        live(page)

        page.evaluate("document.getElementById('log').dataset.maxChunks = '250'")
        for n in range(1, 101):
            record_output(db, agent, line(n, 100) + "\n")
        expect(page.locator("#log")).to_contain_text("line 100 of 100")
        expect(chunks).to_have_count(250)  # the window: the 50 oldest left the page
        started = time.monotonic()
        page.evaluate("1")
        assert time.monotonic() - started < 2
        expect(page.locator("#follow")).to_be_checked()
        at_bottom = page.locator("#log").evaluate(
            "el => el.scrollHeight - el.scrollTop - el.clientHeight < 40"
        )
        assert at_bottom
        first = chunks.first.get_attribute("data-seq")
        page.locator("#log .older").click()
        expect(chunks).to_have_count(450)
        assert chunks.nth(200).get_attribute("data-seq") == first
    finally:
        db.close()
