"""Projects (git repositories) and their links to initiatives (seed: ``projects``,
``initiative_projects``, ``ProjectRepository`` + setInitiativeProjects (diff-based),
findProjectsByInitiativeId)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    ConflictError,
    Database,
    NotFoundError,
    ReferenceNotFoundError,
    ValidationError,
)
from codewalkers.db.schema import initiative_projects
from tests.factories import make_initiative, make_project


def links(db: Database, initiative_id: str | None = None) -> dict[str, Any]:
    """The initiative_projects rows (of one initiative, or all), by project id."""
    statement = sa.select(initiative_projects)
    if initiative_id is not None:
        statement = statement.where(initiative_projects.c.initiative_id == initiative_id)
    with db.engine.connect() as connection:
        return {row.project_id: row for row in connection.execute(statement)}


def all_links(db: Database) -> set[tuple[str, str, str]]:
    with db.engine.connect() as connection:
        return {
            (row.id, row.initiative_id, row.project_id)
            for row in connection.execute(sa.select(initiative_projects))
        }


@pytest.fixture
def frozen_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write the database layer makes happens within the same wall-clock millisecond."""
    fixed = 1_750_000_000_000 * 1_000_000
    monkeypatch.setattr("codewalkers.db.types.time", SimpleNamespace(time_ns=lambda: fixed))


# --- standard CRUD ------------------------------------------------------------------------


def test_a_project_is_created_with_default_branch_main(db: Database) -> None:
    project = db.projects.create(name="api", url="https://git.example.com/api.git")

    assert len(project.id) == 21
    assert project.name == "api"
    assert project.url == "https://git.example.com/api.git"
    assert project.default_branch == "main"
    assert project.last_fetched_at is None
    assert project.created_at.tzinfo is not None
    assert project.updated_at == project.created_at
    assert db.projects.find_by_id(project.id) == project


def test_a_project_may_name_its_default_branch(db: Database) -> None:
    assert make_project(db, default_branch="develop").default_branch == "develop"


def test_a_project_needs_a_name_and_a_url(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.projects.create(url="https://git.example.com/x.git")
    with pytest.raises(ValidationError):
        db.projects.create(name="x")
    with pytest.raises(ValidationError):
        db.projects.create(name="", url="https://git.example.com/x.git")

    assert db.projects.find_all() == []


def test_find_by_id_of_an_unknown_project_is_none(db: Database) -> None:
    assert db.projects.find_by_id("no-such-project") is None


def test_find_all_lists_every_project_oldest_first(db: Database) -> None:
    made = [make_project(db) for _ in range(3)]

    assert db.projects.find_all() == made


def test_update_records_the_last_fetch(db: Database) -> None:
    project = make_project(db)
    fetched = datetime(2025, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)

    updated = db.projects.update(project.id, last_fetched_at=fetched, default_branch="trunk")

    assert updated.last_fetched_at == fetched
    assert updated.default_branch == "trunk"
    assert updated.updated_at > project.updated_at
    assert db.projects.find_by_id(project.id) == updated


def test_last_fetched_at_must_be_timezone_aware(db: Database) -> None:
    project = make_project(db)

    with pytest.raises(ValidationError):
        db.projects.update(project.id, last_fetched_at=datetime(2025, 1, 1))

    assert db.projects.find_by_id(project.id) == project


def test_update_of_an_unknown_project_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.projects.update("no-such-project", name="x")


def test_delete_removes_the_project(db: Database) -> None:
    project = make_project(db)

    db.projects.delete(project.id)

    assert db.projects.find_by_id(project.id) is None


def test_delete_of_an_unknown_project_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.projects.delete("no-such-project")


# --- unique name and url ------------------------------------------------------------------


def test_a_project_name_is_unique(db: Database) -> None:
    existing = make_project(db, name="api")

    with pytest.raises(ConflictError):
        make_project(db, name="api")

    assert db.projects.find_all() == [existing]


def test_a_project_url_is_unique(db: Database) -> None:
    existing = make_project(db, url="https://git.example.com/api.git")

    with pytest.raises(ConflictError):
        make_project(db, url="https://git.example.com/api.git")

    assert db.projects.find_all() == [existing]


def test_renaming_a_project_to_a_taken_name_is_a_conflict(db: Database) -> None:
    make_project(db, name="api")
    other = make_project(db, name="web")

    with pytest.raises(ConflictError):
        db.projects.update(other.id, name="api")

    assert db.projects.find_by_id(other.id) == other


def test_moving_a_project_to_a_taken_url_is_a_conflict(db: Database) -> None:
    taken = make_project(db)
    other = make_project(db)

    with pytest.raises(ConflictError):
        db.projects.update(other.id, url=taken.url)

    assert db.projects.find_by_id(other.id) == other


def test_the_database_itself_enforces_unique_name_and_url(db: Database) -> None:
    existing = make_project(db)
    row = {"default_branch": "main", "created_at": 0, "updated_at": 0}

    for clash in ({"name": existing.name, "url": "u"}, {"name": "n", "url": existing.url}):
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO projects (id, name, url, default_branch, created_at, updated_at) "
                    "VALUES (:id, :name, :url, :default_branch, :created_at, :updated_at)"
                ),
                {"id": "x" * 21, **row, **clash},
            )

    assert db.projects.find_all() == [existing]


# --- find by name / url -------------------------------------------------------------------


def test_find_by_name(db: Database) -> None:
    project = make_project(db, name="api")
    make_project(db, name="web")

    assert db.projects.find_by_name("api") == project
    assert db.projects.find_by_name("API") is None
    assert db.projects.find_by_name("nope") is None


def test_find_by_url(db: Database) -> None:
    project = make_project(db, url="https://git.example.com/api.git")
    make_project(db)

    assert db.projects.find_by_url("https://git.example.com/api.git") == project
    assert db.projects.find_by_url("https://git.example.com/nope.git") is None


# --- initiative links ---------------------------------------------------------------------


def test_set_initiative_projects_links_the_projects(db: Database) -> None:
    initiative = make_initiative(db)
    api, web = make_project(db), make_project(db)

    db.projects.set_initiative_projects(initiative.id, [api.id, web.id])

    assert db.projects.find_projects_by_initiative_id(initiative.id) == [api, web]
    assert set(links(db, initiative.id)) == {api.id, web.id}


def test_find_projects_by_initiative_id_without_links_is_empty(db: Database) -> None:
    make_project(db)

    assert db.projects.find_projects_by_initiative_id(make_initiative(db).id) == []


def test_set_initiative_projects_is_diff_based(db: Database) -> None:
    initiative = make_initiative(db)
    kept, removed, added = make_project(db), make_project(db), make_project(db)
    db.projects.set_initiative_projects(initiative.id, [kept.id, removed.id])
    before = links(db, initiative.id)

    db.projects.set_initiative_projects(initiative.id, [kept.id, added.id])

    after = links(db, initiative.id)
    assert set(after) == {kept.id, added.id}
    # The link that stays is the same row: same id, same creation time.
    assert after[kept.id].id == before[kept.id].id
    assert after[kept.id].created_at == before[kept.id].created_at
    assert after[added.id].id not in {row.id for row in before.values()}


def test_setting_the_same_projects_again_changes_no_row(db: Database) -> None:
    initiative = make_initiative(db)
    api, web = make_project(db), make_project(db)
    db.projects.set_initiative_projects(initiative.id, [api.id, web.id])
    before = all_links(db)

    db.projects.set_initiative_projects(initiative.id, [web.id, api.id])

    assert all_links(db) == before


def test_duplicates_in_the_project_list_are_linked_once(db: Database) -> None:
    initiative = make_initiative(db)
    api, web = make_project(db), make_project(db)

    db.projects.set_initiative_projects(initiative.id, [api.id, web.id, api.id, api.id])

    assert db.projects.find_projects_by_initiative_id(initiative.id) == [api, web]
    assert len(all_links(db)) == 2


def test_an_empty_list_removes_every_link(db: Database) -> None:
    initiative = make_initiative(db)
    api = make_project(db)
    db.projects.set_initiative_projects(initiative.id, [api.id])

    db.projects.set_initiative_projects(initiative.id, [])

    assert db.projects.find_projects_by_initiative_id(initiative.id) == []
    assert all_links(db) == set()
    assert db.projects.find_by_id(api.id) == api


def test_set_initiative_projects_leaves_other_initiatives_alone(db: Database) -> None:
    mine, theirs = make_initiative(db), make_initiative(db)
    api, web = make_project(db), make_project(db)
    db.projects.set_initiative_projects(theirs.id, [api.id, web.id])
    before = links(db, theirs.id)

    db.projects.set_initiative_projects(mine.id, [api.id])
    db.projects.set_initiative_projects(mine.id, [])

    assert links(db, theirs.id) == before


def test_an_unknown_project_links_nothing_and_changes_nothing(db: Database) -> None:
    initiative = make_initiative(db)
    api, web, new = make_project(db), make_project(db), make_project(db)
    db.projects.set_initiative_projects(initiative.id, [api.id, web.id])
    before = all_links(db)

    with pytest.raises(ReferenceNotFoundError):
        # Would remove web and add new, but one id is unknown: nothing happens.
        db.projects.set_initiative_projects(initiative.id, [api.id, new.id, "no-such-project"])

    assert all_links(db) == before


def test_an_unknown_initiative_is_refused(db: Database) -> None:
    api = make_project(db)

    with pytest.raises(ReferenceNotFoundError):
        db.projects.set_initiative_projects("no-such-initiative", [api.id])

    assert all_links(db) == set()


def test_project_ids_must_be_a_list_not_a_string(db: Database) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ValidationError):
        db.projects.set_initiative_projects(initiative.id, "abc")


def test_linked_projects_come_back_in_the_order_they_were_linked(
    db: Database, frozen_wall_clock: None
) -> None:
    initiative = make_initiative(db)
    first = [make_project(db, name=f"z{n}") for n in range(5)]
    later = make_project(db, name="a")
    db.projects.set_initiative_projects(initiative.id, [p.id for p in first])

    db.projects.set_initiative_projects(initiative.id, [*(p.id for p in first), later.id])

    assert db.projects.find_projects_by_initiative_id(initiative.id) == [*first, later]


def test_the_database_itself_refuses_a_duplicate_link(db: Database) -> None:
    initiative = make_initiative(db)
    api = make_project(db)
    db.projects.set_initiative_projects(initiative.id, [api.id])

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.insert(initiative_projects).values(
                id="x" * 21, initiative_id=initiative.id, project_id=api.id, created_at=0
            )
        )

    assert len(all_links(db)) == 1


def test_find_initiative_ids_by_project_id(db: Database) -> None:
    one, two, unrelated = make_initiative(db), make_initiative(db), make_initiative(db)
    api, web = make_project(db), make_project(db)
    db.projects.set_initiative_projects(one.id, [api.id])
    db.projects.set_initiative_projects(two.id, [api.id, web.id])
    db.projects.set_initiative_projects(unrelated.id, [web.id])

    assert db.projects.find_initiative_ids_by_project_id(api.id) == [one.id, two.id]
    assert db.projects.find_initiative_ids_by_project_id(make_project(db).id) == []


# --- cascades -----------------------------------------------------------------------------


def test_deleting_a_project_deletes_its_links(db: Database) -> None:
    one, two = make_initiative(db), make_initiative(db)
    api, web = make_project(db), make_project(db)
    db.projects.set_initiative_projects(one.id, [api.id, web.id])
    db.projects.set_initiative_projects(two.id, [api.id])

    db.projects.delete(api.id)

    assert {(i, p) for _, i, p in all_links(db)} == {(one.id, web.id)}
    assert db.projects.find_projects_by_initiative_id(one.id) == [web]
    assert db.initiatives.find_by_id(two.id) == two


def test_deleting_an_initiative_deletes_its_links_but_not_the_projects(db: Database) -> None:
    doomed, other = make_initiative(db), make_initiative(db)
    api, web = make_project(db), make_project(db)
    db.projects.set_initiative_projects(doomed.id, [api.id, web.id])
    db.projects.set_initiative_projects(other.id, [web.id])

    db.initiatives.delete(doomed.id)

    assert {(i, p) for _, i, p in all_links(db)} == {(other.id, web.id)}
    assert db.projects.find_initiative_ids_by_project_id(api.id) == []
    assert db.projects.find_all() == [api, web]
