"""The one module that runs ``git``. Everything else asks it in domain words.

Every call goes through :func:`run_git`: no shell, ``LC_ALL=C`` (messages we can read),
``GIT_TERMINAL_PROMPT=0`` (a missing credential fails instead of waiting for a person), no
pager, paths printed raw (``core.quotepath=false``), and the caller's ``GIT_DIR``-style
variables dropped so that running inside a git hook cannot redirect us to another repository.
git runs in its own session, so that ssh cannot open the terminal to ask for a passphrase,
and under a time bound: network calls (clone, fetch, push) get :data:`NETWORK_TIMEOUT`,
local ones :data:`LOCAL_TIMEOUT`; on expiry the whole process group is killed.

Exceptions::

    GitError                   a git command failed: argv, returncode, stderr
    ├── BranchInUseError       the branch is checked out in another live worktree
    ├── UncommittedChangesError  the worktree holds changes that removing it would lose
    └── PushRejectedError      the remote has commits the pushed branch lacks (fetch, merge)

Layout of a workspace clone (see :func:`ensure_clone`): a bare repository whose remote
branches live only under ``refs/remotes/origin/*`` (fetch moves them, ``--prune`` drops
deleted ones) and whose ``refs/heads/*`` are Codewalkers' own branches (agents', and
whatever is created later). Fetching never moves a local branch, so it can never drop a
commit an agent made. A start point such as ``main`` names the local branch when there is
one, else ``origin/main`` (:func:`resolve_commit`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Bound on a clone, fetch or push (seconds): a stalled remote must not hang a sync forever.
NETWORK_TIMEOUT: Final = 600.0
#: Bound on a local git command (seconds): status, commit, worktree add on a large repo.
LOCAL_TIMEOUT: Final = 120.0

#: The identity of commits Codewalkers makes when the repository and user configure none.
CODEWALKERS_NAME: Final = "Codewalkers"
CODEWALKERS_EMAIL: Final = "codewalkers@localhost"

REMOTE: Final = "origin"

# The caller's GIT_* variables are dropped except these (pre-commit's ``no_git_env`` idea):
# GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE... set by a hook would point git elsewhere.
_KEPT_GIT_VARS: Final = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_ASKPASS",
        "GIT_ALLOW_PROTOCOL",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_COUNT",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_TRACE",
    }
)


class GitError(Exception):
    """A git command failed; ``argv``, ``returncode`` (``None``: it did not finish) and
    ``stderr`` say how.
    """

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stderr: str,
        message: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.message:
            return self.message
        detail = _last_meaningful_line(self.stderr) or "no error output"
        status = "did not finish" if self.returncode is None else f"exit {self.returncode}"
        return f"{_describe(self.argv)} failed ({status}): {detail}"


class BranchInUseError(GitError):
    """The branch is checked out in another live worktree (git allows only one)."""

    def __init__(self, branch: str, worktree: Path, argv: Sequence[str]) -> None:
        self.branch = branch
        self.worktree = worktree
        super().__init__(
            argv,
            None,
            "",
            f"branch {branch!r} is already checked out in the worktree {worktree}; "
            "remove that worktree first or use another branch",
        )


class UncommittedChangesError(GitError):
    """Removing the worktree would lose changes that are not committed."""

    def __init__(self, worktree: Path, argv: Sequence[str]) -> None:
        self.worktree = worktree
        super().__init__(
            argv,
            None,
            "",
            f"the worktree {worktree} has uncommitted changes; commit them or force the removal",
        )


class PushRejectedError(GitError):
    """The remote refused the push: its branch has commits the pushed one lacks (someone
    else pushed first). Fetch, merge, push again.
    """

    def __init__(self, branch: str, argv: Sequence[str], detail: str) -> None:
        self.branch = branch
        super().__init__(
            argv,
            1,
            detail,
            f"git push {REMOTE} {branch} was refused ({detail}): the remote has commits "
            "this branch lacks; fetch and merge them first",
        )


@dataclass(frozen=True, slots=True)
class Worktree:
    """One entry of ``git worktree list``."""

    path: Path
    head: str | None
    branch: str | None  # short name (``cw/x``); None when detached or bare
    bare: bool = False
    detached: bool = False
    locked: bool = False
    prunable: bool = False


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    subject: str


# --- running git ---------------------------------------------------------------------------


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git command runs with (see the module docstring)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_")
        or key in _KEPT_GIT_VARS
        or key.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat")
    if extra:
        env.update(extra)
    return env


def run_git(
    argv: Sequence[str],
    cwd: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = LOCAL_TIMEOUT,
    ok_codes: Sequence[int] = (0,),
) -> str:
    """Run ``git -C cwd *argv`` and return its stdout (undecodable bytes kept as surrogates).

    ``env`` adds to :func:`git_env`. Raises :class:`GitError` when the exit code is not in
    ``ok_codes``, when git is not installed, or when ``timeout`` seconds pass (the whole
    process group is killed then).
    """
    return _run(argv, cwd, env=env, input=input, timeout=timeout, ok_codes=ok_codes)[1]


def _run(
    argv: Sequence[str],
    cwd: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = LOCAL_TIMEOUT,
    ok_codes: Sequence[int] = (0,),
) -> tuple[int, str, str]:
    """Run git; return (exit code, stdout, stderr). Raises like :func:`run_git`."""
    command = ["git", "--no-pager", "-c", "core.quotepath=false"]
    if cwd is not None:
        command += ["-C", os.fspath(cwd)]
    command += list(argv)
    shown = ["git", *(["-C", os.fspath(cwd)] if cwd is not None else []), *argv]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=git_env(env),
            # Its own session: no controlling terminal for ssh to prompt on, and a group
            # to kill on timeout (git's helpers, ssh, included).
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise GitError(shown, None, str(exc), "git is not installed (not found on PATH)") from exc
    try:
        out, err = process.communicate(
            input.encode("utf-8") if input is not None else None, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        raise GitError(
            shown,
            None,
            _decode(err),
            f"{_describe(shown)} did not finish within {timeout:g} s: stopped it",
        ) from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    stdout, stderr = _decode(out), _decode(err)
    if process.returncode not in ok_codes:
        raise GitError(shown, process.returncode, stderr)
    return process.returncode, stdout, stderr


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _describe(argv: Sequence[str]) -> str:
    words = [a for a in argv[1:] if not a.startswith("-")]
    # "git -C /path fetch origin" → "git fetch origin" reads better in one line
    if len(argv) > 2 and argv[1] == "-C":
        words = [a for a in argv[3:] if not a.startswith("-")]
    return "git " + " ".join(words[:3])


def _last_meaningful_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else ""


def _succeeds(argv: Sequence[str], cwd: Path | str | None) -> bool:
    return _run(argv, cwd, ok_codes=range(256))[0] == 0


# --- repositories and remotes ---------------------------------------------------------------


def is_repository(path: Path) -> bool:
    """Whether ``path`` is (the top of) a git repository, bare or not."""
    if not path.is_dir():
        return False
    code, out, _ = _run(["rev-parse", "--absolute-git-dir"], path, ok_codes=range(256))
    if code != 0:
        return False
    git_dir = Path(out.strip())
    return git_dir.resolve() in {path.resolve(), (path / ".git").resolve()}


def is_local_url(url: str) -> bool:
    """Whether git reads ``url`` as a local path (not ``scheme://`` nor ``host:path``)."""
    if "://" in url:
        return url.startswith("file://")
    colon, slash = url.find(":"), url.find("/")
    return colon == -1 or (slash != -1 and slash < colon)


def ensure_clone(url: str, dest: Path, *, timeout: float | None = NETWORK_TIMEOUT) -> bool:
    """Make ``dest`` a bare clone of ``url`` (see the module docstring); return whether it
    cloned. An existing clone only gets its remote URL updated (no fetch: see :func:`fetch`).

    The clone is made in a temporary directory beside ``dest`` and renamed into place, so a
    failed or interrupted clone leaves nothing. Raises :class:`GitError` when ``url`` cannot
    be read, or when ``dest`` exists but is not a bare repository (it is left alone).
    """
    if dest.exists():
        if not _is_bare(dest):
            raise GitError(
                ["git", "clone", url, str(dest)],
                None,
                "",
                f"{dest} exists but is not a bare git repository; move it away and sync again",
            )
        if remote_url(dest) != url:
            run_git(["remote", "set-url", REMOTE, url], dest)
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        run_git(["init", "--quiet", "--bare", os.fspath(staging)])
        # `remote add` gives the refspec +refs/heads/*:refs/remotes/origin/*, so local
        # branches are ours alone and fetch moves only remote-tracking refs.
        run_git(["remote", "add", REMOTE, url], staging)
        fetch(staging, timeout=timeout)
        staging.rename(dest)
    except BaseException:
        _remove_tree(staging)
        raise
    return True


def _is_bare(path: Path) -> bool:
    """Whether ``path`` is (the top of) a bare repository: one git call."""
    if not path.is_dir():
        return False
    code, out, _ = _run(
        ["rev-parse", "--is-bare-repository", "--absolute-git-dir"], path, ok_codes=range(256)
    )
    lines = out.splitlines()
    if code != 0 or len(lines) != 2 or lines[0] != "true":
        return False
    return Path(lines[1]).resolve() == path.resolve()


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def remote_url(repo: Path) -> str | None:
    code, out, _ = _run(["remote", "get-url", REMOTE], repo, ok_codes=range(256))
    return out.strip() if code == 0 else None


@dataclass(frozen=True, slots=True)
class RefState:
    """A remote's branches (short name → commit) and the branch its ``HEAD`` names (``None``
    when it names none): as the remote advertises them (:func:`advertised_refs`) or as
    the clone last fetched them (:func:`tracking_refs`).
    """

    branches: dict[str, str]
    head: str | None


def advertised_refs(repo: Path, *, timeout: float | None = NETWORK_TIMEOUT) -> RefState:
    """What ``origin`` has now: one ``ls-remote`` (no objects are transferred). Raises
    :class:`GitError` when the remote cannot be read.
    """
    listed = run_git(["ls-remote", "--symref", REMOTE], repo, timeout=timeout)
    branches: dict[str, str] = {}
    head = None
    for line in listed.splitlines():
        target, _, ref = line.partition("\t")
        if target.startswith("ref: refs/heads/") and ref == "HEAD":
            head = target.removeprefix("ref: refs/heads/")
        elif ref.startswith("refs/heads/"):
            branches[ref.removeprefix("refs/heads/")] = target
    return RefState(branches, head)


def tracking_refs(repo: Path) -> RefState:
    """What the clone last fetched from ``origin``: its ``refs/remotes/origin/*`` and the
    branch ``origin/HEAD`` points to (one ``for-each-ref``).
    """
    prefix = f"refs/remotes/{REMOTE}/"
    out = run_git(["for-each-ref", "--format=%(refname)%00%(objectname)%00%(symref)", prefix], repo)
    branches: dict[str, str] = {}
    head = None
    for line in out.splitlines():
        name, commit, symref = line.split("\0")
        short = name.removeprefix(prefix)
        if short == "HEAD":
            head = symref.removeprefix(prefix) if symref.startswith(prefix) else None
        else:
            branches[short] = commit
    return RefState(branches, head)


def fetch(
    repo: Path, *, timeout: float | None = NETWORK_TIMEOUT, advertised: RefState | None = None
) -> None:
    """Fetch every branch of ``origin`` into ``refs/remotes/origin/*`` (dropping deleted
    ones), and record the remote's default branch when it names one. Local branches never
    move. ``advertised``: the remote's :func:`advertised_refs` when the caller just read
    them (saves asking again for its default branch). Raises :class:`GitError` when the
    remote cannot be read.
    """
    argv = ["fetch", "--quiet", "--prune", "--no-write-fetch-head", REMOTE]
    run_git(argv, repo, timeout=timeout)
    # origin/HEAD: which branch the remote calls its default. An empty remote, or one that
    # does not say, keeps whatever was recorded (or nothing).
    head = (advertised or advertised_refs(repo, timeout=timeout)).head
    if head is not None:
        tracking = f"refs/remotes/{REMOTE}/{head}"
        if ref_exists(repo, tracking):
            run_git(["symbolic-ref", f"refs/remotes/{REMOTE}/HEAD", tracking], repo)


def default_branch(repo: Path, fallback: str = "main") -> str:
    """The remote's default branch as of the last fetch (``origin/HEAD``), else ``fallback``
    (the project's configured ``default_branch``).
    """
    code, out, _ = _run(
        ["symbolic-ref", "--quiet", f"refs/remotes/{REMOTE}/HEAD"], repo, ok_codes=range(256)
    )
    prefix = f"refs/remotes/{REMOTE}/"
    if code == 0 and out.strip().startswith(prefix):
        return out.strip()[len(prefix) :]
    return fallback


def remote_branches(repo: Path) -> list[str]:
    """The remote's branches as of the last fetch (short names, sorted)."""
    prefix = f"refs/remotes/{REMOTE}/"
    out = run_git(["for-each-ref", "--format=%(refname)", prefix], repo)
    names = [line[len(prefix) :] for line in out.splitlines() if line.startswith(prefix)]
    return sorted(name for name in names if name != "HEAD")


def ref_exists(repo: Path, ref: str) -> bool:
    return _succeeds(["show-ref", "--verify", "--quiet", ref], repo)


def resolve_commit(repo: Path, ref: str) -> str | None:
    """The commit ``ref`` names, or ``None``. A bare branch name that is not a local branch
    is tried as ``origin/<name>`` too (see the module docstring).
    """
    for candidate in (ref, f"refs/remotes/{REMOTE}/{ref}"):
        code, out, _ = _run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
            repo,
            ok_codes=range(256),
        )
        if code == 0 and out.strip():
            return out.strip()
    return None


def head_commit(path: Path, ref: str = "HEAD") -> str:
    """The full sha ``ref`` names in the repository or worktree at ``path`` (see
    :func:`resolve_commit`). Raises :class:`GitError` when it names no commit.
    """
    sha = resolve_commit(path, ref)
    if sha is None:
        raise GitError(
            ["git", "-C", os.fspath(path), "rev-parse", ref],
            128,
            "",
            f"{ref!r} names no commit in {path}",
        )
    return sha


# --- branches -------------------------------------------------------------------------------


def branch_exists(repo: Path, branch: str) -> bool:
    """Whether the local branch exists."""
    return ref_exists(repo, f"refs/heads/{branch}")


def local_branches(repo: Path, prefix: str = "") -> list[str]:
    """The local branches whose names start with ``prefix`` (short names, sorted)."""
    out = run_git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"], repo)
    return sorted(name for name in out.splitlines() if name.startswith(prefix))


def create_branch(repo: Path, branch: str, start: str) -> str:
    """Create the local branch at ``start`` (no upstream); return its commit. Raises
    :class:`GitError` when it exists, the name is invalid or ``start`` names no commit.
    """
    sha = head_commit(repo, start)
    run_git(["branch", "--no-track", "--end-of-options", branch, sha], repo)
    return sha


def delete_branch(repo: Path, branch: str) -> bool:
    """Delete the local branch, merged or not (the caller decided its work is given up);
    ``False`` when there was none. Raises :class:`GitError` when a worktree holds it."""
    if not branch_exists(repo, branch):
        return False
    run_git(["branch", "-D", "--end-of-options", branch], repo)
    return True


def branch_is_merged(repo: Path, branch: str, into: str) -> bool:
    """Whether every change of ``branch`` is already in ``into``: it is an ancestor, or each
    of its commits has an equivalent patch in ``into`` (cherry-picked or rebased), or its
    whole diff was squash-merged there as one commit.
    """
    return not _unmerged(repo, branch, into)


def unmerged_commits(repo: Path, branch: str, base: str) -> list[Commit]:
    """The commits of ``branch`` whose changes are not in ``base`` (oldest first); empty when
    :func:`branch_is_merged`.
    """
    return _unmerged(repo, branch, base)


def _unmerged(repo: Path, branch: str, into: str) -> list[Commit]:
    tip, target = head_commit(repo, branch), head_commit(repo, into)
    if _succeeds(["merge-base", "--is-ancestor", tip, target], repo):
        return []
    out = run_git(["cherry", target, tip], repo)
    missing = [line[2:].strip() for line in out.splitlines() if line.startswith("+ ")]
    if not missing:
        return []
    # Squash merge: the branch's whole change as one commit on the merge base; if `into`
    # has that patch, nothing is missing. (commit-tree writes one unreachable object.)
    base = run_git(["merge-base", target, tip], repo).strip()
    if base:
        squashed = run_git(
            ["commit-tree", f"{tip}^{{tree}}", "-p", base, "-m", "squash check"],
            repo,
            env=_identity_env(repo),
        ).strip()
        if run_git(["cherry", target, squashed], repo).startswith("- "):
            return []
    subjects = dict(_log(repo, [f"{target}..{tip}"]))
    return [Commit(sha, subjects.get(sha, "")) for sha in missing]


def branch_is_pushed(repo: Path, branch: str) -> bool:
    """Whether the branch's tip is on the remote, as of the last fetch or push: some
    remote-tracking branch contains it.
    """
    tip = head_commit(repo, f"refs/heads/{branch}")
    out = run_git(
        ["for-each-ref", "--contains", tip, "--format=%(refname)", f"refs/remotes/{REMOTE}/"],
        repo,
    )
    return bool(out.strip())


def unmerged_branches(repo: Path, into: str, prefix: str = "") -> list[str]:
    """Local branches (whose names start with ``prefix``) with changes not in ``into``."""
    out = run_git(["for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}"], repo)
    names = [name for name in out.splitlines() if name.startswith(prefix)]
    return [name for name in names if not branch_is_merged(repo, f"refs/heads/{name}", into)]


def push(repo: Path, branch: str, *, timeout: float | None = NETWORK_TIMEOUT) -> None:
    """Push the local branch to the same name on ``origin`` (never forced); the
    remote-tracking branch follows. Raises :class:`PushRejectedError` when the remote has
    commits the branch lacks, :class:`GitError` when the push fails otherwise.
    """
    ref = f"refs/heads/{branch}"
    _push(repo, branch, f"{ref}:{ref}", timeout)


def push_commit(
    repo: Path, commit: str, branch: str, *, timeout: float | None = NETWORK_TIMEOUT
) -> None:
    """Make ``commit`` the remote's ``branch`` when that is a fast-forward (never forced),
    without a local branch of that name; the remote-tracking branch follows. Raises like
    :func:`push`.
    """
    _push(repo, branch, f"{head_commit(repo, commit)}:refs/heads/{branch}", timeout)


def _push(repo: Path, branch: str, refspec: str, timeout: float | None) -> None:
    argv = ["push", "--quiet", "--porcelain", REMOTE, refspec]
    code, out, err = _run(argv, repo, timeout=timeout, ok_codes=range(256))
    if code == 0:
        return
    # --porcelain: one "<flag>\t<from>:<to>\t<summary>" line per ref; "!" is a refusal.
    for line in out.splitlines():
        flag, _, rest = line.partition("\t")
        summary = rest.partition("\t")[2]
        if flag == "!" and summary.startswith("[rejected]"):
            detail = summary.removeprefix("[rejected]").strip(" ()") or "rejected"
            raise PushRejectedError(branch, ["git", "-C", os.fspath(repo), *argv], detail)
    raise GitError(["git", "-C", os.fspath(repo), *argv], code, err or out)


def commits_between(repo: Path, base: str, head: str) -> list[Commit]:
    """The commits reachable from ``head`` but not ``base``, oldest first (names resolve as
    in :func:`resolve_commit`).
    """
    start, end = head_commit(repo, base), head_commit(repo, head)
    return [Commit(sha, subject) for sha, subject in _log(repo, [f"{start}..{end}"])]


def unpushed_commits(repo: Path, ref: str) -> list[Commit]:
    """The commits of ``ref`` on no remote-tracking branch (as of the last fetch), oldest
    first.
    """
    sha = head_commit(repo, ref)
    return [Commit(s, subject) for s, subject in _log(repo, [sha, "--not", f"--remotes={REMOTE}"])]


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """Whether ``ancestor``'s commit is in ``descendant``'s history (a commit is its own
    ancestor). Raises :class:`GitError` when either names no commit.
    """
    older, newer = head_commit(repo, ancestor), head_commit(repo, descendant)
    return older == newer or _succeeds(["merge-base", "--is-ancestor", older, newer], repo)


def update_branch(repo: Path, branch: str, new: str, old: str | None) -> None:
    """Move the local branch to ``new`` only if it still is at ``old`` (``None``: only if it
    does not exist yet), in one atomic step. Raises :class:`GitError` when the branch moved
    meanwhile (or exists), or when ``new`` names no commit.
    """
    run_git(
        ["update-ref", "--no-deref", f"refs/heads/{branch}", head_commit(repo, new), old or ""],
        repo,
    )


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b``, or ``None`` when they share no history."""
    out = run_git(["merge-base", head_commit(repo, a), head_commit(repo, b)], repo, ok_codes=(0, 1))
    return out.strip() or None


def changed_files(repo: Path, base: str, head: str) -> list[str]:
    """The paths ``head`` changes since it left ``base`` (their merge base), as a pull
    request would show them.
    """
    start, end = head_commit(repo, base), head_commit(repo, head)
    out = run_git(["diff", "--name-only", "-z", "--no-renames", f"{start}...{end}"], repo)
    return [name for name in out.split("\0") if name]


def diff(repo: Path, base: str, head: str) -> str:
    """The unified diff of what ``head`` changes since it left ``base`` (three dots: from
    their merge base), as a pull request shows it; plain text, no colour or external tools.
    """
    start, end = head_commit(repo, base), head_commit(repo, head)
    return run_git(
        ["diff", "--no-color", "--no-ext-diff", "--no-textconv", f"{start}...{end}"], repo
    )


def _log(repo: Path, revisions: list[str]) -> list[tuple[str, str]]:
    out = run_git(["log", "--reverse", "-z", "--format=%H%x1f%s", *revisions, "--"], repo)
    pairs = []
    for entry in out.split("\0"):
        if "\x1f" in entry:
            sha, subject = entry.strip("\n").split("\x1f", 1)
            pairs.append((sha, subject))
    return pairs


# --- worktrees ------------------------------------------------------------------------------


def worktree_list(repo: Path) -> list[Worktree]:
    """The repository's worktrees (the bare repository itself first), from
    ``git worktree list --porcelain -z``.
    """
    out = run_git(["worktree", "list", "--porcelain", "-z"], repo)
    worktrees = []
    for block in out.split("\0\0"):
        fields = [field for field in block.split("\0") if field]
        if not fields or not fields[0].startswith("worktree "):
            continue
        info: dict[str, str] = {}
        for field in fields:
            key, _, value = field.partition(" ")
            info[key] = value
        branch = info.get("branch")
        worktrees.append(
            Worktree(
                path=Path(info["worktree"]),
                head=info.get("HEAD"),
                branch=branch.removeprefix("refs/heads/") if branch else None,
                bare="bare" in info,
                detached="detached" in info,
                locked="locked" in info,
                prunable="prunable" in info,
            )
        )
    return worktrees


def prune_worktrees(repo: Path) -> None:
    """Forget worktrees whose directory is gone (deleted by hand), freeing their branches."""
    run_git(["worktree", "prune"], repo)


@dataclass(frozen=True, slots=True)
class AddedWorktree:
    """What :func:`add_worktree` did."""

    path: Path
    branch: str
    head: str  # the commit checked out
    created_branch: bool  # the branch was made at the start point
    existed: bool  # the path already was this branch's worktree: nothing was done


def add_worktree(repo: Path, path: Path, branch: str, start_point: str) -> AddedWorktree:
    """Check ``branch`` out in a new worktree at ``path``. A missing branch is created at
    ``start_point`` (without upstream); an existing one is reused as it is. When ``path``
    already is that branch's worktree, nothing is done.

    Stale worktree metadata is pruned first, so a worktree deleted by hand does not hold its
    branch. Raises :class:`BranchInUseError` when the branch is checked out in another live
    worktree, :class:`GitError` when ``start_point`` names no commit or ``path`` exists and
    is not empty.
    """
    worktrees = worktree_list(repo)
    if any(worktree.prunable for worktree in worktrees):  # the same test `prune` applies
        prune_worktrees(repo)
        worktrees = worktree_list(repo)
    argv = ["git", "-C", os.fspath(repo), "worktree", "add", os.fspath(path), branch]
    target = _canonical(path)
    for worktree in worktrees:
        if worktree.branch == branch:
            if _canonical(worktree.path) == target:
                return AddedWorktree(path, branch, head_commit(path), False, True)
            raise BranchInUseError(branch, worktree.path, argv)
    path.parent.mkdir(parents=True, exist_ok=True)
    if branch_exists(repo, branch):
        run_git(["worktree", "add", "--quiet", os.fspath(path), branch], repo)
        return AddedWorktree(path, branch, head_commit(path), False, False)
    start = head_commit(repo, start_point)
    run_git(
        ["worktree", "add", "--quiet", "--no-track", "-b", branch, os.fspath(path), start], repo
    )
    return AddedWorktree(path, branch, start, True, False)


def add_detached_worktree(repo: Path, path: Path, commit: str) -> None:
    """Check ``commit`` out in a new worktree at ``path`` with a detached HEAD, so that the
    worktree holds no branch (any other worktree may check any branch out). Stale worktree
    metadata is pruned first. Raises :class:`GitError` when ``path`` exists and is not empty.
    """
    prune_worktrees(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    sha = head_commit(repo, commit)
    run_git(["worktree", "add", "--quiet", "--detach", os.fspath(path), sha], repo)


def git_path(worktree: Path, name: str) -> Path:
    """Where the worktree's git keeps ``name`` (``index.lock``, ``MERGE_HEAD``...): in a
    linked worktree that is under the repository's ``worktrees/<id>/``.
    """
    out = run_git(["rev-parse", "--git-path", name], worktree).rstrip("\n")
    path = Path(out)
    return path if path.is_absolute() else worktree / path


def reset_detached(worktree: Path, commit: str) -> None:
    """Make the worktree a pristine checkout of ``commit`` with a detached HEAD: an unfinished
    merge is aborted, every change, untracked and ignored file is dropped. Only for a worktree
    that holds no work of its own (the integration worktree); a branch checked out there is
    left where it is, never moved.
    """
    sha = head_commit(worktree, commit)
    if git_path(worktree, "MERGE_HEAD").exists():
        _run(["merge", "--abort"], worktree, ok_codes=range(256))
    # Detach first: `reset --hard` would otherwise move a branch checked out here by hand.
    run_git(["checkout", "--quiet", "--force", "--detach", sha], worktree)
    run_git(["reset", "--quiet", "--hard", sha], worktree)
    run_git(["clean", "-ffdxq"], worktree)


def _canonical(path: Path) -> Path:
    return Path(os.path.realpath(path))


def worktree_branch(repo: Path, path: Path) -> str | None:
    """The branch checked out in the worktree at ``path``, or ``None`` (detached, unknown)."""
    target = _canonical(path)
    for worktree in worktree_list(repo):
        if _canonical(worktree.path) == target:
            return worktree.branch
    return None


def has_uncommitted_changes(worktree: Path) -> bool:
    """Whether the worktree has changes a commit would record: modified, staged, deleted or
    untracked files (ignored ones do not count).
    """
    out = run_git(["status", "--porcelain", "-z", "--untracked-files=all"], worktree)
    return bool(out.strip("\0"))


def remove_worktree(repo: Path, path: Path, *, force: bool = False) -> bool:
    """Remove the worktree at ``path``; its branch is never deleted. Return whether a
    directory was removed (``False``: it was already gone and only its metadata pruned).

    Raises :class:`UncommittedChangesError` when it has uncommitted changes, unless
    ``force``. Whether the branch's commits are merged or pushed is the caller's policy
    (:func:`branch_is_merged`, :func:`branch_is_pushed`): the branch keeps them either way.
    """
    argv = ["git", "-C", os.fspath(repo), "worktree", "remove", os.fspath(path)]
    if not path.exists():
        prune_worktrees(repo)
        return False
    if not force and has_uncommitted_changes(path):
        raise UncommittedChangesError(path, argv)
    run_git(["worktree", "remove", *(["--force"] if force else []), os.fspath(path)], repo)
    return True


# --- commits --------------------------------------------------------------------------------


def has_identity(path: Path) -> bool:
    """Whether git has a non-empty name and email for both the author and the committer of
    a commit in ``path`` (from the environment or any config level).
    """
    return not _identity_env(path)


def _identity_env(path: Path) -> dict[str, str]:
    """Environment that makes commits in ``path`` work: for the author and the committer
    each, the configured identity when it is complete, else Codewalkers'.
    """
    configured: dict[str, str] = {}
    for key in ("user.name", "user.email"):
        code, out, _ = _run(["config", "--get", key], path, ok_codes=range(256))
        configured[key] = out.strip() if code == 0 else ""
    env: dict[str, str] = {}
    for role in ("AUTHOR", "COMMITTER"):
        name = os.environ.get(f"GIT_{role}_NAME", "").strip() or configured["user.name"]
        email = os.environ.get(f"GIT_{role}_EMAIL", "").strip() or configured["user.email"]
        if not (name and email):
            env[f"GIT_{role}_NAME"] = CODEWALKERS_NAME
            env[f"GIT_{role}_EMAIL"] = CODEWALKERS_EMAIL
    return env


def commit_all(worktree: Path, message: str) -> str | None:
    """Commit everything in the worktree (modified, deleted and untracked files; ignored
    ones stay out) on its current branch; return the new commit, or ``None`` when there was
    nothing to commit.

    Saving the work must not depend on the setup of the machine: without a configured
    identity the commit is by ``Codewalkers <codewalkers@localhost>``; commit hooks and
    signing are skipped (``--no-verify``, ``commit.gpgsign=false``). Raises
    :class:`GitError` otherwise.
    """
    run_git(["add", "--all", "--", "."], worktree)
    if _succeeds(["diff", "--cached", "--quiet"], worktree):
        return None
    run_git(
        [
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--no-verify",
            "--no-edit",
            "--file",
            "-",
        ],
        worktree,
        env=_identity_env(worktree),
        input=message if message.strip() else "Codewalkers: save work",
    )
    return head_commit(worktree)


# --- merges ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What :func:`merge_no_ff` did: a merge commit, or the files that conflicted."""

    commit: str | None  # None: it conflicted and was aborted
    conflicts: tuple[str, ...] = ()


def merge_no_ff(worktree: Path, commit: str, message: str) -> MergeResult:
    """Merge ``commit`` into the worktree's HEAD as a merge commit (``--no-ff``, even when a
    fast-forward would do, so the order of merges shows in history), with ``message``.

    On a conflict the merge is aborted, the worktree is back at its HEAD and the conflicting
    paths are returned. As :func:`commit_all`, it works on any machine: Codewalkers'
    identity when none is configured, no hooks, no signing, no rerere (a recorded resolution
    must not resolve a conflict silently). Raises :class:`GitError` for any other failure
    (the merge aborted too).
    """
    sha = head_commit(worktree, commit)
    argv = [
        "-c",
        "commit.gpgsign=false",
        "-c",
        "rerere.enabled=false",
        "merge",
        "--no-ff",
        "--no-edit",
        "--no-verify",
        "--no-stat",
        "--no-log",
        "--quiet",
        "-m",
        message,
        sha,
    ]
    code, _, err = _run(argv, worktree, env=_identity_env(worktree), ok_codes=range(256))
    if code == 0:
        return MergeResult(head_commit(worktree))
    conflicts = unmerged_paths(worktree)
    if git_path(worktree, "MERGE_HEAD").exists():
        run_git(["merge", "--abort"], worktree)
    if conflicts:
        return MergeResult(None, tuple(conflicts))
    raise GitError(["git", "-C", os.fspath(worktree), *argv], code, err)


def unmerged_paths(worktree: Path) -> list[str]:
    """The paths an unfinished merge left conflicting (``diff --diff-filter=U``), sorted."""
    out = run_git(["diff", "--name-only", "--diff-filter=U", "-z"], worktree)
    return sorted({name for name in out.split("\0") if name})
