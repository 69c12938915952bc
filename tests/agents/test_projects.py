"""Projects on disk: the workspace's clones, agents' worktrees, setup files, safe removal."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
from pathlib import Path

import pytest

from codewalkers.agents import git
from codewalkers.agents.paths import RuntimePaths
from codewalkers.agents.projects import (
    SAVE_MESSAGE,
    ProjectError,
    SyncResult,
    WorkWouldBeLostError,
    check_removal,
    clone_url,
    create_agent_worktrees,
    create_worktree_for_agent,
    remove_agent_worktree,
    sync_project,
)
from tests.agents.conftest import Remote, make_remote
from tests.agents.conftest import git as remote_git


def commit_file(worktree: Path, name: str, content: str, message: str = "agent work") -> str:
    (worktree / name).write_text(content, encoding="utf-8")
    sha = git.commit_all(worktree, message)
    assert sha is not None
    return sha


@pytest.fixture
def synced(paths: RuntimePaths, fresh_remote: Remote) -> Remote:
    """``fresh_remote`` synced into the workspace as project ``api``."""
    sync_project(paths, "api", fresh_remote.url)
    return fresh_remote


def agent_worktree(paths: RuntimePaths, agent: str, branch: str, start: str = "main") -> Path:
    return create_worktree_for_agent(paths, "api", paths.workdir(agent), branch, start).path


# --- sync ------------------------------------------------------------------------------------


def test_first_sync_clones_and_later_syncs_fetch(paths: RuntimePaths, fresh_remote: Remote) -> None:
    first = sync_project(paths, "api", fresh_remote.url)
    assert first.cloned and first.repo == paths.state_dir / "repos" / "api.git"
    assert (first.default_branch, first.head_commit) == ("main", fresh_remote.head())
    assert first.branches == ("main",)
    new = fresh_remote.commit({"more.txt": "more"}, "more")
    fresh_remote.branch_from("feature")
    second = sync_project(paths, "api", fresh_remote.url)
    assert not second.cloned and second.head_commit == new
    assert second.branches == ("feature", "main")


def test_a_sync_fetches_only_when_the_remote_moved(
    paths: RuntimePaths, fresh_remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sync asks the remote (``ls-remote``) and fetches only when a branch moved,
    appeared or went away, or its default branch changed: never a stale clone, no fetch
    for nothing. Which git commands ran is read from git's own trace (GIT_TRACE)."""
    first = sync_project(paths, "api", fresh_remote.url)
    trace = tmp_path / "git-trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))

    def synced() -> tuple[SyncResult, list[str]]:
        trace.write_text("")
        result = sync_project(paths, "api", fresh_remote.url)
        ran = [
            line.split("built-in: git ", 1)[1].split()[0]
            for line in trace.read_text().splitlines()
            if "built-in: git " in line
        ]
        return result, ran

    unchanged, ran = synced()
    assert "ls-remote" in ran and "fetch" not in ran
    assert unchanged == dataclasses.replace(first, cloned=False)

    new = fresh_remote.commit({"more.txt": "more"}, "more")
    moved, ran = synced()
    assert "fetch" in ran
    assert moved.head_commit == new
    assert git.resolve_commit(moved.repo, "refs/remotes/origin/main") == new

    fresh_remote.branch_from("feature")
    appeared, ran = synced()
    assert "fetch" in ran and appeared.branches == ("feature", "main")

    remote_git(fresh_remote.path, "symbolic-ref", "HEAD", "refs/heads/feature")
    renamed, ran = synced()
    assert "fetch" in ran and renamed.default_branch == "feature"

    remote_git(fresh_remote.path, "symbolic-ref", "HEAD", "refs/heads/main")
    remote_git(fresh_remote.path, "branch", "-D", "feature")
    pruned, ran = synced()
    assert "fetch" in ran
    assert (pruned.branches, pruned.default_branch) == (("main",), "main")
    _, ran = synced()
    assert "fetch" not in ran


def test_sync_resolves_a_default_branch_that_is_not_main(
    paths: RuntimePaths, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path / "r", branch="develop")
    result = sync_project(paths, "app", str(remote.path), default_branch="main")
    assert result.default_branch == "develop" and result.head_commit == remote.head()


def test_a_relative_path_is_relative_to_the_workspace(paths: RuntimePaths) -> None:
    make_remote(paths.root / "upstream")
    assert clone_url(paths, "upstream/remote.git") == os.fspath(paths.root / "upstream/remote.git")
    assert clone_url(paths, "git@example.com:acme/api.git") == "git@example.com:acme/api.git"
    assert clone_url(paths, "https://example.com/a.git") == "https://example.com/a.git"
    assert sync_project(paths, "rel", "upstream/remote.git").head_commit is not None


def test_sync_failures_leave_no_clone(paths: RuntimePaths, tmp_path: Path) -> None:
    with pytest.raises(git.GitError):
        sync_project(paths, "gone", (tmp_path / "missing.git").as_uri())
    (tmp_path / "plain").mkdir()
    with pytest.raises(git.GitError):
        sync_project(paths, "plain", str(tmp_path / "plain"))
    assert not paths.repo_path("gone").exists() and not paths.repo_path("plain").exists()


@pytest.mark.parametrize("name", ["", "a/b", "..", ".", "x\\y"])
def test_a_name_that_cannot_name_a_directory_is_refused(
    paths: RuntimePaths, remote_repo: Remote, name: str
) -> None:
    with pytest.raises(ProjectError):
        sync_project(paths, name, remote_repo.url)
    assert not paths.repos_dir.exists() or not any(paths.repos_dir.glob("*.git"))


def test_the_projects_own_working_copy_is_never_touched(
    paths: RuntimePaths, fresh_remote: Remote
) -> None:
    """The URL is a person's checkout, mid-work: dirty, staged, on a branch of its own."""
    work = fresh_remote.work
    remote_git(work, "checkout", "--quiet", "-b", "my-topic")
    (work / "file0.txt").write_text("edited\n", encoding="utf-8")
    (work / "staged.txt").write_text("staged\n", encoding="utf-8")
    remote_git(work, "add", "staged.txt")
    (work / "untracked.txt").write_text("untracked\n", encoding="utf-8")

    def state() -> tuple[str, str, str, bytes, set[str]]:
        return (
            remote_git(work, "status", "--porcelain=v2", "--branch", "--untracked-files=all"),
            remote_git(work, "rev-parse", "HEAD"),
            remote_git(work, "for-each-ref"),
            (work / ".git" / "index").read_bytes(),
            {p.name for p in (work / ".git").iterdir()},
        )

    before = state()
    result = sync_project(paths, "mine", str(work))
    path = create_worktree_for_agent(paths, "mine", paths.workdir("agent"), "cw/x", "my-topic").path
    commit_file(path, "agent.txt", "agent")
    sync_project(paths, "mine", str(work))
    assert state() == before
    assert result.default_branch == "my-topic"  # a checkout's HEAD is its branch


def test_names_with_spaces_and_unicode(tmp_path: Path) -> None:
    root = tmp_path / "wörk spåce"
    (root / ".cw").mkdir(parents=True)
    paths = RuntimePaths.from_settings(root, root / ".cw", {})
    remote = make_remote(tmp_path / "rémote dir")
    result = sync_project(paths, "my ápi", str(remote.path))
    info = create_worktree_for_agent(
        paths, "my ápi", paths.workdir("brave-otter"), "cw/ñ-1", "main"
    )
    assert result.repo == root / ".cw" / "repos" / "my ápi.git"
    assert info.path == root / "agent-workdirs" / "brave-otter" / "my ápi"
    assert git.head_commit(info.path) == remote.head()


# --- worktrees --------------------------------------------------------------------------------


def test_an_agent_worktree_starts_at_its_start_point(paths: RuntimePaths, synced: Remote) -> None:
    info = create_worktree_for_agent(paths, "api", paths.workdir("a1"), "cw/i/t-1", "main")
    assert info.path == paths.workdir("a1") / "api"
    assert (info.branch, info.base_commit, info.created_branch) == ("cw/i/t-1", synced.head(), True)
    again = create_worktree_for_agent(paths, "api", paths.workdir("a1"), "cw/i/t-1", "main")
    assert again.reused and again.path == info.path


def test_a_reused_branch_reports_where_it_left_its_start_point(
    paths: RuntimePaths, synced: Remote
) -> None:
    seed = synced.head()
    path = agent_worktree(paths, "a1", "cw/reused")
    commit_file(path, "a.txt", "a")
    remove_agent_worktree(paths, "api", path, force=True)
    synced.commit({"later.txt": "later"}, "upstream moves")
    sync_project(paths, "api", synced.url)
    info = create_worktree_for_agent(paths, "api", paths.workdir("a2"), "cw/reused", "main")
    assert not info.created_branch and info.base_commit == seed
    assert (info.path / "a.txt").exists()


def test_a_project_never_synced_is_a_clear_error(paths: RuntimePaths) -> None:
    with pytest.raises(ProjectError, match="run `cw project sync web`"):
        create_worktree_for_agent(paths, "web", paths.workdir("a"), "cw/x", "main")


def test_the_branch_busy_in_another_agents_worktree_is_refused(
    paths: RuntimePaths, synced: Remote
) -> None:
    agent_worktree(paths, "a1", "cw/shared")
    with pytest.raises(git.BranchInUseError, match="a1"):
        agent_worktree(paths, "a2", "cw/shared")


def test_worktrees_for_several_projects_are_all_or_none(
    paths: RuntimePaths, synced: Remote, tmp_path: Path
) -> None:
    other = make_remote(tmp_path / "web", branch="trunk")
    sync_project(paths, "web", other.url)
    specs = [("api", "main"), ("web", "trunk")]
    made = create_agent_worktrees(paths, specs, paths.workdir("a"), "cw/b")
    assert [(i.project, i.base_commit) for i in made] == [
        ("api", synced.head()),
        ("web", other.head()),
    ]
    with pytest.raises(git.GitError, match="names no commit"):
        create_agent_worktrees(
            paths, [("api", "main"), ("web", "no-such")], paths.workdir("b"), "cw/c"
        )
    assert not (paths.workdir("b") / "api").exists()
    assert [w.path for w in git.worktree_list(paths.repo_path("api"))][1:] == [made[0].path]


# --- setup files ------------------------------------------------------------------------------


def test_setup_files_are_copied_with_their_modes_and_kept_out_of_commits(
    paths: RuntimePaths, synced: Remote
) -> None:
    setup = paths.setup_dir("api")
    (setup / "config" / "private").mkdir(parents=True)
    (setup / ".env").write_text("SECRET=1\n", encoding="utf-8")
    (setup / ".env").chmod(0o600)
    (setup / "bin.sh").write_text("#!/bin/sh\necho hi\n", encoding="utf-8")
    (setup / "bin.sh").chmod(0o755)
    (setup / "config" / "private").chmod(0o700)
    (setup / "config" / "private" / "key.pem").write_text("KEY", encoding="utf-8")
    (setup / "link").symlink_to(".env")
    (setup / "file0.txt").write_text("would clobber a tracked file", encoding="utf-8")
    (setup / "weird [name]*.txt").write_text("w", encoding="utf-8")

    info = create_worktree_for_agent(paths, "api", paths.workdir("a"), "cw/setup", "main")
    wt = info.path
    assert info.setup_copied == (
        ".env",
        "bin.sh",
        "config/private/key.pem",
        "link",
        "weird [name]*.txt",
    )
    assert info.setup_skipped == ("file0.txt",)
    assert stat.S_IMODE((wt / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((wt / "bin.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((wt / "config" / "private").stat().st_mode) == 0o700
    assert os.readlink(wt / "link") == ".env"
    assert (wt / "file0.txt").read_text(encoding="utf-8") == synced.files["file0.txt"]
    # Neither git status nor an agent's `git add -A` sees them.
    assert not git.has_uncommitted_changes(wt)
    remote_git(wt, "add", "-A")
    assert git.commit_all(wt, "nothing of setup") is None
    # A second worktree gets them too, and the exclude list does not grow.
    exclude = (paths.repo_path("api") / "info" / "exclude").read_text(encoding="utf-8")
    second = create_worktree_for_agent(paths, "api", paths.workdir("b"), "cw/setup2", "main")
    assert (second.path / "config" / "private" / "key.pem").read_text(encoding="utf-8") == "KEY"
    assert (paths.repo_path("api") / "info" / "exclude").read_text(encoding="utf-8") == exclude


# --- removal ----------------------------------------------------------------------------------


def test_removal_is_refused_with_uncommitted_work(paths: RuntimePaths, synced: Remote) -> None:
    path = agent_worktree(paths, "a", "cw/dirty")
    (path / "new.txt").write_text("not committed", encoding="utf-8")
    with pytest.raises(WorkWouldBeLostError, match="uncommitted changes") as caught:
        remove_agent_worktree(paths, "api", path)
    assert caught.value.check.uncommitted and caught.value.check.merged_into == "origin/main"
    assert (path / "new.txt").exists()


def test_removal_is_refused_with_unmerged_unpushed_commits(
    paths: RuntimePaths, synced: Remote
) -> None:
    path = agent_worktree(paths, "a", "cw/unmerged")
    sha = commit_file(path, "feature.txt", "feature", "the feature")
    with pytest.raises(WorkWouldBeLostError) as caught:
        remove_agent_worktree(paths, "api", path, base="main")
    check = caught.value.check
    assert [c.sha for c in check.unmerged] == [sha] and check.branch == "cw/unmerged"
    assert "branch 'cw/unmerged' has 1 commit neither merged into main or origin/main" in str(
        caught.value
    )
    assert path.exists()


def test_removal_is_allowed_once_pushed(paths: RuntimePaths, synced: Remote) -> None:
    path = agent_worktree(paths, "a", "cw/pushed")
    commit_file(path, "feature.txt", "feature")
    git.push(paths.repo_path("api"), "cw/pushed")
    done = remove_agent_worktree(paths, "api", path)
    assert done.removed and done.check.pushed and done.committed is None
    assert not path.exists() and git.branch_exists(paths.repo_path("api"), "cw/pushed")


def test_removal_is_allowed_once_merged_into_the_base(paths: RuntimePaths, synced: Remote) -> None:
    repo = paths.repo_path("api")
    git.create_branch(repo, "cw/initiative", "main")
    path = agent_worktree(paths, "a", "cw/task", start="cw/initiative")
    sha = commit_file(path, "task.txt", "task")
    with pytest.raises(WorkWouldBeLostError):
        remove_agent_worktree(paths, "api", path, base="cw/initiative")
    git.run_git(["update-ref", "refs/heads/cw/initiative", sha], repo)  # merged (ff)
    done = remove_agent_worktree(paths, "api", path, base="cw/initiative")
    assert done.removed and done.check.merged_into == "cw/initiative"


def test_removal_is_allowed_when_squash_merged_upstream(
    paths: RuntimePaths, synced: Remote
) -> None:
    path = agent_worktree(paths, "a", "cw/squashed")
    commit_file(path, "a.txt", "a", "a")
    commit_file(path, "b.txt", "b", "b")
    synced.commit({"a.txt": "a", "b.txt": "b"}, "squash-merge cw/squashed")
    sync_project(paths, "api", synced.url)
    assert remove_agent_worktree(paths, "api", path).removed


def test_forced_removal_saves_uncommitted_work_and_keeps_the_branch(
    paths: RuntimePaths, synced: Remote
) -> None:
    path = agent_worktree(paths, "a", "cw/forced")
    committed = commit_file(path, "done.txt", "done")
    (path / "wip.txt").write_text("half done", encoding="utf-8")
    done = remove_agent_worktree(paths, "api", path, force=True)
    repo = paths.repo_path("api")
    assert done.removed and done.forced and done.branch_kept and not path.exists()
    assert done.committed == git.head_commit(repo, "refs/heads/cw/forced")
    assert [c.subject for c in git.commits_between(repo, committed, "refs/heads/cw/forced")] == [
        SAVE_MESSAGE
    ]
    assert git.run_git(["show", "refs/heads/cw/forced:wip.txt"], repo) == "half done"


def test_a_worktree_deleted_by_hand_is_reported_and_recreated(
    paths: RuntimePaths, synced: Remote
) -> None:
    path = agent_worktree(paths, "a", "cw/vanished")
    sha = commit_file(path, "kept.txt", "kept")
    shutil.rmtree(path)
    check = check_removal(paths, "api", path)
    assert not check.exists and check.safe
    done = remove_agent_worktree(paths, "api", path)
    assert not done.removed
    again = create_worktree_for_agent(paths, "api", paths.workdir("a"), "cw/vanished", "main")
    assert git.head_commit(again.path) == sha and not again.created_branch


def test_a_home_path_of_a_user_that_does_not_exist_is_a_project_error(
    paths: RuntimePaths,
) -> None:
    with pytest.raises(ProjectError, match="cannot read the path"):
        sync_project(paths, "app", "~no-such-user-cw/repo.git")
