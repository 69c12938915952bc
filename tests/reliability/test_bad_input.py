"""Bad input, generically: for every repository's ``create`` and ``update``, hypothesis builds
field dicts from the table's own columns, mixing valid values with arbitrary ones of
arbitrary types (NUL, 1 MB text, emoji, SQL fragments, wrong types, unknown enum values,
malformed JSON and Tiptap, ids that do not exist, negative or huge numbers, unknown fields).

Each call either succeeds and the record round-trips exactly (timestamps to the millisecond),
or raises a ``codewalkers.db`` ``DatabaseError`` and leaves every table as it was.
``tests/db/test_validation.py`` has the hand-picked cases per field; this file covers all
fourteen repositories at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewalkers.db import Database, DatabaseError, new_id
from codewalkers.db.schema import metadata
from codewalkers.db.types import EnumText, JSONText, Millis, TiptapJSON
from tests.factories import doc

SQL_FRAGMENTS = [
    "'; DROP TABLE tasks; --",
    "Robert'); DROP TABLE initiatives;--",
    '" OR 1=1 --',
    "%s %(name)s :name ? $1",
    "\\x00\\'; SELECT 1; --",
]
MEGABYTE = "x" * (1 << 20)

any_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=10),
    st.sampled_from([*SQL_FRAGMENTS, "\x00", "a\x00b", "\ud800", "   ", "", "😀🧪\u202e"]),
    st.just(MEGABYTE),
    st.just("é漢😀" * 80_000),
)
wrong_type = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(object()),
    st.just({1, 2}),
    st.booleans(),
    st.datetimes(),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        any_text,
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), children, max_size=3)
    ),
    max_leaves=8,
)
tiptap_docs = st.one_of(
    st.builds(doc, st.text(max_size=20)),
    st.just({"type": "doc"}),
    st.just({"type": "doc", "content": "not a list"}),
    st.just({"type": "doc", "content": [{"type": "text"}]}),
    st.just({"type": "doc", "content": [{"type": "p", "bogus": 1}]}),
    st.just({"type": "doc", "content": [{"type": "p", "marks": [{"type": 1}]}]}),
    st.just({"type": "paragraph"}),
    st.just('{"type": "doc"}'),
    json_values,
)
aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2999, 1, 1),
    timezones=st.sampled_from([timezone(timedelta(hours=5, minutes=30)), UTC]),
)
times = st.one_of(
    aware,
    st.datetimes(),  # naive
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.integers(),
    st.text(max_size=10),
)
ints = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.integers(),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30]),
    st.booleans(),
    st.floats(),
    st.text(max_size=4),
)

#: A few rows of every table that the generated fields may refer to, made once per database.
_pools: dict[int, dict[str, list[str]]] = {}


def pool(db: Database) -> dict[str, list[str]]:
    if id(db) in _pools:
        return _pools[id(db)]
    initiative = db.initiatives.create(name="pool")
    phase = db.phases.create(initiative_id=initiative.id, name="pool phase")
    task = db.tasks.create(phase_id=phase.id, name="pool task")
    agents = [db.agents.create(), db.agents.create()]
    page = db.pages.get_or_create_root_page(initiative.id)
    project = db.projects.create(name="pool-project", url="https://example.com/pool.git")
    account = db.accounts.create(email="pool@example.com", credentials="{}")
    message = db.messages.create(sender_type="user", recipient_type="agent", content="hi")
    session = db.chat_sessions.create_session(
        target_type="phase", target_id=phase.id, initiative_id=initiative.id
    )
    change_set = db.change_sets.create(initiative_id=initiative.id)
    ids = {
        "initiatives": [initiative.id],
        "phases": [phase.id],
        "tasks": [task.id],
        "agents": [agent.id for agent in agents],
        "pages": [page.id],
        "projects": [project.id],
        "accounts": [account.id],
        "messages": [message.id],
        "chat_sessions": [session.id],
        "change_sets": [change_set.id],
        "proposals": [
            db.proposals.create(
                agent_id=agents[0].id, initiative_id=initiative.id, target_type="task", title="t"
            ).id
        ],
        "conversations": [
            db.conversations.create(
                from_agent_id=agents[0].id, to_agent_id=agents[1].id, question="q"
            ).id
        ],
        "review_comments": [
            db.review_comments.create(
                phase_id=phase.id, file_path="a.py", line_number=1, line_type="added", body="b"
            ).id
        ],
        "agent_log_chunks": [db.log_chunks.insert_chunk(agents[0].id, agents[0].name, "log").id],
        "errands": [
            db.errands.create(
                project_id=project.id, description="d", branch="cw/errand--d", base_branch="main"
            ).id
        ],
    }
    _pools[id(db)] = ids
    return ids


def valid_value(column: sa.Column[Any], ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    if column.foreign_keys:
        target = next(iter(column.foreign_keys)).column.table.name
        return st.sampled_from(ids.get(target) or ["none"])
    kind = column.type
    if isinstance(kind, EnumText):
        members: list[StrEnum] = list(kind.enum)
        return st.sampled_from([*members, *(m.value for m in members)])
    if isinstance(kind, TiptapJSON):
        return st.builds(doc, st.text(max_size=20))
    if isinstance(kind, JSONText):
        return st.dictionaries(st.text(max_size=5), st.integers(-100, 100), max_size=3)
    if isinstance(kind, Millis):
        return aware
    if isinstance(kind, sa.Boolean):
        return st.booleans()
    if isinstance(kind, sa.Integer):
        return st.integers(min_value=-1000, max_value=1000)
    return st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20
    ).filter(str.strip)


def wild_value(column: sa.Column[Any], ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    kind = column.type
    if column.foreign_keys or column.primary_key:
        specific: st.SearchStrategy[Any] = st.one_of(
            st.builds(new_id), any_text, st.sampled_from([i for v in ids.values() for i in v])
        )
    elif isinstance(kind, EnumText):
        specific = st.one_of(any_text, st.sampled_from(["bogus", "PENDING", " pending"]))
    elif isinstance(kind, TiptapJSON):
        specific = tiptap_docs
    elif isinstance(kind, JSONText):
        specific = json_values
    elif isinstance(kind, Millis):
        specific = times
    elif isinstance(kind, sa.Boolean):
        specific = st.one_of(st.booleans(), st.sampled_from([0, 1, "true", "false", None]))
    elif isinstance(kind, sa.Integer):
        specific = ints
    else:
        specific = any_text
    return st.one_of(specific, wrong_type, st.none())


@st.composite
def field_dicts(
    draw: st.DrawFn, table: sa.Table, allowed: set[str], required: set[str], ids: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    clean = draw(st.integers(0, 2)) == 0  # a third of the examples: only valid values
    for column in table.columns:
        if column.name not in allowed:
            continue
        choice = draw(
            st.sampled_from(
                ["valid", "valid", "valid", "wild"]
                if column.name in required
                else ["omit", "omit", "omit", "valid", "valid", "wild"]
            )
        )
        if choice == "valid":
            fields[column.name] = draw(valid_value(column, ids))
        elif choice == "wild" and not clean:
            fields[column.name] = draw(wild_value(column, ids))
    if not clean and draw(st.integers(0, 9)) == 0:
        fields[draw(st.sampled_from(["bogus", "createdAt", "id; DROP", "seq", "created_at"]))] = 1
    return fields


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as connection:
        return {
            table.name: sorted(
                map(tuple, connection.execute(sa.select(*table.columns)).all()), key=repr
            )
            for table in metadata.sorted_tables
        }


def same(stored: Any, given: Any) -> bool:
    """Does a stored value round-trip what was given? (Timestamps to the millisecond.)"""
    if isinstance(given, datetime):
        return (
            isinstance(stored, datetime)
            and stored.tzinfo is not None
            and abs(stored - given) < timedelta(milliseconds=1)
            and stored.microsecond % 1000 == 0
        )
    if isinstance(given, bool):
        return stored is given
    if isinstance(given, float) and math.isnan(given):
        return False
    if isinstance(stored, bool) != isinstance(given, bool):
        return False  # 1 is not True
    return bool(stored == given)


#: Left out (``None``), these are taken from the record's parent rather than kept empty.
DERIVED_FROM_RELATIONS = frozenset({"phase_id", "initiative_id"})


def round_trips_or_changes_nothing(
    db: Database, call: Callable[[], Any], fields: dict[str, Any], find: Callable[[str], Any]
) -> str:
    before = snapshot(db)
    try:
        record = call()
    except DatabaseError:
        assert snapshot(db) == before, "a failed write changed the database"
        return "refused"
    for name, value in fields.items():
        if value is None and name in DERIVED_FROM_RELATIONS:
            continue  # filled in from the parent (a subtask is in its parent's phase)
        assert same(getattr(record, name), value), (name, value, getattr(record, name))
    assert find(record.id) == record
    return "stored"


# (attribute, create, update, find) for every repository's records.
def _targets(db: Database) -> dict[str, tuple[sa.Table, Any, Any, Any, Any]]:
    chat = db.chat_sessions
    targets: dict[str, tuple[sa.Table, Any, Any, Any, Any]] = {}
    for name in (
        "initiatives",
        "phases",
        "tasks",
        "agents",
        "messages",
        "pages",
        "projects",
        "accounts",
        "proposals",
        "log_chunks",
        "conversations",
        "review_comments",
        "change_sets",
        "errands",
    ):
        repo = getattr(db, name)
        targets[name] = (repo.table, repo.rules, repo.create, repo.update, repo.find_by_id)
    targets["chat_sessions"] = (
        chat.table,
        chat.rules,
        chat.create_session,
        chat.update_session,
        chat.find_by_id,
    )
    messages = chat._messages  # type: ignore[attr-defined]

    def find_message(id: str) -> Any:
        found = [
            m
            for s in db.chat_sessions.find_all()
            for m in chat.find_messages_by_session_id(s.id)
            if m.id == id
        ]
        return found[0] if found else None

    targets["chat_messages"] = (
        messages.table,
        messages.rules,
        chat.create_message,
        None,
        find_message,
    )
    return targets


REPOSITORIES = [
    "initiatives",
    "phases",
    "tasks",
    "agents",
    "messages",
    "pages",
    "projects",
    "accounts",
    "proposals",
    "log_chunks",
    "conversations",
    "review_comments",
    "change_sets",
    "chat_sessions",
    "chat_messages",
    "errands",
]
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.parametrize("name", REPOSITORIES)
@PROPERTY
@given(data=st.data())
def test_create_round_trips_or_changes_nothing(
    db: Database, name: str, data: st.DataObject
) -> None:
    ids = pool(db)
    table, rules, create, _, find = _targets(db)[name]
    allowed = set(table.columns.keys()) - rules.managed
    fields = data.draw(field_dicts(table, allowed, set(rules.required), ids))
    round_trips_or_changes_nothing(db, lambda: create(**fields), fields, find)


@pytest.mark.parametrize("name", [n for n in REPOSITORIES if n != "chat_messages"])
@PROPERTY
@given(data=st.data())
def test_update_round_trips_or_changes_nothing(
    db: Database, name: str, data: st.DataObject
) -> None:
    ids = pool(db)
    table, rules, _, update, find = _targets(db)[name]
    target = data.draw(
        st.one_of(st.sampled_from(ids[table.name] * 4 + [""]), st.builds(new_id), any_text)
    )
    allowed = set(table.columns.keys()) - rules.immutable
    fields = data.draw(field_dicts(table, allowed, set(), ids))
    round_trips_or_changes_nothing(db, lambda: update(target, **fields), fields, find)
