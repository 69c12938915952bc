"""The supervisor: one thread that follows every running agent's output file, notices
when a process ends or hangs, and reports it to a :class:`Listener`.

It is mechanism only. What an exit *means* (the signal file, the task, failover) is the
listener's business (:mod:`codewalkers.services.runtime`), which is also where the
database is written: the supervisor never touches it, so the layering stays
db ← agents ← services.

Output is read from the file the process writes (never a pipe), from a byte offset that
the listener stores with the output in one transaction: after a coordinator restart the
file is followed again from exactly there, so no line is lost or stored twice. Only
complete lines are handed on; a partial line waits for its newline (or for the process to
end, or for ``max_chunk_chars`` to be exceeded).

A pass reads what every file gained since the last one, then the thread waits
``poll_interval`` unless a file holds more than one read: a busy agent's lines reach the
database in one transaction per interval, not one per line (the supervisor's CPU grows with
the number of agents, not with the lines they write).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from codewalkers.agents import process
from codewalkers.agents.dialects import parse_line
from codewalkers.agents.output import OutputEvent, UsageLimit
from codewalkers.agents.settings import AgentSettings

log = logging.getLogger(__name__)

#: Read at most this much of one file per pass, so one chatty agent cannot starve others.
READ_BYTES = 1 << 20


@dataclass(eq=False)
class AgentRun:
    """One session of one agent process being followed (in memory only; the database and
    the files on disk are the truth)."""

    agent_id: str
    name: str
    dialect: str
    session_number: int
    output_file: Path
    exit_file: Path
    pid: int
    started_at_ms: int | None
    offset: int = 0
    popen: subprocess.Popen[bytes] | None = None
    #: Why the supervisor was asked to stop it (``None``: it ended by itself).
    stop_reason: str | None = None
    #: What the output said so far: a usage limit, a result.
    usage_limit: OutputEvent | None = None
    last_activity: float = field(default_factory=time.monotonic)
    hung_reported: bool = False
    _partial: bytes = b""

    def returncode(self) -> int | None:
        """The exit code if the process ended and it is known (our child, or the wrapper's
        exit file), else ``None``."""
        if self.popen is not None and self.popen.returncode is not None:
            code = self.popen.returncode
            return 128 - code if code < 0 else code  # like a shell: 128 + signal
        return process.read_exit_code(self.exit_file)

    def has_exited(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is not None
        return not process.is_alive(self.pid, self.started_at_ms)


@dataclass(frozen=True, slots=True)
class OutputBatch:
    """Complete lines read from one run's file, and the offset just past them."""

    lines: list[str]
    events: list[OutputEvent]
    end_offset: int


class Listener(Protocol):
    def on_output(self, run: AgentRun, batch: OutputBatch) -> None:
        """Store the batch (and ``batch.end_offset``) durably; raise to have it offered
        again on the next pass."""

    def on_outputs(self, batches: list[tuple[AgentRun, OutputBatch]]) -> None:
        """Store several runs' batches at once (all or none); raise to have each offered
        alone to :meth:`on_output`."""

    def on_exit(self, run: AgentRun, exit_code: int | None) -> None:
        """The process ended and all its output was handed on."""

    def on_hung(self, run: AgentRun) -> None:
        """No output and no exit for ``hang_timeout`` seconds."""

    def on_tick(self) -> None:
        """Called every ``maintenance_interval`` seconds on the supervisor thread."""


def decode_line(raw: bytes) -> str:
    """Text safe to store: invalid UTF-8 replaced, NUL (which the database refuses) too."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


class Supervisor:
    """Follows agent runs on one background thread; see the module docstring."""

    def __init__(
        self,
        listener: Listener,
        settings: AgentSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._listener = listener
        self._settings = settings
        self._clock = clock
        self._runs: dict[str, AgentRun] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick = 0.0
        #: A file had more than one pass may read (``READ_BYTES``): look again at once.
        self._backlog = False

    # -- control ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="cw-supervisor", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop following (the agents keep running: a restarted coordinator adopts them)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def watch(self, run: AgentRun) -> None:
        with self._lock:
            self._runs[run.agent_id] = run
        self._wake.set()

    def run_of(self, agent_id: str) -> AgentRun | None:
        with self._lock:
            return self._runs.get(agent_id)

    def runs(self) -> list[AgentRun]:
        with self._lock:
            return list(self._runs.values())

    def stop(self, agent_id: str, reason: str) -> bool:
        """Stop the agent's process group (SIGTERM, grace, SIGKILL); its exit is then
        reported to the listener as usual, with ``run.stop_reason`` set. Returns whether a
        followed run existed."""
        run = self.run_of(agent_id)
        if run is None:
            return False
        run.stop_reason = run.stop_reason or reason
        process.stop_group(
            run.pid,
            run.started_at_ms,
            grace=self._settings.stop_grace,
            reap=run.popen.poll if run.popen is not None else None,
        )
        self._wake.set()
        return True

    def poke(self) -> None:
        """Look now rather than at the next interval."""
        self._wake.set()

    # -- the loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._backlog = False
            try:
                self.pass_once()
            except Exception:  # the supervisor must outlive any one agent's trouble
                log.exception("supervisor pass failed")
            now = self._clock()
            if now - self._last_tick >= self._settings.maintenance_interval:
                self._last_tick = now
                try:
                    self._listener.on_tick()
                except Exception:
                    log.exception("supervisor maintenance failed")
            if not self._backlog:
                self._wake.wait(self._settings.poll_interval)
                self._wake.clear()

    def pass_once(self) -> bool:
        """One look at every run; returns whether anything was read.

        Every file is read first, then what they held is handed on in one call
        (``on_outputs``: one transaction for all agents, not one each); should that call
        fail, each run's batch is offered alone, as ``on_output``.
        """
        reads: list[tuple[AgentRun, bool, OutputBatch | None]] = []
        for run in self.runs():
            try:
                exited = run.has_exited()  # before reading: output written before the exit
                reads.append((run, exited, self._read(run, final=exited)))
            except Exception:
                log.exception("reading agent %s's output failed; will try again", run.name)
        batches = [(run, batch) for run, _, batch in reads if batch is not None]
        stored = False
        if len(batches) > 1:
            try:
                self._listener.on_outputs(batches)
                stored = True
            except Exception:
                log.exception("storing %d agents' output at once failed", len(batches))
        busy = False
        for run, exited, batch in reads:
            try:
                busy = self._follow(run, exited, batch, stored=stored) or busy
            except Exception:
                log.exception("following agent %s failed; will try again", run.name)
        return busy

    def _follow(
        self, run: AgentRun, exited: bool, batch: OutputBatch | None, *, stored: bool
    ) -> bool:
        if batch is not None:
            if not stored:
                self._listener.on_output(run, batch)
            run.offset = batch.end_offset
            run.last_activity = self._clock()
            for event in batch.events:
                if isinstance(event, UsageLimit) and _better_limit(event, run.usage_limit):
                    run.usage_limit = event
            if not exited:
                return True
            # More may remain beyond READ_BYTES: drain before reporting the exit.
            if self._pending_bytes(run) > 0:
                self._backlog = True
                return True
        if exited:
            with self._lock:
                self._runs.pop(run.agent_id, None)
            try:
                self._listener.on_exit(run, run.returncode())
            except Exception:
                # Offered again on the next pass (e.g. the database was away): an exit
                # is never forgotten.
                with self._lock:
                    self._runs.setdefault(run.agent_id, run)
                raise
            return True
        idle = self._clock() - run.last_activity
        if idle >= self._settings.hang_timeout and not run.hung_reported:
            run.hung_reported = True
            self._listener.on_hung(run)
        return False

    def _pending_bytes(self, run: AgentRun) -> int:
        try:
            return run.output_file.stat().st_size - run.offset - len(run._partial)
        except OSError:
            return 0

    def _read(self, run: AgentRun, *, final: bool) -> OutputBatch | None:
        start = run.offset + len(run._partial)
        try:
            with open(run.output_file, "rb") as handle:
                handle.seek(start)
                data = handle.read(READ_BYTES)
        except FileNotFoundError:
            data = b""
        if len(data) >= READ_BYTES:
            self._backlog = True  # a file that grows faster than one read per pass
        buffer = run._partial + data
        if not buffer:
            return None
        cut = buffer.rfind(b"\n") + 1
        limit = self._settings.max_chunk_chars * 4
        if final and self._pending_after(run, start + len(data)) == 0:
            cut = len(buffer)  # the process is gone: its last line has no newline coming
        elif cut == 0 and len(buffer) > limit:
            cut = len(buffer)  # a huge line: hand it on in pieces rather than hold it all
        if cut == 0:
            run._partial = buffer
            return None
        complete, run._partial = buffer[:cut], buffer[cut:]
        lines = [decode_line(raw) for raw in complete.split(b"\n")]
        if lines and lines[-1] == "" and complete.endswith(b"\n"):
            lines.pop()
        events: list[OutputEvent] = []
        for line in lines:
            events.extend(parse_line(run.dialect, line))
        return OutputBatch(lines=lines, events=events, end_offset=run.offset + cut)

    def _pending_after(self, run: AgentRun, position: int) -> int:
        try:
            return run.output_file.stat().st_size - position
        except OSError:
            return 0


def _better_limit(new: UsageLimit, known: OutputEvent | None) -> bool:
    """Whether ``new`` says more than ``known``: the first limit with a reset time wins
    (Claude's exact ``resetsAt`` comes before its result text, which names only minutes)."""
    if not isinstance(known, UsageLimit):
        return True
    return known.resets_at is None and new.resets_at is not None
