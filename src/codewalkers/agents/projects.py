"""A workspace's projects on disk: the bare clone of each, and the agents' worktrees made
from it (``docs/agents.md``, "Projects on disk" and "Worktrees and never losing work").

- ``.cw/repos/<name>.git``: the workspace's bare clone of the project URL (a ``file://``
  URL or a local path is fine; a relative path is relative to the workspace root). Cloned
  on first :func:`sync_project`, fetched afterwards when the remote moved. The project's
  own working copy, when the URL is one, is only ever read.
- ``.cw/setup/<name>/``: files copied into every new worktree of the project (``.env`` and
  the like), recursively, keeping modes and symlinks. A file the checkout already has (a
  tracked file) is never overwritten: it is skipped and reported in
  :attr:`WorktreeInfo.setup_skipped`; to change a tracked file, commit it to the project.
  Copied files are listed in the clone's ``info/exclude``, so neither an agent's
  ``git add -A`` nor :func:`codewalkers.agents.git.commit_all` ever commits them.
- Removing an agent's worktree (:func:`remove_agent_worktree`) is refused while it would
  lose work: uncommitted changes, or branch commits neither merged into the base (the start
  point, or the project's default branch) nor pushed. ``force`` removes it anyway after
  committing what was uncommitted onto the branch. The branch is never deleted.

Exceptions::

    ProjectError               the project cannot be used on disk (bad name, not cloned)
    └── WorkWouldBeLostError   the removal was refused; ``check`` says why
    codewalkers.agents.git.GitError   a git command failed (unreadable URL, ...)
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from codewalkers.agents import git
from codewalkers.agents.git import Commit
from codewalkers.agents.paths import RuntimePaths

#: Commit message used when a forced removal saves uncommitted work on the branch first.
SAVE_MESSAGE = "Codewalkers: save uncommitted work before removing the worktree"
_EXCLUDE_HEADER = "# Codewalkers: setup files copied into worktrees (.cw/setup/<project>/)"


class ProjectError(Exception):
    """The project cannot be used on disk: a name unfit for a path, no clone yet, ..."""


class WorkWouldBeLostError(ProjectError):
    """Removing the worktree would lose work; ``check`` holds the facts."""

    def __init__(self, check: RemovalCheck) -> None:
        self.check = check
        super().__init__(
            f"refusing to remove the worktree {check.path}: {'; '.join(check.reasons)} "
            "(force removes it and keeps the branch)"
        )


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What :func:`sync_project` found."""

    project: str
    repo: Path
    cloned: bool  # first sync: the clone was made
    default_branch: str  # the remote's default branch, else the configured one
    head_commit: str | None  # the default branch's tip (None: the remote has no commits)
    branches: tuple[str, ...]  # the remote's branches


@dataclass(frozen=True, slots=True)
class WorktreeInfo:
    """One project's worktree in an agent's workdir."""

    project: str
    path: Path
    branch: str
    base_commit: str  # where the branch left its start point (the merge base)
    created_branch: bool = False
    reused: bool = False  # it already existed: nothing was checked out or copied
    setup_copied: tuple[str, ...] = ()
    setup_skipped: tuple[str, ...] = ()  # already in the checkout: left as committed


@dataclass(frozen=True, slots=True)
class RemovalCheck:
    """The facts about removing one worktree, for a caller's policy."""

    project: str
    path: Path
    exists: bool
    branch: str | None
    uncommitted: bool = False
    merged_into: str | None = None  # the first base its changes are all in
    pushed: bool = False
    unmerged: tuple[Commit, ...] = ()  # the branch's commits missing from the base
    bases: tuple[str, ...] = ()

    @property
    def safe(self) -> bool:
        """Removing it loses nothing."""
        return not self.exists or (
            not self.uncommitted and (self.merged_into is not None or self.pushed)
        )

    @property
    def reasons(self) -> list[str]:
        """Why it is not safe, one phrase each (empty when it is)."""
        if self.safe:
            return []
        found = []
        if self.uncommitted:
            found.append("it has uncommitted changes")
        if self.merged_into is None and not self.pushed:
            what = f"branch {self.branch!r}" if self.branch else "its detached HEAD"
            count = len(self.unmerged)
            found.append(
                f"{what} has {count} commit{'s' if count != 1 else ''} neither merged into "
                f"{' or '.join(self.bases) or 'its base'} nor pushed"
            )
        return found


@dataclass(frozen=True, slots=True)
class WorktreeRemoval:
    """What :func:`remove_agent_worktree` did. The branch is always kept."""

    project: str
    path: Path
    branch: str | None
    removed: bool  # a directory was removed (False: it was already gone)
    committed: str | None  # the commit that saved uncommitted work first (forced removal)
    check: RemovalCheck
    forced: bool = False
    branch_kept: bool = field(default=True)


# --- names and URLs ------------------------------------------------------------------------


def check_project_name(name: str) -> str:
    """``name`` when it can name the project's directories; raises :class:`ProjectError`."""
    if not name or not name.strip():
        raise ProjectError("a project name must not be empty")
    if name in {".", ".."} or any(c in name for c in "/\\\0"):
        raise ProjectError(
            f"project name {name!r} cannot name a directory (no '/', '\\', '.' or '..')"
        )
    if len(name.encode("utf-8")) > 200:
        raise ProjectError(f"project name {name[:40]!r}... is too long for a directory name")
    return name


def clone_url(paths: RuntimePaths, url: str) -> str:
    """The URL git fetches from: a relative local path (or ``~``) made absolute against the
    workspace root; anything else as given.
    """
    if git.is_local_url(url) and not url.startswith("file://"):
        try:
            path = Path(url).expanduser()
        except RuntimeError as exc:  # "~nobody/…": no such user's home
            raise ProjectError(f"cannot read the path {url!r}: {exc}") from exc
        if not path.is_absolute():
            path = paths.root / path
        return os.fspath(path)
    return url


# --- sync ----------------------------------------------------------------------------------


@contextmanager
def _repo_lock(paths: RuntimePaths, name: str) -> Iterator[None]:
    """One sync of a project at a time per machine (CLI and coordinator may race): the
    second waits for the first, whose git calls are bounded.
    """
    paths.repos_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.repos_dir / f".{name}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sync_project(
    paths: RuntimePaths,
    name: str,
    url: str,
    default_branch: str = "main",
    *,
    timeout: float | None = git.NETWORK_TIMEOUT,
) -> SyncResult:
    """Clone the project into ``.cw/repos/<name>.git`` on first use, bring it up to date
    with the remote afterwards; return what the remote has. ``default_branch`` is the
    configured one, used when the remote names none. Raises :class:`ProjectError` for a
    name unfit for a path, :class:`~codewalkers.agents.git.GitError` when the URL cannot
    be read.

    Every sync asks the remote what it has now (``git ls-remote``: refs only, no objects)
    and fetches only when that differs from what the clone last fetched (a branch moved,
    appeared or went away, or the remote's default branch changed). Either way the clone
    ends as fresh as a fetch would leave it, so a spawn never branches from a stale
    default branch; what it saves is the fetch (about half of a spawn on a local remote)
    and the reads of the clone after it when nothing moved.
    """
    check_project_name(name)
    repo = paths.repo_path(name)
    with _repo_lock(paths, name):
        cloned = git.ensure_clone(clone_url(paths, url), repo, timeout=timeout)
        tracking = None if cloned else git.tracking_refs(repo)
        if tracking is not None:
            advertised = git.advertised_refs(repo, timeout=timeout)
            moved = advertised.branches != tracking.branches or (
                advertised.head is not None and advertised.head != tracking.head
            )
            if moved:
                git.fetch(repo, timeout=timeout, advertised=advertised)
                tracking = None  # read it again below
    if tracking is None:
        tracking = git.tracking_refs(repo)
    branch = tracking.head or default_branch
    return SyncResult(
        project=name,
        repo=repo,
        cloned=cloned,
        default_branch=branch,
        head_commit=tracking.branches.get(branch),
        branches=tuple(sorted(tracking.branches)),
    )


def _require_clone(paths: RuntimePaths, name: str) -> Path:
    repo = paths.repo_path(check_project_name(name))
    if not repo.is_dir():
        raise ProjectError(
            f"project {name!r} has no clone in {repo} yet; run `cw project sync {name}`"
        )
    return repo


# --- worktrees -----------------------------------------------------------------------------


def create_worktree_for_agent(
    paths: RuntimePaths, project_name: str, workdir: Path, branch: str, start_point: str
) -> WorktreeInfo:
    """The project's worktree at ``<workdir>/<project>/`` on ``branch`` (created at
    ``start_point`` when missing, reused when it exists), with the setup files copied in.
    Idempotent: when that worktree already exists it is returned as it is.

    Raises :class:`ProjectError` when the project was never synced,
    :class:`~codewalkers.agents.git.BranchInUseError` when another live worktree has the
    branch, :class:`~codewalkers.agents.git.GitError` for an unknown start point.
    """
    repo = _require_clone(paths, project_name)
    added = git.add_worktree(repo, workdir / project_name, branch, start_point)
    base = added.head
    if not added.created_branch and git.resolve_commit(repo, start_point) is not None:
        base = git.merge_base(repo, start_point, added.head) or added.head
    copied: list[str] = []
    skipped: list[str] = []
    if not added.existed:
        copied, skipped = copy_setup_files(paths, project_name, added.path)
    return WorktreeInfo(
        project=project_name,
        path=added.path,
        branch=branch,
        base_commit=base,
        created_branch=added.created_branch,
        reused=added.existed,
        setup_copied=tuple(copied),
        setup_skipped=tuple(skipped),
    )


def create_agent_worktrees(
    paths: RuntimePaths, projects: Sequence[tuple[str, str]], workdir: Path, branch: str
) -> list[WorktreeInfo]:
    """One worktree per ``(project name, start point)`` in ``workdir``, all on ``branch``.

    All or none: when one fails, the worktrees this call made are removed again (they hold
    no work yet; their branches stay) and the error is raised.
    """
    made: list[WorktreeInfo] = []
    try:
        for name, start_point in projects:
            made.append(create_worktree_for_agent(paths, name, workdir, branch, start_point))
    except BaseException:
        for info in made:
            if not info.reused and not git.has_uncommitted_changes(info.path):
                git.remove_worktree(paths.repo_path(info.project), info.path)
        raise
    return made


def copy_setup_files(
    paths: RuntimePaths, project_name: str, worktree: Path
) -> tuple[list[str], list[str]]:
    """Copy ``.cw/setup/<project>/`` into the worktree; return (copied, skipped) relative
    paths. Modes and symlinks are kept; what the checkout already has is skipped, never
    overwritten; the copies are excluded from commits (the clone's ``info/exclude``).
    """
    source = paths.setup_dir(project_name)
    if not source.is_dir():
        return [], []
    copied: list[str] = []
    skipped: list[str] = []
    for directory, dirnames, filenames in os.walk(source):
        here = Path(directory)
        relative_dir = here.relative_to(source)
        if relative_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]
        # Symlinks to directories are copied as links, not walked into.
        for name in [d for d in dirnames if (here / d).is_symlink()]:
            dirnames.remove(name)
            filenames.append(name)
        for name in sorted(filenames):
            relative = (relative_dir / name).as_posix()
            target = worktree / relative_dir / name
            if os.path.lexists(target) or not _can_create_parents(worktree, target):
                skipped.append(relative)
                continue
            _make_parents(source, worktree, relative_dir)
            shutil.copy2(here / name, target, follow_symlinks=False)
            copied.append(relative)
    if copied:
        _exclude(paths.repo_path(project_name), copied)
    return sorted(copied), sorted(skipped)


def _can_create_parents(worktree: Path, target: Path) -> bool:
    """Whether every parent of ``target`` below the worktree is a directory or missing (a
    tracked file in the way means the setup file is skipped).
    """
    for parent in target.relative_to(worktree).parents:
        existing = worktree / parent
        if os.path.lexists(existing) and (existing.is_symlink() or not existing.is_dir()):
            return False
    return True


def _make_parents(source: Path, worktree: Path, relative_dir: Path) -> None:
    current_source, current_target = source, worktree
    for part in relative_dir.parts:
        current_source, current_target = current_source / part, current_target / part
        if not current_target.exists():
            current_target.mkdir()
            mode = stat.S_IMODE(current_source.stat().st_mode)
            current_target.chmod(mode)


def _exclude(repo: Path, relative_paths: Sequence[str]) -> None:
    """List the paths in the clone's ``info/exclude`` (shared by all its worktrees)."""
    exclude = repo / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    lines = set(existing.splitlines())
    wanted = [pattern for pattern in map(_exclude_pattern, relative_paths) if pattern not in lines]
    if not wanted:
        return
    text = existing if not existing or existing.endswith("\n") else existing + "\n"
    if _EXCLUDE_HEADER not in lines:
        text += _EXCLUDE_HEADER + "\n"
    exclude.write_text(text + "".join(f"{pattern}\n" for pattern in wanted), encoding="utf-8")


def _exclude_pattern(relative: str) -> str:
    """An exclude line matching exactly this path from the top of the worktree."""
    escaped = "".join("\\" + c if c in "*?[]\\!#" else c for c in relative)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


# --- removal -------------------------------------------------------------------------------


def check_removal(
    paths: RuntimePaths, project_name: str, worktree: Path, *, base: str | None = None
) -> RemovalCheck:
    """Whether removing the worktree loses work, and why (see :class:`RemovalCheck`).

    The branch counts as merged when its changes are all in ``base`` (a local branch, else
    ``origin/<base>``) or in the project's default branch on the remote.
    """
    repo = _require_clone(paths, project_name)
    if not worktree.exists():
        git.prune_worktrees(repo)
        return RemovalCheck(project_name, worktree, exists=False, branch=None)
    branch = git.worktree_branch(repo, worktree)
    tip = f"refs/heads/{branch}" if branch else git.head_commit(worktree)
    bases = []
    if base is not None and git.resolve_commit(repo, base) is not None:
        bases.append(base)
    default = f"{git.REMOTE}/{git.default_branch(repo)}"
    if git.resolve_commit(repo, default) is not None and default not in bases:
        bases.append(default)
    merged_into = next((b for b in bases if git.branch_is_merged(repo, tip, b)), None)
    pushed = branch is not None and git.branch_is_pushed(repo, branch)
    unmerged: list[Commit] = []
    if merged_into is None and bases:
        unmerged = git.unmerged_commits(repo, tip, bases[0])
    elif merged_into is None:  # nothing to compare with: every commit of the branch counts
        unmerged = git.unpushed_commits(repo, tip)
    return RemovalCheck(
        project=project_name,
        path=worktree,
        exists=True,
        branch=branch,
        uncommitted=git.has_uncommitted_changes(worktree),
        merged_into=merged_into,
        pushed=pushed,
        unmerged=tuple(unmerged),
        bases=tuple(bases),
    )


def remove_agent_worktree(
    paths: RuntimePaths,
    project_name: str,
    worktree: Path,
    *,
    base: str | None = None,
    force: bool = False,
) -> WorktreeRemoval:
    """Remove the agent's worktree of the project, keeping its branch; return what was done.

    Raises :class:`WorkWouldBeLostError` when :func:`check_removal` finds it unsafe, unless
    ``force``: then uncommitted changes are first committed onto the branch (when there is
    one) and the worktree is removed; the branch, and so every commit, stays.
    """
    check = check_removal(paths, project_name, worktree, base=base)
    repo = paths.repo_path(project_name)
    if not check.exists:
        return WorktreeRemoval(project_name, worktree, None, False, None, check, forced=force)
    if not check.safe and not force:
        raise WorkWouldBeLostError(check)
    committed = None
    if check.uncommitted and check.branch is not None:
        committed = git.commit_all(worktree, SAVE_MESSAGE)
    removed = git.remove_worktree(repo, worktree, force=force)
    return WorktreeRemoval(
        project_name, worktree, check.branch, removed, committed, check, forced=force
    )
