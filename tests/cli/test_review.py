"""``cw review comment|list|resolve|unresolve|delete``: comments on a phase's diff."""

from __future__ import annotations

from typing import Any

from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw


def phase(cw: Cw) -> dict[str, Any]:
    initiative = cw.ok("initiative", "create", "Auth")
    result: dict[str, Any] = cw.ok("phase", "create", "--initiative", initiative["id"], "Build")
    return result


def test_comments_are_made_resolved_reopened_and_deleted(cw: Cw) -> None:
    phase_id = phase(cw)["id"]
    first = cw.ok(
        "review",
        "comment",
        "--phase",
        phase_id,
        "--file",
        "src/app.py",
        "--line",
        "42",
        "--type",
        "added",
        "Handle the empty list",
    )
    assert first["phase_id"] == phase_id and first["file_path"] == "src/app.py"
    assert first["line_number"] == 42 and first["line_type"] == "added"
    assert first["body"] == "Handle the empty list" and first["author"] == "you"
    assert first["resolved"] is False and first["created_at"].endswith("Z")
    second = cw.ok(
        "review",
        "comment",
        "--phase",
        phase_id,
        "--file",
        "README.md",
        "--line",
        "1",
        "--type",
        "context",
        "Typo",
        "--author",
        "ada",
    )
    assert second["author"] == "ada"

    assert cw.ok("review", "resolve", first["id"])["resolved"] is True
    unresolved = cw.ok("review", "list", "--phase", phase_id, "--unresolved")
    assert [c["id"] for c in unresolved] == [second["id"]]
    assert cw.ok("review", "unresolve", first["id"])["resolved"] is False

    assert cw.ok("review", "delete", second["id"]) == {"id": second["id"], "deleted": True}
    human = cw("review", "list", "--phase", phase_id)
    assert human.code == 0 and "src/app.py" in human.stdout and "README.md" not in human.stdout


def test_bad_comments_are_refused_in_one_line_and_change_nothing(cw: Cw) -> None:
    phase_id = phase(cw)["id"]

    def comment(*args: str, code: int = 1) -> str:
        return cw.fails("review", "comment", "--file", "a.py", "body", *args, code=code).stderr

    assert "phase 'nope' not found" in comment("--phase", "nope", "--line", "1", "--type", "added")
    assert "line_type" in comment("--phase", phase_id, "--line", "1", "--type", "moved")
    comment("--phase", phase_id, "--line", "0", "--type", "added", code=2)
    comment("--phase", phase_id, "--type", "added", code=2)  # --line is required
    assert "not found" in cw.fails("review", "resolve", "nope").stderr
    assert "not found" in cw.fails("review", "delete", "nope").stderr
    assert "phase 'nope' not found" in cw.fails("review", "list", "--phase", "nope").stderr
    with workspace_db(cw) as db:
        assert db.review_comments.find_by_phase_id(phase_id) == []
