"""Benchmark running agents through the real coordinator, each figure beside its floor.

    .venv/bin/python bench/agents.py                  # full: 1-100 agents, 100 and 10,000 files
    .venv/bin/python bench/agents.py --quick          # CI: 1 and 10 agents, 100 files (< 90 s)
    .venv/bin/python bench/agents.py --quick --json bench/results/agents-quick.json

A workspace in a temp dir (``cw init``), a bare remote, a ``cw start --detach`` coordinator on
SQLite with the shipped fake agent (``cw-fake-agent``) as the ``claude`` provider and the
default ``[agents]`` and event-hub intervals (what a user gets). The cases:

1. spawn: ``POST /agents`` until it answers (the process is running) against the floor of
   ``git worktree add`` from the same clone plus starting the same fake agent by hand.
2. output path: agents each printing 100 lines/s, every line stamped with the time of its
   write; a ``GET /events`` client records when each line arrives (p50/p99), and checks
   that every line arrives once and in order.
3. supervision cost: the coordinator's CPU (psutil) while those agents sleep and while they
   write, and its RSS per agent; the floor is the agents' own CPU over the same window.
4. dispatch: planning the ready set (``Executor._plan`` + ``_ready``, in-process, SQLite) of
   initiatives of 10-1,000 tasks with three dependencies per task, against the one SQL
   query of ``db.tasks.find_ready`` through the bare driver; and, through the coordinator,
   ``POST /initiatives/{id}/execute`` until the task's ``task:dispatched`` event, against a
   direct spawn.
5. merges: ``Integrator.merge`` of a task branch into a phase branch against ``git
   checkout`` + ``git merge --no-ff`` + ``git update-ref`` by hand in the same clone.

Figures are medians with the spread (min-max) over rounds that alternate the two sides. The
harness reports targets and never fails on one; it exits 1 on an error, or when a line is
lost, duplicated or reordered.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

import _data
from _floor import Floor
from _measure import Timing, compare, compare_with_setup
from codewalkers.agents.integration import Integrator
from codewalkers.agents.paths import RuntimePaths
from codewalkers.db import open_database
from codewalkers.db.enums import ExecutionState
from codewalkers.services.execution import DispatchSettings, Executor

FAKE_AGENT = str(Path(sys.executable).parent / "cw-fake-agent")
CW = [sys.executable, "-m", "codewalkers"]
RATE = 100  # lines per second per agent
IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
CWRC = f"""
[providers.claude]
command = "{FAKE_AGENT}"

[agents]
stop_grace = 2
signal_grace = 0.2
hang_timeout = 600

[dispatch]
max_agents = 200
"""
STAMPED = re.compile(r"line (\d+) of (\d+) at (\d+\.\d+)")

SPAWN_TARGET = 1.5
P99_TARGET = 0.250  # s, at 50 agents
CPU_TARGET = 0.5  # cores, 100 writing agents
PLAN_TARGET = 0.050  # s, 1,000 tasks


@dataclass
class Settings:
    quick: bool
    rounds: int
    repo_sizes: list[int]
    agent_counts: list[int]
    lines: int
    plan_sizes: list[int]
    dispatch_rounds: int
    merge_rounds: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        return cls(
            quick=quick,
            rounds=args.rounds or (3 if quick else 9),
            repo_sizes=[100] if quick else [100, 10_000],
            agent_counts=args.agents or ([1, 10] if quick else [1, 10, 50, 100]),
            lines=args.lines or (200 if quick else 600),
            plan_sizes=[10, 100, 1_000],
            dispatch_rounds=2 if quick else 7,
            merge_rounds=args.rounds or (3 if quick else 9),
        )


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.01:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e3:.2f} ms"


def spread(timing: Timing) -> str:
    return f"{fmt(timing.median)} ({fmt(timing.min)}-{fmt(timing.max)})"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def timing_of(samples: list[float]) -> Timing:
    return Timing.of(samples, 1)


# --- git and the workspace ----------------------------------------------------------------


def git(cwd: Path, *argv: str) -> str:
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(argv)} in {cwd}: {done.stderr.strip()}")
    return done.stdout


def make_remote(root: Path, files: int) -> Path:
    """A bare repository whose ``main`` has one commit of ``files`` small files."""
    bare, work = root / "remote.git", root / "upstream"
    root.mkdir(parents=True)
    git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(root, "init", "--quiet", "--initial-branch=main", str(work))
    for i in range(files):
        path = work / f"dir{i % 100:02d}" / f"file{i}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"line {i}\n")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "seed")
    git(work, "push", "--quiet", str(bare), "HEAD:refs/heads/main")
    return bare


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


class Coordinator:
    """A workspace with a ``cw start --detach`` coordinator, driven over HTTP."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        root.mkdir(parents=True)
        self.cw("init")
        with (root / ".cwrc").open("a", encoding="utf-8") as cwrc:
            cwrc.write(CWRC)
        self.port = free_port()
        self.pid = int(self.cw("start", "--detach", "--port", str(self.port))["pid"])
        token = (root / ".cw" / "api-token").read_text().strip()
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self.process = psutil.Process(self.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cw(self, *args: str) -> Any:
        done = subprocess.run(
            [*CW, *args, "--json"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cw {' '.join(args)}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.post(path, json=body or {})
        if answer.status_code >= 300:
            raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.http.patch(path, json=body)
        if answer.status_code >= 300:
            raise RuntimeError(f"PATCH {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def get(self, path: str) -> Any:
        answer = self.http.get(path)
        if answer.status_code >= 300:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def plan(self, remote: Path, name: str) -> tuple[str, str]:
        """A project on ``remote`` (once), an initiative linked to it, one approved phase."""
        projects = self.get("/projects")
        project = projects[0]["id"] if projects else None
        if project is None:
            project = self.post("/projects", {"name": "app", "url": remote.as_uri()})["id"]
        initiative = self.post(
            "/initiatives",
            {"name": name, "project_ids": [project], "merge_requires_approval": False},
        )["id"]
        phase = self.post("/phases", {"initiative_id": initiative, "name": "Build"})["id"]
        return initiative, phase

    def task(self, phase: str, name: str, description: str) -> str:
        return str(
            self.post("/tasks", {"name": name, "phase_id": phase, "description": description})["id"]
        )

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def wait_agents_ended(self, names: list[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for agent in self.get("/agents"):
                if agent["name"] in pending and agent["status"] != "running":
                    pending.discard(agent["name"])
            if pending:
                time.sleep(0.2)
        for name in pending:
            self.post(f"/agents/{name}/stop")

    def close(self) -> None:
        from codewalkers.server.runner import stop

        try:
            self.http.close()
            stop(self.root / ".cw", timeout=15)
        finally:
            with _suppress():
                os.kill(self.pid, signal.SIGKILL)
            for runs in self.root.glob("agent-workdirs/*/.cw/output/cw-fake-runs.jsonl"):
                for line in runs.read_text().splitlines():
                    with _suppress():
                        os.killpg(json.loads(line)["pid"], signal.SIGKILL)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (ProcessLookupError, PermissionError))  # type: ignore[arg-type]


class EventClient:
    """A ``GET /events`` client on a thread: every event of ``types`` with its arrival time."""

    def __init__(self, coordinator: Coordinator, types: str) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.changed = threading.Condition()
        self.error: BaseException | None = None
        self._connected = threading.Event()
        self._stop = False
        self._client = httpx.Client(
            base_url=coordinator.url,
            headers=dict(coordinator.http.headers),
            timeout=httpx.Timeout(10, read=None),
        )
        self._thread = threading.Thread(target=self._read, args=(types,), daemon=True)
        self._thread.start()
        if not self._connected.wait(30):
            raise RuntimeError("the /events stream did not connect")

    def _read(self, types: str) -> None:
        try:
            with self._client.stream("GET", "/events", params={"types": types}) as answer:
                answer.raise_for_status()
                for line in answer.iter_lines():
                    if line.startswith(": connected"):
                        self._connected.set()
                    if self._stop:
                        return
                    if line.startswith("data: "):
                        arrived = time.time()
                        event = json.loads(line[6:])
                        with self.changed:
                            self.events.append((arrived, event))
                            self.changed.notify_all()
        except BaseException as exc:  # reported by the case that reads it
            if not self._stop:
                self.error = exc
                self._connected.set()

    def wait_for(
        self, predicate: Callable[[list[tuple[float, dict[str, Any]]]], Any], timeout: float
    ) -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate(self.events)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None:
                    return value
                self.changed.wait(min(left, 0.5))

    def close(self) -> None:
        self._stop = True
        self._client.close()


class FileTail:
    """The output path's floor: a bare poller of the agents' output files at the
    supervisor's interval (no database, no HTTP), timing each stamped line as it sees it."""

    def __init__(self, directories: list[Path], interval: float = 0.1) -> None:
        self.latencies: list[float] = []
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._directories = directories
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for directory in self._directories:
                for path in directory.glob("*"):
                    self._read(path)
            self._stop.wait(self._interval)

    def _read(self, path: Path) -> None:
        with path.open("rb") as handle:
            handle.seek(self._offsets.get(path, 0))
            data = handle.read()
        if not data:
            return
        seen = time.time()
        self._offsets[path] = self._offsets.get(path, 0) + len(data)
        buffer = self._partial.get(path, b"") + data
        cut = buffer.rfind(b"\n") + 1
        self._partial[path] = buffer[cut:]
        for _number, _of, stamp in STAMPED.findall(buffer[:cut].decode("utf-8", "replace")):
            self.latencies.append(seen - float(stamp))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


# --- the benchmark ------------------------------------------------------------------------


@dataclass
class Bench:
    s: Settings
    work: Path
    env: dict[str, str]
    results: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    spawn_estimate: float = 0.5
    profile: Path | None = None

    # 1. spawn ---------------------------------------------------------------------------

    def spawn(self, files: int) -> None:
        remote = make_remote(self.work / f"remote-{files}", files)
        coordinator = Coordinator(self.work / f"ws-spawn-{files}", self.env)
        try:
            _, phase = coordinator.plan(remote, f"Spawn {files}")
            steps = scenario({"sleep": 1}, {"done": "spawned"})
            clone = coordinator.root / ".cw" / "repos" / "app.git"
            floor_root = self.work / f"floor-spawn-{files}"
            floor_root.mkdir()
            names: list[str] = []
            started: list[subprocess.Popen[bytes]] = []

            def by_api() -> float:
                task = coordinator.task(phase, f"spawn {len(names)}", steps)
                begin = time.perf_counter()
                agent = coordinator.post("/agents", {"task_id": task})
                elapsed = time.perf_counter() - begin
                if agent["status"] != "running" or not agent["pid"]:
                    raise RuntimeError(f"spawned agent is {agent['status']}: {agent}")
                names.append(agent["name"])
                return elapsed

            def by_hand(fetch: bool = False) -> float:
                i = len(started)
                workdir = floor_root / f"agent-{i}"
                (workdir / ".cw" / "output").mkdir(parents=True)
                begin = time.perf_counter()
                if fetch:  # what the runtime does first: the agent starts on the remote's tip
                    git(clone, "fetch", "--quiet", "--prune", "--no-write-fetch-head", "origin")
                git(
                    clone,
                    "worktree",
                    "add",
                    "--quiet",
                    "--no-track",
                    "-b",
                    f"floor/{i}",
                    str(workdir / "app"),
                    "origin/main",
                )
                with (workdir / ".cw" / "output" / "output.jsonl").open("wb") as out:
                    started.append(
                        subprocess.Popen(
                            [
                                FAKE_AGENT,
                                "-p",
                                steps,
                                "--output-format",
                                "stream-json",
                                "--verbose",
                            ],
                            cwd=workdir,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                            env={**self.env, "CLAUDE_CONFIG_DIR": str(workdir / ".claude")},
                        )
                    )
                return time.perf_counter() - begin

            by_api()  # warm-up: the first spawn clones the project
            coordinator.wait_agents_ended(names)
            by_hand()
            api: list[float] = []
            hand: list[float] = []
            fetched: list[float] = []
            profiler = None
            if self.profile is not None:
                # Wall-clock samples (--idle: waiting on git counts) over the rounds.
                profiler = subprocess.Popen(
                    [
                        *_py_spy(coordinator.pid, int(self.s.rounds * 1.5) + 1),
                        "--idle",
                        "--output",
                        str(self.profile.with_suffix(f".spawn-{files}.txt")),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            for r in range(self.s.rounds):
                sides = ("api", "hand", "fetch")
                for side in sides if r % 2 == 0 else sides[::-1]:
                    if side == "api":
                        api.append(by_api())
                    elif side == "hand":
                        hand.append(by_hand())
                    else:
                        fetched.append(by_hand(fetch=True))
                    time.sleep(0.2)
            if profiler is not None:
                profiler.wait(60)
            coordinator.wait_agents_ended(names)
            for proc in started:
                proc.wait(30)
            api_t, hand_t, fetched_t = timing_of(api), timing_of(hand), timing_of(fetched)
            ratio = api_t.median / hand_t.median
            fetch_ratio = api_t.median / fetched_t.median
            self.spawn_estimate = max(self.spawn_estimate, api_t.median)
            print(
                f"1  spawn, {files:>6,} files   POST /agents {spread(api_t):<26} "
                f"floor {spread(hand_t):<26} ratio {ratio:5.2f}  "
                f"{'met' if ratio <= SPAWN_TARGET else 'MISSED'} (<= {SPAWN_TARGET}x)",
                flush=True,
            )
            print(
                f"   with git fetch first      floor {spread(fetched_t):<26} "
                f"ratio {fetch_ratio:5.2f}",
                flush=True,
            )
            self.results.setdefault("spawn", []).append(
                {
                    "files": files,
                    "api_us": api_t.as_dict(),
                    "floor_us": hand_t.as_dict(),
                    "ratio": round(ratio, 3),
                    "floor_with_fetch_us": fetched_t.as_dict(),
                    "ratio_to_floor_with_fetch": round(fetch_ratio, 3),
                    "target": SPAWN_TARGET,
                    "met": ratio <= SPAWN_TARGET,
                }
            )
        finally:
            coordinator.close()

    # 2 + 3. output path and supervision cost ----------------------------------------------

    def output(self, remote: Path, coordinator: Coordinator, count: int) -> None:
        lines = self.s.lines
        _, phase = coordinator.plan(remote, f"Output {count}")
        stream = EventClient(coordinator, "agent:output")
        try:
            rss_before = coordinator.rss()
            spawn_window = count * self.spawn_estimate * 1.3 + 2.0
            gate = time.time() + spawn_window
            agents: dict[str, str] = {}
            for i in range(count):
                wait = max(0.0, gate - time.time())
                task = coordinator.task(
                    phase,
                    f"print {i}",
                    scenario(
                        {"sleep": round(wait, 3)},
                        {"print": {"lines": lines, "rate": RATE, "stamp": True}},
                        {"done": "printed"},
                    ),
                )
                agent = coordinator.post("/agents", {"task_id": task})
                agents[agent["id"]] = agent["name"]
            late = max(0.0, time.time() - gate)
            tail = FileTail(
                [coordinator.root / ".cw" / "agent-logs" / name for name in agents.values()]
            )
            pids = [coordinator.get(f"/agents/{name}")["pid"] for name in agents.values()]
            # Each agent runs under a /bin/sh wrapper that records its exit: count both.
            procs = [p for pid in pids if pid for p in _with_children(pid)]
            # Idle: every agent spawned and sleeping until the gate.
            idle_cpu = idle_seconds = 0.0
            if gate - time.time() > 0.7:
                time.sleep(0.2)
                t0, c0 = time.monotonic(), coordinator.cpu()
                time.sleep(max(0.0, gate - time.time() - 0.2))
                idle_seconds, idle_cpu = time.monotonic() - t0, coordinator.cpu() - c0
            rss_idle = coordinator.rss()
            # Writing: the middle of the print window.
            time.sleep(max(0.0, gate + 0.5 - time.time()))
            window = max(0.5, lines / RATE - 1.5)
            profiler = None
            if self.profile is not None and count == max(self.s.agent_counts):
                # py-spy over the writing window, collapsed stacks (flamegraph.pl input).
                profiler = subprocess.Popen(
                    [*_py_spy(coordinator.pid, int(window)), "--output", str(self.profile)],
                    stdout=subprocess.DEVNULL,
                )
            t0, c0 = time.monotonic(), coordinator.cpu()
            known: dict[int, float] = {}
            a0 = _cpu_of(procs, known)
            rss_peak = coordinator.rss()
            end = t0 + window
            while time.monotonic() < end:
                time.sleep(0.25)
                rss_peak = max(rss_peak, coordinator.rss())
            if profiler is not None:
                profiler.wait(60)
            write_seconds = time.monotonic() - t0
            write_cpu = coordinator.cpu() - c0
            agents_cpu = _cpu_of(procs, known) - a0

            def all_in(events: list[tuple[float, dict[str, Any]]]) -> bool:
                return sum(len(STAMPED.findall(e["payload"]["content"])) for _, e in events) >= (
                    count * lines
                )

            stream.wait_for(all_in, timeout=60 + count)
            if stream.error is not None:
                raise RuntimeError(f"/events stream failed: {stream.error!r}")
            coordinator.wait_agents_ended(list(agents.values()))
            tail.close()
            floor = tail.latencies
            stored: list[float] = []
            latencies, check, rate = _check_lines(stream.events, agents, lines, stored)
        finally:
            stream.close()
        if check != "ok":
            self.errors.append(f"output path, {count} agents: {check}")
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        cores_write = write_cpu / write_seconds
        cores_idle = idle_cpu / idle_seconds if idle_seconds else None
        row = {
            "agents": count,
            "lines_per_agent": lines,
            "lines_received": len(latencies),
            "measured_rate_per_agent": round(rate, 1),
            "latency_ms": {
                "p50": round(p50 * 1e3, 1),
                "p90": round(percentile(latencies, 90) * 1e3, 1),
                "p99": round(p99 * 1e3, 1),
                "max": round(max(latencies, default=float("nan")) * 1e3, 1),
                "mean": round(statistics.fmean(latencies) * 1e3, 1) if latencies else None,
            },
            "floor_file_poll_ms": {
                "p50": round(percentile(floor, 50) * 1e3, 1),
                "p99": round(percentile(floor, 99) * 1e3, 1),
                "lines": len(floor),
            },
            "write_to_stored_ms": {
                "p50": round(percentile(stored, 50) * 1e3, 1),
                "p99": round(percentile(stored, 99) * 1e3, 1),
            },
            "check": check,
            "spawns_late_by_s": round(late, 2),
            "coordinator_cores_writing": round(cores_write, 3),
            "coordinator_cores_idle": None if cores_idle is None else round(cores_idle, 4),
            "agents_cores_writing": round(agents_cpu / write_seconds, 3),
            "coordinator_cpu_per_agent_writing_ms_per_s": round(cores_write / count * 1e3, 2),
            "rss_mb": {
                "before": round(rss_before / 2**20, 1),
                "idle": round(rss_idle / 2**20, 1),
                "writing_peak": round(rss_peak / 2**20, 1),
            },
            "rss_per_agent_kb": round((rss_peak - rss_before) / count / 1024, 1),
        }
        self.results.setdefault("output", []).append(row)
        idle = "-" if cores_idle is None else f"{cores_idle:.3f}"
        print(
            f"2  output, {count:>3} agents x {rate:5.1f} lines/s   p50 {fmt(p50):>9}  "
            f"p99 {fmt(p99):>9}  (stored p50 {fmt(percentile(stored, 50))} "
            f"p99 {fmt(percentile(stored, 99))}; floor p50 {fmt(percentile(floor, 50))} "
            f"p99 {fmt(percentile(floor, 99))}; {len(latencies)} lines, {check})",
            flush=True,
        )
        print(
            f"3  supervision, {count:>3} agents   coordinator cores idle {idle}  writing "
            f"{cores_write:.3f} (agents themselves {agents_cpu / write_seconds:.3f})  "
            f"RSS {rss_before / 2**20:.0f} -> {rss_peak / 2**20:.0f} MB",
            flush=True,
        )

    def output_and_supervision(self) -> None:
        remote = make_remote(self.work / "remote-output", 100)
        coordinator = Coordinator(self.work / "ws-output", self.env)
        try:
            # Warm-up: the clone, imports on the coordinator's first spawn.
            _, phase = coordinator.plan(remote, "Warm-up")
            task = coordinator.task(phase, "warm-up", scenario({"done": "ok"}))
            name = coordinator.post("/agents", {"task_id": task})["name"]
            coordinator.wait_agents_ended([name])
            time.sleep(1)
            t0, c0 = time.monotonic(), coordinator.cpu()
            time.sleep(2)
            self.results["coordinator_cores_no_agents"] = round(
                (coordinator.cpu() - c0) / (time.monotonic() - t0), 4
            )
            for count in self.s.agent_counts:
                self.output(remote, coordinator, count)
        finally:
            coordinator.close()

    # 4. dispatch ---------------------------------------------------------------------------

    def planning(self) -> None:
        for size in self.s.plan_sizes:
            self.plan_size(size)

    def plan_size(self, size: int) -> None:
        path = self.work / f"plan-{size}.db"
        url = f"sqlite:///{path}"
        db = open_database(url)
        floor = Floor(url)
        try:
            plan = _data.build_initiative(
                floor, tasks=size, dependencies=3 * size, pages=0, ready_mix=True
            )
            # The executor dispatches from phases in progress: the first open one is.
            floor.execute_script(
                f"UPDATE phases SET status = 'in_progress' WHERE id = '{plan.phase_ids[3]}'"
            )
            db.execution.set_execution_state(plan.initiative_id, ExecutionState.RUNNING)
            runtime = types.SimpleNamespace(
                workspace_id="bench", end_listeners=[], paths=None, workspace=None
            )
            executor = Executor(
                db,
                runtime,  # type: ignore[arg-type]
                DispatchSettings(),
                integration=types.SimpleNamespace(),  # type: ignore[arg-type]
            )
            initiative = db.initiatives.find_by_id(plan.initiative_id)
            assert initiative is not None
            sql = floor.sql.ready_tasks
            params = (
                plan.initiative_id,
                "pending",
                "completed",
                "completed",
                "high",
                0,
                "medium",
                1,
                2,
            )
            ready: list[Any] = []

            def planned(_i: int) -> Any:
                step = executor._plan(initiative)
                assert step is not None
                ready[:] = executor._ready([step])
                return ready

            def raw(_i: int) -> Any:
                return floor.fetch_all(sql, params)

            def repository(_i: int) -> Any:
                return db.tasks.find_ready(plan.initiative_id)

            wall, floor_t, cpu, _ = compare(
                planned, raw, rounds=self.s.rounds, round_seconds=0.05 if self.s.quick else 0.2
            )
            repo_t, _, _, _ = compare(repository, raw, rounds=3, round_seconds=0.05)
            ratio = wall.median / floor_t.median
            met = wall.median <= PLAN_TARGET
            print(
                f"4a ready set, {size:>5,} tasks / {3 * size:>5,} deps ({len(ready):>3} ready)  "
                f"plan {spread(wall):<26} find_ready {fmt(repo_t.median):>9}  "
                f"SQL floor {spread(floor_t):<26} ratio {ratio:6.1f}"
                + (f"  {'met' if met else 'MISSED'} (<= 50 ms)" if size == 1_000 else ""),
                flush=True,
            )
            self.results.setdefault("planning", []).append(
                {
                    "tasks": size,
                    "dependencies": 3 * size,
                    "ready": len(ready),
                    "plan_us": wall.as_dict(),
                    "plan_cpu_us": cpu.as_dict(),
                    "find_ready_us": repo_t.as_dict(),
                    "floor_us": floor_t.as_dict(),
                    "ratio": round(ratio, 2),
                    "target_ms": PLAN_TARGET * 1e3 if size == 1_000 else None,
                    "met": met if size == 1_000 else None,
                }
            )
        finally:
            floor.close()
            db.close()

    def ready_to_spawned(self) -> None:
        remote = make_remote(self.work / "remote-dispatch", 100)
        coordinator = Coordinator(self.work / "ws-dispatch", self.env)
        stream = EventClient(coordinator, "task:dispatched")
        try:
            _, direct_phase = coordinator.plan(remote, "Direct")
            total: list[float] = []
            after_answer: list[float] = []
            direct: list[float] = []
            names: list[str] = []
            for r in range(self.s.dispatch_rounds + 1):
                initiative, phase = coordinator.plan(remote, f"Dispatch {r}")
                task = coordinator.task(phase, f"task {r}", scenario({"done": "ok"}))
                coordinator.patch(f"/phases/{phase}", {"status": "approved"})
                begin = time.perf_counter()
                coordinator.post(f"/initiatives/{initiative}/execute")
                answered = time.perf_counter()

                def dispatched(events: list[tuple[float, dict[str, Any]]], task: str = task) -> Any:
                    return next((e for e in events if e[1]["entity_id"] == task), None)

                event = stream.wait_for(dispatched, timeout=30)
                if event is None:
                    raise RuntimeError(f"task {task} was not dispatched within 30 s")
                # The event's arrival over /events; the time.time() clock is the stream's.
                arrived = event[0] - time.time() + time.perf_counter()
                other = coordinator.task(direct_phase, f"direct {r}", scenario({"done": "ok"}))
                start = time.perf_counter()
                names.append(coordinator.post("/agents", {"task_id": other})["name"])
                spawn = time.perf_counter() - start
                if r:  # the first round warms up (the clone)
                    total.append(arrived - begin)
                    after_answer.append(arrived - answered)
                    direct.append(spawn)
                time.sleep(0.5)
            coordinator.wait_agents_ended(names)
        finally:
            stream.close()
            coordinator.close()
        total_t, after_t, direct_t = timing_of(total), timing_of(after_answer), timing_of(direct)
        ratio = total_t.median / direct_t.median
        print(
            f"4b ready -> dispatched   execute..task:dispatched {spread(total_t):<26} "
            f"(after the answer {fmt(after_t.median)})  direct spawn {spread(direct_t):<26} "
            f"ratio {ratio:5.2f}",
            flush=True,
        )
        self.results["ready_to_dispatched"] = {
            "total_us": total_t.as_dict(),
            "after_answer_us": after_t.as_dict(),
            "direct_spawn_us": direct_t.as_dict(),
            "ratio": round(ratio, 2),
        }

    # 5. merges ------------------------------------------------------------------------------

    def merges(self) -> None:
        root = self.work / "merge"
        remote = make_remote(root / "remote", 100)
        paths = RuntimePaths(
            root=root, state_dir=root / ".cw", workdirs_dir=root / "agent-workdirs"
        )
        clone = paths.repo_path("app")
        clone.parent.mkdir(parents=True)
        git(root, "clone", "--quiet", "--bare", str(remote), str(clone))
        scratch, by_hand = root / "scratch", root / "by-hand"
        git(clone, "worktree", "add", "--quiet", "--detach", str(scratch), "main")
        git(clone, "worktree", "add", "--quiet", "--detach", str(by_hand), "main")
        integrator = Integrator(paths, "app")
        counter = iter(range(1_000_000))

        def setup() -> tuple[str, str]:
            n = next(counter)
            target, source = f"cw/i--phase-{n}", f"cw/i--phase-{n}--task-{n}"
            git(clone, "branch", target, "main")
            git(scratch, "checkout", "--quiet", "-B", source, "main")
            (scratch / f"dir{n % 100:02d}" / f"task{n}.txt").write_text(f"task {n}\n")
            git(scratch, "add", "--all")
            git(scratch, "commit", "--quiet", "-m", f"task {n}")
            git(scratch, "checkout", "--quiet", "--detach", "main")
            return target, source

        def integrate(branches: tuple[str, str]) -> None:
            outcome = integrator.merge(*branches, f"Merge {branches[1]}")
            if not outcome.merged:
                raise RuntimeError(f"Integrator.merge did not merge: {outcome}")

        def manual(branches: tuple[str, str]) -> None:
            target, source = branches
            git(by_hand, "checkout", "--quiet", "--detach", target)
            git(by_hand, "merge", "--quiet", "--no-ff", "-m", f"Merge {source}", source)
            git(by_hand, "update-ref", f"refs/heads/{target}", "HEAD")

        wall, floor_t, _cpu, _floor_cpu = compare_with_setup(
            setup, integrate, manual, rounds=self.s.merge_rounds
        )
        ratio = wall.median / floor_t.median
        print(
            f"5  merge task -> phase   Integrator.merge {spread(wall):<26} "
            f"git by hand {spread(floor_t):<26} ratio {ratio:5.2f}",
            flush=True,
        )
        self.results["merge"] = {
            "integrator_us": wall.as_dict(),
            "floor_us": floor_t.as_dict(),
            "ratio": round(ratio, 2),
        }


def _py_spy(pid: int, seconds: int) -> list[str]:
    """``py-spy record`` of ``pid`` for ``seconds``, collapsed stacks per thread."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    return [
        *(py_spy, "record", "--pid", str(pid), "--duration", str(seconds)),
        *("--format", "raw", "--threads", "--nonblocking"),
    ]


def _with_children(pid: int) -> list[psutil.Process]:
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu_of(procs: list[psutil.Process], known: dict[int, float]) -> float:
    """CPU seconds of ``procs`` so far; a process that ended counts with its last figure."""
    for proc in procs:
        try:
            times = proc.cpu_times()
            known[proc.pid] = times.user + times.system
        except psutil.Error:
            continue
    return sum(known.get(proc.pid, 0.0) for proc in procs)


def _check_lines(
    events: list[tuple[float, dict[str, Any]]],
    agents: dict[str, str],
    lines: int,
    stored: list[float],
) -> tuple[list[float], str, float]:
    """Latencies of every stamped line (and, into ``stored``, from the write to the log
    chunk's ``created_at``); "ok" when each agent's lines 1..N came once, in order; the
    measured print rate per agent (lines/s)."""
    latencies: list[float] = []
    seen: dict[str, list[int]] = {agent: [] for agent in agents}
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for arrived, event in events:
        agent = event["payload"].get("agent_id")
        if agent not in seen:
            continue
        created = event["payload"].get("created_at")
        stored_at = datetime.fromisoformat(created).timestamp() if created else None
        for number, of, stamp in STAMPED.findall(event["payload"]["content"]):
            if int(of) != lines:
                continue
            written = float(stamp)
            seen[agent].append(int(number))
            latencies.append(arrived - written)
            if stored_at is not None:
                stored.append(stored_at - written)
            first.setdefault(agent, written)
            last[agent] = written
    problems = []
    for agent, numbers in seen.items():
        if numbers != list(range(1, lines + 1)):
            missing = len(set(range(1, lines + 1)) - set(numbers))
            twice = len(numbers) - len(set(numbers))
            order = "in order" if numbers == sorted(numbers) else "REORDERED"
            problems.append(f"{agents[agent]}: {missing} lost, {twice} twice, {order}")
    rates = [(lines - 1) / (last[a] - first[a]) for a in first if last[a] > first[a]]
    check = "ok" if not problems else "; ".join(problems[:5])
    return latencies, check, statistics.median(rates) if rates else 0.0


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for row in results.get("spawn", []):
        verdicts.append(
            {
                "target": f"spawn <= {SPAWN_TARGET}x floor ({row['files']:,} files)",
                "value": f"{row['ratio']}x",
                "met": row["met"],
            }
        )
    for row in results.get("output", []):
        if row["agents"] == 50:
            p99 = row["latency_ms"]["p99"]
            verdicts.append(
                {
                    "target": "output p99 <= 250 ms at 50 agents",
                    "value": f"{p99} ms",
                    "met": p99 <= 250,
                }
            )
        if row["agents"] == 100:
            cores = row["coordinator_cores_writing"]
            # Low CPU while lines wait seconds to be stored means starved, not cheap.
            behind = row["write_to_stored_ms"]["p50"] > 500
            verdicts.append(
                {
                    "target": "100 writing agents: coordinator < 0.5 core",
                    "value": f"{cores} cores"
                    + (
                        f" but it fell behind (stored p50 {row['write_to_stored_ms']['p50']} ms)"
                        if behind
                        else ""
                    ),
                    "met": cores < CPU_TARGET and not behind,
                }
            )
    for row in results.get("planning", []):
        if row["tasks"] == 1_000:
            ms = row["plan_us"]["median"] / 1e3
            verdicts.append(
                {
                    "target": "ready set of 1,000 tasks <= 50 ms",
                    "value": f"{ms:.1f} ms",
                    "met": row["met"],
                }
            )
    return verdicts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark running agents through the real coordinator, beside floors.",
        epilog="example: .venv/bin/python bench/agents.py --quick --json /tmp/agents.json",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (< 90 s)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--rounds", type=int, help="measured rounds per side (default 9)")
    parser.add_argument("--lines", type=int, help="lines each agent prints (default 600)")
    parser.add_argument(
        "--agents",
        type=lambda text: [int(n) for n in text.split(",")],
        help="agent counts for the output path (default 1,10,50,100; quick 1,10)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the coordinator while the most agents write (collapsed stacks to this file)",
    )
    parser.add_argument(
        "--only", help="comma-separated cases: spawn,output,planning,dispatch,merge"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_args(args)
    only = set(args.only.split(",")) if args.only else None
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cw-bench-agents-"))
    gitconfig = work / "gitconfig"
    gitconfig.write_text("")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", **IDENTITY)
    os.environ.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", **IDENTITY)
    bench = Bench(settings, work, env, profile=args.profile)
    mode = "quick" if settings.quick else "full"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Codewalkers agents benchmark ({mode}; load average {load}; {os.cpu_count()} CPUs)")
    print("median (min-max) over rounds alternating with the floor\n", flush=True)
    cases: list[tuple[str, Callable[[], None]]] = [
        *[("spawn", lambda files=files: bench.spawn(files)) for files in settings.repo_sizes],
        ("output", bench.output_and_supervision),
        ("planning", bench.planning),
        ("dispatch", bench.ready_to_spawned),
        ("merge", bench.merges),
    ]
    try:
        for name, case in cases:
            if only is not None and name not in only:
                continue
            try:
                case()
            except Exception as exc:
                bench.errors.append(f"{name}: {exc!r}")
                print(f"ERROR in {name}: {exc!r}", flush=True)
        verdicts = targets(bench.results)
        print("\nTargets (reported, never failed on):")
        for verdict in verdicts:
            mark = "met   " if verdict["met"] else "MISSED"
            print(f"  {mark} {verdict['target']}: {verdict['value']}")
        elapsed = time.perf_counter() - started
        print(f"\ntotal: {elapsed:.1f} s", flush=True)
        if args.json:
            document = {
                "command": " ".join(
                    ["bench/agents.py", *(argv if argv is not None else sys.argv[1:])]
                ),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "mode": mode,
                "environment": environment(),
                "settings": {
                    "rounds": settings.rounds,
                    "repo_sizes": settings.repo_sizes,
                    "agent_counts": settings.agent_counts,
                    "lines": settings.lines,
                    "rate": RATE,
                    "plan_sizes": settings.plan_sizes,
                },
                "results": bench.results,
                "targets": verdicts,
                "errors": bench.errors,
                "seconds": round(elapsed, 1),
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(document, indent=2) + "\n")
            print(f"wrote {args.json}")
        for error in bench.errors:
            print(f"ERROR: {error}", file=sys.stderr)
        return 1 if bench.errors else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
