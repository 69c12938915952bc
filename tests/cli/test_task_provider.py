"""``cw task create --provider``: checked against the workspace's providers as ``cw task
update --provider`` is, before anything is created."""

from __future__ import annotations

from tests.cli.conftest import Cw


def test_a_task_is_created_with_its_own_provider_and_an_unknown_one_is_refused(cw: Cw) -> None:
    phase = cw.ok(
        "phase", "create", "API", "--initiative", cw.ok("initiative", "create", "X")["id"]
    )
    made = cw.ok("task", "create", "Login", "--phase", phase["id"], "--provider", "codex")
    assert made["provider"] == "codex"
    assert cw.ok("task", "get", made["id"])["provider"] == "codex"
    default = cw.ok("task", "create", "Logout", "--phase", phase["id"], "--provider", "default")
    assert default["provider"] is None
    refused = cw.fails("task", "create", "Signup", "--phase", phase["id"], "--provider", "nope")
    assert "unknown provider 'nope' (known: " in refused.stderr
    assert "claude" in refused.stderr and "codex" in refused.stderr
    names = [t["name"] for t in cw.ok("task", "list", "--phase", phase["id"])]
    assert sorted(names) == ["Login", "Logout"]  # nothing created by the refused one
    # The same check as `cw task update --provider`.
    assert (
        "unknown provider 'nope'"
        in cw.fails("task", "update", made["id"], "--provider", "nope").stderr
    )
