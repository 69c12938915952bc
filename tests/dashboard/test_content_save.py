"""The Content tab's save route without a browser (both engines): the editor's Tiptap JSON
saved through the session, the content version that keeps a change made elsewhere from
being overwritten, refused input; and the committed editor bundle."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from codewalkers.content import markdown_to_tiptap, tiptap_to_markdown
from codewalkers.db import Database
from codewalkers.server import create_app
from codewalkers.server.dashboard.stream import Scope, translate
from codewalkers.services import pages
from codewalkers.services.plan import create_initiative
from tests.dashboard.test_auth_and_stream import HOST, ORIGIN, TOKEN, _login

DASHBOARD = Path(pages.__file__).parents[1] / "server" / "dashboard"
ISLAND = DASHBOARD / "islands" / "editor"
BUNDLE = DASHBOARD / "static" / "islands" / "editor.js"


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    app = create_app(db, token=TOKEN, allowed_hosts=[HOST])
    with TestClient(app, base_url=f"http://{HOST}", follow_redirects=False) as test_client:
        _login(test_client)
        yield test_client


def doc_of(markdown: str) -> dict[str, Any]:
    return markdown_to_tiptap(markdown)


def save(client: TestClient, page_id: str, body: Any, origin: str | None = ORIGIN) -> Any:
    headers = {"Content-Type": "application/json"}
    if origin is not None:
        headers["Origin"] = origin
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(f"/ui/pages/{page_id}/content", content=content, headers=headers)


def page_events(db: Database, page_id: str) -> list[str]:
    return [e.type for e in db.events.find_after(0) if e.entity_id == page_id]


def test_the_editor_saves_tiptap_json_against_the_version_it_loaded(
    client: TestClient, db: Database
) -> None:
    initiative = create_initiative(db, "Docs")
    page = pages.create_page(db, initiative.id, "Spec", "First draft\n")
    loaded = client.get(f"/ui/pages/{page.id}/content").json()
    assert loaded["doc"] == page.content and loaded["title"] == "Spec"
    base = loaded["version"]
    assert base == pages.content_version(page.content)

    # Saved: stored as its Markdown reads back, an event for the other tabs.
    edited = doc_of("First draft, *edited*\n")
    edited["content"][0]["content"][1]["marks"][0]["attrs"] = {"unknown": "dropped"}
    answer = save(client, page.id, {"doc": edited, "base": base})
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] is True
    stored = db.pages.find_by_id(page.id)
    assert stored is not None
    assert tiptap_to_markdown(stored.content) == "First draft, *edited*\n"
    assert stored.content == doc_of("First draft, *edited*\n")
    assert answer.json()["version"] == pages.content_version(stored.content) != base
    assert page_events(db, page.id) == ["page:created", "page:updated"]

    # The same document again: nothing written, no event.
    again = save(client, page.id, {"doc": edited, "base": answer.json()["version"]})
    assert again.status_code == 200 and again.json()["changed"] is False
    assert page_events(db, page.id) == ["page:created", "page:updated"]

    # A rename elsewhere is no conflict for the text.
    pages.update_page(db, page.id, title="Specification")
    text_only = save(client, page.id, {"doc": doc_of("Third\n"), "base": answer.json()["version"]})
    assert text_only.status_code == 200, text_only.text

    # Changed elsewhere since the editor's version: 409, nothing saved, the reason says so.
    pages.update_page(db, page.id, markdown="From the CLI\n")
    stale = save(client, page.id, {"doc": doc_of("Mine\n"), "base": text_only.json()["version"]})
    assert stale.status_code == 409
    assert "changed elsewhere" in stale.json()["detail"]
    assert "nothing saved" in stale.json()["detail"]
    current = db.pages.find_by_id(page.id)
    assert current is not None and tiptap_to_markdown(current.content) == "From the CLI\n"
    assert stale.json()["version"] == pages.content_version(current.content)

    # The person chose to overwrite.
    forced = save(client, page.id, {"doc": doc_of("Mine\n"), "base": "stale", "force": True})
    assert forced.status_code == 200
    current = db.pages.find_by_id(page.id)
    assert current is not None and tiptap_to_markdown(current.content) == "Mine\n"


UNDERLINED = {
    "type": "doc",
    "content": [
        {
            "type": "paragraph",
            "content": [{"type": "text", "text": "u", "marks": [{"type": "underline"}]}],
        }
    ],
}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 422, "body: not JSON"),
        ({"base": "x"}, 422, "body: expected"),
        ({"doc": {"type": "paragraph"}}, 422, "content: not a Tiptap document"),
        (
            {"doc": {"type": "doc", "content": [{"type": "video"}]}},
            422,
            "content: doc > video[0]: unknown node type 'video'",
        ),
        ({"doc": UNDERLINED}, 422, "content: doc > paragraph[0] > text[0]: unknown mark"),
        ({"doc": {"type": "doc"}, "base": 7}, 422, "base: a content version"),
        ({"doc": {"type": "doc"}, "force": "yes"}, 422, "force: true or false"),
    ],
)
def test_a_bad_save_says_why_in_one_line_and_changes_nothing(
    client: TestClient, db: Database, body: Any, status: int, detail: str
) -> None:
    initiative = create_initiative(db, "Docs")
    page = pages.create_page(db, initiative.id, "Spec", "Kept\n")
    answer = save(client, page.id, body)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"] and "\n" not in answer.json()["detail"]
    assert db.pages.find_by_id(page.id) == page
    assert page_events(db, page.id) == ["page:created"]


def test_saving_needs_the_session_and_this_origin_and_an_existing_page(
    client: TestClient, db: Database
) -> None:
    initiative = create_initiative(db, "Docs")
    page = pages.create_page(db, initiative.id, "Spec", "Kept\n")
    body = {"doc": doc_of("Forged\n")}
    assert save(client, page.id, body, origin="http://evil.test").status_code == 403
    assert save(client, page.id, body, origin=None).status_code == 403
    gone = save(client, "no-such-page", body)
    assert gone.status_code == 404 and "does not exist" in gone.json()["detail"]
    client.cookies.clear()
    assert save(client, page.id, body).status_code == 401
    assert db.pages.find_by_id(page.id) == page


def test_two_saves_from_the_same_version_never_both_win(db: Database) -> None:
    """Compare-then-write holds the page's row (FOR UPDATE on PostgreSQL, the write lock on
    SQLite): of two editors saving from one version, exactly one is refused."""
    initiative = create_initiative(db, "Docs")
    page = pages.create_page(db, initiative.id, "Spec", "Start\n")
    base = pages.content_version(page.content)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def editor(text: str) -> None:
        barrier.wait()
        try:
            pages.save_page_content(db, page.id, doc_of(text), base_version=base)
            outcomes.append("saved " + text)
        except pages.PageChangedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=editor, args=(t,)) for t in ("A\n", "B\n")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes)[0] == "refused" and len(outcomes) == 2, outcomes
    stored = db.pages.find_by_id(page.id)
    assert stored is not None
    assert "saved " + tiptap_to_markdown(stored.content) in outcomes


def test_the_editor_bundle_is_committed_pinned_and_served(client: TestClient) -> None:
    """`pip install` needs no Node: the built island is package data, referenced by the
    Content tab, built from pinned sources kept next to it."""
    assert BUNDLE.is_file() and BUNDLE.stat().st_size > 100_000
    text = BUNDLE.read_text(encoding="utf-8")
    assert len(text) / (text.count("\n") + 1) > 1000  # minified
    assert (BUNDLE.parent / "editor.LICENSES.txt").is_file()
    template = (DASHBOARD / "templates" / "content.html").read_text(encoding="utf-8")
    assert '<script src="/ui/static/islands/editor.js" defer></script>' in template
    served = client.get("/ui/static/islands/editor.js")
    assert served.status_code == 200 and served.content == BUNDLE.read_bytes()
    package = json.loads((ISLAND / "package.json").read_text(encoding="utf-8"))
    for name, version in package["devDependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not pinned"
    lock = json.loads((ISLAND / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    assert (ISLAND / "build.mjs").is_file() and (ISLAND / "src" / "editor.js").is_file()


def form_post(client: TestClient, path: str, **fields: str) -> Any:
    return client.post(path, data=fields, headers={"Origin": ORIGIN})


def test_create_rename_move_and_delete_go_through_the_page_services(
    client: TestClient, db: Database
) -> None:
    initiative = create_initiative(db, "Docs").id
    empty = client.get(f"/ui/initiatives/{initiative}/pages")
    assert empty.status_code == 200 and "No pages yet" in empty.text

    blank = form_post(client, f"/ui/initiatives/{initiative}/pages", title="  ")
    assert blank.status_code == 422 and blank.json()["detail"] == "title: give the page a title"
    made = form_post(client, f"/ui/initiatives/{initiative}/pages", title="Spec")
    assert made.status_code == 204
    root = db.pages.find_root_page(initiative)
    assert root is not None and root.title == "Docs"
    (spec,) = db.pages.find_by_parent_page_id(root.id)
    assert made.headers["HX-Redirect"] == f"/ui/initiatives/{initiative}/pages/{spec.id}"
    shown = client.get(made.headers["HX-Redirect"])
    assert shown.status_code == 200 and f'data-page="{spec.id}"' in shown.text
    assert "img-src 'self' data: https:" in shown.headers["Content-Security-Policy"]
    child = form_post(client, f"/ui/initiatives/{initiative}/pages", title="Detail", parent=spec.id)
    detail_id = child.headers["HX-Redirect"].rsplit("/", 1)[1]
    assert db.pages.find_by_id(detail_id).parent_page_id == spec.id  # type: ignore[union-attr]

    renamed = form_post(client, f"/ui/pages/{spec.id}/rename", title="Specification")
    assert renamed.status_code == 200 and "Specification" in renamed.text
    assert db.pages.find_by_id(spec.id).title == "Specification"  # type: ignore[union-attr]
    refused = form_post(client, f"/ui/pages/{spec.id}/move", parent=detail_id)
    assert refused.status_code == 422 and "under itself" in refused.json()["detail"]
    moved = form_post(client, f"/ui/pages/{detail_id}/move", parent=root.id)
    assert moved.status_code == 200
    assert db.pages.find_by_id(detail_id).parent_page_id == root.id  # type: ignore[union-attr]

    deleted = form_post(client, f"/ui/pages/{spec.id}/delete")
    assert deleted.status_code == 204
    assert deleted.headers["HX-Redirect"] == f"/ui/initiatives/{initiative}/pages/{root.id}"
    assert db.pages.find_by_id(spec.id) is None
    other = create_initiative(db, "Other").id
    assert client.get(f"/ui/initiatives/{other}/pages/{detail_id}").status_code == 404


def test_the_stream_tells_the_content_tab_about_pages_without_their_content(
    db: Database,
) -> None:
    initiative = create_initiative(db, "Docs").id
    page = pages.create_page(db, initiative, "Spec", "Secret plans\n")
    (event,) = [e for e in db.events.find_after(0) if e.entity_id == page.id]
    scope = Scope(initiative_id=initiative)
    payload = {"initiative_id": initiative, "entity_id": page.id, "payload": event.payload}
    (text,) = translate(event.seq, event.type, payload, scope, lambda _: "")
    assert text.startswith(f"id: {event.seq}\nevent: pages\n") and "Secret" not in text
    change = json.loads(text.split("data: ", 1)[1])
    assert change["version"] == pages.content_version(page.content)
    assert change["title"] == "Spec" and change["event"] == "page:created"
    other = Scope(initiative_id="another")
    assert translate(event.seq, event.type, payload, other, lambda _: "") == []
