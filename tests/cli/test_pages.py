import sys
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


GFM_PAGE = """\
# Rollout

| Step  | Owner | Done |
| :---- | ----- | :--: |
| Draft | Ann   | yes  |

- [ ] write the design
- [x] review it

![diagram](diagram.png "The flow")

> [!NOTE]
> Tokens ~~never~~ rarely expire; see <https://example.org/tokens>.
"""


def test_page_get_markdown_prints_only_the_markdown_and_stdin_takes_it_back(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    page = cw.ok(
        "page",
        "create",
        "--initiative",
        initiative["id"],
        "Rollout",
        "--content",
        "-",
        input=GFM_PAGE,
    )
    shown = cw("page", "get", page["id"], "--markdown")
    assert shown.code == 0, shown.stderr
    assert shown.stdout == GFM_PAGE  # nothing but the page, as written
    # A get | update cycle changes nothing, however often it runs.
    for _ in range(2):
        again = cw("page", "update", page["id"], "--content", "-", input=shown.stdout)
        assert again.code == 0, again.stderr
        assert cw("page", "get", page["id"], "--markdown").stdout == GFM_PAGE
    assert cw.ok("page", "get", page["id"])["content"] == page["content"]
    assert (
        "cannot be used together"
        in cw.fails("page", "get", page["id"], "--markdown", "--json").stderr
    )


def _editor(tmp_path: Path, name: str, body: str) -> Path:
    """An $EDITOR: a small Python script that gets the file to edit as its argument."""
    script = tmp_path / name
    script.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\npath = pathlib.Path(sys.argv[-1])\n{body}"
    )
    script.chmod(0o755)
    return script


def _with_editor(cw: Cw, editor: Path) -> Cw:
    env = {key: value for key, value in cw.env.items() if key != "VISUAL"}
    return Cw(cw.root, {**env, "EDITOR": str(editor)})


def test_page_edit_saves_what_the_editor_changed(cw: Cw, tmp_path: Path) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    page = cw.ok(
        "page",
        "create",
        "--initiative",
        initiative["id"],
        "Rollout",
        "--content",
        "-",
        input=GFM_PAGE,
    )
    editor = _editor(
        tmp_path,
        "tick.py",
        "path.write_text(path.read_text().replace('- [ ] write', '- [x] write') + '\\nDone.\\n')",
    )
    edited = _with_editor(cw, editor)("page", "edit", page["id"])
    assert edited.code == 0, edited.stderr
    assert f"updated page {page['id']}" in edited.stdout
    expected = GFM_PAGE.replace("- [ ] write", "- [x] write") + "\nDone.\n"
    assert cw("page", "get", page["id"], "--markdown").stdout == expected


def test_page_edit_without_a_change_saves_nothing(cw: Cw, tmp_path: Path) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    page = cw.ok(
        "page",
        "create",
        "--initiative",
        initiative["id"],
        "Rollout",
        "--content",
        "-",
        input=GFM_PAGE,
    )
    # Opening and saving as is (even with an extra blank line at the end) is no change.
    editor = _editor(tmp_path, "touch.py", "path.write_text(path.read_text() + '\\n')")
    result = _with_editor(cw, editor).ok("page", "edit", page["id"])
    assert result["changed"] is False
    assert cw.ok("page", "get", page["id"])["updated_at"] == page["updated_at"]
    human = _with_editor(cw, editor)("page", "edit", page["id"])
    assert human.code == 0 and f"page {page['id']} unchanged" in human.stdout


def test_page_edit_keeps_the_text_when_it_cannot_save(cw: Cw, tmp_path: Path) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    page = cw.ok("page", "create", "--initiative", initiative["id"], "Rollout")
    failing = _editor(tmp_path, "fail.py", "path.write_text('draft\\n')\nsys.exit(3)")
    failed = _with_editor(cw, failing).fails("page", "edit", page["id"])
    assert "exited with 3; nothing saved" in failed.stderr
    kept = Path(failed.stderr.rsplit("your text is in ", 1)[1].strip())
    assert kept.read_text() == "draft\n"
    assert cw("page", "get", page["id"], "--markdown").stdout == ""

    # Someone saves the page while the editor is open: the edit is not written over it.
    racing = _editor(
        tmp_path,
        "race.py",
        "import subprocess\n"
        f"subprocess.run([{sys.executable!r}, '-m', 'codewalkers', 'page', 'update', "
        f"{page['id']!r}, '--content', '-'], input='theirs\\n', text=True, check=True)\n"
        "path.write_text('mine\\n')",
    )
    raced = _with_editor(cw, racing).fails("page", "edit", page["id"])
    assert "changed while you were editing; nothing saved" in raced.stderr
    assert cw("page", "get", page["id"], "--markdown").stdout == "theirs\n"
    kept = Path(raced.stderr.rsplit("your text is in ", 1)[1].strip())
    assert kept.read_text() == "mine\n"
