"""Input validation: whatever a caller passes either round-trips exactly or is refused with
a ``DatabaseError`` (``ValidationError`` for bad input), and a refused write changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from codewalkers.db import Database, DatabaseError, ValidationError
from codewalkers.db.schema import metadata
from tests.factories import doc, make_account, make_agent, make_initiative, make_page, make_task

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

SQL_FRAGMENTS = [
    "'; DROP TABLE tasks; --",
    "Robert'); DROP TABLE initiatives;--",
    '" OR 1=1 --',
    "\\'; SELECT pg_sleep(0); --",
    "%s %(name)s :name ? $1",
]

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Any text, including emoji, NUL, control characters and lone surrogates.
any_text = st.one_of(
    st.text(),
    st.text(st.characters(codec=None, exclude_categories=())),
    st.sampled_from(SQL_FRAGMENTS),
    st.text(alphabet="😀🧪\u200b\u202e\ufeff\x00\x7f é漢", min_size=1),
)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted(
                map(tuple, connection.execute(sa.select(*table.columns)).all()), key=repr
            )
            for table in metadata.sorted_tables
        }


def refused(
    db: Database, call: Callable[[], object], error: type[Exception] = ValidationError
) -> str:
    """``call`` raises ``error`` and leaves every table as it was; the message is returned."""
    before = snapshot(db)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(db) == before
    return str(caught.value)


def is_acceptable_text(value: str, *, not_blank: bool) -> bool | None:
    """True: must be stored; False: must be refused; None: either is fine."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not (not_blank and not value.strip())


def stores_or_refuses(
    db: Database,
    value: str,
    write: Callable[[], Any],
    read: Callable[[Any], Any],
    *,
    not_blank: bool = False,
) -> None:
    """``write()`` either stores ``value`` exactly (read back through ``read``) or raises a
    ``DatabaseError`` and changes nothing. NUL and invalid Unicode are always refused."""
    expected = is_acceptable_text(value, not_blank=not_blank)
    before = snapshot(db)
    try:
        record = write()
    except DatabaseError as exc:
        assert expected is not True, f"{value!r} was refused: {exc}"
        assert isinstance(exc, ValidationError), exc
        assert snapshot(db) == before
        return
    assert expected is not False, f"{value!r} was stored"
    assert read(record) == value


# --- arbitrary text ---------------------------------------------------------------------------


@PROPERTY
@given(name=any_text)
@example(name="\x00")
@example(name="a\x00b")
@example(name="\ud800")
@example(name="   ")
@example(name="😀 emoji 🧪")
@example(name="'; DROP TABLE tasks; --")
def test_an_initiative_name_round_trips_or_is_refused(db: Database, name: str) -> None:
    def write() -> Any:
        return db.initiatives.create(name=name)

    def read(record: Any) -> str:
        stored = db.initiatives.find_by_id(record.id)
        assert stored == record
        return stored.name

    stores_or_refuses(db, name, write, read, not_blank=True)


@PROPERTY
@given(name=any_text, branch=any_text)
@example(name="\x00", branch="cw/auth")
@example(name="ok", branch="\x00")
@example(name="ok", branch="'; DROP TABLE initiatives; --")
def test_an_initiative_update_round_trips_or_is_refused(
    db: Database, name: str, branch: str
) -> None:
    initiative = make_initiative(db)
    stores_or_refuses(
        db,
        name,
        lambda: db.initiatives.update(initiative.id, name=name),
        lambda record: db.initiatives.find_by_id(record.id).name,
        not_blank=True,
    )
    stores_or_refuses(
        db,
        branch,
        lambda: db.initiatives.update(initiative.id, branch=branch),
        lambda record: db.initiatives.find_by_id(record.id).branch,
    )


@PROPERTY
@given(description=any_text, summary=any_text)
@example(description="\x00", summary="ok")
@example(description="'; DROP TABLE tasks; --", summary="\ud83d")
def test_task_texts_round_trip_or_are_refused(db: Database, description: str, summary: str) -> None:
    task = make_task(db)
    stores_or_refuses(
        db,
        description,
        lambda: db.tasks.create(phase_id=task.phase_id, name="t", description=description),
        lambda record: db.tasks.find_by_id(record.id).description,
    )
    stores_or_refuses(
        db,
        summary,
        lambda: db.tasks.update(task.id, summary=summary),
        lambda record: db.tasks.find_by_id(record.id).summary,
    )


@PROPERTY
@given(title=any_text, text=any_text)
@example(title="\x00", text="ok")
@example(title="ok", text="\x00")
@example(title="ok", text="'; DROP TABLE pages; --")
def test_page_title_and_content_round_trip_or_are_refused(
    db: Database, title: str, text: str
) -> None:
    page = make_page(db)
    stores_or_refuses(
        db,
        title,
        lambda: db.pages.update(page.id, title=title),
        lambda record: db.pages.find_by_id(record.id).title,
        not_blank=True,
    )
    stores_or_refuses(
        db,
        text,
        lambda: db.pages.create(
            initiative_id=page.initiative_id,
            parent_page_id=page.id,
            title="t",
            content=doc(text),
        ),
        lambda record: db.pages.find_by_id(record.id).content["content"][0]["content"][0]["text"],
    )


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_long_text_round_trips(db: Database, size: int) -> None:
    text = ("Lorem ipsum 😀 dolor sit amet; ' -- \n" * (size // 30))[:size]
    task = make_task(db, description=text)
    assert db.tasks.find_by_id(task.id).description == text
    initiative = db.initiatives.create(name=text)
    assert db.initiatives.find_by_id(initiative.id).name == text
    page = make_page(db, content=doc(text, text))
    assert db.pages.find_by_id(page.id).content == doc(text, text)


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
def test_sql_in_values_is_stored_as_text(db: Database, fragment: str) -> None:
    task = make_task(db, name=fragment, description=fragment)
    assert db.tasks.find_by_id(task.id).name == fragment
    assert [t.id for t in db.tasks.find_by_phase_id(task.phase_id)] == [task.id]
    assert len(db.tasks.find_all()) == 1
    assert db.agents.find_by_name(fragment) is None


@pytest.mark.parametrize("where", ["\x00", "nul\x00inside", "end\x00"])
def test_nul_characters_are_refused_everywhere(db: Database, where: str) -> None:
    initiative = make_initiative(db)
    task = make_task(db)
    page = make_page(db)
    refused(db, lambda: db.initiatives.create(name=where))
    refused(db, lambda: db.initiatives.update(initiative.id, branch=where))
    refused(db, lambda: db.tasks.update(task.id, description=where))
    refused(db, lambda: db.pages.update(page.id, content=doc(where)))
    refused(db, lambda: db.agents.create(result={"key": where}))
    refused(db, lambda: db.agents.create(result={where: 1}))
    refused(db, lambda: db.initiatives.find_by_id(where))


# --- wrong types ------------------------------------------------------------------------------


WRONG_TYPES: list[tuple[str, str, Any]] = [
    ("initiatives", "name", 42),
    ("initiatives", "name", b"bytes"),
    ("initiatives", "name", ["list"]),
    ("initiatives", "merge_requires_approval", "false"),
    ("initiatives", "merge_requires_approval", 0),
    ("initiatives", "merge_requires_approval", 1),
    ("tasks", "order", "1"),
    ("tasks", "order", 1.0),
    ("tasks", "order", True),
    ("tasks", "requires_approval", "yes"),
    ("tasks", "description", 3.14),
    ("pages", "sort_order", "first"),
    ("pages", "content", "plain text, not a document"),
    ("pages", "content", {"type": "paragraph"}),
    ("pages", "content", {"type": "doc", "content": [{"type": "text"}]}),
]


def _target(db: Database, table: str) -> tuple[Any, dict[str, Any], str]:
    """The repository, the fields for a valid create, and an existing id to update."""
    if table == "initiatives":
        return db.initiatives, {"name": "n"}, make_initiative(db).id
    if table == "tasks":
        task = make_task(db)
        return db.tasks, {"name": "n", "phase_id": task.phase_id}, task.id
    page = make_page(db)
    fields = {"initiative_id": page.initiative_id, "parent_page_id": page.id, "title": "t"}
    return db.pages, fields, page.id


@pytest.mark.parametrize(("table", "field", "value"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(
    db: Database, table: str, field: str, value: Any
) -> None:
    repository, fields, existing = _target(db, table)
    message = refused(db, lambda: repository.create(**{**fields, field: value}))
    assert field in message
    message = refused(db, lambda: repository.update(existing, **{field: value}))
    assert field in message


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        ("initiatives", "status", "bogus"),
        ("initiatives", "status", "ACTIVE"),
        ("initiatives", "status", ""),
        ("initiatives", "status", 1),
        ("tasks", "status", "done"),
        ("tasks", "type", "checkpoint"),
        ("tasks", "category", "Execute"),
        ("tasks", "priority", "urgent"),
    ],
)
def test_an_unknown_enum_value_is_refused_listing_the_allowed_ones(
    db: Database, table: str, field: str, value: Any
) -> None:
    repository, fields, existing = _target(db, table)
    message = refused(db, lambda: repository.create(**{**fields, field: value}))
    assert field in message
    assert repr(value) in message
    refused(db, lambda: repository.update(existing, **{field: value}))


def test_an_enum_value_may_be_given_as_its_string(db: Database) -> None:
    task = make_task(db, type="checkpoint:human-verify", priority="high")
    assert task.type == "checkpoint:human-verify"
    assert db.tasks.update(task.id, status="in_progress").status == "in_progress"


@PROPERTY
@given(order=st.one_of(st.integers(), st.sampled_from([INT32_MIN, INT32_MAX, -1, 0])))
@example(order=INT32_MAX + 1)
@example(order=INT32_MIN - 1)
@example(order=2**63)
@example(order=-(2**63) - 1)
@example(order=10**100)
def test_an_order_fits_in_32_bits_or_is_refused(db: Database, order: int) -> None:
    task = make_task(db)
    if INT32_MIN <= order <= INT32_MAX:
        created = db.tasks.create(phase_id=task.phase_id, name="t", order=order)
        assert db.tasks.find_by_id(created.id).order == order
        assert db.tasks.update(task.id, order=order).order == order
        assert db.tasks.find_by_id(task.id).order == order
    else:
        message = refused(
            db, lambda: db.tasks.create(phase_id=task.phase_id, name="t", order=order)
        )
        assert "order" in message
        refused(db, lambda: db.tasks.update(task.id, order=order))


@PROPERTY
@given(sort_order=st.integers())
def test_a_page_sort_order_fits_in_32_bits_or_is_refused(db: Database, sort_order: int) -> None:
    page = make_page(db)
    if INT32_MIN <= sort_order <= INT32_MAX:
        assert db.pages.update(page.id, sort_order=sort_order).sort_order == sort_order
        assert db.pages.find_by_id(page.id).sort_order == sort_order
    else:
        refused(db, lambda: db.pages.update(page.id, sort_order=sort_order))


# --- timestamps -------------------------------------------------------------------------------


aware_datetimes = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)


def _truncated(moment: datetime) -> datetime:
    """The instant in UTC, to the millisecond (what an epoch-milliseconds column keeps)."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@PROPERTY
@given(moment=aware_datetimes)
@example(moment=datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(moment=datetime(1970, 1, 1, tzinfo=UTC))
@example(moment=datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC))
def test_an_aware_timestamp_round_trips_to_the_millisecond(db: Database, moment: datetime) -> None:
    account = make_account(db)
    try:
        stored = db.accounts.update(account.id, exhausted_until=moment)
    except DatabaseError as exc:  # pragma: no cover - must not happen in datetime's range
        pytest.fail(f"{moment!r} refused: {exc}")
    expected = _truncated(moment)
    assert stored.exhausted_until == expected
    assert stored.exhausted_until.utcoffset() == timedelta(0)
    assert db.accounts.find_by_id(account.id).exhausted_until == expected


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 1, 1, 12, 0), datetime.now(), "2026-01-01T00:00:00Z", 1_700_000_000_000],
)
def test_a_naive_datetime_or_a_non_datetime_timestamp_is_refused(db: Database, value: Any) -> None:
    account = make_account(db)
    project = db.projects.create(name="cw", url="https://example.com/cw.git")
    agent = make_agent(db)
    assert "exhausted_until" in refused(
        db, lambda: db.accounts.update(account.id, exhausted_until=value)
    )
    assert "last_fetched_at" in refused(
        db, lambda: db.projects.update(project.id, last_fetched_at=value)
    )
    assert "user_dismissed_at" in refused(
        db, lambda: db.agents.update(agent.id, user_dismissed_at=value)
    )
    refused(db, lambda: db.accounts.mark_exhausted(account.id, value))
    refused(db, lambda: db.accounts.create(email="x@example.com", last_used_at=value))


def test_managed_timestamps_and_ids_cannot_be_set(db: Database) -> None:
    initiative = make_initiative(db)
    moment = datetime(2020, 1, 1, tzinfo=UTC)
    assert "created_at" in refused(db, lambda: db.initiatives.create(name="x", created_at=moment))
    assert "updated_at" in refused(
        db, lambda: db.initiatives.update(initiative.id, updated_at=moment)
    )
    page = make_page(db)
    other = make_initiative(db)
    assert "initiative_id" in refused(db, lambda: db.pages.update(page.id, initiative_id=other.id))


# --- JSON columns -----------------------------------------------------------------------------


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


@PROPERTY
@given(value=json_values)
@example(value={"nested": [1, 2.5, None, True, "x"]})
@example(value=-0.0)
@example(value=1e308)
@example(value=2**63 - 1)
def test_a_json_value_round_trips_or_is_refused(db: Database, value: Any) -> None:
    agent = make_agent(db)
    if _has_nul(value):
        refused(db, lambda: db.agents.update(agent.id, result=value))
        return
    stored = db.agents.update(agent.id, result=value)
    assert stored.result == value
    assert db.agents.find_by_id(agent.id).result == value


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        {1: "non-string key"},
        {"a": {1, 2}},
        2**63,
        object(),
        b"bytes",
    ],
    ids=["nan", "inf", "int-key", "set", "int64-overflow", "object", "bytes"],
)
def test_a_value_json_cannot_hold_exactly_is_refused(db: Database, value: Any) -> None:
    agent = make_agent(db)
    assert "result" in refused(db, lambda: db.agents.update(agent.id, result=value))


@pytest.mark.parametrize("depth", [101, 10_000])
def test_json_nested_too_deep_is_refused_not_a_crash(db: Database, depth: int) -> None:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    agent = make_agent(db)
    assert "result" in refused(db, lambda: db.agents.update(agent.id, result=value))
    nested: dict[str, Any] = {"type": "text", "text": "x"}
    for _ in range(depth):
        nested = {"type": "paragraph", "content": [nested]}
    page = make_page(db)
    assert "content" in refused(
        db, lambda: db.pages.update(page.id, content={"type": "doc", "content": [nested]})
    )
