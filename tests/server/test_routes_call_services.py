"""Issue 9 item 11: the plan's routes call services; none opens a transaction itself or
reaches for the engine. Checked in the source, and by behaviour in-process on both backends.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import codewalkers.server.routes as routes_package
from codewalkers.db import Database
from codewalkers.server.app import create_app

ROUTES = Path(routes_package.__file__).parent
FORBIDDEN = {"transaction", "engine", "run"}


@pytest.mark.parametrize("module", ["tasks", "initiatives", "pages", "phases"])
def test_plan_routes_leave_transactions_to_services(module: str) -> None:
    tree = ast.parse((ROUTES / f"{module}.py").read_text(encoding="utf-8"))
    used = [
        f"db.{node.attr} (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "db"
        and node.attr in FORBIDDEN
    ]
    assert used == []


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    app = create_app(db, token="t0ken", allowed_hosts=["testserver"])
    # No `with`: the event hub's lifespan is not needed to answer requests.
    yield TestClient(app, headers={"Authorization": "Bearer t0ken"})


def test_dependency_routes_answer_404_for_an_unknown_subject(client: TestClient) -> None:
    initiative = client.post("/initiatives", json={"name": "Auth"}).json()
    task = client.post("/tasks", json={"name": "a", "initiative_id": initiative["id"]}).json()
    phase = client.post("/phases", json={"name": "p", "initiative_id": initiative["id"]}).json()
    missing = "x" * 21
    body = {"depends_on_task_id": task["id"]}
    assert client.post(f"/tasks/{missing}/dependencies", json=body).status_code == 404
    body = {"depends_on_phase_id": phase["id"]}
    assert client.post(f"/phases/{missing}/dependencies", json=body).status_code == 404
    put = client.put(f"/initiatives/{missing}/projects", json={"project_ids": []})
    assert put.status_code == 404
    assert client.post(f"/initiatives/{missing}/pages/root").status_code == 404


def test_dependency_routes_write_through_the_services_with_their_events(
    client: TestClient, db: Database
) -> None:
    initiative = client.post("/initiatives", json={"name": "Auth"}).json()
    a = client.post("/tasks", json={"name": "a", "initiative_id": initiative["id"]}).json()
    b = client.post("/tasks", json={"name": "b", "initiative_id": initiative["id"]}).json()
    added = client.post(f"/tasks/{b['id']}/dependencies", json={"depends_on_task_id": a["id"]})
    assert added.json()["added"] is True
    root = client.post(f"/initiatives/{initiative['id']}/pages/root").json()
    project = client.post("/projects", json={"name": "api", "url": "git@x:api.git"}).json()
    linked = client.put(
        f"/initiatives/{initiative['id']}/projects", json={"project_ids": [project["id"]]}
    )
    assert [p["id"] for p in linked.json()] == [project["id"]]
    types = [(e.type, e.entity_id) for e in db.events.find_after(0)]
    assert ("task:updated", b["id"]) in types
    assert ("page:created", root["id"]) in types
    assert ("project:linked", initiative["id"]) in types


def test_the_api_explains_waiting_tasks_and_guards_completion(client: TestClient) -> None:
    initiative = client.post("/initiatives", json={"name": "Auth"}).json()
    a = client.post("/tasks", json={"name": "a", "initiative_id": initiative["id"]}).json()
    b = client.post("/tasks", json={"name": "b", "initiative_id": initiative["id"]}).json()
    client.post(f"/tasks/{b['id']}/dependencies", json={"depends_on_task_id": a["id"]})
    waiting = client.get(f"/initiatives/{initiative['id']}/tasks/waiting").json()
    assert [(w["task"]["id"], w["waits_for"][0]["kind"]) for w in waiting] == [(b["id"], "task")]
    completed = {"status": "completed"}
    assert client.patch(f"/tasks/{b['id']}", json=completed).status_code == 409
    forced = client.patch(f"/tasks/{b['id']}", params={"force": "true"}, json=completed)
    assert forced.status_code == 200 and forced.json()["status"] == "completed"


def test_projects_and_accounts_are_changed_and_removed_over_the_api(client: TestClient) -> None:
    project = client.post("/projects", json={"name": "api", "url": "git@x:api.git"}).json()
    bad = client.patch(f"/projects/{project['id']}", json={"url": "not a url"})
    assert bad.status_code == 422
    renamed = client.patch(f"/projects/{project['id']}", json={"name": "api2"})
    assert renamed.json()["name"] == "api2"
    assert client.delete(f"/projects/{project['id']}").json()["deleted"] is True
    account = client.post("/accounts", json={"email": "a@example.com"}).json()
    again = client.post("/accounts", json={"email": "a@example.com"})
    assert again.status_code == 409
    moved = client.patch(f"/accounts/{account['id']}", json={"provider": "codex"})
    parked = client.post(f"/accounts/{account['id']}/exhaust", json={"until": "2099-01-01T00:00Z"})
    assert parked.json()["is_exhausted"] is True
    lifted = client.post(f"/accounts/{account['id']}/available").json()
    assert lifted["is_exhausted"] is False and lifted["exhausted_until"] is None
    assert client.post("/accounts/nope/available").status_code == 404
    assert moved.json()["provider"] == "codex"
    assert client.delete(f"/accounts/{account['id']}").status_code == 200
    assert client.get(f"/accounts/{account['id']}").status_code == 404
