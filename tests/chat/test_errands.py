"""Errands end to end, in-process: the real runtime, the shipped fake agent committing in a
real worktree, a bare remote in a tmp dir; SQLite and PostgreSQL.

An errand edits a file → its diff shows it → merge lands it on the remote's default branch;
an abandoned errand leaves the default branch untouched and keeps its branch (unless asked).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codewalkers.agents import git
from codewalkers.db import AgentStatus, ConflictError, Database, ErrandStatus
from codewalkers.services import errands
from codewalkers.services.errands import Errands
from codewalkers.services.runtime import AgentRuntime
from tests.agents.conftest import Remote, make_remote
from tests.chat.conftest import scenario, wait_for


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files={"README.md": "Hello wrold\n"})


def remote_file(remote: Remote, path: str) -> str:
    return git.run_git(["show", f"main:{path}"], remote.path)


def test_an_errand_is_diffed_merged_and_pushed_or_abandoned(
    db: Database, runtime: AgentRuntime, remote: Remote
) -> None:
    db.projects.create(name="app", url=remote.url)
    work = Errands(runtime)
    started = work.start(
        "fix the typo in the README\n\n"
        + scenario(
            {"write": {"path": "README.md", "content": "Hello world\n"}},
            {"commit": "Fix the typo in the README"},
            {"done": "Fixed the typo."},
        ),
        "app",
    )
    errand = started.errand
    assert errand.status == ErrandStatus.ACTIVE and errand.base_branch == "main"
    assert errand.branch.startswith("cw/errand--fix-the-typo-in-the-readme")
    assert started.agent is not None and started.agent.mode == "errand"
    with pytest.raises(ConflictError, match="still working"):
        work.merge(errand.id)
    wait_for(db, started.agent.id, lambda a: a.status == AgentStatus.IDLE)

    text = errands.diff(db, runtime.paths, errand.id)
    assert "-Hello wrold" in text and "+Hello world" in text
    assert remote_file(remote, "README.md") == "Hello wrold\n"  # nothing landed yet
    merged = work.merge(errand.id)
    assert merged["errand"].status == ErrandStatus.MERGED and merged["commit"]
    assert remote_file(remote, "README.md") == "Hello world\n"
    assert git.run_git(["rev-parse", "main"], remote.path).strip() == merged["commit"]
    with pytest.raises(ConflictError, match="is merged"):
        work.abandon(errand.id)

    # Abandoned: nothing merged, the branch (with its commit) kept.
    before = git.run_git(["rev-parse", "main"], remote.path).strip()
    second = work.start(
        "rewrite the README\n\n"
        + scenario(
            {"write": {"path": "README.md", "content": "Something else\n"}},
            {"commit": "Rewrite the README"},
            {"done": "Rewrote it."},
        ),
        "app",
    )
    assert second.agent is not None
    wait_for(db, second.agent.id, lambda a: a.status == AgentStatus.IDLE)
    abandoned = work.abandon(second.errand.id)
    assert abandoned.status == ErrandStatus.ABANDONED
    assert git.run_git(["rev-parse", "main"], remote.path).strip() == before
    clone = runtime.paths.repo_path("app")
    assert git.branch_exists(clone, second.errand.branch)
    assert "Rewrite the README" in git.run_git(["log", "--format=%s", second.errand.branch], clone)
    assert not runtime.paths.workdir(second.agent.name).exists()

    # Abandoned with --delete-branch, while its agent still runs: stopped, branch gone.
    third = work.start("wait a while\n\n" + scenario({"sleep": 30}), "app")
    work.abandon(third.errand.id, delete_branch=True)
    assert not git.branch_exists(clone, third.errand.branch)
    assert db.agents.find_by_id(third.agent.id).status == AgentStatus.STOPPED  # type: ignore[union-attr]

    assert [e.status for e in errands.list_errands(db, project="app")] == [
        ErrandStatus.MERGED,
        ErrandStatus.ABANDONED,
        ErrandStatus.ABANDONED,
    ]
    types = [e.type for e in db.events.find_after(0)]
    assert types.count("errand:started") == 3 and types.count("errand:abandoned") == 2
    assert "errand:merged" in types


def test_a_bad_errand_is_refused_and_records_nothing(db: Database, runtime: AgentRuntime) -> None:
    work = Errands(runtime)
    with pytest.raises(Exception, match="project 'nope' not found"):
        work.start("fix it", "nope")
    with pytest.raises(Exception, match="empty"):
        work.start("  ", "nope")
    assert db.errands.find_all() == [] and db.agents.find_all() == []
