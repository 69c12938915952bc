"""Merging work up the branches: task → phase → initiative → the project's default branch
(issue 11, "Integration: branches and merges"). Pure git, no database.

Branches live in the workspace's bare clone (``.cw/repos/<project>.git``): Codewalkers' own
as local branches, the remote's as ``origin/<name>``. A branch name given here means the
local branch or ``origin/<name>``, whichever contains the other: a branch another machine
pushed is found after :meth:`Integrator.fetch` without being created locally first.

Merges happen in one dedicated worktree per project, ``.cw/integration/<project>/``, never in
an agent's. It always has a detached HEAD, so it never holds a branch an agent may want. A
merge (:meth:`Integrator.merge`) goes:

1. take the project's lock: a ``threading`` lock shared by every :class:`Integrator` of the
   process, then an ``flock`` on ``.cw/integration/.<project>.lock`` (a CLI and the
   coordinator on one machine); across machines the caller holds a database lease;
2. refuse a target checked out in another worktree (``BranchInUseError``): moving it would
   leave that worktree's files behind its branch;
3. resolve the source and the target (the target brought up to date with ``origin/<target>``:
   fast-forwarded, or reconciled by a merge when both moved); an already merged source is a
   no-op;
4. reset the integration worktree to the target's tip (recovering what a killed merge left:
   ``MERGE_HEAD``, a stale ``index.lock``, stray files) and ``git merge --no-ff`` the source,
   so every merge is one merge commit and the order of merges shows in history;
5. on a conflict: abort, name the files, leave the target as it was;
6. move the local target branch to the merge commit in one compare-and-swap step. The branch
   moves only when the merge commit is complete, so a process killed at any line leaves the
   target either as it was or fully merged; the worktree holds nothing that is not in a branch.

Nothing here deletes a branch or rewrites one: branches only ever move forward.

Exceptions (all are :class:`~codewalkers.agents.git.GitError`, as are git's own failures)::

    GitError
    ├── BranchInUseError          the target is checked out in another worktree
    ├── PushRejectedError         the remote has commits the pushed branch lacks
    └── IntegrationError          a merge cannot be attempted as asked
        ├── BranchNotFoundError   neither a local branch nor origin/<name> (nor a commit)
        ├── BranchDivergedError   the local branch and origin/<name> both have commits the
        │                         other lacks, and they cannot be reconciled automatically
        └── BranchNameClashError  git cannot have both ``a/b`` and ``a/b/c`` as branches

Branch names: git keeps ``refs/heads/cw/x`` as a file, so ``cw/x`` and ``cw/x/y`` cannot both
exist. A branch made from another (phase from initiative, task from phase) is therefore its
sibling, not its child: :func:`child_branch` (``cw/user-auth`` → ``cw/user-auth--api``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Final

from codewalkers.agents import git
from codewalkers.agents.git import BranchInUseError, GitError, PushRejectedError
from codewalkers.agents.paths import RuntimePaths
from codewalkers.agents.projects import ProjectError, check_project_name

__all__ = [
    "STALE_LOCK_SECONDS",
    "BranchDivergedError",
    "BranchInUseError",
    "BranchNameClashError",
    "BranchNotFoundError",
    "IntegrationError",
    "Integrator",
    "MergeOutcome",
    "PushRejectedError",
    "child_branch",
    "ensure_branch",
]

#: A git lock file (``index.lock``...) in the integration worktree older than this (seconds),
#: found while we hold the project's lock, was left by a killed git and is removed; a younger
#: one is waited for that long (git holds it for one command), then removed.
STALE_LOCK_SECONDS: Final = 10.0
#: How often :meth:`Integrator.merge_into_default` fetches and merges again when someone
#: pushed to the default branch between its fetch and its push.
DEFAULT_BRANCH_ATTEMPTS: Final = 3


class IntegrationError(GitError):
    """A merge cannot be attempted as asked (see the subclasses)."""

    def __init__(self, argv: list[str], message: str) -> None:
        super().__init__(argv, None, "", message)


class BranchNotFoundError(IntegrationError):
    """The name is no local branch, no ``origin/<name>`` and no commit."""

    def __init__(self, repo: Path, name: str) -> None:
        self.branch = name
        super().__init__(
            ["git", "-C", os.fspath(repo), "rev-parse", name],
            f"{name!r} is neither a branch of {repo} nor one of its remote (fetch first?)",
        )


class BranchDivergedError(IntegrationError):
    """The local branch and ``origin/<name>`` both have commits the other lacks."""

    def __init__(
        self, repo: Path, name: str, local: str, remote: str, conflicts: tuple[str, ...] = ()
    ) -> None:
        self.branch = name
        self.local = local
        self.remote = remote
        self.conflicts = list(conflicts)
        why = f"; reconciling them conflicts in {', '.join(conflicts)}" if conflicts else ""
        super().__init__(
            ["git", "-C", os.fspath(repo), "merge-base", local, remote],
            f"branch {name!r} ({local[:12]}) and {git.REMOTE}/{name} ({remote[:12]}) both "
            f"have commits the other lacks{why}; merge one into the other and push",
        )


class BranchNameClashError(IntegrationError):
    """``a/b`` exists, so ``a/b/c`` cannot (or the other way round): git keeps a branch as a
    file named like its path.
    """

    def __init__(self, repo: Path, branch: str, existing: str) -> None:
        self.branch = branch
        self.existing = existing
        super().__init__(
            ["git", "-C", os.fspath(repo), "branch", branch],
            f"branch {branch!r} cannot exist beside the branch {existing!r} (git cannot have "
            "both a/b and a/b/c); name it as a sibling, e.g. with child_branch()",
        )


#: What joins a parent branch's name and a child's leaf (see :func:`child_branch`).
CHILD_SEPARATOR: Final = "--"


def child_branch(parent: str, leaf: str) -> str:
    """The name of a branch made from ``parent``: ``cw/user-auth`` + ``api`` →
    ``cw/user-auth--api``. A sibling of ``parent`` in git's ref tree, never below it, so both
    can exist (see the module docstring).
    """
    return f"{parent}{CHILD_SEPARATOR}{leaf}"


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What :meth:`Integrator.merge` did. Exactly one of ``merged``, ``already_merged`` and
    ``conflicts`` says what happened.
    """

    merged: bool  # a merge commit was made and the target moved to it
    commit: str | None  # that merge commit (None when nothing was merged)
    conflicts: list[str] = field(default_factory=list)  # conflicting paths: merge aborted
    already_merged: bool = False  # the source was in the target already: nothing done
    target: str = ""
    source_commit: str = ""  # the source's tip that was (or would have been) merged
    target_commit: str = ""  # the target's tip after the call


def ensure_branch(repo: Path, branch: str, start_point: str) -> bool:
    """Make sure the clone has the local branch ``branch``; return whether it was created.

    A missing branch is created at ``origin/<branch>`` when another machine already pushed
    it (so both machines share one history), else at ``start_point`` (a local branch, else
    ``origin/<start_point>``, or a commit). An existing branch is left as it is. Safe to call
    concurrently. Raises :class:`~codewalkers.agents.git.GitError` for an invalid name or a
    start point that names no commit, :class:`BranchNameClashError` when ``a/b`` and
    ``a/b/c`` would both exist.
    """
    if git.branch_exists(repo, branch):
        return False
    clash = _clashing_branch(repo, branch)
    if clash is not None:
        raise BranchNameClashError(repo, branch, clash)
    pushed = git.resolve_commit(repo, f"refs/remotes/{git.REMOTE}/{branch}")
    try:
        git.create_branch(repo, branch, pushed or start_point)
    except GitError:
        if git.branch_exists(repo, branch):  # another thread or process made it meanwhile
            return False
        raise
    return True


class Integrator:
    """Merges, pushes and diffs of one project, in its integration worktree (see the module
    docstring). Every instance for one project in one process shares one lock; methods are
    safe to call from several threads.

    ``default_branch`` is the project's configured default branch, used when the remote
    names none (``origin/HEAD``).
    """

    def __init__(
        self, paths: RuntimePaths, project_name: str, *, default_branch: str = "main"
    ) -> None:
        self.paths = paths
        self.project = check_project_name(project_name)
        self.repo = paths.repo_path(project_name)
        self.worktree = paths.integration_worktree(project_name)
        self.fallback_default_branch = default_branch
        self._lock = _project_lock(self.worktree)

    # --- branches ------------------------------------------------------------------------

    def ensure_branch(self, branch: str, start_point: str) -> bool:
        """:func:`ensure_branch` in this project's clone."""
        with self._lock.hold():
            return ensure_branch(self._require_clone(), branch, start_point)

    def default_branch(self) -> str:
        """The remote's default branch as of the last fetch, else the configured one."""
        return git.default_branch(self._require_clone(), self.fallback_default_branch)

    def tip(self, branch: str) -> str:
        """The commit ``branch`` names (local or ``origin/<branch>``, the newer one; the local
        one when they diverged). Raises :class:`BranchNotFoundError`.
        """
        return _tip(self._require_clone(), branch, strict=False)

    # --- remote --------------------------------------------------------------------------

    def fetch(self) -> None:
        """Fetch the remote's branches into ``origin/*`` (local branches never move). Raises
        :class:`~codewalkers.agents.git.GitError` when the remote cannot be read.
        """
        with self._lock.hold():
            git.fetch(self._require_clone())

    def push(self, branch: str) -> None:
        """Push the local ``branch`` to the remote under the same name, never forced. Raises
        :class:`~codewalkers.agents.git.PushRejectedError` when the remote has commits it
        lacks, :class:`~codewalkers.agents.git.GitError` otherwise.
        """
        with self._lock.hold():
            git.push(self._require_clone(), branch)

    # --- merges --------------------------------------------------------------------------

    def merge(
        self, target: str, source: str, message: str | None = None, *, fetch: bool = False
    ) -> MergeOutcome:
        """Merge ``source`` into the local branch ``target`` with a merge commit (see the
        module docstring). Nothing is pushed (:meth:`push`); with ``fetch`` the remote's
        branches are fetched first, under the same lock (when other machines push).

        Returns the outcome: merged, already merged (nothing done) or conflicted (aborted,
        the target unchanged, the files named). Raises :class:`BranchInUseError` when the
        target is checked out in another worktree, :class:`BranchNotFoundError` when either
        name is unknown, :class:`BranchDivergedError` when the source's local and remote
        copies diverged (or the target's, and reconciling them conflicts), and
        :class:`~codewalkers.agents.git.GitError` when git fails otherwise or another
        process moved the target during the merge (try again).
        """
        message = message or f"Merge branch '{source}' into {target}"
        with self._lock.hold():
            repo = self._require_clone()
            if fetch:
                git.fetch(repo)
            self._refuse_checked_out(repo, target)
            source_sha = _tip(repo, source, strict=True)
            local = git.resolve_commit(repo, f"refs/heads/{target}")
            remote = git.resolve_commit(repo, f"refs/remotes/{git.REMOTE}/{target}")
            if local is None and remote is None:
                raise BranchNotFoundError(repo, target)
            base, reconcile = _target_base(repo, local, remote)
            if git.is_ancestor(repo, source_sha, base) or (
                reconcile is not None and git.is_ancestor(repo, source_sha, reconcile)
            ):
                return MergeOutcome(
                    merged=False,
                    commit=None,
                    already_merged=True,
                    target=target,
                    source_commit=source_sha,
                    target_commit=local or base,
                )
            self._prepare_worktree(repo, base)
            if reconcile is not None:
                synced = git.merge_no_ff(
                    self.worktree,
                    reconcile,
                    f"Merge {git.REMOTE}/{target} into {target} (both moved)",
                )
                if synced.commit is None:
                    raise BranchDivergedError(repo, target, base, reconcile, synced.conflicts)
            result = git.merge_no_ff(self.worktree, source_sha, message)
            if result.commit is None:
                return MergeOutcome(
                    merged=False,
                    commit=None,
                    conflicts=list(result.conflicts),
                    target=target,
                    source_commit=source_sha,
                    target_commit=local or base,
                )
            _clear_stale_lock(repo / "refs" / "heads" / f"{target}.lock")
            git.update_branch(repo, target, result.commit, local)
            return MergeOutcome(
                merged=True,
                commit=result.commit,
                target=target,
                source_commit=source_sha,
                target_commit=result.commit,
            )

    def merge_into_default(
        self, branch: str, message: str | None = None, *, attempts: int = DEFAULT_BRANCH_ATTEMPTS
    ) -> MergeOutcome:
        """Merge ``branch`` (the initiative's) into the remote's default branch and push the
        merge commit there; the clone keeps no local copy of the default branch.

        Fetches first; when someone pushes to the default branch between the fetch and the
        push, fetches and merges again, ``attempts`` times in all. Returns the outcome as
        :meth:`merge` (on a conflict nothing is pushed). Raises
        :class:`~codewalkers.agents.git.PushRejectedError` when every attempt was overtaken,
        :class:`BranchNotFoundError` when the remote has no default branch or ``branch`` is
        unknown, :class:`~codewalkers.agents.git.GitError` otherwise.
        """
        with self._lock.hold():
            repo = self._require_clone()
            for attempt in range(1, max(attempts, 1) + 1):
                git.fetch(repo)
                default = git.default_branch(repo, self.fallback_default_branch)
                base = git.resolve_commit(repo, f"refs/remotes/{git.REMOTE}/{default}")
                if base is None:
                    raise BranchNotFoundError(repo, f"{git.REMOTE}/{default}")
                source_sha = _tip(repo, branch, strict=True)
                outcome = MergeOutcome(
                    merged=False, commit=None, target=default, source_commit=source_sha
                )
                if git.is_ancestor(repo, source_sha, base):
                    return replace(outcome, already_merged=True, target_commit=base)
                self._prepare_worktree(repo, base)
                result = git.merge_no_ff(
                    self.worktree, source_sha, message or f"Merge branch '{branch}' into {default}"
                )
                if result.commit is None:
                    return replace(outcome, conflicts=list(result.conflicts), target_commit=base)
                try:
                    git.push_commit(repo, result.commit, default)
                except PushRejectedError:
                    if attempt >= attempts:
                        raise
                    continue
                return replace(
                    outcome, merged=True, commit=result.commit, target_commit=result.commit
                )
            raise AssertionError("unreachable")  # pragma: no cover

    # --- review --------------------------------------------------------------------------

    def diff(self, base: str, head: str) -> str:
        """The unified diff of what ``head`` changes since it left ``base`` (three dots), as a
        pull request shows it: a phase branch against its initiative branch. Raises
        :class:`BranchNotFoundError` for an unknown name.
        """
        repo = self._require_clone()
        return git.diff(repo, _tip(repo, base, strict=False), _tip(repo, head, strict=False))

    def changed_files(self, base: str, head: str) -> list[str]:
        """The paths :meth:`diff` shows."""
        repo = self._require_clone()
        return git.changed_files(
            repo, _tip(repo, base, strict=False), _tip(repo, head, strict=False)
        )

    # --- internals -----------------------------------------------------------------------

    def _require_clone(self) -> Path:
        if not self.repo.is_dir():
            raise ProjectError(
                f"project {self.project!r} has no clone in {self.repo} yet; "
                f"run `cw project sync {self.project}`"
            )
        return self.repo

    def _refuse_checked_out(self, repo: Path, branch: str) -> None:
        mine = _canonical(self.worktree)
        for worktree in git.worktree_list(repo):
            if worktree.branch == branch and _canonical(worktree.path) != mine:
                if worktree.prunable or not worktree.path.exists():
                    continue  # deleted by hand: git prunes it, it holds nothing
                argv = ["git", "-C", os.fspath(repo), "merge", branch]
                raise BranchInUseError(branch, worktree.path, argv)

    def _prepare_worktree(self, repo: Path, commit: str) -> None:
        """The integration worktree, pristine and detached at ``commit``: made when missing,
        recovered after a killed merge, rebuilt when it cannot be recovered (it holds no work:
        every merge in it was committed to a branch or aborted).
        """
        if self._is_registered(repo) and (self.worktree / ".git").exists():
            try:
                for name in ("index.lock", "HEAD.lock"):
                    _clear_stale_lock(git.git_path(self.worktree, name))
                git.reset_detached(self.worktree, commit)
                return
            except GitError:
                pass  # rebuilt below
        # Gone, half-made or broken: remove the directory; adding prunes its metadata.
        shutil.rmtree(self.worktree, ignore_errors=True)
        git.add_detached_worktree(repo, self.worktree, commit)

    def _is_registered(self, repo: Path) -> bool:
        mine = _canonical(self.worktree)
        return any(_canonical(w.path) == mine for w in git.worktree_list(repo))


# --- helpers ---------------------------------------------------------------------------------


def _tip(repo: Path, name: str, *, strict: bool) -> str:
    """The commit ``name`` means: the local branch or ``origin/<name>``, whichever contains
    the other; when they diverged, :class:`BranchDivergedError` (``strict``) or the local
    one. Neither: any commit ``name`` names (a sha, a tag, ``origin/x``).
    """
    local = git.resolve_commit(repo, f"refs/heads/{name}")
    remote = git.resolve_commit(repo, f"refs/remotes/{git.REMOTE}/{name}")
    if local is not None and remote is not None:
        if git.is_ancestor(repo, remote, local):
            return local
        if git.is_ancestor(repo, local, remote):
            return remote
        if strict:
            raise BranchDivergedError(repo, name, local, remote)
        return local
    found = local or remote or git.resolve_commit(repo, name)
    if found is None:
        raise BranchNotFoundError(repo, name)
    return found


def _clashing_branch(repo: Path, branch: str) -> str | None:
    """An existing branch that keeps ``branch`` from being created: one whose name is a
    directory of ``branch`` (``a`` for ``a/b``) or below it (``a/b/c``).
    """
    parts = branch.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if git.branch_exists(repo, parent):
            return parent
    below = git.local_branches(repo, f"{branch}/")
    return below[0] if below else None


def _target_base(repo: Path, local: str | None, remote: str | None) -> tuple[str, str | None]:
    """Where a merge into the target starts, and the remote tip to reconcile first (when the
    local branch and ``origin/<target>`` both moved).
    """
    if local is None:
        assert remote is not None
        return remote, None
    if remote is None or git.is_ancestor(repo, remote, local):
        return local, None
    if git.is_ancestor(repo, local, remote):
        return remote, None  # another machine merged and pushed: fast-forward
    return local, remote


def _canonical(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _clear_stale_lock(lock: Path, max_age: float | None = None) -> None:
    """Remove a lock file a killed git left (see :data:`STALE_LOCK_SECONDS`)."""
    bound = STALE_LOCK_SECONDS if max_age is None else max_age
    deadline = time.monotonic() + bound
    while True:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return
        if age >= bound or time.monotonic() >= deadline:
            lock.unlink(missing_ok=True)
            return
        time.sleep(0.05)


# --- the per-project lock --------------------------------------------------------------------


class _ProjectLock:
    """Reentrant within a thread; excludes other threads (``threading``) and other processes
    on this machine (``flock``, released by the kernel when its holder dies). Waits without a
    bound of its own: the holder's git commands are bounded.
    """

    def __init__(self, lock_file: Path) -> None:
        self._file = lock_file
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._handle: IO[bytes] | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._file.parent.mkdir(parents=True, exist_ok=True)
                handle = open(self._file, "a+b")  # noqa: SIM115 - held across the block
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                except BaseException:
                    handle.close()
                    raise
                self._handle = handle
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._handle is not None:
                    held, self._handle = self._handle, None
                    fcntl.flock(held.fileno(), fcntl.LOCK_UN)
                    held.close()


_locks: dict[Path, _ProjectLock] = {}
_locks_guard = threading.Lock()


def _project_lock(worktree: Path) -> _ProjectLock:
    key = _canonical(worktree)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = _ProjectLock(worktree.parent / f".{worktree.name}.lock")
        return lock
