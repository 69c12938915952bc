"""The HTTP API of a real server process: auth, Host checks, resources, errors."""

from __future__ import annotations

from typing import Any

import httpx

from codewalkers.db import open_database
from tests.server.conftest import Server


def test_health_is_open_and_everything_else_needs_the_token(server: Server) -> None:
    with server.client(token=None) as anonymous:
        health = anonymous.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert set(health.json()) == {"status", "uptime", "version"}
        for path in ("/initiatives", "/openapi.json", "/events", "/status", "/docs"):
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["code"] == "unauthorized"
    with server.client(token="wrong-token") as wrong:
        assert wrong.get("/initiatives").status_code == 401
    with server.client() as client:
        assert client.get("/initiatives").json() == []
        assert client.get("/openapi.json").json()["info"]["title"] == "Codewalkers"


def test_a_request_for_another_host_is_refused(server: Server) -> None:
    with server.client() as client:
        for host in (f"evil.example:{server.port}", "127.0.0.1:1", "attacker.test"):
            refused = client.get("/initiatives", headers={"Host": host})
            assert refused.status_code == 421, host
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 421
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
            assert client.get("/initiatives", headers={"Host": host}).status_code == 200
        # No CORS: a browser gets no permission to read the answers from another origin.
        answer = client.get("/initiatives", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in answer.headers


def test_the_plan_written_over_http_is_the_plan_the_cli_sees(server: Server) -> None:
    with server.client() as client:
        initiative = _created(client.post("/initiatives", json={"name": "Auth"}))
        phase = _created(
            client.post(
                "/phases",
                json={
                    "initiative_id": initiative["id"],
                    "name": "Design",
                    "content_markdown": "# Plan\n\nSome *text*.\n",
                },
            )
        )
        first = _created(client.post("/tasks", json={"name": "Sketch", "phase_id": phase["id"]}))
        second = _created(
            client.post(
                "/tasks", json={"name": "Build", "phase_id": phase["id"], "priority": "high"}
            )
        )
        added = client.post(
            f"/tasks/{second['id']}/dependencies", json={"depends_on_task_id": first["id"]}
        )
        assert added.json() == {
            "task_id": second["id"],
            "depends_on_task_id": first["id"],
            "added": True,
        }
        ready = client.get(f"/initiatives/{initiative['id']}/tasks/ready").json()
        assert [task["id"] for task in ready] == [first["id"]]
        phase_detail = client.get(f"/phases/{phase['id']}").json()
        assert phase_detail["content_markdown"].startswith("# Plan")
        tree = client.get(f"/initiatives/{initiative['id']}/tree").json()
        assert [node["task"]["name"] for node in tree["phases"][0]["tasks"]] == [
            "Sketch",
            "Build",
        ]
        done = client.patch(f"/tasks/{first['id']}", json={"status": "completed"})
        assert done.status_code == 200 and done.json()["status"] == "completed"

        page = _created(
            client.post("/pages", json={"initiative_id": initiative["id"], "title": "Notes"})
        )
        pages = client.get(f"/initiatives/{initiative['id']}/pages").json()
        assert pages[0]["children"][0]["page"]["id"] == page["id"]
        root = client.get(f"/initiatives/{initiative['id']}/pages/root").json()
        assert root["id"] == pages[0]["page"]["id"]

    task = server.workspace.ok("task", "get", second["id"])
    assert task["depends_on"] == [first["id"]]
    cli_ready = server.workspace.ok("task", "ready", "--initiative", initiative["id"])
    assert [row["id"] for row in cli_ready] == [second["id"]]
    # The API's keys and values are the CLI's --json.
    cli_initiative = server.workspace.ok("initiative", "get", initiative["id"])
    assert {**initiative, "project_ids": []} == cli_initiative


def test_errors_are_404_409_422_with_the_field_and_change_nothing(server: Server) -> None:
    with server.client() as client:
        initiative = _created(client.post("/initiatives", json={"name": "Errors"}))
        phase = _created(
            client.post("/phases", json={"initiative_id": initiative["id"], "name": "P"})
        )
        a = _created(client.post("/tasks", json={"name": "A", "phase_id": phase["id"]}))
        b = _created(client.post("/tasks", json={"name": "B", "phase_id": phase["id"]}))
        client.post(f"/tasks/{b['id']}/dependencies", json={"depends_on_task_id": a["id"]})
        _created(client.post("/projects", json={"name": "api", "url": "git@x:api.git"}))
        before = _snapshot(client, initiative["id"])

        missing = client.get("/tasks/no-such-task")
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
        assert client.patch("/phases/nope", json={"name": "x"}).status_code == 404
        assert client.delete("/initiatives/nope").status_code == 404

        duplicate = client.post("/projects", json={"name": "api", "url": "git@x:other.git"})
        assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"
        approve = client.post(f"/tasks/{a['id']}/approve")
        assert approve.status_code == 409

        cases: list[tuple[str, str, dict[str, Any], str]] = [
            (
                "post",
                "/tasks",
                {"name": "x", "phase_id": phase["id"], "priority": "urgent"},
                "priority",
            ),
            ("patch", f"/tasks/{a['id']}", {"status": "bogus"}, "status"),
            ("post", "/tasks", {"name": "x", "phase_id": phase["id"], "colour": "red"}, "colour"),
            ("post", "/phases", {"initiative_id": "nope", "name": "x"}, "initiative_id"),
            ("post", "/initiatives", {"name": ""}, "name"),
            ("post", "/initiatives", {"name": "bad\x00name"}, "name"),
            ("post", f"/tasks/{a['id']}/dependencies", {"depends_on_task_id": b["id"]}, None),
            ("post", "/tasks", {"name": "nowhere"}, None),
        ]
        for method, path, body, field in cases:
            response = client.request(method, path, json=body)
            assert response.status_code == 422, (path, body, response.text)
            assert response.json()["code"] == "validation_error"
            if field is not None:
                assert response.json()["field"] == field, (body, response.json())
        cycle = client.post(f"/tasks/{a['id']}/dependencies", json={"depends_on_task_id": b["id"]})
        assert "cycle" in cycle.json()["detail"]
        not_json = client.post(
            "/initiatives", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422
        assert _snapshot(client, initiative["id"]) == before


def test_account_credentials_are_accepted_and_never_returned(server: Server) -> None:
    with server.client() as client:
        created = client.post(
            "/accounts",
            json={"email": "me@example.com", "credentials": "s3cr3t-token", "config_json": "{}"},
        )
        assert created.status_code == 201
        account = created.json()
        assert account["has_credentials"] is True and account["has_config"] is True
        for response in (
            created,
            client.get("/accounts"),
            client.get(f"/accounts/{account['id']}"),
            client.post("/accounts/next", json={"provider": "claude"}),
            client.get("/openapi.json"),
        ):
            assert "s3cr3t-token" not in response.text
            assert '"credentials"' not in response.text or response.url.path == "/openapi.json"
        public = client.get(f"/accounts/{account['id']}").json()
        assert "credentials" not in public and "config_json" not in public
        none_left = client.post("/accounts/next", json={"provider": "codex"})
        assert none_left.status_code == 404


def test_agents_logs_conversations_and_chat(server: Server, database_url: str) -> None:
    with server.client() as client:
        initiative = _created(client.post("/initiatives", json={"name": "Agents"}))
        phase = _created(
            client.post("/phases", json={"initiative_id": initiative["id"], "name": "P"})
        )
        task = _created(client.post("/tasks", json={"name": "T", "phase_id": phase["id"]}))
    # Agents are spawned by the supervisor, not the API: write them as it would.
    db = open_database(_url(server, database_url))
    try:
        asker = db.agents.create(name="asker")
        worker = db.agents.create(name="worker", task_id=task["id"])
        db.log_chunks.insert_chunks(
            [
                {"agent_id": worker.id, "agent_name": "worker", "content": f"line {n}\n"}
                for n in range(5)
            ]
        )
    finally:
        db.close()
    with server.client() as client:
        first = client.get("/agents/worker/logs", params={"limit": 2}).json()
        assert [chunk["content"] for chunk in first] == ["line 0\n", "line 1\n"]
        rest = client.get(
            "/agents/worker/logs", params={"after_seq": first[-1]["seq"], "limit": 10}
        ).json()
        assert [chunk["content"] for chunk in rest] == ["line 2\n", "line 3\n", "line 4\n"]
        assert client.get("/agents/nobody/logs").status_code == 404

        asked = client.post(
            "/conversations",
            json={"question": "Which port?", "from_agent_id": asker.id, "task_id": task["id"]},
        )
        assert asked.status_code == 201, asked.text
        conversation = asked.json()
        assert conversation["to_agent_id"] == worker.id
        pending = client.get("/agents/worker/conversations/pending").json()
        assert [c["id"] for c in pending] == [conversation["id"]]
        answered = client.post(
            f"/conversations/{conversation['id']}/answer", json={"answer": "3847"}
        )
        assert answered.json()["status"] == "answered"
        again = client.post(f"/conversations/{conversation['id']}/answer", json={"answer": "no"})
        assert again.status_code == 409
        assert client.get("/agents/worker/conversations/pending").json() == []

        session = client.post(
            "/chat-sessions", json={"target_type": "task", "target_id": task["id"]}
        ).json()
        assert session["created"] is True
        # A message runs the session's agent (tests/chat/): here its provider has no
        # executable, so it is refused and nothing is recorded.
        sent = client.post(f"/chat-sessions/{session['id']}/messages", json={"content": "Hi"})
        assert sent.status_code == 422 and "not found" in sent.text
        client.post(f"/chat-sessions/{session['id']}/close")
        transcript = client.get(f"/chat-sessions/{session['id']}").json()
        assert transcript["status"] == "closed" and transcript["messages"] == []

        message = client.post("/messages", json={"to": "worker", "content": "Use v2"})
        assert message.status_code == 201 and message.json()["recipient_id"] == worker.id
        comment = client.post(
            f"/phases/{phase['id']}/review-comments",
            json={"file_path": "a.py", "line_number": 3, "line_type": "added", "body": "Why?"},
        )
        assert comment.status_code == 201
        resolved = client.post(f"/review-comments/{comment.json()['id']}/resolve").json()
        assert resolved["resolved"] is True


def _url(server: Server, database_url: str) -> str:
    url = server.workspace.env.get("CW_DATABASE_URL")
    return url or f"sqlite:///{server.workspace.state / 'cw.db'}"


def _created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def _snapshot(client: httpx.Client, initiative_id: str) -> Any:
    return (
        client.get(f"/initiatives/{initiative_id}/tree").json(),
        client.get("/initiatives").json(),
        client.get("/projects").json(),
    )
