"""Bad input through ``cw``: hypothesis drives ``codewalkers.cli.app.main(argv)`` in this
process with generated arguments for a representative set of commands. Each call exits 0; or
1 with exactly one stderr line starting ``error: ``; or 2 (usage). Never a traceback, and a
call that fails leaves the database as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewalkers.cli import _common
from codewalkers.db import Database, open_database
from tests.reliability._cli import run
from tests.reliability.test_bad_input import SQL_FRAGMENTS, snapshot

words = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=8),
    st.sampled_from(
        [*SQL_FRAGMENTS, "\x00", "\ud800", "", " ", "-1", "--json", "-", "😀", "x" * 100_000]
    ),
    st.integers(-(2**70), 2**70).map(str),
)


@pytest.fixture
def workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, database_url: str
) -> Iterator[dict[str, Any]]:
    for name in list(os.environ):
        if name.startswith("CW_") and name != "CW_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    if backend == "postgresql":
        monkeypatch.setenv("CW_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    assert run("init")[0] == 0
    url = database_url if backend == "postgresql" else f"sqlite:///{tmp_path}/.cw/cw.db"
    db = open_database(url)
    initiative = db.initiatives.create(name="cli")
    phase = db.phases.create(initiative_id=initiative.id, name="p")
    task = db.tasks.create(phase_id=phase.id, name="t")
    ids = [initiative.id, phase.id, task.id, db.pages.get_or_create_root_page(initiative.id).id]
    yield {"db": db, "ids": ids}
    db.close()
    _common.settings = _common.Settings()


def commands(ids: list[str]) -> st.SearchStrategy[list[str]]:
    some_id = st.one_of(st.sampled_from(ids), words)
    some = st.one_of(words, st.sampled_from(ids))
    enum = st.one_of(
        st.sampled_from(["pending", "in_progress", "completed", "blocked", "high", "low"]), words
    )
    return (
        st.one_of(
            st.tuples(st.just(["initiative", "create"]), words, st.just(["--branch"]), words),
            st.tuples(st.just(["initiative", "get"]), some_id),
            st.tuples(st.just(["initiative", "list", "--status"]), enum),
            st.tuples(st.just(["phase", "create", "--initiative"]), some_id, words),
            st.tuples(st.just(["phase", "status"]), some_id, enum),
            st.tuples(
                st.just(["task", "create"]),
                words,
                st.just(["--phase"]),
                some_id,
                st.just(["--priority"]),
                enum,
                st.just(["--description"]),
                words,
            ),
            st.tuples(st.just(["task", "status"]), some_id, enum),
            st.tuples(st.just(["task", "depend"]), some_id, st.just(["--on"]), some_id),
            st.tuples(st.just(["page", "create", "--initiative"]), some_id, words),
            st.tuples(st.just(["project", "add"]), words, words),
            st.tuples(st.just(["account", "add"]), words, st.just(["--provider"]), words),
            st.tuples(st.just(["account", "exhaust"]), some_id, st.just(["--until"]), words),
            st.tuples(
                st.just(["review", "comment", "--phase"]),
                some_id,
                st.just(["--file"]),
                words,
                st.just(["--line"]),
                some,
                st.just(["--type"]),
                enum,
                words,
            ),
            st.tuples(st.just(["id", "-n"]), some),
            st.lists(some, max_size=4).map(tuple),
        )
        .map(lambda parts: [a for p in parts for a in (p if isinstance(p, list) else [p])])
        .flatmap(lambda argv: st.sampled_from([argv, [*argv, "--json"]]))
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_arguments_exit_cleanly_and_a_failure_changes_nothing(
    workspace: dict[str, Any], data: st.DataObject
) -> None:
    db: Database = workspace["db"]
    argv = data.draw(commands(workspace["ids"]))
    before = snapshot(db)
    code, out, err = run(*argv)
    assert "Traceback" not in out + err, (argv, err)
    assert code in (0, 1, 2), (argv, code, err)
    if code == 1:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    if code != 0:
        assert snapshot(db) == before, (argv, code, err)
