"""The executor in-process: a real bare remote, the shipped fake agent as real processes in
real worktrees, the real supervisor thread, and the executor ticked as the coordinator will
(every few tens of milliseconds); SQLite and PostgreSQL.

Merges go through the real :class:`~codewalkers.services.execution.GitIntegration` when
``codewalkers.agents.integration`` is there, else through :class:`LocalIntegration`, a
plain-git stand-in with the same contract: merge commits, conflicts aborted with the target
unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codewalkers.agents import git, process, projects
from codewalkers.agents.paths import RuntimePaths
from codewalkers.agents.providers import fake_provider
from codewalkers.agents.settings import AgentSettings
from codewalkers.db import Database, Project
from codewalkers.services.execution import (
    DispatchSettings,
    Executor,
    GitIntegration,
    Integration,
    MergeResult,
)
from codewalkers.services.runtime import AgentRuntime
from codewalkers.workspace import Workspace
from tests.agents.conftest import Remote, isolated_git_config, make_remote

__all__ = ["isolated_git_config"]

AGENT_SETTINGS = AgentSettings(
    poll_interval=0.02, maintenance_interval=0.1, stop_grace=2.0, signal_grace=0.1
)
REAL_INTEGRATION = importlib.util.find_spec("codewalkers.agents.integration") is not None
FAST = DispatchSettings(max_agents=4, max_retries=3, backoff=0.05, backoff_max=0.2)


def scenario(*steps: object) -> str:
    """A task description the fake agent acts out."""
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


def writes(path: str, content: str, summary: str) -> str:
    return scenario(
        {"write": {"path": path, "content": content}},
        {"commit": f"add {path}"},
        {"done": summary},
    )


@dataclass
class LocalIntegration:
    """Branches and merges in the workspace's clones, each merge in a throwaway detached
    worktree (never an agent's)."""

    paths: RuntimePaths
    merges: list[tuple[str, str, str]] = field(default_factory=list)

    def _repo(self, project: Project) -> Path:
        repo = self.paths.repo_path(project.name)
        if not repo.exists():
            projects.sync_project(self.paths, project.name, project.url, project.default_branch)
        return repo

    def ensure_branch(self, project: Project, branch: str, start_point: str) -> bool:
        repo = self._repo(project)
        if git.branch_exists(repo, branch):
            return False
        pushed = git.resolve_commit(repo, f"refs/remotes/origin/{branch}")
        git.create_branch(repo, branch, pushed or start_point)
        return True

    def fetch(self, project: Project) -> None:
        git.fetch(self._repo(project))

    def tip(self, project: Project, branch: str) -> str:
        """The newer of the local branch and origin/<branch>."""
        repo = self._repo(project)
        local = git.resolve_commit(repo, f"refs/heads/{branch}")
        remote = git.resolve_commit(repo, f"refs/remotes/origin/{branch}")
        if local is None or (remote is not None and _is_ancestor(repo, local, remote)):
            assert remote is not None, branch
            return remote
        return local

    def default_branch(self, project: Project) -> str:
        return git.default_branch(self._repo(project), fallback=project.default_branch)

    def merge(self, project: Project, target: str, source: str, message: str) -> MergeResult:
        repo = self._repo(project)
        source = self.tip(project, source)
        newest = self.tip(project, target)
        if git.resolve_commit(repo, f"refs/heads/{target}") != newest:  # behind the remote
            git.run_git(["update-ref", f"refs/heads/{target}", newest], repo)
        if _is_ancestor(repo, source, newest):
            return MergeResult(merged=False, already_merged=True)
        tree = self.paths.state_dir / "test-integration" / uuid.uuid4().hex
        old = git.head_commit(repo, target)
        git.run_git(["worktree", "add", "--quiet", "--detach", os.fspath(tree), old], repo)
        try:
            merged = subprocess.run(
                [
                    "git",
                    "-c",
                    "user.name=Codewalkers",
                    "-c",
                    "user.email=codewalkers@localhost",
                    "-c",
                    "commit.gpgsign=false",
                    "merge",
                    "--no-ff",
                    "--quiet",
                    "-m",
                    message,
                    source,
                ],
                cwd=tree,
                capture_output=True,
                text=True,
            )
            if merged.returncode != 0:
                conflicts = git.run_git(["diff", "--name-only", "--diff-filter=U"], tree).split()
                git.run_git(["merge", "--abort"], tree)
                return MergeResult(merged=False, conflicts=conflicts)
            commit = git.head_commit(tree)
            git.run_git(["update-ref", f"refs/heads/{target}", commit, old], repo)
            self.merges.append((target, source, commit))
            return MergeResult(merged=True, commit=commit)
        finally:
            git.run_git(["worktree", "remove", "--force", os.fspath(tree)], repo)

    def land(self, project: Project, branch: str, message: str) -> MergeResult:
        repo = self._repo(project)
        git.fetch(repo)
        default = self.default_branch(project)
        scratch = f"cw-test-land-{uuid.uuid4().hex[:8]}"
        git.create_branch(repo, scratch, f"origin/{default}")
        result = self.merge(project, scratch, branch, message)
        if result.commit:
            refspec = f"{result.commit}:refs/heads/{default}"
            git.run_git(["push", "--quiet", "origin", refspec], repo)
        git.run_git(["branch", "-D", scratch], repo)
        return result

    def push(self, project: Project, branch: str) -> None:
        git.push(self._repo(project), branch)


def _is_ancestor(repo: Path, older: str, newer: str) -> bool:
    found = subprocess.run(
        ["git", "-C", os.fspath(repo), "merge-base", "--is-ancestor", older, newer],
        capture_output=True,
    )
    return found.returncode == 0


@dataclass
class Coordinator:
    """What ``cw start`` will hold: a runtime and its executor."""

    runtime: AgentRuntime
    executor: Executor
    integration: Integration


def make_coordinator(db: Database, root: Path, settings: DispatchSettings = FAST) -> Coordinator:
    (root / ".cw").mkdir(parents=True, exist_ok=True)
    workspace = Workspace(root, {})
    runtime = AgentRuntime(
        db,
        workspace,
        settings=AGENT_SETTINGS,
        # A second provider for the tasks that name their own (both the fake agent).
        providers={"claude": fake_provider("claude"), "codex": fake_provider("codex")},
    )
    integration: Integration = (
        GitIntegration(runtime.paths) if REAL_INTEGRATION else LocalIntegration(runtime.paths)
    )
    executor = Executor(db, runtime, settings, integration=integration)
    runtime.start()
    return Coordinator(runtime, executor, integration)


def close_coordinator(coordinator: Coordinator) -> None:
    runtime = coordinator.runtime
    runtime.close()
    for run in runtime.supervisor.runs():
        process.stop_group(run.pid, run.started_at_ms, grace=1.0)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=2)


@pytest.fixture
def coordinator(db: Database, tmp_path: Path) -> Iterator[Coordinator]:
    made = make_coordinator(db, tmp_path / "ws")
    yield made
    close_coordinator(made)
    shutil.rmtree(tmp_path / "ws", ignore_errors=True)


def tick_until(
    executor: Executor,
    done: Callable[[], bool],
    *,
    timeout: float = 90.0,
    each: Callable[[], None] | None = None,
) -> None:
    """Tick as the coordinator does until ``done()``; fail with the dispatch status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = executor.tick()
        assert not report.errors, report.errors
        if each is not None:
            each()
        if done():
            return
        time.sleep(0.03)
    raise AssertionError(f"never done; status: {executor.dispatch_status()}")
