"""The Content tab in a real browser against a real coordinator: the page tree and the
Tiptap editor island (auto-save, the save indicator, conflicts), create, rename, move and
delete, a second tab following along, and every corpus document surviving the editor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codewalkers.content import markdown_to_tiptap, tiptap_to_markdown
from codewalkers.server.runner import stop as stop_server
from tests.dashboard.conftest import live, login
from tests.server.conftest import Server, Workspace

# In the browser on SQLite only: the same routes on PostgreSQL are tested over HTTP
# (test_content_save.py), which costs seconds instead of minutes.
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

CORPUS = Path(__file__).parents[1] / "content" / "corpus"
expect: Any = None


@pytest.fixture(autouse=True)
def _expect(browser: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


def markdown_of(space: Workspace, page_id: str) -> str:
    done = space.cw("page", "get", page_id, "--markdown")
    assert done.code == 0, done.stderr
    return done.stdout


def set_content(space: Workspace, page_id: str, markdown: str, tmp_path: Path) -> None:
    source = tmp_path / f"{page_id}.md"
    source.write_text(markdown, encoding="utf-8")
    space.ok("page", "update", page_id, "--content", str(source))


def tree(page: Any) -> Any:
    return page.locator("#page-tree .tree-row")


def editor(page: Any) -> Any:
    return page.locator("#editor .ProseMirror")


def saved(page: Any) -> None:
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")


def test_pages_are_written_in_the_editor_and_managed_from_the_tree(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Path
) -> None:
    initiative = space.ok("initiative", "create", "Docs")["id"]
    content_url = f"{coordinator.url}/ui/initiatives/{initiative}/pages"
    first = login(context, space)
    first.goto(content_url)
    expect(first.locator(".page-pane .empty")).to_contain_text("No pages yet")

    # Create: the first page goes under a new root page named after the initiative.
    first.get_by_label("New page title").fill("Design notes")
    first.get_by_role("button", name="Add page").click()
    expect(first.get_by_label("Page title", exact=True)).to_have_value("Design notes")
    expect(tree(first)).to_have_text(["Docs", "Design notes"])
    notes = first.locator(".page-pane").get_attribute("data-page")
    assert notes is not None
    live(first)
    saved(first)

    # Type: auto-saved, the indicator says so, a reload and the CLI show it.
    editor(first).click()
    first.keyboard.type("Hello from the browser")
    first.keyboard.press("Enter")
    first.keyboard.type("## A heading")
    first.keyboard.press("Enter")
    first.keyboard.type("Some **bold** words")
    saved(first)
    expect(first.locator("#save-state")).to_contain_text("Saved")
    assert markdown_of(space, notes) == (
        "Hello from the browser\n\n## A heading\n\nSome **bold** words\n"
    )
    first.reload()
    expect(editor(first)).to_contain_text("Hello from the browser")
    expect(editor(first).locator("h2")).to_have_text("A heading")
    expect(editor(first).locator("strong")).to_have_text("bold")

    # A second tab sees a rename and a new page without reloading.
    second = context.new_page()
    second.goto(content_url)
    live(second)
    live(first)
    first.get_by_label("Page title", exact=True).fill("Design decisions")
    first.get_by_label("Page title", exact=True).press("Enter")
    expect(tree(first)).to_have_text(["Docs", "Design decisions"])
    expect(tree(second)).to_have_text(["Docs", "Design decisions"])
    assert space.ok("page", "get", notes)["title"] == "Design decisions"
    first.get_by_label("New page title").fill("Appendix")
    first.get_by_label("Create under").select_option(label="Docs")  # default: the open page
    first.get_by_role("button", name="Add page").click()
    expect(first.get_by_label("Page title", exact=True)).to_have_value("Appendix")
    expect(tree(second)).to_have_text(["Docs", "Design decisions", "Appendix"])
    appendix = first.locator(".page-pane").get_attribute("data-page")
    assert appendix is not None
    expect(second.locator(f'#page-tree [data-page="{appendix}"]')).to_have_attribute(
        "data-depth", "1"
    )
    # A blank title is refused in one line, and nothing changes.
    first.get_by_label("Page title", exact=True).fill("  ")
    first.get_by_label("Page title", exact=True).press("Enter")
    expect(first.locator("form.page-title .error-line")).to_have_text("title: a page needs a title")
    assert space.ok("page", "get", appendix)["title"] == "Appendix"

    # Move Appendix under Design decisions (the second tab follows).
    first.get_by_label("Move under").select_option(label="— Design decisions")
    first.get_by_role("button", name="Move").click()
    expect(first.locator(f'#page-tree [data-page="{appendix}"]')).to_have_attribute(
        "data-depth", "2"
    )
    expect(second.locator(f'#page-tree [data-page="{appendix}"]')).to_have_attribute(
        "data-depth", "2"
    )
    assert space.ok("page", "get", appendix)["parent_page_id"] == notes

    # Delete Appendix: confirmed, then its parent opens; it is gone everywhere.
    first.once("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name="Delete").click()
    first.wait_for_url(f"**/pages/{notes}")
    expect(tree(first)).to_have_text(["Docs", "Design decisions"])
    expect(tree(second)).to_have_text(["Docs", "Design decisions"])
    assert space.cw("page", "get", appendix).code == 1

    # Every corpus document survives the editor: the schema holds every node, mark and
    # attribute content.py stores.
    with coordinator.client() as api:
        corpus = api.post("/initiatives", json={"name": "Corpus"}).json()["id"]
        for source in sorted(CORPUS.glob("*.md")):
            body = {
                "initiative_id": corpus,
                "title": source.stem,
                "content_markdown": source.read_text(encoding="utf-8"),
            }
            made = api.post("/pages", json=body)
            assert made.status_code == 201, made.text
            stored = made.json()["content"]
            first.goto(f"{coordinator.url}/ui/initiatives/{corpus}/pages/{made.json()['id']}")
            saved(first)
            loaded = first.locator("#editor").evaluate("el => el.cwEditor.getJSON()")
            # What a save stores (the editor's document read back from its Markdown) is the
            # stored document, up to the order of the marks on a run of text (ProseMirror
            # keeps them in schema order: "[**a**](u)" comes back as "**[a](u)**").
            again = markdown_to_tiptap(tiptap_to_markdown(loaded))
            assert canonical(again) == canonical(stored), source.name


def test_a_change_made_elsewhere_is_never_silently_overwritten(
    space: Workspace, coordinator: Server, context: Any, tmp_path: Path, page_errors: list[str]
) -> None:
    """A clean editor takes a change made elsewhere at once; an editor holding unsaved text
    says the page changed and waits: overwrite with mine, or load theirs."""
    initiative = space.ok("initiative", "create", "Docs")["id"]
    page_id = space.ok("page", "create", "--initiative", initiative, "Spec")["id"]
    url = f"{coordinator.url}/ui/initiatives/{initiative}/pages/{page_id}"
    page = login(context, space)
    page.goto(url)
    live(page)
    saved(page)

    # Clean editor: the CLI's change shows up live.
    set_content(space, page_id, "Written by the CLI\n", tmp_path)
    expect(editor(page)).to_have_text("Written by the CLI")
    expect(page.locator("#save-state")).to_contain_text("saved elsewhere")

    # Unsaved text here (saves held back) while the CLI writes: a conflict, nothing lost.
    held = context.new_page()
    held.add_init_script("window.cwEditorSaveDelay = 600000")
    held.goto(url)
    live(held)
    editor(held).click()
    held.keyboard.press("End")
    held.keyboard.type(" and mine")
    expect(held.locator("#save-state")).to_have_attribute("data-state", "dirty")
    set_content(space, page_id, "The CLI again\n", tmp_path)
    state = held.locator("#save-state")
    expect(state).to_have_attribute("data-state", "conflict")
    expect(state).to_contain_text("Changed elsewhere")
    expect(editor(held)).to_have_text("Written by the CLI and mine")
    assert markdown_of(space, page_id) == "The CLI again\n"
    # The clean tab simply follows.
    expect(editor(page)).to_have_text("The CLI again")

    held.get_by_role("button", name="Overwrite with mine").click()
    expect(state).to_have_attribute("data-state", "saved")
    assert markdown_of(space, page_id) == "Written by the CLI and mine\n"
    expect(editor(page)).to_have_text("Written by the CLI and mine")

    # Again, and this time load theirs.
    editor(held).click()
    held.keyboard.press("End")
    held.keyboard.type(" (draft)")
    expect(state).to_have_attribute("data-state", "dirty")
    set_content(space, page_id, "Final words\n", tmp_path)
    expect(state).to_have_attribute("data-state", "conflict")
    held.get_by_role("button", name="Discard mine, load theirs").click()
    expect(state).to_have_attribute("data-state", "saved")
    expect(editor(held)).to_have_text("Final words")
    assert markdown_of(space, page_id) == "Final words\n"

    # The server goes away: the indicator says the save failed, and why.
    stop_server(space.state, timeout=10)
    editor(page).click()
    page.keyboard.press("End")
    page.keyboard.type(" unsent")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "failed")
    expect(page.locator("#save-state")).to_have_text(
        "Not saved: the server does not answer (is `cw start` running?)"
    )
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    page_errors.clear()  # the lost stream and the refused save are on the console, rightly


def canonical(node: Any) -> Any:
    """A Tiptap document with each text node's marks sorted and neighbouring text nodes of
    the same marks merged."""
    if isinstance(node, list):
        merged: list[Any] = []
        for child in (canonical(item) for item in node):
            previous = merged[-1] if merged else None
            if (
                previous is not None
                and child.get("type") == previous.get("type") == "text"
                and child.get("marks") == previous.get("marks")
            ):
                previous["text"] += child["text"]
            else:
                merged.append(child)
        return merged
    if not isinstance(node, dict):
        return node
    out = {key: canonical(value) for key, value in node.items() if key != "marks"}
    if node.get("marks"):
        out["marks"] = sorted(node["marks"], key=lambda mark: repr(sorted(mark.items())))
    return out
