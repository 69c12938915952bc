from pathlib import Path

from tests.cli.conftest import Cw

MARKDOWN = """\
# Architecture

Tokens are *short-lived*, refreshed by **the gateway**; see [RFC 6749](https://www.rfc-editor.org/rfc/rfc6749).

## Parts

- the `gateway`
- the token service
  1. issues
  2. refreshes

```python
def refresh(token: str) -> str:
    return token
```

> Keep secrets out of logs.
"""


def test_a_page_written_in_markdown_reads_back_the_same(cw: Cw, tmp_path: Path) -> None:
    source = tmp_path / "arch.md"
    source.write_text(MARKDOWN)
    initiative = cw.ok("initiative", "create", "Auth")
    page = cw.ok(
        "page", "create", "--initiative", initiative["id"], "Architecture", "--content", str(source)
    )
    assert page["content"]["type"] == "doc"  # stored as Tiptap
    shown = cw.ok("page", "get", page["id"])
    assert shown["content_markdown"] == MARKDOWN
    assert shown["content"] == page["content"]
    human = cw("page", "get", page["id"])
    assert human.code == 0 and human.stdout.endswith(MARKDOWN)
    assert "Architecture" in human.stdout and '"type": "doc"' not in human.stdout


def test_pages_form_a_tree_under_the_root_page(cw: Cw, tmp_path: Path) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    first = cw.ok("page", "create", "--initiative", initiative["id"], "Design")
    root = cw.ok("page", "root", "--initiative", initiative["id"])
    assert root["parent_page_id"] is None and root["title"] == "Auth"
    assert first["parent_page_id"] == root["id"] and first["initiative_id"] == initiative["id"]
    second = cw.ok(
        "page", "create", "--initiative", initiative["id"], "Tokens", "--parent", first["id"]
    )
    listed = cw.ok("page", "list", "--initiative", initiative["id"])
    assert [(p["title"], p["depth"]) for p in listed] == [("Auth", 0), ("Design", 1), ("Tokens", 2)]
    tree = cw("page", "list", "--initiative", initiative["id"]).stdout
    assert tree.index("Auth") < tree.index("Design") < tree.index("Tokens")

    body = tmp_path / "tokens.md"
    body.write_text("Short-lived *tokens*.\n")
    updated = cw.ok(
        "page",
        "update",
        second["id"],
        "--title",
        "Token flow",
        "--content",
        str(body),
        "--parent",
        root["id"],
    )
    assert updated["title"] == "Token flow" and updated["parent_page_id"] == root["id"]
    assert cw.ok("page", "get", second["id"])["content_markdown"] == "Short-lived *tokens*.\n"

    deleted = cw("page", "delete", first["id"])
    assert deleted.code == 0 and "deleted page" in deleted.stdout
    remaining = cw.ok("page", "list", "--initiative", initiative["id"])
    assert [p["title"] for p in remaining] == ["Auth", "Token flow"]


def test_bad_page_input_is_one_line_and_changes_nothing(cw: Cw) -> None:
    auth = cw.ok("initiative", "create", "Auth")
    other = cw.ok("initiative", "create", "Billing")
    page = cw.ok("page", "create", "--initiative", auth["id"], "Design")
    assert "page 'nope' not found" in cw.fails("page", "get", "nope").stderr
    assert (
        "another initiative"
        in cw.fails(
            "page", "create", "--initiative", other["id"], "X", "--parent", page["id"]
        ).stderr
    )
    assert "'nope'" in cw.fails("page", "create", "--initiative", "nope", "X").stderr
    assert (
        "cannot be moved under itself"
        in cw.fails("page", "update", page["id"], "--parent", page["id"]).stderr
    )
    cw.fails("page", "create", "X", code=2)  # --initiative is required
    # The failed create made no root page for the other initiative either.
    assert cw.ok("page", "list", "--initiative", other["id"]) == []
    assert [p["title"] for p in cw.ok("page", "list", "--initiative", auth["id"])] == [
        "Auth",
        "Design",
    ]
