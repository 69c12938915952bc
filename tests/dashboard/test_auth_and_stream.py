"""The dashboard's parts without a browser: login tickets and sessions, the guard in front
of the pages, the stream's translation of domain events, output rendering, the package
data a wheel must carry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from codewalkers.db import Database
from codewalkers.server import create_app
from codewalkers.server.dashboard import render
from codewalkers.server.dashboard.sessions import DashboardSessions, cookie_name
from codewalkers.server.dashboard.stream import Scope, parse_sse, translate
from tests.server.conftest import Workspace

TOKEN = "test-token"
HOST = "127.0.0.1:8123"
ORIGIN = f"http://{HOST}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_ticket_opens_one_session_once_and_not_after_it_expired() -> None:
    clock = Clock()
    sessions = DashboardSessions(ticket_ttl=60, session_ttl=3600, clock=clock)
    ticket = sessions.mint_ticket().value
    session = sessions.exchange(ticket)
    assert session and sessions.valid(session)
    assert sessions.exchange(ticket) is None  # used up
    late = sessions.mint_ticket().value
    clock.now += 61
    assert sessions.exchange(late) is None
    assert sessions.exchange("") is None and sessions.exchange("made-up") is None
    assert sessions.valid(session)
    clock.now += 3600
    assert not sessions.valid(session)
    assert not sessions.valid(None) and not sessions.valid("")


def test_logging_out_ends_the_session_and_cookies_are_named_per_port() -> None:
    sessions = DashboardSessions()
    session = sessions.exchange(sessions.mint_ticket().value)
    sessions.end(session)
    assert not sessions.valid(session)
    assert cookie_name("127.0.0.1:3847") == "cw_session_3847"
    assert cookie_name("localhost:3848") == "cw_session_3848"
    assert cookie_name("[::1]:3847") == "cw_session_3847"


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    app = create_app(db, token=TOKEN, allowed_hosts=[HOST])
    with TestClient(app, base_url=f"http://{HOST}", follow_redirects=False) as test_client:
        yield test_client


def _login(client: TestClient) -> str:
    minted = client.post("/login-tickets", headers={"Authorization": f"Bearer {TOKEN}"})
    assert minted.status_code == 201, minted.text
    answer = client.get(minted.json()["path"])
    # A page that moves on by itself, not a redirect (see routes.login).
    assert answer.status_code == 200 and 'content="0;url=/ui/initiatives"' in answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    return str(client.cookies.get(cookie_name(HOST)))


def test_pages_need_the_session_and_writes_need_this_origin(
    client: TestClient, db: Database
) -> None:
    refused = client.get("/ui/initiatives")
    assert refused.status_code == 401 and "cw open" in refused.headers["x-cw-error"]
    assert client.get("/").status_code == 401
    assert client.post("/login-tickets").status_code == 401  # minting needs the token
    assert client.get("/login?ticket=made-up").status_code == 401
    assert client.get("/ui/static/dashboard.css").status_code == 200  # public assets

    _login(client)
    page = client.get("/ui/initiatives")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/initiatives").status_code == 401  # the cookie is not an API credential

    for origin in ("http://evil.test", f"http://localhost:{HOST.split(':')[1]}", None):
        headers = {"Origin": origin} if origin else {}
        answer = client.post("/ui/initiatives", data={"name": "Nope"}, headers=headers)
        assert answer.status_code == 403, origin
    created = client.post("/ui/initiatives", data={"name": "Yes"}, headers={"Origin": ORIGIN})
    assert created.status_code == 200 and "Yes" in created.text
    assert [i.name for i in db.initiatives.find_all()] == ["Yes"]

    hostile = "<img src=x onerror=alert(1)>"
    shown = client.post("/ui/initiatives", data={"name": hostile}, headers={"Origin": ORIGIN})
    assert hostile not in shown.text and "&lt;img src=x onerror=alert(1)&gt;" in shown.text
    assert hostile not in client.get("/ui/initiatives").text

    blank = client.post("/ui/initiatives", data={"name": "  "}, headers={"Origin": ORIGIN})
    assert blank.status_code == 422 and blank.json()["detail"].startswith("name:")
    assert len(db.initiatives.find_all()) == 2

    out = client.post("/ui/logout", headers={"Origin": ORIGIN})
    assert out.status_code == 303
    assert client.get("/ui/initiatives").status_code == 401


def test_actions_without_a_coordinator_say_so_in_one_line(client: TestClient, db: Database) -> None:
    _login(client)
    answer = client.post("/ui/agents/nobody/stop", headers={"Origin": ORIGIN})
    assert answer.status_code == 503
    assert "cw start" in answer.json()["detail"]
    # The Plan tab says no architect can start here, and starting one is refused.
    initiative = db.initiatives.create(name="Plan me")
    tab = client.get(f"/ui/initiatives/{initiative.id}").text
    assert "Start architect</button>" in tab and "this server runs no agents" in tab
    spawn = client.post(
        f"/ui/initiatives/{initiative.id}/architect",
        data={"mode": "plan"},
        headers={"Origin": ORIGIN},
    )
    assert spawn.status_code == 503 and "cw start" in spawn.json()["detail"]
    assert db.agents.find_all() == []
    missing = client.get("/ui/agents/nobody")
    assert missing.status_code == 404 and "There is no agent" in missing.text


def test_cw_open_without_a_server_says_to_start_one(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    space = Workspace(tmp_path, env)
    space.ok("init")
    done = space.cw("open", "--print")
    assert done.code == 1
    assert done.stderr.count("\n") == 1 and "cw start --detach" in done.stderr


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "initiative_id": None, "entity_id": None, "payload": {}, **fields}


def test_the_stream_tells_each_page_only_what_concerns_it() -> None:
    def rendered(payload: dict[str, Any]) -> str:
        return f"<div>{payload['content']}</div>"

    page = Scope(initiative_id="I1", agent_id="A1", after_chunk=5)
    names = lambda kind, **f: [  # noqa: E731
        m.split("\n")[1] for m in translate(9, kind, _event(kind, **f), page, rendered)
    ]
    assert names("task:status_changed", initiative_id="I1") == [
        "event: initiatives",
        "event: plan",
    ]
    assert names("task:status_changed", initiative_id="I2") == ["event: initiatives"]
    assert names("agent:waiting", entity_id="A1") == ["event: agents", "event: agent"]
    assert names("agent:waiting", entity_id="A2") == ["event: agents"]
    assert names("agent:output", entity_id="A2", payload={"seq": 9, "content": "x"}) == []
    assert names("agent:output", entity_id="A1", payload={"seq": 5, "content": "x"}) == []
    (message,) = translate(
        9,
        "agent:output",
        _event("agent:output", entity_id="A1", payload={"seq": 6, "content": "a\nb"}),
        page,
        lambda p: "<p>a</p>\n<p>b</p>",
    )
    assert message == "id: 9\nevent: output\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    assert parse_sse(": heartbeat\n\n") is None
    assert parse_sse('id: 3\nevent: task:created\ndata: {"seq": 3}\n\n') == (
        3,
        "task:created",
        {"seq": 3},
    )


def test_output_is_rendered_readably_and_escaped() -> None:
    line = (
        '{"type": "assistant", "message": {"content": [{"type": "text", "text": '
        '"<script>alert(1)</script> done"}]}}'
    )
    html = render.render_chunk("claude", 7, 1, line + "\nplain <b>text</b>\n")
    assert 'id="chunk-7"' in html and 'data-seq="7"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; done" in html and "<script>" not in html
    assert "plain &lt;b&gt;text&lt;/b&gt;" in html
    long = render.render_line("raw", "x" * (render.MAX_LINE_CHARS + 10))
    assert "10 more characters" in long


def test_the_package_carries_its_templates_and_pinned_assets() -> None:
    from codewalkers.server.dashboard import routes

    static = routes.STATIC_DIR
    for name in ("dashboard.js", "dashboard.css", "theme.js", "vendor/VERSIONS"):
        assert (static / name).is_file(), name
    versions = (static / "vendor" / "VERSIONS").read_text()
    for asset in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.js"):
        assert (static / "vendor" / asset).is_file() and asset in versions
    base = (Path(routes.__file__).parent / "templates" / "base.html").read_text()
    assert "htmx-{{ htmx_version }}.min.js" in base
    assert routes.templates.env.globals["htmx_version"] == "2.0.11"
