"""Issue 15, "Input and ergonomics": names and URLs are checked, emails are unique per
provider, ids may be shortened, and the human output stays readable in 80 columns.
"""

from __future__ import annotations

import pytest

from codewalkers.services.inputs import NAME_LIMIT
from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw


def test_names_are_one_line_within_the_limit(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "x" * NAME_LIMIT)["id"]
    newline = cw.fails("task", "create", "two\nlines", "--initiative", initiative).stderr
    assert "newline" in newline
    assert "control character" in cw.fails("initiative", "create", "bell\x07").stderr
    too_long = cw.fails("phase", "create", "y" * (NAME_LIMIT + 1), "--initiative", initiative)
    assert f"limit is {NAME_LIMIT}" in too_long.stderr
    assert "newline" in cw.fails("initiative", "update", initiative, "--name", "a\nb").stderr
    assert cw.ok("task", "list", "--initiative", initiative) == []
    assert cw.ok("phase", "list", "--initiative", initiative) == []


def test_project_urls_must_be_something_git_can_clone(cw: Cw) -> None:
    refused = cw.fails("project", "add", "api", "not a url").stderr
    assert "is not a git URL" in refused
    assert "is not a git URL" in cw.fails("project", "add", "api", "/no/such/repo").stderr
    repo = cw.root / "repo"
    repo.mkdir()
    local = cw.ok("project", "add", "local", "repo")  # relative to where cw runs
    assert local["url"] == str(repo.resolve())
    assert cw.ok("project", "add", "file", f"file://{repo}")["url"] == f"file://{repo}"
    assert cw.ok("project", "add", "scp", "git@example.com:acme/api.git")["name"] == "scp"
    project = cw.ok("project", "add", "web", "https://example.com/web.git")["id"]
    assert "is not a git URL" in cw.fails("project", "update", project, "--url", "ftp:x").stderr


def test_the_same_email_twice_for_one_provider_is_refused(cw: Cw) -> None:
    cw.ok("account", "add", "a@example.com")
    refused = cw.fails("account", "add", "a@example.com", "--provider", "claude").stderr
    assert "already has an account 'a@example.com'" in refused
    assert cw.ok("account", "add", "a@example.com", "--provider", "codex")["provider"] == "codex"
    assert len(cw.ok("account", "list")) == 2


def test_ids_accept_a_unique_prefix_and_an_ambiguous_one_lists_candidates(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    with workspace_db(cw) as db:
        db.tasks.create(id="abcdEFGHijklMNOPqrst1", name="First", initiative_id=initiative)
        db.tasks.create(id="abcdXYZHijklMNOPqrst2", name="Second", initiative_id=initiative)
    assert cw.ok("task", "get", "abcdE")["name"] == "First"
    done = cw("task", "status", "abcdX", "in_progress")
    assert done.code == 0 and 'task "Second" (abcdXYZHijklMNOPqrst2) is in_progress' in done.stdout
    ambiguous = cw.fails("task", "get", "abcd").stderr
    assert "ambiguous" in ambiguous and "abcdEFGHijklMNOPqrst1 'First'" in ambiguous
    assert "abcdXYZHijklMNOPqrst2 'Second'" in ambiguous
    assert "not found" in cw.fails("task", "get", "zzzz").stderr
    assert cw.ok("initiative", "get", initiative[:5])["id"] == initiative
    phase = cw.ok("phase", "create", "Design", "--initiative", initiative[:6])
    assert phase["initiative_id"] == initiative


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # no database involved
def test_version_and_help_without_odd_placeholders(cw: Cw) -> None:
    version = cw("--version")
    assert version.code == 0 and version.stdout.startswith("cw ")
    for command in (["task", "update"], ["initiative", "update"], ["project", "link"]):
        shown = cw(*command, "--help")
        assert shown.code == 0
        assert "<bool>" not in shown.stdout and "<str>" not in shown.stdout
        assert "{ID}" not in shown.stdout and "{INITIATIVE_ID}" not in shown.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_human_tables_fit_80_columns_and_json_keeps_everything(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")["id"]
    long_name = "A task name long enough that no eighty column table could hold it whole " * 2
    task = cw.ok("task", "create", long_name.strip(), "--initiative", initiative)
    table = cw("task", "list", "--initiative", initiative).stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "…" in table and task["id"][:8] in table and task["id"] not in table
    listed = cw.ok("task", "list", "--initiative", initiative)
    assert listed[0]["name"] == long_name.strip() and listed[0]["id"] == task["id"]
    cw.ok("account", "add", "someone.with.a.rather.long.address@example.com")
    accounts = cw("account", "list").stdout
    assert max(len(line) for line in accounts.splitlines()) <= 80
