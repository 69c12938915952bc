"""The git module against real repositories: a bare repository in a temp dir is the remote."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codewalkers.agents import git
from codewalkers.agents.git import BranchInUseError, GitError, UncommittedChangesError
from tests.agents.conftest import Remote, make_remote
from tests.agents.conftest import git as remote_git


@pytest.fixture
def clone(tmp_path: Path, remote_repo: Remote) -> Path:
    """A workspace clone of the shared remote."""
    dest = tmp_path / "repos" / "project.git"
    git.ensure_clone(remote_repo.url, dest)
    return dest


@pytest.fixture
def fresh_clone(tmp_path: Path, fresh_remote: Remote) -> Path:
    dest = tmp_path / "repos" / "fresh.git"
    git.ensure_clone(fresh_remote.url, dest)
    return dest


def commit_file(worktree: Path, name: str, content: str, message: str = "work") -> str:
    (worktree / name).write_text(content, encoding="utf-8")
    sha = git.commit_all(worktree, message)
    assert sha is not None
    return sha


# --- run_git ---------------------------------------------------------------------------------


def test_a_failed_command_names_its_argv_exit_code_and_stderr(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        git.run_git(["rev-parse", "--verify", "no-such-ref"], tmp_path)
    error = caught.value
    assert error.argv[:4] == ["git", "-C", str(tmp_path), "rev-parse"]
    assert error.returncode == 128
    assert "not a git repository" in error.stderr  # LC_ALL=C: messages in English
    assert "git rev-parse" in str(error) and "exit 128" in str(error)


def test_arguments_are_never_read_by_a_shell(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git.run_git(["init", "--quiet", str(repo)])
    marker = tmp_path / "pwned"
    git.run_git(
        ["check-ref-format", "--branch", f"x$(touch {marker});`touch {marker}`"],
        repo,
        ok_codes=(0, 1, 128),
    )
    assert not marker.exists()


def test_git_variables_of_a_calling_hook_do_not_redirect_commands(
    tmp_path: Path, clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    git.run_git(["init", "--quiet", str(other)])
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    assert git.run_git(["rev-parse", "--is-bare-repository"], clone).strip() == "true"


def test_git_missing_from_path_is_a_git_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitError, match="git is not installed"):
        git.run_git(["--version"])


def test_a_command_that_hangs_is_stopped_at_its_bound(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git.run_git(["init", "--quiet", str(repo)])
    hang = ["-c", "protocol.ext.allow=always", "ls-remote", "ext::sleep 600"]
    with pytest.raises(GitError, match=r"did not finish within 0\.5 s") as caught:
        git.run_git(hang, repo, timeout=0.5)
    assert caught.value.returncode is None


# --- clones and fetches ---------------------------------------------------------------------


def test_a_file_url_is_cloned_bare_with_remote_tracking_branches_only(
    clone: Path, remote_repo: Remote
) -> None:
    assert git.is_repository(clone)
    assert git.run_git(["rev-parse", "--is-bare-repository"], clone).strip() == "true"
    assert git.remote_branches(clone) == ["main"]
    assert git.head_commit(clone, "origin/main") == remote_repo.head()
    assert git.run_git(["for-each-ref", "refs/heads/"], clone) == ""  # ours alone
    assert git.default_branch(clone, "fallback") == "main"


def test_a_local_path_is_a_valid_url(tmp_path: Path, remote_repo: Remote) -> None:
    dest = tmp_path / "by-path.git"
    assert git.ensure_clone(str(remote_repo.path), dest) is True
    assert git.head_commit(dest, "main") == remote_repo.head()  # main → origin/main
    assert git.ensure_clone(str(remote_repo.path), dest) is False  # already there


def test_a_url_that_does_not_exist_fails_and_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "repos" / "gone.git"
    with pytest.raises(GitError) as caught:
        git.ensure_clone((tmp_path / "nowhere.git").as_uri(), dest)
    assert "does not appear to be a git repository" in str(caught.value)
    assert not dest.exists()
    assert list((tmp_path / "repos").iterdir()) == []  # no half-made clone beside it


def test_a_path_that_is_not_a_repository_fails(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README").write_text("not a repo", encoding="utf-8")
    with pytest.raises(GitError):
        git.ensure_clone(str(plain), tmp_path / "x.git")
    assert not (tmp_path / "x.git").exists()


def test_something_else_in_the_clones_place_is_left_alone(
    tmp_path: Path, remote_repo: Remote
) -> None:
    dest = tmp_path / "taken.git"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(GitError, match="not a bare git repository"):
        git.ensure_clone(remote_repo.url, dest)
    assert (dest / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_fetch_brings_new_commits_and_branches_and_drops_deleted_ones(
    fresh_clone: Path, fresh_remote: Remote
) -> None:
    fresh_remote.branch_from("doomed")
    git.fetch(fresh_clone)
    assert git.remote_branches(fresh_clone) == ["doomed", "main"]
    new = fresh_remote.commit({"new.txt": "new\n"}, "remote moves on")
    remote_git(fresh_remote.path, "branch", "-D", "doomed")
    git.fetch(fresh_clone)
    assert git.head_commit(fresh_clone, "origin/main") == new
    assert git.remote_branches(fresh_clone) == ["main"]


def test_fetch_never_moves_a_local_branch(fresh_clone: Path, fresh_remote: Remote) -> None:
    """A local branch named like a remote one keeps its commits whatever the remote does."""
    seed = git.create_branch(fresh_clone, "main", "origin/main")
    fresh_remote.commit({"x.txt": "x"}, "remote commit")
    git.fetch(fresh_clone)
    assert git.head_commit(fresh_clone, "refs/heads/main") == seed
    assert git.head_commit(fresh_clone, "origin/main") != seed


def test_the_default_branch_comes_from_the_remote_head(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "trunky", branch="trunk")
    remote.branch_from("main")  # a "main" that is not the default
    dest = tmp_path / "trunky.git"
    git.ensure_clone(remote.url, dest)
    assert git.default_branch(dest, fallback="main") == "trunk"
    # The remote switches its default branch: the next fetch follows.
    remote_git(remote.path, "symbolic-ref", "HEAD", "refs/heads/main")
    git.fetch(dest)
    assert git.default_branch(dest, fallback="trunk") == "main"


def test_an_empty_remote_has_the_configured_default_branch(tmp_path: Path) -> None:
    empty = tmp_path / "empty.git"
    git.run_git(["init", "--quiet", "--bare", str(empty)])
    dest = tmp_path / "clone.git"
    git.ensure_clone(empty.as_uri(), dest)
    assert git.default_branch(dest, fallback="develop") == "develop"
    assert git.resolve_commit(dest, "develop") is None
    assert git.remote_branches(dest) == []


def test_a_changed_url_is_followed(tmp_path: Path, clone: Path, fresh_remote: Remote) -> None:
    assert git.ensure_clone(fresh_remote.url, clone) is False
    assert git.remote_url(clone) == fresh_remote.url


# --- worktrees -------------------------------------------------------------------------------


def test_a_worktree_gets_a_new_branch_from_its_start_point(
    tmp_path: Path, clone: Path, remote_repo: Remote
) -> None:
    path = tmp_path / "agent" / "project"
    added = git.add_worktree(clone, path, "cw/feature", "main")
    assert added.created_branch and not added.existed
    assert added.head == remote_repo.head()
    assert sorted(p.name for p in path.iterdir() if p.name != ".git") == sorted(remote_repo.files)
    assert git.worktree_branch(clone, path) == "cw/feature"
    # No upstream: the agent's branch does not track main.
    assert git.run_git(["config", "--get", "branch.cw/feature.merge"], clone, ok_codes=(1,)) == ""


def test_an_existing_branch_is_reused_with_its_commits(tmp_path: Path, clone: Path) -> None:
    first = tmp_path / "one" / "project"
    git.add_worktree(clone, first, "cw/reuse", "main")
    work = commit_file(first, "agent.txt", "agent work")
    git.remove_worktree(clone, first)
    second = tmp_path / "two" / "project"
    added = git.add_worktree(clone, second, "cw/reuse", "origin/main")
    assert not added.created_branch and added.head == work
    assert (second / "agent.txt").read_text(encoding="utf-8") == "agent work"


def test_adding_the_same_worktree_again_changes_nothing(tmp_path: Path, clone: Path) -> None:
    path = tmp_path / "a" / "project"
    git.add_worktree(clone, path, "cw/again", "main")
    (path / "wip.txt").write_text("in progress", encoding="utf-8")
    again = git.add_worktree(clone, path, "cw/again", "main")
    assert again.existed and (path / "wip.txt").exists()


def test_a_branch_checked_out_in_another_live_worktree_is_a_clear_error(
    tmp_path: Path, clone: Path
) -> None:
    git.add_worktree(clone, tmp_path / "a" / "project", "cw/busy", "main")
    with pytest.raises(BranchInUseError) as caught:
        git.add_worktree(clone, tmp_path / "b" / "project", "cw/busy", "main")
    assert caught.value.branch == "cw/busy"
    assert caught.value.worktree == tmp_path / "a" / "project"
    assert "already checked out in the worktree" in str(caught.value)
    assert not (tmp_path / "b" / "project").exists()


def test_a_worktree_deleted_by_hand_no_longer_holds_its_branch(tmp_path: Path, clone: Path) -> None:
    import shutil

    stale = tmp_path / "stale" / "project"
    git.add_worktree(clone, stale, "cw/stale", "main")
    work = commit_file(stale, "kept.txt", "committed before the directory went")
    shutil.rmtree(stale)
    assert any(w.prunable for w in git.worktree_list(clone))
    added = git.add_worktree(clone, tmp_path / "new" / "project", "cw/stale", "main")
    assert added.head == work  # the branch and its commit survived
    assert not any(w.prunable for w in git.worktree_list(clone))


def test_an_unknown_start_point_is_an_error_and_makes_nothing(tmp_path: Path, clone: Path) -> None:
    with pytest.raises(GitError, match="'nope' names no commit"):
        git.add_worktree(clone, tmp_path / "x" / "project", "cw/x", "nope")
    assert not git.branch_exists(clone, "cw/x")
    assert [w.bare for w in git.worktree_list(clone)] == [True]


def test_worktree_list_reads_paths_with_spaces_and_unicode(tmp_path: Path, clone: Path) -> None:
    path = tmp_path / "wörk space" / "日本 project"
    git.add_worktree(clone, path, "cw/ünïcode branch-ok".replace(" ", "-"), "main")
    listed = {w.path: w for w in git.worktree_list(clone)}
    assert listed[path].branch == "cw/ünïcode-branch-ok"
    assert listed[path].head == git.head_commit(path)
    assert listed[clone].bare


def test_uncommitted_changes_count_untracked_but_not_ignored_files(
    tmp_path: Path, clone: Path
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/status", "main")
    assert not git.has_uncommitted_changes(path)
    commit_file(path, ".gitignore", "build/\n")
    (path / "build").mkdir()
    (path / "build" / "out.o").write_text("binary", encoding="utf-8")
    assert not git.has_uncommitted_changes(path)
    (path / "deep" / "new").mkdir(parents=True)
    (path / "deep" / "new" / "file.txt").write_text("untracked", encoding="utf-8")
    assert git.has_uncommitted_changes(path)


def test_removal_refuses_uncommitted_changes_and_keeps_the_branch_when_forced(
    tmp_path: Path, clone: Path
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/remove", "main")
    work = commit_file(path, "done.txt", "done")
    (path / "file0.txt").write_text("edited, not committed", encoding="utf-8")
    with pytest.raises(UncommittedChangesError):
        git.remove_worktree(clone, path)
    assert (path / "file0.txt").read_text(encoding="utf-8") == "edited, not committed"
    assert git.remove_worktree(clone, path, force=True) is True
    assert not path.exists()
    assert git.head_commit(clone, "refs/heads/cw/remove") == work


def test_removing_a_worktree_already_deleted_by_hand_prunes_it(tmp_path: Path, clone: Path) -> None:
    import shutil

    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/gone", "main")
    shutil.rmtree(path)
    assert git.remove_worktree(clone, path) is False
    assert [w.path for w in git.worktree_list(clone)] == [clone]
    assert git.branch_exists(clone, "cw/gone")


# --- commits ---------------------------------------------------------------------------------


def test_commit_all_adds_untracked_files_and_returns_none_when_clean(
    tmp_path: Path, clone: Path
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/commit", "main")
    assert git.commit_all(path, "nothing") is None
    (path / "new dir").mkdir()
    (path / "new dir" / "é.txt").write_text("new", encoding="utf-8")
    (path / "file1.txt").unlink()
    sha = git.commit_all(path, "save: everything")
    assert sha == git.head_commit(path)
    assert not git.has_uncommitted_changes(path)
    assert git.changed_files(clone, "main", sha) == ["file1.txt", "new dir/é.txt"]
    assert [c.subject for c in git.commits_between(clone, "main", sha)] == ["save: everything"]


def test_commit_all_works_without_any_identity(
    tmp_path: Path, clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("EMAIL", raising=False)
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/anon", "main")
    assert not git.has_identity(path)
    sha = commit_file(path, "a.txt", "a")
    ident = git.run_git(["log", "-1", "--format=%an <%ae>|%cn <%ce>", sha], path).strip()
    assert ident == "Codewalkers <codewalkers@localhost>|Codewalkers <codewalkers@localhost>"


def test_commit_all_never_fails_on_an_empty_configured_identity(
    tmp_path: Path, clone: Path
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/empty-ident", "main")
    git.run_git(["config", "user.name", ""], path)
    git.run_git(["config", "user.email", ""], path)
    sha = commit_file(path, "a.txt", "a")
    assert git.run_git(["log", "-1", "--format=%an", sha], path).strip() == "Codewalkers"


def test_commit_all_uses_the_configured_identity(tmp_path: Path, clone: Path) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/ident", "main")
    git.run_git(["config", "user.name", "Ada"], path)
    git.run_git(["config", "user.email", "ada@example.com"], path)
    sha = commit_file(path, "a.txt", "a")
    assert git.run_git(["log", "-1", "--format=%an <%ae>", sha], path).strip() == (
        "Ada <ada@example.com>"
    )


def test_a_failing_commit_hook_cannot_stop_work_being_saved(tmp_path: Path, clone: Path) -> None:
    hooks = clone / "hooks"
    hooks.mkdir(exist_ok=True)
    hook = hooks / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    path = tmp_path / "w" / "project"
    git.add_worktree(clone, path, "cw/hooked", "main")
    assert commit_file(path, "a.txt", "a")


# --- merged, pushed ---------------------------------------------------------------------------


def test_a_branch_whose_commits_are_in_the_target_is_merged(
    tmp_path: Path, fresh_clone: Path, fresh_remote: Remote
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(fresh_clone, path, "cw/merge-me", "main")
    assert git.branch_is_merged(fresh_clone, "cw/merge-me", "origin/main")  # nothing yet
    work = commit_file(path, "feature.txt", "feature")
    assert not git.branch_is_merged(fresh_clone, "cw/merge-me", "origin/main")
    assert [c.sha for c in git.unmerged_commits(fresh_clone, "cw/merge-me", "main")] == [work]
    # The remote merges it (fast-forward).
    git.push(fresh_clone, "cw/merge-me")
    remote_git(fresh_remote.path, "update-ref", "refs/heads/main", work)
    git.fetch(fresh_clone)
    assert git.branch_is_merged(fresh_clone, "cw/merge-me", "origin/main")
    assert git.unmerged_commits(fresh_clone, "cw/merge-me", "main") == []


def test_cherry_picked_and_squash_merged_branches_count_as_merged(
    tmp_path: Path, fresh_clone: Path, fresh_remote: Remote
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(fresh_clone, path, "cw/squash", "main")
    commit_file(path, "one.txt", "1", "one")
    commit_file(path, "two.txt", "2", "two")
    # Upstream moved on meanwhile, then took the branch as one squashed commit.
    fresh_remote.commit({"other.txt": "other"}, "unrelated")
    fresh_remote.commit({"one.txt": "1", "two.txt": "2"}, "squash of cw/squash")
    git.fetch(fresh_clone)
    assert git.branch_is_merged(fresh_clone, "cw/squash", "origin/main")

    other = tmp_path / "w2" / "project"
    git.add_worktree(fresh_clone, other, "cw/picked", "main")
    commit_file(other, "three.txt", "3", "three")
    commit_file(other, "four.txt", "4", "four")
    assert len(git.unmerged_commits(fresh_clone, "cw/picked", "origin/main")) == 2
    fresh_remote.commit({"three.txt": "3"}, "three (picked)")
    git.fetch(fresh_clone)
    left = git.unmerged_commits(fresh_clone, "cw/picked", "origin/main")
    assert [c.subject for c in left] == ["four"]
    fresh_remote.commit({"four.txt": "4"}, "four (picked)")
    git.fetch(fresh_clone)
    assert git.branch_is_merged(fresh_clone, "cw/picked", "origin/main")
    assert git.unmerged_branches(fresh_clone, "origin/main", prefix="cw/") == []


def test_a_pushed_branch_is_pushed_until_it_gains_new_commits(
    tmp_path: Path, fresh_clone: Path, fresh_remote: Remote
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(fresh_clone, path, "cw/push-me", "main")
    commit_file(path, "f.txt", "f")
    assert not git.branch_is_pushed(fresh_clone, "cw/push-me")
    assert git.unmerged_branches(fresh_clone, "origin/main") == ["cw/push-me"]
    git.push(fresh_clone, "cw/push-me")
    assert git.branch_is_pushed(fresh_clone, "cw/push-me")
    assert fresh_remote.head("cw/push-me") == git.head_commit(path)
    commit_file(path, "g.txt", "g")
    assert not git.branch_is_pushed(fresh_clone, "cw/push-me")
    assert [c.subject for c in git.unpushed_commits(fresh_clone, "cw/push-me")] == ["work"]


def test_a_push_the_remote_refuses_is_an_error(
    tmp_path: Path, fresh_clone: Path, fresh_remote: Remote
) -> None:
    path = tmp_path / "w" / "project"
    git.add_worktree(fresh_clone, path, "main", "origin/main")
    commit_file(path, "mine.txt", "mine")
    fresh_remote.commit({"theirs.txt": "theirs"}, "moved on")
    with pytest.raises(GitError, match="git push"):
        git.push(fresh_clone, "main")  # not a fast-forward: never forced


def test_create_branch_and_merge_base(clone: Path, remote_repo: Remote) -> None:
    assert git.create_branch(clone, "cw/base", "main") == remote_repo.head()
    assert git.branch_exists(clone, "cw/base")
    with pytest.raises(GitError, match="already exists"):
        git.create_branch(clone, "cw/base", "main")
    assert git.merge_base(clone, "cw/base", "origin/main") == remote_repo.head()
    assert os.fspath(clone).endswith(".git")
