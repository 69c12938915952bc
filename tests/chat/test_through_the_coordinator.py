"""Chat and errands as a person drives them: `cw` commands, a real `cw start --detach`
coordinator running the shipped fake agent, a bare remote in a temp dir; SQLite and
PostgreSQL. The finer cases are in-process in the other modules here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codewalkers.agents.git import run_git
from tests.agents.conftest import Remote, make_remote
from tests.agents.test_coordinator import space  # noqa: F401 (fixture)
from tests.chat.conftest import scenario
from tests.coordinated import coordinator_of
from tests.server.conftest import Server, Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files={"README.md": "Hello wrold\n"})


@pytest.fixture
def coordinator(space: Workspace) -> Iterator[Server]:  # noqa: F811
    with coordinator_of(space) as running:
        yield running


def test_chat_send_waits_for_the_reply_and_revert_undoes_it_and_an_errand_lands(
    space: Workspace,  # noqa: F811
    coordinator: Server,
    remote: Remote,
) -> None:
    cw = space.ok
    initiative = cw("initiative", "create", "User auth")
    task = cw("task", "create", "Hash passwords", "--initiative", initiative["id"])
    session = cw("chat", "start", "--task", task["id"])

    def rename(name: str) -> dict[str, object]:
        return {"action": "update", "entity": "task", "id": task["id"], "fields": {"name": name}}

    steps = scenario(
        {"change": rename("Hash passwords with Argon2id")},
        {"done": "Renamed it."},
        {"change": rename("Hash and salt passwords")},
        {"done": "Renamed it again."},
    )
    sent = cw("chat", "send", session["id"], "Say which algorithm.\n\n" + steps)
    [reply] = sent["reply"]
    assert reply["role"] == "assistant" and reply["content"] == "Renamed it."
    first_set = reply["change_set"]
    assert first_set["entries"][0]["new_state"]["name"] == "Hash passwords with Argon2id"
    human = space.cw("chat", "send", session["id"], "And the salt.")
    assert human.code == 0, human.stderr
    assert "Renamed it again." in human.stdout and "updated task" in human.stdout

    refused = space.cw("chat", "revert", first_set["id"])
    assert refused.code == 1 and task["id"] in refused.stderr
    assert "changed since" in refused.stderr
    forced = cw("chat", "revert", first_set["id"], "--force")
    assert forced["reverted"] is True and forced["forced"]
    assert cw("task", "get", task["id"])["name"] == "Hash passwords"
    again = space.cw("chat", "revert", first_set["id"])
    assert again.code == 0 and "already reverted" in again.stdout
    shown = cw("chat", "show", session["id"])
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"] * 2
    assert shown["messages"][1]["change_set"]["status"] == "reverted"

    # An errand: start → diff → merge lands on the remote's default branch.
    cw("project", "add", "app", remote.url)
    errand = cw(
        "errand",
        "start",
        "fix the typo in the README\n\n"
        + scenario(
            {"write": {"path": "README.md", "content": "Hello world\n"}},
            {"commit": "Fix the typo in the README"},
            {"done": "Fixed."},
        ),
        "--project",
        "app",
    )
    agent = errand["agent"]["name"]
    deadline = time.monotonic() + 60
    while cw("agent", "get", agent)["status"] != "idle" and time.monotonic() < deadline:
        time.sleep(0.1)
    diff = cw("errand", "diff", errand["id"])["diff"]
    assert "+Hello world" in diff
    merged = cw("errand", "merge", errand["id"])
    assert merged["errand"]["status"] == "merged"
    assert run_git(["show", "main:README.md"], remote.path) == "Hello world\n"
    listed = cw("errand", "list", "--status", "merged")
    assert [e["id"] for e in listed] == [errand["id"]]
    assert cw("errand", "show", errand["id"])["project"] == "app"
