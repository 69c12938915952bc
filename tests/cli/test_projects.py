from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw


def linked_project_ids(cw: Cw, backend: str, database_url: str, initiative_id: str) -> list[str]:
    with workspace_db(cw) as db:
        return [p.id for p in db.projects.find_projects_by_initiative_id(initiative_id)]


def test_projects_are_added_listed_and_linked_to_exactly_the_given_ones(
    cw: Cw, backend: str, database_url: str
) -> None:
    api = cw.ok("project", "add", "api", "git@example.com:acme/api.git")
    assert api["default_branch"] == "main" and api["created_at"].endswith("Z")
    added = cw("project", "add", "web", "https://example.com/web.git", "--default-branch", "dev")
    assert added.code == 0 and "added project" in added.stdout and "web" in added.stdout
    listed = cw.ok("project", "list")
    assert [(p["name"], p["default_branch"]) for p in listed] == [("api", "main"), ("web", "dev")]
    web = listed[1]
    table = cw("project", "list")
    assert "api" in table.stdout and "https://example.com/web.git" in table.stdout

    initiative = cw.ok("initiative", "create", "Auth")
    linked = cw.ok("project", "link", initiative["id"], api["id"], web["id"])
    assert [p["id"] for p in linked] == [api["id"], web["id"]]
    relinked = cw("project", "link", initiative["id"], web["id"])
    assert relinked.code == 0 and "web" in relinked.stdout and "api" not in relinked.stdout
    assert linked_project_ids(cw, backend, database_url, initiative["id"]) == [web["id"]]


def test_bad_project_input_is_one_line_and_changes_nothing(
    cw: Cw, backend: str, database_url: str
) -> None:
    api = cw.ok("project", "add", "api", "git@example.com:acme/api.git")
    initiative = cw.ok("initiative", "create", "Auth", "--project", api["id"])
    assert "already exists" in cw.fails("project", "add", "api", "https://other.git").stderr
    assert "'nope'" in cw.fails("project", "link", initiative["id"], "nope").stderr
    assert "'nope'" in cw.fails("project", "link", "nope", api["id"]).stderr
    cw.fails("project", "link", initiative["id"], code=2)  # at least one project id
    assert [p["name"] for p in cw.ok("project", "list")] == ["api"]
    assert linked_project_ids(cw, backend, database_url, initiative["id"]) == [api["id"]]
