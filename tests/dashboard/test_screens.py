"""The Execution and Review tabs, Settings and the command palette in a real Chromium
against a real coordinator (``cw start --detach``, the shipped fake agent, a bare git
remote). SQLite only: browser tests are slow; ``test_screens_http.py`` drives the same
routes over HTTP on both engines.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from codewalkers.agents.git import run_git
from tests.agents.conftest import make_remote
from tests.dashboard.conftest import live, login, wait_for
from tests.server.conftest import Server, Workspace

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"])]

expect: Any = None


@pytest.fixture(autouse=True)
def _expect(browser: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


def steps(*found: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(found)}) + "\n```"


def writes(path: str, content: str, *before: object) -> str:
    return steps(
        *before,
        {"write": {"path": path, "content": content}},
        {"commit": f"Add {path}"},
        {"done": f"wrote {path}"},
    )


def test_execute_then_review_a_phase_line_by_line_then_merge_the_initiative(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Any
) -> None:
    """Execution tab: queue the phase, execute; tasks go live from pending to in progress
    (with their agent) to completed without a reload; a checkpoint is completed from the
    page. Review tab: comment on a line, reply, request changes (a review task runs and the
    phase waits for review again), resolve, approve, merge: the remote has the work."""
    remote = make_remote(tmp_path / "remote", files=1)
    cw = space.ok
    project = cw("project", "add", "app", remote.url)
    initiative = cw(
        "initiative", "create", "Palette", "--project", project["id"], "--merge-approval"
    )
    iid = initiative["id"]
    build = cw("phase", "create", "--initiative", iid, "Build")
    ship = cw("phase", "create", "--initiative", iid, "Ship")
    cw("phase", "depend", ship["id"], "--on", build["id"])
    colours = cw(
        "task",
        "create",
        "Write colours",
        "--phase",
        build["id"],
        "--description",
        writes(
            "colours.txt",
            "red\ngreen\nblue\n",
            {"ask": [{"id": "q1", "question": "Which shade?"}]},
        ),
    )["id"]
    verify = cw(
        "task", "create", "Eyeball it", "--phase", build["id"], "--type", "checkpoint:human-verify"
    )["id"]
    sizes = cw(
        "task",
        "create",
        "Write sizes",
        "--phase",
        build["id"],
        "--description",
        writes("sizes.txt", "s\nm\nl\n"),
    )["id"]
    cw("task", "depend", sizes, "--on", verify)

    page = login(context, space)
    page.goto(coordinator.url + f"/ui/initiatives/{iid}/execution")
    live(page)
    # Columns are dependency levels: Ship waits for Build.
    expect(page.locator('.column[data-level="0"] .pcard h2')).to_have_text(["Build"])
    expect(page.locator('.column[data-level="1"] .pcard h2')).to_have_text(["Ship"])
    expect(page.locator("#execution-state")).to_have_text("not executing")
    row = page.locator(f"#task-{colours}")
    expect(row).to_have_attribute("data-status", "pending")

    # Queue the phase (approve it), then execute: the first task goes live.
    for phase in (build, ship):
        page.locator(f"#phase-{phase['id']}").get_by_role("button", name="Queue phase").click()
        expect(page.locator(f"#phase-{phase['id']}")).to_have_attribute("data-status", "approved")
    page.get_by_role("button", name="Execute").click()
    expect(page.locator("#execution-state")).to_have_text("running")
    expect(row).to_have_attribute("data-status", "in_progress")
    agent = row.locator(".agent-link a")
    expect(agent).to_have_count(1)
    expect(row.locator(".agent-link .status")).to_have_text("waiting for input")
    name = agent.inner_text()
    cw("agent", "answer", name, "crimson")  # elsewhere (the CLI): the page follows
    expect(row).to_have_attribute("data-status", "completed")
    expect(page.locator(f"#task-{sizes}")).to_have_attribute("data-status", "pending")

    # The checkpoint waits for a person; completing it lets its dependent run.
    checkpoint = page.locator(f"#task-{verify}")
    checkpoint.get_by_label("Summary for Eyeball it").fill("looks right")
    checkpoint.get_by_role("button", name="Complete").click()
    expect(checkpoint).to_have_attribute("data-status", "completed")
    expect(page.locator(f"#task-{sizes}")).to_have_attribute("data-status", "completed")
    expect(page.locator(f"#phase-{build['id']}")).to_have_attribute("data-status", "pending_review")
    assert cw("task", "get", verify)["summary"] == "looks right"

    # Pause and execute again: refused actions say why; state changes show at once.
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#execution-state")).to_have_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#execution-state")).to_have_text("running")

    # Review: the phase's diff, a thread on one line.
    page.locator(f"#phase-{build['id']}").get_by_role("link", name="Review →").click()
    page.wait_for_url(f"**/ui/initiatives/{iid}/review?phase={build['id']}")
    live(page)
    expect(page.locator("#review-phase-status")).to_have_text("pending review")
    expect(page.locator(".file-tree li")).to_have_count(2)
    green = page.locator('section.file[data-path="colours.txt"] tr.ln', has_text="green")
    green.get_by_role("button", name=re.compile("Comment on colours.txt line 2")).click()
    page.get_by_label("New comment on colours.txt line 2").fill("Make it teal")
    page.get_by_role("button", name="Comment", exact=True).click()
    thread = page.locator(".thread")
    expect(thread.locator(".comment .body")).to_have_text(["Make it teal"])
    expect(page.locator("#open-threads")).to_have_text("1 unresolved")
    thread.get_by_label("Reply on colours.txt line 2").fill("and darker")
    thread.get_by_role("button", name="Reply").click()
    expect(thread.locator(".comment .body")).to_have_text(["Make it teal", "and darker"])
    expect(page.locator("#open-threads")).to_have_text("1 unresolved")  # one thread
    # The split view shows the same thread beside the added line.
    page.get_by_role("link", name="Split").click()
    expect(page.locator("table.diff.split .thread .comment")).to_have_count(2)
    page.get_by_role("link", name="Unified").click()

    page.get_by_label("Changes summary").fill("Teal, please")
    page.get_by_role("button", name="Request changes").first.click()
    expect(page.locator("#review-message")).to_contain_text("changes requested")
    review_task = next(
        t for t in cw("task", "list", "--initiative", iid) if t["category"] == "review"
    )
    assert (
        "Make it teal" in review_task["description"]
        and "Teal, please" in review_task["description"]
    )
    # The review task runs (the fake agent's default: a file named after it), then the
    # phase waits for review again: the page follows without a reload.
    expect(page.locator("#review-phase-status")).to_have_text("pending review", timeout=60_000)
    expect(page.locator(".file-tree li")).to_have_count(3)

    page.locator(".thread").get_by_role("button", name="Resolve").click()
    expect(page.locator(".thread")).to_have_attribute("data-resolved", "true")
    expect(page.locator("#open-threads")).to_have_text("0 unresolved")
    # Nothing left to ask for: refused in one line, nothing changes.
    page.get_by_role("button", name="Request changes").first.click()
    expect(page.locator(".review-actions .error-line").first).to_have_text(
        "nothing to change: give a summary or leave review comments first"
    )
    assert cw("phase", "get", build["id"])["status"] == "pending_review"

    page.get_by_role("button", name="Approve & merge phase").click()
    expect(page.locator("#review-message")).to_contain_text("approved")
    expect(page.locator("#review-phase-status")).to_have_text("completed")
    # Ship (no tasks) starts after Build and waits for review with nothing to review.
    page.locator(".phase-pills").get_by_role("link", name=re.compile("^Ship")).click()
    live(page)
    # The coordinator's next rounds start it and, with nothing to run, hold it for review:
    # as long to wait as for the review task above on a loaded machine.
    expect(page.locator("#review-phase-status")).to_have_text("pending review", timeout=60_000)
    expect(page.locator("#review-body .empty")).to_have_text("No changes to review.")
    page.get_by_role("button", name="Approve & merge phase").click()
    expect(page.locator("#review-phase-status")).to_have_text("completed")
    expect(page.locator("#review-initiative-status")).to_have_text("pending review")
    page.get_by_role("button", name="Merge & push").click()
    expect(page.locator("#review-message")).to_contain_text("merged and pushed: app at")
    expect(page.locator("#review-initiative-status")).to_have_text("completed")
    files = run_git(["ls-tree", "-r", "--name-only", "main"], remote.path).split()
    assert {"colours.txt", "sizes.txt"} <= set(files)


def test_settings_add_an_account_whose_secret_never_reaches_the_page_and_sync_a_project(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Any
) -> None:
    remote = make_remote(tmp_path / "remote", files=1)
    page = login(context, space)
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url("**/ui/settings")
    live(page)
    expect(page.locator('[data-fact="version"]')).not_to_be_empty()
    expect(page.locator('[data-fact="coordinator"]')).to_have_text(
        "runs agents and executes initiatives"
    )
    expect(page.locator("#workspace")).to_contain_text("max_agents")
    expect(page.locator("#accounts .empty")).to_be_visible()

    secret = "sk-ant-SECRET-7f3a9c"
    page.get_by_label("Account email").fill("ada@example.com")
    page.get_by_label("Account credentials").fill(json.dumps({"token": secret}))
    page.get_by_role("button", name="Add account").click()
    added = page.locator('tr[data-account="ada@example.com"]')
    expect(added.locator(".secrets")).to_have_text("credentials set · config not set")
    expect(added).to_contain_text("available")
    expect(page.get_by_label("Account credentials")).to_have_value("")
    assert secret not in page.content()
    page.reload()
    assert secret not in page.content()

    # The same email again: refused in one line, nothing added.
    page.get_by_label("Account email").fill("ada@example.com")
    page.get_by_role("button", name="Add account").click()
    expect(page.locator("#accounts-section form .error-line")).to_contain_text("ada@example.com")
    assert len(space.ok("account", "list")) == 1

    # An account exhausted elsewhere shows when it comes back, live.
    (account,) = space.ok("account", "list")
    space.ok("account", "exhaust", account["id"], "--until", "2099-01-01T10:00:00Z")
    expect(added).to_contain_text("exhausted until 2099-01-01 10:00 UTC")

    page.get_by_label("Project name").fill("app")
    page.get_by_label("Project URL").fill(remote.url)
    page.get_by_role("button", name="Add project").click()
    project = page.locator('tr[data-project="app"]')
    expect(project.locator(".fetched")).to_have_text("never")
    project.get_by_role("button", name="Sync").click()
    expect(project.locator(".fetched time")).to_have_count(1)
    assert space.ok("project", "list")[0]["last_fetched_at"]


def test_the_command_palette_jumps_to_anything_and_runs_its_action(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Any
) -> None:
    cw = space.ok
    remote = make_remote(tmp_path / "remote", files=1)
    project = cw("project", "add", "app", remote.url)
    initiative = cw("initiative", "create", "Billing", "--project", project["id"])
    phase = cw("phase", "create", "--initiative", initiative["id"], "Invoices")
    task = cw(
        "task",
        "create",
        "Sign off invoices",
        "--phase",
        phase["id"],
        "--type",
        "checkpoint:decision",
    )
    page = login(context, space)
    live(page)

    page.keyboard.press("Control+k")
    dialog = page.locator("#palette")
    expect(dialog).to_be_visible()
    expect(page.locator("#palette-input")).to_be_focused()
    page.keyboard.type("sign off")
    expect(dialog.locator(".palette-item .pl")).to_have_text(["Sign off invoices"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/initiatives/{initiative['id']}/execution#task-{task['id']}")
    expect(page.locator(f"#task-{task['id']}")).to_be_visible()

    # Run an action from the palette: execute the initiative, then complete the checkpoint.
    page.keyboard.press("Control+k")
    page.keyboard.type("billing")
    item = dialog.locator('.palette-item[data-kind="initiative"]')
    expect(item.locator(".pl")).to_have_text("Billing")
    item.get_by_role("button", name="Execute Billing").click()
    expect(page.locator("#palette-status")).to_have_text('executing "Billing"')
    assert (
        cw("dispatch", "status", "--initiative", initiative["id"])["initiatives"][0]["execution"]
        == "running"
    )
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#execution-state")).to_have_text("running")  # live, behind it

    page.locator("[data-open-palette]").click()
    page.locator("#palette-input").fill("sign off")
    page.get_by_role("button", name="Complete Sign off invoices").click()
    expect(page.locator("#palette-status")).to_have_text('completed "Sign off invoices"')
    # Done: the palette no longer offers it.
    page.locator("#palette-input").fill("sign off ")
    expect(dialog.locator(".palette-item .facts")).to_contain_text("completed")
    expect(dialog.get_by_role("button", name="Complete Sign off invoices")).to_have_count(0)
    wait_for(lambda: cw("task", "get", task["id"])["status"] == "completed")
    page.locator("#palette-input").press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#task-{task['id']}")).to_have_attribute("data-status", "completed")

    # Agents and screens are there too; the arrow keys move through the results.
    page.keyboard.press("Control+k")
    page.locator("#palette-input").fill("settings")
    expect(dialog.locator(".palette-item .pl")).to_have_text(["Settings"])
    page.keyboard.press("ArrowDown")
    expect(dialog.locator("a[data-palette-item]").first).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/settings")
