"""Benchmark ``cw`` start-up: common commands, each a fresh process, beside two floors.

    .venv/bin/python bench/cli.py                   # full: 15 rounds
    .venv/bin/python bench/cli.py --quick           # CI (scripts/test.sh): 5 rounds, ~30 s
    .venv/bin/python bench/cli.py --src ../main/src # the same, with another source tree
    .venv/bin/python bench/cli.py --json bench/results/cli.json

A workspace in a temp dir (``cw init``, SQLite), seeded through the Python API with an
initiative of 5 phases of 20 tasks (each depending on the one before), two agents and a
question waiting for one of them. Every round runs each command once as its own process
(``python -m codewalkers ...``, the interpreter this script runs with), in a rotating order,
together with the floors, measured in the same rounds:

- ``python -c pass`` (the interpreter's own start);
- ``python -c "import sqlite3; sqlite3.connect(DB).execute('select 1')"`` (a process that
  reads the same database file): the floor the targets are set against.

Reported: the median wall-clock time and its spread (min-max), the process's CPU time (user
+ system, which a loaded machine inflates less than wall clock), and both as ratios to the
sqlite3 floor. Targets (issue 14): a read within 6x the floor, a write within 8x. Reported,
never failed on; exits 1 when a command fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codewalkers.db import open_database

READ_TARGET = 6.0
WRITE_TARGET = 8.0


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    kind: str  # "floor", "read" or "write"


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def seed(root: Path) -> dict[str, str]:
    """The plan the commands read; returns the ids they need."""
    db = open_database(f"sqlite:///{root / '.cw' / 'cw.db'}")
    try:
        initiative = db.initiatives.create(name="Bench")
        first_task = ""
        first_phase = ""
        for p in range(5):
            phase = db.phases.create(initiative_id=initiative.id, name=f"phase {p + 1}")
            first_phase = first_phase or phase.id
            previous = None
            for t in range(20):
                task = db.tasks.create(phase_id=phase.id, name=f"task {p + 1}.{t + 1}")
                first_task = first_task or task.id
                if previous is not None:
                    db.tasks.create_dependency(task.id, previous)
                previous = task.id
        asking = db.agents.create(name="asking")
        listening = db.agents.create(name="listening")
        db.conversations.create(
            from_agent_id=asking.id, to_agent_id=listening.id, question="Which port?"
        )
        return {
            "initiative": initiative.id,
            "phase": first_phase,
            "task": first_task,
            "agent": listening.id,
        }
    finally:
        db.close()


def cases(database: Path, ids: dict[str, str]) -> list[Case]:
    cw = ["-m", "codewalkers"]
    sqlite = f"import sqlite3; sqlite3.connect({str(database)!r}).execute('select 1')"
    return [
        Case("python -c pass", ["-c", "pass"], "floor"),
        Case("sqlite3 select 1", ["-c", sqlite], "floor"),
        Case("cw id", [*cw, "id"], "read"),
        Case("cw task list --phase", [*cw, "task", "list", "--phase", ids["phase"]], "read"),
        Case(
            "cw task ready --json",
            [*cw, "task", "ready", "--initiative", ids["initiative"], "--json"],
            "read",
        ),
        Case(
            "cw listen (question waiting)",
            [*cw, "listen", "--agent-id", ids["agent"], "--timeout", "0"],
            "read",
        ),
        Case("cw initiative tree", [*cw, "initiative", "tree", ids["initiative"]], "read"),
        # Alternates between the two statuses (see run_once), so every call writes.
        Case("cw task status (write)", [*cw, "task", "status", ids["task"]], "write"),
    ]


def run_once(case: Case, root: Path, env: dict[str, str], turn: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run of ``case``."""
    argv = [sys.executable, *case.argv]
    if case.kind == "write":
        argv.append("in_progress" if turn % 2 == 0 else "pending")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{case.name} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values) * 1e3, 2),
        "min_ms": round(min(values) * 1e3, 2),
        "max_ms": round(max(values) * 1e3, 2),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark cw start-up beside python -c pass and a bare sqlite3 read.",
        epilog="example: .venv/bin/python bench/cli.py --quick --json /tmp/cli.json",
    )
    parser.add_argument("--quick", action="store_true", help="5 rounds, for CI")
    parser.add_argument("--rounds", type=int, help="measured rounds (default 15; quick 5)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--src", type=Path, help="run cw from this source tree (PYTHONPATH), to compare code"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cw-bench-cli-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve())
    try:
        subprocess.run(
            [sys.executable, "-m", "codewalkers", "init"],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        ids = seed(work)
        table = cases(work / ".cw" / "cw.db", ids)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"cw start-up benchmark ({'quick' if args.quick else 'full'}, {rounds} rounds; "
            f"load average {load}; {os.cpu_count()} CPUs)"
        )
        print(f"python {sys.executable} ({platform.python_version()})")
        if args.src is not None:
            print(f"source tree: {args.src.resolve()}")
        print("median (min-max) of fresh processes; ratios to the sqlite3 floor\n", flush=True)
        walls: dict[str, list[float]] = {case.name: [] for case in table}
        cpus: dict[str, list[float]] = {case.name: [] for case in table}
        errors: list[str] = []
        for turn in range(rounds + 1):  # the first round warms the caches and is not kept
            order = table[turn % len(table) :] + table[: turn % len(table)]
            for case in order:
                try:
                    wall, cpu = run_once(case, work, env, turn)
                except RuntimeError as exc:
                    errors.append(str(exc))
                    continue
                if turn > 0:
                    walls[case.name].append(wall)
                    cpus[case.name].append(cpu)
            if errors:
                break
        results: list[dict[str, Any]] = []
        if not errors:
            floor_wall = statistics.median(walls["sqlite3 select 1"])
            floor_cpu = statistics.median(cpus["sqlite3 select 1"])
            print(
                f"{'command':<30} {'wall (min-max)':<28} {'cpu':>9} {'ratio':>6} {'cpu':>6}  target"
            )
            for case in table:
                wall = statistics.median(walls[case.name])
                cpu = statistics.median(cpus[case.name])
                target = {"read": READ_TARGET, "write": WRITE_TARGET}.get(case.kind)
                ratio = wall / floor_wall
                row = {
                    "command": case.name,
                    "kind": case.kind,
                    "wall": summary(walls[case.name]),
                    "cpu": summary(cpus[case.name]),
                    "ratio": round(ratio, 2),
                    "cpu_ratio": round(cpu / floor_cpu, 2) if floor_cpu else None,
                    "target": target,
                    "met": None if target is None else ratio <= target,
                }
                results.append(row)
                spread = f"{fmt(wall)} ({fmt(min(walls[case.name]))}-{fmt(max(walls[case.name]))})"
                verdict = (
                    ""
                    if target is None
                    else f"<= {target:g}x: " + ("met" if row["met"] else "MISSED")
                )
                cpu_ratio = f"{row['cpu_ratio']:.2f}" if row["cpu_ratio"] else "-"
                print(
                    f"{case.name:<30} {spread:<28} {fmt(cpu):>9} {ratio:>6.2f} "
                    f"{cpu_ratio:>6}  {verdict}"
                )
        elapsed = time.perf_counter() - started
        print(f"\ntotal: {elapsed:.1f} s", flush=True)
        if args.json:
            document = {
                "command": " ".join(
                    ["bench/cli.py", *(argv if argv is not None else sys.argv[1:])]
                ),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "environment": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                    "src": str(args.src.resolve()) if args.src else None,
                },
                "rounds": rounds,
                "results": results,
                "errors": errors,
                "seconds": round(elapsed, 1),
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(document, indent=2) + "\n")
            print(f"wrote {args.json}")
        for error in errors:
            print(f"ERROR: {error}", file=sys.stderr)
        return 1 if errors else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
