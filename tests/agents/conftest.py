"""Real git repositories for the agent runtime's tests.

``remote_repo`` (session-scoped: read it, never change it) and ``fresh_remote`` (one per
test: push to it freely) are bare repositories with a seed commit on ``main``, usable as a
project's URL (``remote.url`` is ``file://``, ``remote.path`` a plain path). ``make_remote``
builds one with other files or another default branch. ``paths`` is a workspace's
:class:`RuntimePaths`.

Every test here runs with an empty global git config (``GIT_CONFIG_GLOBAL``) and no system
config, so the developer's settings (identity, signing, hooks) cannot change a result and a
missing identity is the normal case, as on a fresh CI machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from codewalkers.agents.git import run_git
from codewalkers.agents.paths import RuntimePaths

#: The identity of commits the tests make themselves (on the "remote" side).
TEST_IDENTITY = {
    "GIT_AUTHOR_NAME": "Remote Person",
    "GIT_AUTHOR_EMAIL": "person@example.com",
    "GIT_COMMITTER_NAME": "Remote Person",
    "GIT_COMMITTER_EMAIL": "person@example.com",
}


def git(cwd: Path, *argv: str) -> str:
    """Run git as the tests' remote person (an identity of its own, no signing)."""
    return run_git(["-c", "commit.gpgsign=false", *argv], cwd, env=TEST_IDENTITY)


@dataclass
class Remote:
    """A bare repository standing in for a project's remote, and a working copy that
    pushes to it.
    """

    path: Path
    work: Path
    branch: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def head(self, branch: str | None = None) -> str:
        return git(self.path, "rev-parse", f"refs/heads/{branch or self.branch}").strip()

    def commit(
        self, files: Mapping[str, str], message: str = "change", branch: str | None = None
    ) -> str:
        """Commit ``files`` on ``branch`` (default: the default branch; created from it when
        new) and push; return the new commit.
        """
        target = branch or self.branch
        git(self.work, "checkout", "--quiet", "-B", target, f"origin/{target}")
        for name, content in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        git(self.work, "add", "--all")
        git(self.work, "commit", "--quiet", "-m", message)
        git(self.work, "push", "--quiet", "origin", f"HEAD:refs/heads/{target}")
        git(self.work, "fetch", "--quiet", "origin")
        return git(self.work, "rev-parse", "HEAD").strip()

    def branch_from(self, branch: str, start: str | None = None) -> None:
        """Create ``branch`` on the remote at ``start`` (default: the default branch)."""
        git(self.path, "branch", branch, start or self.branch)
        git(self.work, "fetch", "--quiet", "origin")


def make_remote(root: Path, *, files: int | Mapping[str, str] = 3, branch: str = "main") -> Remote:
    """A bare repository under ``root`` whose default branch ``branch`` has one commit with
    ``files`` (a count of generated files, or name → content).
    """
    contents = (
        {f"file{i}.txt": f"line {i}\n" for i in range(files)}
        if isinstance(files, int)
        else dict(files)
    )
    root.mkdir(parents=True, exist_ok=True)
    bare, work = root / "remote.git", root / "upstream-work"
    run_git(["init", "--quiet", "--bare", f"--initial-branch={branch}", os.fspath(bare)])
    run_git(["init", "--quiet", f"--initial-branch={branch}", os.fspath(work)])
    git(work, "remote", "add", "origin", os.fspath(bare))
    for name, content in contents.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "seed")
    git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
    git(work, "fetch", "--quiet", "origin")
    return Remote(bare, work, branch, contents)


@pytest.fixture(scope="session", autouse=True)
def isolated_git_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty global git config and no system config for every test of the runtime."""
    config = tmp_path_factory.mktemp("gitconfig") / "config"
    config.write_text("", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_CONFIG_GLOBAL", os.fspath(config))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for name in list(TEST_IDENTITY):
            patch.delenv(name, raising=False)
        yield config


@pytest.fixture(scope="session")
def remote_repo(tmp_path_factory: pytest.TempPathFactory, isolated_git_config: Path) -> Remote:
    """A remote shared by the whole session, three files on ``main``: read it only."""
    return make_remote(tmp_path_factory.mktemp("shared-remote"))


@pytest.fixture
def fresh_remote(tmp_path: Path) -> Remote:
    """A remote of this test's own, three files on ``main``: change it freely."""
    return make_remote(tmp_path / "remote")


@pytest.fixture
def paths(tmp_path: Path) -> RuntimePaths:
    """The runtime paths of an empty workspace (no ``.cwrc`` needed for the agent package)."""
    root = tmp_path / "workspace"
    (root / ".cw").mkdir(parents=True)
    return RuntimePaths.from_settings(root, root / ".cw", {})
