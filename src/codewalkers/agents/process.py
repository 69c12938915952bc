"""Agent processes: started in their own session with output to a file, identified across
a coordinator restart by pid and start time, stopped as a whole process group.

An agent outlives the coordinator that started it: its stdout and stderr go to a file, not
a pipe, and it runs in a new session. A small ``sh`` wrapper leads the group and writes the
agent's exit code to a file, so that a restarted coordinator still learns how it ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

# `"$@"` runs the agent; its exit status is written (atomically) once it ends.
_WRAPPER = (
    'exit_file="$1"; shift; "$@"; code=$?; '
    'echo "$code" > "$exit_file.tmp"; mv "$exit_file.tmp" "$exit_file"; exit "$code"'
)


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A started agent process: the group leader's pid and its start time (ms since the
    epoch, as the kernel reports it), which together never name another process.
    """

    pid: int
    started_at_ms: int
    output_file: str
    exit_file: str


class SpawnError(Exception):
    """The agent's process could not be started (missing executable, bad directory)."""


def start(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    output_file: Path,
    exit_file: Path,
    stdin_text: str | None = None,
) -> tuple[subprocess.Popen[bytes], ProcessInfo]:
    """Start ``argv`` in ``cwd`` in a new session, stdout and stderr appended to
    ``output_file``. The output file exists before the process does, so nothing it prints
    is lost; ``stdin_text`` (if any) is written to a file beside it and given as stdin,
    else stdin is ``/dev/null`` (Codex waits on an open stdin).
    """
    output_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        exit_file.unlink()
    stdin_path: Path | None = None
    if stdin_text is not None:
        stdin_path = output_file.with_suffix(".stdin")
        stdin_path.write_text(stdin_text, encoding="utf-8")
    try:
        with (
            open(output_file, "ab") as output,
            open(stdin_path or os.devnull, "rb") as stdin,
        ):
            child = subprocess.Popen(
                ["/bin/sh", "-c", _WRAPPER, "cw-agent", str(exit_file), *argv],
                cwd=cwd,
                env=dict(env),
                stdin=stdin,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        raise SpawnError(f"cannot start {argv[0]!r} in {cwd}: {exc}") from exc
    return child, ProcessInfo(
        pid=child.pid,
        started_at_ms=start_time_ms(child.pid) or 0,
        output_file=str(output_file),
        exit_file=str(exit_file),
    )


def write_process_file(path: Path, info: ProcessInfo) -> None:
    """Record the process on disk before the database (a coordinator killed in between
    still finds it at restart)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(info)), encoding="utf-8")
    temporary.replace(path)


def read_process_file(path: Path) -> ProcessInfo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ProcessInfo(
            pid=int(data["pid"]),
            started_at_ms=int(data["started_at_ms"]),
            output_file=str(data["output_file"]),
            exit_file=str(data["exit_file"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def start_time_ms(pid: int) -> int | None:
    """When the process started (ms since the epoch), or ``None`` when it does not exist."""
    try:
        return round(psutil.Process(pid).create_time() * 1000)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def is_alive(pid: int, started_at_ms: int | None) -> bool:
    """True when ``pid`` runs, is not a zombie, and (when known) started at
    ``started_at_ms`` (within a few ms: the kernel's clock ticks), so a reused pid is not
    mistaken for the agent.
    """
    if pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started = round(process.create_time() * 1000)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return not started_at_ms or abs(started - started_at_ms) <= 50


def read_exit_code(exit_file: Path) -> int | None:
    """The exit code the wrapper recorded, or ``None`` (not ended, or killed with it)."""
    try:
        return int(exit_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def group_members(pid: int) -> list[psutil.Process]:
    """Every live process of the agent's session/process group, descendants included."""
    members: dict[int, psutil.Process] = {}
    try:
        leader = psutil.Process(pid)
        members[pid] = leader
        for child in leader.children(recursive=True):
            members[child.pid] = child
    except psutil.NoSuchProcess:
        pass
    for process in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(process.pid) == pid:
                members[process.pid] = process
    return [p for p in members.values() if _running(p)]


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_group(
    pid: int,
    started_at_ms: int | None,
    *,
    grace: float,
    reap: Callable[[], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """SIGTERM to the agent's whole process group (and any descendant that left it), then
    SIGKILL to whatever is left after ``grace`` seconds. Returns whether it had to kill.

    ``reap`` is called while waiting (e.g. ``Popen.poll``) so that our own child does not
    linger as a zombie.
    """
    if not is_alive(pid, started_at_ms):
        members = group_members(pid) if pid > 0 else []
        if not members:
            return False
    else:
        members = group_members(pid)
    _signal_all(pid, members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        if not any(_running(p) for p in members) and not group_members(pid):
            return False
        sleep(0.05)
    members = group_members(pid) + [p for p in members if _running(p)]
    _signal_all(pid, members, signal.SIGKILL)
    if reap is not None:
        for _ in range(100):
            if reap() is not None:
                break
            sleep(0.01)
    return True


def _signal_all(pid: int, members: Sequence[psutil.Process], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
    for process in members:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signum)
