"""Merging work up the branches, against real git: a bare repository in a temp dir is the
project's remote, the workspace's clone and integration worktree are real.

Most tests share one project per module (each uses branches of its own, started from the
remote's ``main``, which only the tests that push to it change — they have their own).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from codewalkers.agents import git
from codewalkers.agents.git import BranchInUseError, PushRejectedError
from codewalkers.agents.integration import (
    BranchDivergedError,
    BranchNameClashError,
    BranchNotFoundError,
    Integrator,
    child_branch,
    ensure_branch,
)
from codewalkers.agents.paths import RuntimePaths
from codewalkers.agents.projects import ProjectError, sync_project
from tests.agents.conftest import TEST_IDENTITY, Remote, make_remote
from tests.agents.conftest import git as remote_git


@dataclass
class Project:
    """A remote, a workspace synced to it and its integrator; agents' worktrees beside."""

    remote: Remote
    paths: RuntimePaths
    integrator: Integrator
    agents: Path

    @property
    def repo(self) -> Path:
        return self.integrator.repo

    def work(
        self, branch: str, files: Mapping[str, str], start: str = "main", message: str = "work"
    ) -> str:
        """Commit ``files`` on ``branch`` in an agent's worktree (made from ``start`` when
        new), as an execute agent would; return the commit.
        """
        path = self.agent_worktree(branch)
        git.add_worktree(self.repo, path, branch, start)
        for name, content in files.items():
            (path / name).write_text(content, encoding="utf-8")
        sha = git.commit_all(path, message)
        assert sha is not None
        return sha

    def elsewhere(
        self, files: Mapping[str, str], branch: str = "main", message: str = "far"
    ) -> str:
        """Another machine (or a person) commits on the remote's ``branch``; return it."""
        remote_git(self.remote.work, "fetch", "--quiet", "origin")
        return self.remote.commit(files, message, branch=branch)

    def agent_worktree(self, branch: str) -> Path:
        return self.agents / branch.replace("/", "-") / "project"

    def tip(self, branch: str) -> str:
        return git.head_commit(self.repo, f"refs/heads/{branch}")

    def show(self, commit: str, name: str) -> str:
        return git.run_git(["show", f"{commit}:{name}"], self.repo)

    def parents(self, commit: str) -> list[str]:
        return git.run_git(["rev-list", "--parents", "-n1", commit], self.repo).split()[1:]

    def first_parent_subjects(self, branch: str) -> list[str]:
        out = git.run_git(
            ["log", "--first-parent", "--format=%s", f"refs/heads/{branch}"], self.repo
        )
        return out.splitlines()


def make_project(root: Path, files: int | Mapping[str, str] = 3) -> Project:
    remote = make_remote(root / "remote", files=files)
    workspace = root / "workspace"
    (workspace / ".cw").mkdir(parents=True)
    paths = RuntimePaths.from_settings(workspace, workspace / ".cw", {})
    sync_project(paths, "project", remote.url)
    return Project(remote, paths, Integrator(paths, "project"), root / "agents")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, isolated_git_config: Path) -> Project:
    """One project shared by the module's tests: use branch names of your own."""
    return make_project(tmp_path_factory.mktemp("integration"))


@pytest.fixture
def own_project(tmp_path: Path) -> Project:
    """A project of this test's own: its remote's ``main`` may change."""
    return make_project(tmp_path)


def assert_worktree_pristine(project: Project) -> None:
    worktree = project.integrator.worktree
    assert not git.git_path(worktree, "MERGE_HEAD").exists()
    assert not git.has_uncommitted_changes(worktree)
    assert git.worktree_branch(project.repo, worktree) is None  # detached: holds no branch


# --- branches ---------------------------------------------------------------------------------


def test_ensure_branch_creates_the_branch_once_at_its_start_point(project: Project) -> None:
    main = git.head_commit(project.repo, "origin/main")
    assert ensure_branch(project.repo, "cw/eb", "main") is True
    assert project.tip("cw/eb") == main
    project.work("cw/eb--task-1", {"eb.txt": "eb\n"}, start="cw/eb")
    project.integrator.merge("cw/eb", "cw/eb--task-1")
    moved = project.tip("cw/eb")
    assert ensure_branch(project.repo, "cw/eb", "main") is False
    assert project.tip("cw/eb") == moved  # an existing branch is left where it is
    # A phase branch starts from its initiative branch.
    assert project.integrator.ensure_branch("cw/eb--phase", "cw/eb") is True
    assert project.tip("cw/eb--phase") == moved


def test_ensure_branch_takes_the_copy_another_machine_pushed(project: Project) -> None:
    project.remote.branch_from("cw/pushed")
    pushed = project.elsewhere({"pushed.txt": "from elsewhere\n"}, branch="cw/pushed")
    project.integrator.fetch()
    assert ensure_branch(project.repo, "cw/pushed", "main") is True
    assert project.tip("cw/pushed") == pushed


def test_a_branch_made_from_another_is_its_sibling_because_git_cannot_nest_them(
    project: Project,
) -> None:
    phase = child_branch("cw/nest", "api")
    assert phase == "cw/nest--api"
    ensure_branch(project.repo, "cw/nest", "main")
    assert ensure_branch(project.repo, phase, "cw/nest") is True
    with pytest.raises(BranchNameClashError, match="'cw/nest'"):
        ensure_branch(project.repo, "cw/nest/api", "cw/nest")
    ensure_branch(project.repo, "cw/deep/er", "main")
    with pytest.raises(BranchNameClashError, match="'cw/deep/er'"):
        ensure_branch(project.repo, "cw/deep", "main")


def test_ensure_branch_from_an_unknown_start_point_fails(project: Project) -> None:
    with pytest.raises(git.GitError):
        ensure_branch(project.repo, "cw/nowhere", "no-such-branch")
    assert not git.branch_exists(project.repo, "cw/nowhere")


# --- merging ----------------------------------------------------------------------------------


def test_a_merge_makes_a_merge_commit_even_when_a_fast_forward_would_do(
    project: Project,
) -> None:
    ensure_branch(project.repo, "cw/clean", "main")
    before = project.tip("cw/clean")
    task = project.work("cw/clean--task-1", {"clean.txt": "clean\n"}, start="cw/clean")
    outcome = project.integrator.merge("cw/clean", "cw/clean--task-1", "Merge task 1")
    assert outcome.merged and not outcome.already_merged and outcome.conflicts == []
    assert outcome.commit == project.tip("cw/clean") == outcome.target_commit
    assert outcome.source_commit == task
    assert project.parents(outcome.commit) == [before, task]
    assert project.show(outcome.commit, "clean.txt") == "clean\n"
    assert project.first_parent_subjects("cw/clean")[0] == "Merge task 1"
    assert_worktree_pristine(project)
    assert project.integrator.worktree == project.paths.state_dir / "integration" / "project"


def test_merge_commits_follow_the_order_of_the_merges(project: Project) -> None:
    ensure_branch(project.repo, "cw/order", "main")
    for name in ("a", "b", "c"):
        project.work(f"cw/order--{name}", {f"order-{name}.txt": name}, start="cw/order")
    for name in ("b", "a", "c"):
        assert project.integrator.merge("cw/order", f"cw/order--{name}", f"Merge {name}").merged
    assert project.first_parent_subjects("cw/order") == ["Merge c", "Merge a", "Merge b", "seed"]


def test_a_conflict_aborts_names_the_files_and_leaves_the_target_as_it_was(
    project: Project,
) -> None:
    ensure_branch(project.repo, "cw/clash", "main")
    project.work("cw/clash--one", {"file0.txt": "one\n", "one.txt": "1"}, start="cw/clash")
    project.work("cw/clash--two", {"file0.txt": "two\n", "file1.txt": "two\n"}, start="cw/clash")
    project.work("cw/clash--three", {"file1.txt": "three\n"}, start="cw/clash")
    assert project.integrator.merge("cw/clash", "cw/clash--one").merged
    assert project.integrator.merge("cw/clash", "cw/clash--three").merged
    before = project.tip("cw/clash")

    outcome = project.integrator.merge("cw/clash", "cw/clash--two", "Merge two")
    assert not outcome.merged and not outcome.already_merged and outcome.commit is None
    assert outcome.conflicts == ["file0.txt", "file1.txt"]
    assert project.tip("cw/clash") == before == outcome.target_commit
    assert_worktree_pristine(project)

    # The task branch resolves it (as a conflict-resolution agent would): it merges the
    # phase branch in, keeps both changes, commits; then the retry merges.
    agent = project.agent_worktree("cw/clash--two")
    git.run_git(["merge", "--quiet", "cw/clash"], agent, env=TEST_IDENTITY, ok_codes=(1,))
    (agent / "file0.txt").write_text("one\ntwo\n", encoding="utf-8")
    (agent / "file1.txt").write_text("three\ntwo\n", encoding="utf-8")
    assert git.commit_all(agent, "Resolve the conflicts with cw/clash") is not None

    retried = project.integrator.merge("cw/clash", "cw/clash--two", "Merge two")
    assert retried.merged and retried.conflicts == []
    assert project.show(retried.commit or "", "file0.txt") == "one\ntwo\n"
    assert project.show(retried.commit or "", "file1.txt") == "three\ntwo\n"
    assert project.show(retried.commit or "", "one.txt") == "1"
    assert project.parents(retried.commit or "")[0] == before


def test_an_already_merged_source_is_a_no_op(project: Project) -> None:
    ensure_branch(project.repo, "cw/again", "main")
    project.work("cw/again--task", {"again.txt": "again\n"}, start="cw/again")
    first = project.integrator.merge("cw/again", "cw/again--task")
    assert first.merged
    second = project.integrator.merge("cw/again", "cw/again--task")
    assert second.already_merged and not second.merged and second.commit is None
    assert second.conflicts == [] and second.target_commit == first.commit
    assert project.tip("cw/again") == first.commit
    # The branch the target started from is in it too.
    assert project.integrator.merge("cw/again", "main").already_merged


def test_unknown_branches_are_named(project: Project) -> None:
    ensure_branch(project.repo, "cw/known", "main")
    with pytest.raises(BranchNotFoundError, match="cw/unknown"):
        project.integrator.merge("cw/known", "cw/unknown")
    with pytest.raises(BranchNotFoundError, match="cw/unknown"):
        project.integrator.merge("cw/unknown", "cw/known")


def test_a_target_checked_out_in_another_worktree_is_refused(project: Project) -> None:
    ensure_branch(project.repo, "cw/busy", "main")
    project.work("cw/busy--task", {"busy.txt": "busy\n"}, start="cw/busy")
    review_agent = project.agents / "reviewer" / "project"
    git.add_worktree(project.repo, review_agent, "cw/busy", "main")
    before = project.tip("cw/busy")
    with pytest.raises(BranchInUseError, match="reviewer"):
        project.integrator.merge("cw/busy", "cw/busy--task")
    assert project.tip("cw/busy") == before
    git.remove_worktree(project.repo, review_agent)
    assert project.integrator.merge("cw/busy", "cw/busy--task").merged
    # The integration worktree never holds the branch: an agent may check it out again.
    git.add_worktree(project.repo, review_agent, "cw/busy", "main")
    git.remove_worktree(project.repo, review_agent)


def test_two_threads_merging_into_one_target_take_turns(project: Project) -> None:
    ensure_branch(project.repo, "cw/race", "main")
    names = ["a", "b", "c", "d"]
    for name in names:
        project.work(f"cw/race--{name}", {f"race-{name}.txt": name}, start="cw/race")
    start = threading.Barrier(len(names))
    outcomes: dict[str, bool] = {}
    errors: list[BaseException] = []

    def merge(name: str) -> None:
        # An Integrator of its own: the lock is the project's, not the instance's.
        integrator = Integrator(project.paths, "project")
        start.wait()
        try:
            outcomes[name] = integrator.merge("cw/race", f"cw/race--{name}", f"Merge {name}").merged
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=merge, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert outcomes == dict.fromkeys(names, True)
    subjects = project.first_parent_subjects("cw/race")
    assert sorted(subjects[:4]) == [f"Merge {name}" for name in names]
    tip = project.tip("cw/race")
    assert [project.show(tip, f"race-{name}.txt") for name in names] == names


def test_another_process_holding_the_project_lock_is_waited_for(project: Project) -> None:
    import fcntl

    ensure_branch(project.repo, "cw/wait", "main")
    project.work("cw/wait--task", {"wait.txt": "wait\n"}, start="cw/wait")
    lock_file = project.integrator.worktree.parent / ".project.lock"
    done = threading.Event()
    # Another open of the lock file stands for another process (flock is per open file).
    with open(lock_file, "a+b") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        thread = threading.Thread(
            target=lambda: (project.integrator.merge("cw/wait", "cw/wait--task"), done.set())
        )
        thread.start()
        assert not done.wait(0.5)
        before = project.tip("cw/wait")
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    thread.join(timeout=60)
    assert done.is_set() and project.tip("cw/wait") != before


def test_merge_can_fetch_first(project: Project) -> None:
    project.remote.branch_from("cw/fetched")
    project.remote.branch_from("cw/fetched--task", "cw/fetched")
    task = project.elsewhere({"fetched.txt": "far\n"}, branch="cw/fetched--task")
    outcome = project.integrator.merge("cw/fetched", "cw/fetched--task", fetch=True)
    assert outcome.merged and outcome.source_commit == task


# --- a crash in the middle ----------------------------------------------------------------------


def test_what_a_killed_merge_left_behind_is_cleared_at_the_next_merge(project: Project) -> None:
    ensure_branch(project.repo, "cw/crash", "main")
    project.work("cw/crash--one", {"file2.txt": "one\n"}, start="cw/crash")
    project.work("cw/crash--two", {"file2.txt": "two\n"}, start="cw/crash")
    project.work("cw/crash--three", {"crash.txt": "three\n"}, start="cw/crash")
    assert project.integrator.merge("cw/crash", "cw/crash--one").merged
    before = project.tip("cw/crash")
    # A process killed mid-merge: a conflicted merge in progress, a stray file, and the
    # index lock of a git that was killed.
    worktree = project.integrator.worktree
    git.run_git(["checkout", "--quiet", "--detach", "cw/crash"], worktree)
    git.run_git(["merge", "--no-edit", "cw/crash--two"], worktree, env=TEST_IDENTITY, ok_codes=(1,))
    (worktree / "stray.txt").write_text("half-written\n", encoding="utf-8")
    lock = git.git_path(worktree, "index.lock")
    lock.write_bytes(b"")
    old = time.time() - 3600
    os.utime(lock, (old, old))

    outcome = project.integrator.merge("cw/crash", "cw/crash--three")
    assert outcome.merged and project.parents(outcome.commit or "") == [
        before,
        project.tip("cw/crash--three"),
    ]
    assert project.show(outcome.commit or "", "file2.txt") == "one\n"  # no conflict markers
    assert not (worktree / "stray.txt").exists() and not lock.exists()
    assert_worktree_pristine(project)


def test_an_integration_worktree_deleted_or_broken_is_made_again(project: Project) -> None:
    import shutil

    ensure_branch(project.repo, "cw/rebuilt", "main")
    for name in ("a", "b"):
        project.work(f"cw/rebuilt--{name}", {f"rebuilt-{name}.txt": name}, start="cw/rebuilt")
    worktree = project.integrator.worktree
    project.integrator.merge("cw/rebuilt", "main")  # makes sure it exists
    shutil.rmtree(worktree, ignore_errors=True)
    assert project.integrator.merge("cw/rebuilt", "cw/rebuilt--a").merged
    (worktree / ".git").write_text("gitdir: /nowhere\n", encoding="utf-8")  # broken
    assert project.integrator.merge("cw/rebuilt", "cw/rebuilt--b").merged
    assert_worktree_pristine(project)


# --- several machines: branches on the remote -----------------------------------------------------


def test_branches_only_on_the_remote_are_merged_after_a_fetch(project: Project) -> None:
    # Another machine created the phase branch and an agent's task branch, and pushed them.
    project.remote.branch_from("cw/far")
    project.remote.branch_from("cw/far--task", "cw/far")
    task = project.elsewhere({"far.txt": "far\n"}, branch="cw/far--task")
    project.integrator.fetch()
    assert not git.branch_exists(project.repo, "cw/far--task")

    outcome = project.integrator.merge("cw/far", "cw/far--task")
    assert outcome.merged and outcome.source_commit == task
    assert project.tip("cw/far") == outcome.commit
    project.integrator.push("cw/far")
    assert project.remote.head("cw/far") == outcome.commit


def test_the_newer_copy_of_a_branch_is_merged(project: Project) -> None:
    # The task ran here and was pushed; a resolution agent on another machine added to it.
    ensure_branch(project.repo, "cw/newer", "main")
    project.work("cw/newer--task", {"newer.txt": "here\n"}, start="cw/newer")
    project.integrator.push("cw/newer--task")
    there = project.elsewhere({"newer.txt": "there\n"}, branch="cw/newer--task")
    project.integrator.fetch()
    outcome = project.integrator.merge("cw/newer", "cw/newer--task")
    assert outcome.source_commit == there
    assert project.show(outcome.commit or "", "newer.txt") == "there\n"


def test_a_target_another_machine_moved_is_brought_up_to_date_first(project: Project) -> None:
    ensure_branch(project.repo, "cw/behind", "main")
    project.integrator.push("cw/behind")
    # Another machine merged into the phase branch and pushed.
    elsewhere = project.elsewhere({"behind-far.txt": "far\n"}, branch="cw/behind")
    project.work("cw/behind--task", {"behind.txt": "here\n"}, start="cw/behind")
    project.integrator.fetch()
    outcome = project.integrator.merge("cw/behind", "cw/behind--task")
    assert outcome.merged and project.parents(outcome.commit or "")[0] == elsewhere
    project.integrator.push("cw/behind")  # a fast-forward of the remote's branch
    assert project.remote.head("cw/behind") == outcome.commit


def test_a_target_that_moved_here_and_there_is_reconciled(project: Project) -> None:
    ensure_branch(project.repo, "cw/split", "main")
    project.integrator.push("cw/split")
    project.work("cw/split--here", {"split-here.txt": "here\n"}, start="cw/split")
    assert project.integrator.merge("cw/split", "cw/split--here").merged  # never pushed
    project.elsewhere({"split-there.txt": "there\n"}, branch="cw/split")
    project.work("cw/split--next", {"split-next.txt": "next\n"}, start="cw/split")
    project.integrator.fetch()
    outcome = project.integrator.merge("cw/split", "cw/split--next")
    assert outcome.merged
    for name in ("split-here.txt", "split-there.txt", "split-next.txt"):
        assert project.show(outcome.commit or "", name)
    project.integrator.push("cw/split")


def test_a_source_whose_copies_diverged_is_refused(project: Project) -> None:
    ensure_branch(project.repo, "cw/fork", "main")
    project.work("cw/fork--task", {"fork.txt": "here\n"}, start="cw/fork")
    project.integrator.push("cw/fork--task")
    project.elsewhere({"fork.txt": "there\n"}, branch="cw/fork--task")
    project.work("cw/fork--task", {"fork.txt": "here again\n"})
    project.integrator.fetch()
    with pytest.raises(BranchDivergedError, match="cw/fork--task"):
        project.integrator.merge("cw/fork", "cw/fork--task")
    with pytest.raises(PushRejectedError, match="cw/fork--task"):
        project.integrator.push("cw/fork--task")


# --- the default branch ---------------------------------------------------------------------------


def test_merge_into_default_lands_the_initiative_on_the_remote(own_project: Project) -> None:
    project = own_project
    ensure_branch(project.repo, "cw/done", "main")
    project.work("cw/done--task", {"done.txt": "done\n"}, start="cw/done")
    assert project.integrator.merge("cw/done", "cw/done--task").merged
    project.integrator.push("cw/done")
    assert project.remote.head("cw/done") == project.tip("cw/done")
    main_before = project.remote.head("main")

    outcome = project.integrator.merge_into_default("cw/done", "Merge initiative done")
    assert outcome.merged and outcome.target == "main"
    assert project.remote.head("main") == outcome.commit
    assert project.parents(outcome.commit or "") == [main_before, project.tip("cw/done")]
    assert git.resolve_commit(project.repo, "refs/remotes/origin/main") == outcome.commit
    assert not git.branch_exists(project.repo, "main")  # no local copy to go stale
    assert project.integrator.merge_into_default("cw/done").already_merged


def test_merge_into_default_retries_when_someone_pushed_meanwhile(
    own_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = own_project
    ensure_branch(project.repo, "cw/late", "main")
    project.work("cw/late--task", {"late.txt": "late\n"}, start="cw/late")
    project.integrator.merge("cw/late", "cw/late--task")
    real_push = git.push_commit
    calls: list[str] = []

    def overtaken(repo: Path, commit: str, branch: str, **kwargs: object) -> None:
        calls.append(commit)
        if len(calls) == 1:
            project.elsewhere({"someone.txt": "else\n"})
        real_push(repo, commit, branch)

    monkeypatch.setattr(git, "push_commit", overtaken)
    outcome = project.integrator.merge_into_default("cw/late")
    assert outcome.merged and len(calls) == 2
    main = project.remote.head("main")
    assert main == outcome.commit
    assert project.show(main, "late.txt") == "late\n"
    assert project.show(main, "someone.txt") == "else\n"


def test_merge_into_default_conflicting_pushes_nothing(own_project: Project) -> None:
    project = own_project
    ensure_branch(project.repo, "cw/stale", "main")
    project.work("cw/stale--task", {"file0.txt": "ours\n"}, start="cw/stale")
    project.integrator.merge("cw/stale", "cw/stale--task")
    theirs = project.elsewhere({"file0.txt": "theirs\n"})
    outcome = project.integrator.merge_into_default("cw/stale")
    assert outcome.conflicts == ["file0.txt"] and not outcome.merged
    assert project.remote.head("main") == theirs


# --- review -------------------------------------------------------------------------------------


def test_diff_shows_what_the_phase_changes_since_it_left_the_initiative(
    project: Project,
) -> None:
    ensure_branch(project.repo, "cw/rev", "main")
    ensure_branch(project.repo, "cw/rev--phase", "cw/rev")
    project.work(
        "cw/rev--phase--task", {"file1.txt": "reviewed\n", "rev.txt": "new\n"}, "cw/rev--phase"
    )
    project.integrator.merge("cw/rev--phase", "cw/rev--phase--task")
    # The initiative moved on meanwhile (another phase): not part of this phase's diff.
    project.work("cw/rev--other", {"other-phase.txt": "other\n"}, start="cw/rev")
    project.integrator.merge("cw/rev", "cw/rev--other")

    text = project.integrator.diff("cw/rev", "cw/rev--phase")
    assert "+reviewed" in text and "-line 1" in text and "+new" in text
    assert "other-phase.txt" not in text
    assert project.integrator.changed_files("cw/rev", "cw/rev--phase") == ["file1.txt", "rev.txt"]


def test_an_integrator_needs_a_synced_project(tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    paths = RuntimePaths.from_settings(root, root / ".cw", {})
    with pytest.raises(ProjectError, match="cw project sync"):
        Integrator(paths, "never-synced").merge("a", "b")
    with pytest.raises(ProjectError):
        Integrator(paths, "../escape")
