"""The supervisor thread alone, with a recording listener and a file written by the test
(the real pipeline is in ``test_runtime.py`` and ``test_coordinator.py``)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from codewalkers.agents import supervisor as supervisor_module
from codewalkers.agents.settings import AgentSettings
from codewalkers.agents.supervisor import AgentRun, OutputBatch, Supervisor


class Recorder:
    """Records batches; each takes a millisecond, as a database transaction does."""

    def __init__(self) -> None:
        self.batches: dict[str, list[list[str]]] = {}
        self.exits = 0
        self.passes = 0  # calls of on_outputs: one transaction each

    def on_output(self, run: AgentRun, batch: OutputBatch) -> None:
        time.sleep(0.001)
        self.batches.setdefault(run.agent_id, []).append(batch.lines)

    def on_outputs(self, batches: list[tuple[AgentRun, OutputBatch]]) -> None:
        time.sleep(0.001)
        self.passes += 1
        for run, batch in batches:
            self.batches.setdefault(run.agent_id, []).append(batch.lines)

    def on_exit(self, run: AgentRun, exit_code: int | None) -> None:
        self.exits += 1

    def on_hung(self, run: AgentRun) -> None:
        pass

    def on_tick(self) -> None:
        pass

    def lines(self, agent_id: str) -> list[str]:
        return [line for batch in self.batches.get(agent_id, []) for line in batch]


def follow(
    tmp_path: Path, listener: Recorder, count: int = 1
) -> tuple[Supervisor, subprocess.Popen[bytes], list[Path]]:
    """``count`` runs (one sleeping process stands in for all) followed by a started
    supervisor; their output files."""
    child = subprocess.Popen(["sleep", "30"])
    supervisor = Supervisor(listener, AgentSettings(poll_interval=0.1))
    outputs = []
    for n in range(count):
        output = tmp_path / f"output-{n}.jsonl"
        output.write_bytes(b"")
        outputs.append(output)
        supervisor.watch(
            AgentRun(
                agent_id=f"a{n}",
                name=f"agent-{n}",
                dialect="claude",
                session_number=1,
                output_file=output,
                exit_file=tmp_path / f"exit-{n}",
                pid=child.pid,
                started_at_ms=None,
                popen=child,
            )
        )
    supervisor.start()
    return supervisor, child, outputs


def test_chatty_agents_are_read_once_per_poll_interval_not_once_per_line(
    tmp_path: Path,
) -> None:
    """Ten agents writing 100 lines/s each for a second come in about ten batches each (one
    per interval), every line once and in order: the coordinator's cost follows the
    agents, not their lines."""
    listener = Recorder()
    supervisor, child, outputs = follow(tmp_path, listener, count=10)
    try:
        handles = [output.open("ab") for output in outputs]
        for n in range(100):
            for handle in handles:
                handle.write(f"line {n}\n".encode())
                handle.flush()
            time.sleep(0.01)
        for handle in handles:
            handle.close()
        child.kill()
        child.wait()
        deadline = time.monotonic() + 10
        while listener.exits < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        supervisor.close()
    for n in range(10):
        assert listener.lines(f"a{n}") == [f"line {i}" for i in range(100)]
    batches = sum(len(b) for b in listener.batches.values())
    # About 10 agents x 10 intervals; reading as fast as lines come would be ~1,000.
    assert batches <= 300, batches
    # All agents' batches of one pass are stored together (one transaction).
    assert listener.passes <= 40, listener.passes


def test_a_file_larger_than_one_read_is_drained_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than READ_BYTES waiting: the next read follows at once, not a poll later."""
    monkeypatch.setattr(supervisor_module, "READ_BYTES", 64)
    listener = Recorder()
    supervisor, child, (output,) = follow(tmp_path, listener)
    try:
        time.sleep(0.3)  # the thread now waits poll_interval between passes
        output.write_bytes(b"".join(f"line {n:04d}\n".encode() for n in range(200)))
        started = time.monotonic()
        deadline = started + 5
        while len(listener.lines("a0")) < 200 and time.monotonic() < deadline:
            time.sleep(0.005)
        elapsed = time.monotonic() - started
    finally:
        child.kill()
        child.wait()
        supervisor.close()
    assert listener.lines("a0") == [f"line {n:04d}" for n in range(200)]
    # 2,200 bytes in 64-byte reads: 35 passes, far below 35 poll intervals (3.5 s).
    assert elapsed < 1.5, elapsed
