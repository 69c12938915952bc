"""Benchmark the repositories against the raw-SQL floor, and how their cost grows.

    .venv/bin/python bench/run.py                        # SQLite in a temp dir, full sizes
    .venv/bin/python bench/run.py --quick                # small sizes, well under a minute (CI)
    .venv/bin/python bench/run.py --json bench/results/sqlite.json
    .venv/bin/python bench/run.py --database-url postgresql+psycopg://postgres@127.0.0.1:54329/codewalkers_bench

Every case runs twice in this one process: through the public repositories
(``codewalkers.db.open_database``) and as the same SQL through the bare driver with the same
pragmas and transaction boundaries (the floor, ``_floor.py``). On SQLite the harness checks,
through ``sqlite3``'s trace callback, that both sides make SQLite run the same statements.
Each figure is the median time per op over several rounds after a warm-up, with the spread
(min-max; the JSON adds the quartiles). The harness reports; it asserts nothing about speed.

A PostgreSQL database given with ``--database-url`` is wiped (its ``public`` schema dropped)
and created if missing; its name must contain "bench" unless ``--force-reset`` is given.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

import _data
import _ingest
from _floor import Floor
from _measure import Timing, compare, compare_with_setup
from codewalkers.db import Database, open_database
from codewalkers.db.engine import normalize_url
from codewalkers.db.ids import new_id
from codewalkers.db.repositories.sqlalchemy._raw import release_idle
from codewalkers.db.repositories.sqlalchemy.account import CLAIM_LOCK_KEY

FULL_SIZES = [1_000, 10_000, 100_000, 1_000_000]
QUICK_SIZES = [1_000, 10_000]

SINGLE_ROW_CASES = {"1", "2", "3", "7", "8"}
SINGLE_ROW_TARGET = 2.0
BATCH_TARGET = 1.3
FLAT_TARGET = 2.0


@dataclass
class Settings:
    quick: bool
    rounds: int
    round_seconds: float
    sizes: list[int]
    seed_tasks: int
    cascade: tuple[int, int, int]  # tasks, dependencies, pages
    cascade_rounds: int
    ready: tuple[int, int]  # tasks, dependencies
    processes: list[int]
    seconds: float
    only: set[str] | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        sizes = QUICK_SIZES if quick else FULL_SIZES
        if args.max_size:
            sizes = [size for size in sizes if size <= args.max_size]
        processes = args.processes or ([1, 2] if quick else [1, 2, 4, 8])
        return cls(
            quick=quick,
            rounds=args.rounds or (3 if quick else 9),
            round_seconds=0.01 if quick else 0.25,
            sizes=sizes,
            seed_tasks=1_000 if quick else 10_000,
            cascade=(1_000, 2_000, 100) if quick else (10_000, 20_000, 1_000),
            cascade_rounds=2 if quick else 5,
            ready=(1_000, 2_000) if quick else (10_000, 20_000),
            processes=processes,
            seconds=args.seconds or (1.0 if quick else 10.0),
            only=set(args.only.split(",")) if args.only else None,
        )


@dataclass
class Result:
    case: str
    name: str
    table: str
    size: str
    rows: int
    repository: Timing
    floor: Timing
    repository_cpu: Timing
    floor_cpu: Timing
    result_rows: int | None = None
    same_sql: bool | None = None
    statements: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.repository.median / self.floor.median

    @property
    def cpu_ratio(self) -> float:
        return self.repository_cpu.median / max(self.floor_cpu.median, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "name": self.name,
            "table": self.table,
            "size": self.size,
            "rows_in_table": self.rows,
            "result_rows": self.result_rows,
            "repository_us": self.repository.as_dict(),
            "floor_us": self.floor.as_dict(),
            "ratio": round(self.ratio, 3),
            "repository_cpu_us": self.repository_cpu.as_dict(),
            "floor_cpu_us": self.floor_cpu.as_dict(),
            "cpu_ratio": round(self.cpu_ratio, 3),
            "same_sql": self.same_sql,
            "statements_per_op": self.statements,
        }


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.01:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 0.001:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def fmt_spread(timing: Timing) -> str:
    return f"{fmt_time(timing.median)} ({fmt_time(timing.min)}-{fmt_time(timing.max)})"


HEADER = (
    f"{'case':<46} {'size':>7} {'rows':>9}  {'repository/op (min-max)':<29} "
    f"{'floor/op (min-max)':<29} {'ratio':>6} {'cpu':>6}  sql"
)


def table_line(result: Result) -> str:
    same = {True: "same", False: "DIFF", None: "-"}[result.same_sql]
    return (
        f"{result.case + '  ' + result.name:<46} {result.size:>7} {result.rows:>9,}  "
        f"{fmt_spread(result.repository):<29} {fmt_spread(result.floor):<29} "
        f"{result.ratio:>6.2f} {result.cpu_ratio:>6.2f}  {same}"
    )


def size_label(size: int) -> str:
    return (
        f"{size // 1_000_000}M"
        if size >= 1_000_000
        else f"{size // 1000}k"
        if size >= 1000
        else str(size)
    )


# --- checking that both sides run the same SQL (SQLite) -----------------------------------

_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\bNULL\b")


def normalize(statement: str) -> str:
    """A statement with its literal values replaced by ``?`` and whitespace collapsed."""
    text = _LITERAL.sub("?", statement)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\(\s+", "(", text)


@contextmanager
def traced_repository(db: Database, into: list[str]) -> Iterator[None]:
    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(into.append)

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.set_trace_callback(None)

    # The hot paths keep a few connections out of the pool between calls: return them, so
    # that every connection the traced op uses is checked out (and traced) afresh.
    release_idle(db.engine)
    event.listen(db.engine, "checkout", checkout)
    event.listen(db.engine, "checkin", checkin)
    try:
        yield
    finally:
        release_idle(db.engine)
        event.remove(db.engine, "checkout", checkout)
        event.remove(db.engine, "checkin", checkin)


@contextmanager
def traced_floor(floor: Floor, into: list[str]) -> Iterator[None]:
    floor.conn.set_trace_callback(into.append)
    try:
        yield
    finally:
        floor.conn.set_trace_callback(None)


def summarize_statements(statements: list[str]) -> list[str]:
    """Consecutive identical statements folded: ``INSERT ... x100``."""
    folded: list[str] = []
    count = 0
    for i, statement in enumerate(statements):
        count += 1
        if i + 1 == len(statements) or statements[i + 1] != statement:
            folded.append(statement if count == 1 else f"{statement}  x{count}")
            count = 0
    return folded


# --- the benchmark -------------------------------------------------------------------------


class Bench:
    def __init__(self, settings: Settings, db: Database, floor: Floor) -> None:
        self.s = settings
        self.db = db
        self.floor = floor
        self.sql = floor.sql
        self.results: list[Result] = []
        self.plans: dict[str, dict[str, Any]] = {}
        self.concurrency: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def wants(self, case: str) -> bool:
        return self.s.only is None or case in self.s.only

    # --- measuring one case --------------------------------------------------------------

    def check(
        self, repository: Callable[[int], Any], floor: Callable[[int], Any]
    ) -> tuple[Any, bool | None, dict[str, list[str]]]:
        """Run one op on each side; on SQLite, capture and compare the statements run."""
        if not self.floor.is_sqlite:
            return repository(0), None, {}
        repo_sql: list[str] = []
        floor_sql: list[str] = []
        with traced_repository(self.db, repo_sql):
            value = repository(0)
        with traced_floor(self.floor, floor_sql):
            floor(0)
        repo_norm = [normalize(s) for s in repo_sql]
        floor_norm = [normalize(s) for s in floor_sql]
        statements = {
            "repository": summarize_statements(repo_norm),
            "floor": summarize_statements(floor_norm),
        }
        return value, repo_norm == floor_norm, statements

    def record(
        self,
        case: str,
        name: str,
        table: str,
        repository: Callable[[int], Any],
        floor: Callable[[int], Any],
        *,
        size: str = "",
    ) -> Result:
        value, same, statements = self.check(repository, floor)
        timings = compare(
            repository, floor, rounds=self.s.rounds, round_seconds=self.s.round_seconds
        )
        return self.add(
            Result(
                case,
                name,
                table,
                size,
                self.floor.count(table),
                *timings,
                len(value) if isinstance(value, list) else None,
                same,
                statements,
            )
        )

    def add(self, result: Result) -> Result:
        self.results.append(result)
        print(table_line(result), flush=True)
        if result.same_sql is False:
            print("    the two sides ran different SQL:", flush=True)
            for side, statements in result.statements.items():
                for statement in statements:
                    print(f"      {side}: {statement[:200]}", flush=True)
        return result

    # --- cases -----------------------------------------------------------------------------

    def run_cases(self) -> None:
        db, floor, sql = self.db, self.floor, self.sql
        sqlite = floor.is_sqlite
        seq_params: tuple[int, ...] = (0, 0, 1) if sqlite else ()

        initiative = db.initiatives.create(name="bench")
        phase = db.phases.create(initiative_id=initiative.id, name="bench phase")
        seeded = _data.add_tasks(floor, initiative.id, phase.id, self.s.seed_tasks)

        if self.wants("1"):

            def create_repo(i: int) -> Any:
                return db.tasks.create(phase_id=phase.id, name=f"bench task {i}")

            def create_floor(i: int) -> Any:
                now = _data.now_ms()
                with floor.write() as c:
                    params = (new_id(), phase.id, phase.id, f"bench task {i}", now, now)
                    return c.execute(sql.task_create, params).fetchone()

            self.record("1", "tasks.create", "tasks", create_repo, create_floor)

        if self.wants("2"):
            lookups = seeded[::-1]

            def find_repo(i: int) -> Any:
                return db.tasks.find_by_id(lookups[i % len(lookups)])

            def find_floor(i: int) -> Any:
                return floor.fetch_one(sql.task_by_id, (lookups[i % len(lookups)],))

            self.record("2", "tasks.find_by_id", "tasks", find_repo, find_floor)

        if self.wants("3"):
            half = len(seeded) // 2
            repo_pool, floor_pool = seeded[:half], seeded[half:]
            statuses = ("in_progress", "pending")

            def update_repo(i: int) -> Any:
                status = statuses[(i // half) % 2]
                return db.tasks.update(repo_pool[i % half], status=status)

            def update_floor(i: int) -> Any:
                status = statuses[(i // half) % 2]
                now = _data.now_ms()
                with floor.write() as c:
                    params = (status, now, floor_pool[i % half])
                    return c.execute(sql.task_update_status, params).fetchone()

            self.record("3", "tasks.update (status)", "tasks", update_repo, update_floor)

        if self.wants("4"):
            agent = "bench-agent-single"

            def chunk_repo(i: int) -> Any:
                return db.log_chunks.insert_chunk(agent, agent, _data.LOG_LINE)

            def chunk_floor(i: int) -> Any:
                now = _data.now_ms()
                params = (new_id(), agent, agent, 1, _data.LOG_LINE, now, *seq_params)
                with floor.write() as c:
                    return c.execute(sql.chunk_insert, params).fetchone()

            self.record(
                "4a", "log_chunks.insert_chunk", "agent_log_chunks", chunk_repo, chunk_floor
            )

            batch_agent = "bench-agent-batch"
            items = [
                {"agent_id": batch_agent, "agent_name": batch_agent, "content": _data.LOG_LINE}
            ] * 100

            def batch_repo(i: int) -> Any:
                return db.log_chunks.insert_chunks(items)

            def batch_floor(i: int) -> Any:
                now = _data.now_ms()
                rows = [
                    (new_id(), batch_agent, batch_agent, 1, _data.LOG_LINE, now, *seq_params)
                    for _ in range(100)
                ]
                with floor.write() as c:
                    floor.executemany(c, sql.chunk_insert_many, rows)
                return len(rows)

            self.record(
                "4b",
                "log_chunks.insert_chunks (100/batch)",
                "agent_log_chunks",
                batch_repo,
                batch_floor,
            )

        self.run_growth()

        if self.wants("8"):
            db.pages.get_or_create_root_page(initiative.id)

            def root_repo(i: int) -> Any:
                return db.pages.get_or_create_root_page(initiative.id)

            def root_floor(i: int) -> Any:
                # The root exists: the repository reads it without taking the write lock.
                row = floor.fetch_one(sql.root_page, (initiative.id,))
                assert row is not None
                return row

            self.record(
                "8", "pages.get_or_create_root_page (exists)", "pages", root_repo, root_floor
            )

        if self.wants("9"):
            self.case_9(initiative.id)

        if self.wants("10"):
            self.case_10()

        if self.wants("11"):
            self.case_11()

    def case_9(self, initiative_id: str) -> None:
        db, floor, sql = self.db, self.floor, self.sql
        projects = [
            db.projects.create(name=f"bench-{i}", url=f"https://example.com/bench-{i}.git").id
            for i in range(11)
        ]
        db.projects.set_initiative_projects(initiative_id, projects[:10])
        # Each call swaps one link: {p0..p9} <-> {p1..p10}.
        choices = (projects[1:11], projects[:10])
        state = {"calls": 0}

        def wanted() -> list[str]:
            choice = choices[state["calls"] % 2]
            state["calls"] += 1
            return choice

        def link_repo(i: int) -> Any:
            return db.projects.set_initiative_projects(initiative_id, wanted())

        def link_floor(i: int) -> Any:
            want = wanted()
            with floor.write() as c:
                if not c.execute(sql.initiative_exists, (initiative_id,)).fetchone()[0]:
                    raise LookupError(initiative_id)
                current = {row[0] for row in c.execute(sql.linked_projects, (initiative_id,))}
                removed = current.difference(want)
                if removed:
                    statement = sql.in_list(sql.unlink_projects, len(removed))
                    c.execute(statement, (initiative_id, *removed))
                added = [p for p in want if p not in current]
                if added:
                    statement = sql.in_list(sql.known_projects, len(added))
                    known = {row[0] for row in c.execute(statement, added)}
                    if len(known) != len(added):
                        raise LookupError(added)
                    now = _data.now_ms()
                    rows = [(new_id(), initiative_id, p, now + k) for k, p in enumerate(added)]
                    if len(rows) == 1:
                        c.execute(sql.link_project, rows[0])
                    else:
                        floor.executemany(c, sql.link_project, rows)

        self.record(
            "9",
            "projects.set_initiative_projects (1 of 10)",
            "initiative_projects",
            link_repo,
            link_floor,
        )

    def case_10(self) -> None:
        db, floor, sql = self.db, self.floor, self.sql
        tasks, dependencies, pages = self.s.cascade

        def setup() -> str:
            plan = _data.build_initiative(
                floor, tasks=tasks, dependencies=dependencies, pages=pages
            )
            return plan.initiative_id

        def delete_repo(initiative_id: str) -> Any:
            return db.initiatives.delete(initiative_id)

        def delete_floor(initiative_id: str) -> Any:
            with floor.write() as c:
                row = c.execute(sql.delete_initiative, (initiative_id,)).fetchone()
            assert row is not None
            return row

        same: bool | None = None
        statements: dict[str, list[str]] = {}
        if floor.is_sqlite:
            ids = [setup(), setup()]
            _, same, statements = self.check(
                lambda i: delete_repo(ids[0]), lambda i: delete_floor(ids[1])
            )
        timings = compare_with_setup(setup, delete_repo, delete_floor, rounds=self.s.cascade_rounds)
        label = (
            f"initiatives.delete (cascade: 10 phases, {tasks:,} tasks, "
            f"{dependencies:,} deps, {pages:,} pages)"
        )
        self.notes.append(f"case 10: {label}")
        self.add(
            Result(
                "10",
                "initiatives.delete (cascade)",
                "tasks",
                size_label(tasks),
                floor.count("tasks"),
                *timings,
                None,
                same,
                statements,
            )
        )

    def case_11(self) -> None:
        db, floor, sql = self.db, self.floor, self.sql
        tasks, dependencies = self.s.ready
        plan = _data.build_initiative(
            floor, tasks=tasks, dependencies=dependencies, pages=1, ready_mix=True
        )
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

        def ready_repo(i: int) -> Any:
            return db.tasks.find_ready(plan.initiative_id)

        def ready_floor(i: int) -> Any:
            return floor.fetch_all(sql.ready_tasks, params)

        self.notes.append(
            f"case 11: {tasks:,} tasks, {plan.dependencies:,} task dependencies, 10 phases"
        )
        self.record(
            "11", "tasks.find_ready", "tasks", ready_repo, ready_floor, size=size_label(tasks)
        )
        self.plans["11"] = {
            "size": tasks,
            "plan": floor.explain(sql.ready_tasks, params),
        }

    # --- indexed look-ups as the table grows (5, 6, 7) ---------------------------------------

    def run_growth(self) -> None:
        db, floor, sql = self.db, self.floor, self.sql
        sqlite = floor.is_sqlite

        if self.wants("5"):
            floor.execute_script(
                "DELETE FROM agent_log_chunks" if sqlite else "TRUNCATE agent_log_chunks"
            )
            growth = _data.Growth(floor)
            for size in self.s.sizes:
                agent = _data.grow_log_chunks(growth, size)

                def chunks_repo(i: int, agent: str = agent) -> Any:
                    return db.log_chunks.find_by_agent_id(agent)

                def chunks_floor(i: int, agent: str = agent) -> Any:
                    return floor.fetch_all(sql.chunks_by_agent, (agent,))

                self.record(
                    "5",
                    "log_chunks.find_by_agent_id (1,000 rows)",
                    "agent_log_chunks",
                    chunks_repo,
                    chunks_floor,
                    size=size_label(size),
                )
                self.plan("5", size, sql.chunks_by_agent, (agent,))

        if self.wants("6"):
            growth = _data.Growth(floor)
            for size in self.s.sizes:
                target = _data.grow_conversations(growth, size)

                def pending_repo(i: int, target: str = target) -> Any:
                    return db.conversations.find_pending_for_agent(target)

                def pending_floor(i: int, target: str = target) -> Any:
                    return floor.fetch_all(sql.pending_for_agent, (target, "pending"))

                self.record(
                    "6",
                    "conversations.find_pending_for_agent",
                    "conversations",
                    pending_repo,
                    pending_floor,
                    size=size_label(size),
                )
                self.plan("6", size, sql.pending_for_agent, (target, "pending"))

        if self.wants("7"):
            growth = _data.Growth(floor)

            def next_repo(i: int) -> Any:
                return db.accounts.find_next_available("claude")

            def next_params() -> tuple[Any, ...]:
                now = _data.now_ms()
                stamp = (0, 1, "claude", now, 0, 1, "claude", now, now)
                if sqlite:
                    return (0, None, *stamp, "claude", now, 1, 0)
                return (False, None, *stamp, "claude", now, 1)

            def next_floor(i: int) -> Any:
                params = next_params()
                with floor.write() as c:
                    if not sqlite:
                        c.execute(sql.claim_lock, (CLAIM_LOCK_KEY,))
                    return c.execute(sql.next_account, params).fetchone()

            for size in [100, *self.s.sizes]:
                _data.grow_accounts(growth, size)
                self.record(
                    "7",
                    "accounts.find_next_available (100 claude)",
                    "accounts",
                    next_repo,
                    next_floor,
                    size=size_label(size),
                )
                self.plan("7", size, sql.next_account, next_params())
                if not sqlite:
                    floor.conn.rollback()

    def plan(self, case: str, size: int, statement: str, params: tuple[Any, ...]) -> None:
        if case in self.plans and self.plans[case]["size"] > size:
            return
        lines = self.floor.explain(statement, params)
        self.plans[case] = {
            "size": size,
            "plan": lines,
            "uses_index": uses_index(lines, self.floor),
        }

    # --- concurrent ingest ---------------------------------------------------------------------

    def run_concurrency(self, url: str) -> None:
        floor = self.floor
        floor.execute_script(
            "DELETE FROM agent_log_chunks" if floor.is_sqlite else "TRUNCATE agent_log_chunks"
        )
        context = multiprocessing.get_context("spawn")
        print(
            f"\nConcurrent ingest: each process inserts batches of 100 log chunks for "
            f"{self.s.seconds:g} s\n"
            f"{'side':<11} {'procs':>5} {'chunks':>9} {'chunks/s':>10} {'errors':>6}  check",
            flush=True,
        )
        # --quick only proves the section works: the repository side alone.
        for mode in ("repository",) if self.s.quick else ("repository", "floor"):
            for processes in self.s.processes:
                agents = [f"ingest-{mode}-{processes}-{k}" for k in range(processes)]
                barrier = context.Barrier(processes + 1)
                results = context.Queue()
                workers = [
                    context.Process(
                        target=_ingest.worker,
                        args=(mode, url, agent, self.s.seconds, 100, barrier, results),
                    )
                    for agent in agents
                ]
                for process in workers:
                    process.start()
                with suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=300)
                reports = [results.get(timeout=self.s.seconds + 300) for _ in workers]
                for process in workers:
                    process.join(timeout=60)
                row = self.verify_ingest(mode, processes, reports)
                self.concurrency.append(row)
                print(
                    f"{mode:<11} {processes:>5} {row['chunks']:>9,} {row['chunks_per_s']:>10,.0f} "
                    f"{row['errors']:>6}  {row['check']}",
                    flush=True,
                )

    def verify_ingest(
        self, mode: str, processes: int, reports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        floor = self.floor
        problems = [f"{r['agent_id']}: {r['fatal']}" for r in reports if "fatal" in r]
        problems += [f"{r['agent_id']}: {s}" for r in reports for s in r["samples"]]
        stored_total = 0
        for report in reports:
            agent = report["agent_id"]
            rows = floor.fetch_all(
                "SELECT content FROM agent_log_chunks WHERE agent_id = ? ORDER BY seq"
                if floor.is_sqlite
                else "SELECT content FROM agent_log_chunks WHERE agent_id = %s ORDER BY seq",
                (agent,),
            )
            numbers = [_ingest.number_of(content) for (content,) in rows]
            stored_total += len(numbers)
            if numbers != list(range(report["chunks"])):
                problems.append(
                    f"{agent}: reported {report['chunks']} chunks, stored {len(numbers)}"
                    + ("" if len(numbers) != report["chunks"] else " out of order")
                )
        chunks = sum(r["chunks"] for r in reports)
        elapsed = max((r.get("elapsed", 0.0) for r in reports), default=0.0)
        errors = sum(r["errors"] for r in reports) + sum(1 for r in reports if "fatal" in r)
        return {
            "side": mode,
            "processes": processes,
            "seconds": round(elapsed, 3),
            "chunks": chunks,
            "stored": stored_total,
            "chunks_per_s": chunks / elapsed if elapsed else 0.0,
            "errors": errors,
            "check": "ok: every row stored once, in order" if not problems else "FAILED",
            "problems": problems[:10],
        }

    # --- the verdict ----------------------------------------------------------------------------

    def targets(self) -> list[dict[str, Any]]:
        verdicts: list[dict[str, Any]] = []

        def first(case: str, size: str | None = None) -> Result | None:
            for result in self.results:
                if result.case == case and (size is None or result.size == size):
                    return result
            return None

        for case in sorted(SINGLE_ROW_CASES, key=int):
            result = first(case, "100" if case == "7" else None)
            if result is not None:
                verdicts.append(
                    {
                        "target": f"case {case} {result.name}: ratio <= {SINGLE_ROW_TARGET}",
                        "value": round(result.ratio, 2),
                        "met": result.ratio <= SINGLE_ROW_TARGET,
                    }
                )
        batch = first("4b")
        if batch is not None:
            verdicts.append(
                {
                    "target": f"case 4b batched ingest: ratio <= {BATCH_TARGET}",
                    "value": round(batch.ratio, 2),
                    "met": batch.ratio <= BATCH_TARGET,
                }
            )
        for case in ("5", "6", "7"):
            grown = [r for r in self.results if r.case == case and r.size != "100"]
            if len(grown) >= 2:
                small, large = grown[0], grown[-1]
                growth = large.repository.median / small.repository.median
                verdicts.append(
                    {
                        "target": f"case {case} flat: repository {large.size} <= "
                        f"{FLAT_TARGET}x {small.size}",
                        "value": round(growth, 2),
                        "met": growth <= FLAT_TARGET,
                        "floor_growth": round(large.floor.median / small.floor.median, 2),
                    }
                )
            if case in self.plans:
                plan = self.plans[case]
                verdicts.append(
                    {
                        "target": f"case {case} query plan uses an index "
                        f"({size_label(plan['size'])} rows)",
                        "value": "index" if plan["uses_index"] else "no index",
                        "met": bool(plan["uses_index"]),
                    }
                )
        return verdicts


def uses_index(lines: list[str], floor: Floor) -> bool:
    """True when the plan reaches its rows through an index and scans no table in full."""
    text = "\n".join(lines)
    if floor.is_sqlite:
        full_scan = any(re.fullmatch(r"\s*SCAN \w+", line) for line in lines)
        return "USING" in text and "INDEX" in text and not full_scan
    return "Index" in text and "Seq Scan" not in text


# --- setting up the database -----------------------------------------------------------------


def prepare_postgres(url: str, force: bool) -> str:
    import psycopg

    parsed = normalize_url(url)
    name = parsed.database or ""
    if "bench" not in name and not force:
        sys.exit(
            f"refusing to wipe PostgreSQL database {name!r}: use a database whose name "
            "contains 'bench' (it is created if missing), or pass --force-reset"
        )
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return parsed.render_as_string(hide_password=False)


def environment(db: Database, floor: Floor) -> dict[str, Any]:
    import sqlite3

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "sqlalchemy": sa.__version__,
        "sqlite": sqlite3.sqlite_version,
        "database": db.url,
        "dialect": db.dialect,
    }
    if not floor.is_sqlite:
        import psycopg

        info["psycopg"] = psycopg.__version__
        info["postgresql"] = floor.scalar("SHOW server_version")
    return info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the Codewalkers repositories against the raw-SQL floor.",
        epilog="example: .venv/bin/python bench/run.py --quick --json /tmp/bench.json",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (< 1 min)")
    parser.add_argument(
        "--database-url",
        help="sqlite:///new-file.db or postgresql+psycopg://.../codewalkers_bench "
        "(default: SQLite in a temporary directory)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--concurrency",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the concurrent-ingest section (default: on)",
    )
    parser.add_argument(
        "--processes",
        type=lambda text: [int(p) for p in text.split(",")],
        help="process counts for concurrent ingest (default 1,2,4,8; quick 1,2)",
    )
    parser.add_argument("--seconds", type=float, help="seconds per ingest run (default 10)")
    parser.add_argument("--rounds", type=int, help="measured rounds per case (default 9)")
    parser.add_argument("--max-size", type=int, help="largest table size for cases 5-7")
    parser.add_argument("--only", help="comma-separated cases to run, e.g. 1,2,5")
    parser.add_argument(
        "--force-reset",
        action="store_true",
        help="allow wiping a PostgreSQL database whose name lacks 'bench', or an existing "
        "SQLite file",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_args(args)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    try:
        if (
            args.database_url
            and normalize_url(args.database_url).get_backend_name() == "postgresql"
        ):
            url = prepare_postgres(args.database_url, args.force_reset)
        elif args.database_url:
            path = Path(normalize_url(args.database_url).database or "")
            if path.exists():
                if not args.force_reset:
                    sys.exit(f"{path} exists: give a new file, or pass --force-reset")
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        else:
            url = f"sqlite:///{workdir / 'bench.db'}"
        db = open_database(url)
        floor = Floor(url)
        bench = Bench(settings, db, floor)
        mode = "quick" if settings.quick else "full"
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"Codewalkers benchmark ({mode}) on {db.url} (load average {load})", flush=True)
        print(
            f"{settings.rounds} rounds per case after a warm-up; time per op: median (min-max)\n",
            flush=True,
        )
        print(HEADER, flush=True)
        bench.run_cases()
        verdicts = bench.targets()
        print_targets(verdicts, db.dialect)
        print_plans(bench.plans)
        for note in bench.notes:
            print(note)
        if args.concurrency:
            bench.run_concurrency(url)
        elapsed = time.perf_counter() - started
        print(f"\ntotal: {elapsed:.1f} s", flush=True)
        if args.json:
            document = {
                "command": " ".join(
                    ["bench/run.py", *(argv if argv is not None else sys.argv[1:])]
                ),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "mode": mode,
                "environment": environment(db, floor),
                "settings": {
                    "rounds": settings.rounds,
                    "round_seconds": settings.round_seconds,
                    "sizes": settings.sizes,
                    "seed_tasks": settings.seed_tasks,
                    "cascade": settings.cascade,
                    "ready": settings.ready,
                },
                "cases": [result.as_dict() for result in bench.results],
                "targets": verdicts,
                "plans": bench.plans,
                "notes": bench.notes,
                "concurrency": bench.concurrency,
                "seconds": round(elapsed, 1),
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(document, indent=2) + "\n")
            print(f"wrote {args.json}")
        floor.close()
        db.close()
        failures = [
            row
            for row in bench.concurrency
            if row["check"] != "ok: every row stored once, in order"
        ]
        return 1 if failures else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_targets(verdicts: list[dict[str, Any]], dialect: str) -> None:
    note = "" if dialect == "sqlite" else " (the targets are set for SQLite)"
    print(f"\nTargets{note}:")
    for verdict in verdicts:
        mark = "met   " if verdict["met"] else "MISSED"
        extra = f" (floor: {verdict['floor_growth']}x)" if "floor_growth" in verdict else ""
        print(f"  {mark} {verdict['target']}: {verdict['value']}{extra}")


def print_plans(plans: dict[str, dict[str, Any]]) -> None:
    for case in sorted(plans, key=int):
        plan = plans[case]
        print(f"\nQuery plan, case {case} at {size_label(plan['size'])} rows:")
        for line in plan["plan"]:
            print(f"    {line}")


if __name__ == "__main__":
    sys.exit(main())
