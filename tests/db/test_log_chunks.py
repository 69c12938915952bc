"""Agent log chunks: the seed's ``agent_log_chunks`` table (no foreign key: logs survive their
agent) and ``LogChunkRepository`` (insert_chunk, find_by_agent_id, delete_by_agent_id,
get_session_count), plus the batch insert for the hottest write path.
"""

from __future__ import annotations

import random

import pytest

from codewalkers.db import Database, LogChunk, ValidationError
from tests.factories import make_agent

AGENT = "agent-log-0000000000001"
OTHER = "agent-log-0000000000002"


def contents(chunks: list[LogChunk]) -> list[str]:
    return [chunk.content for chunk in chunks]


def scrambled_lines(count: int) -> list[str]:
    """Distinct lines whose sort order is not their insertion order."""
    numbers = list(range(count))
    random.Random(7).shuffle(numbers)
    return [f'{{"line": {n}}}' for n in numbers]


# --- inserting ------------------------------------------------------------------------------


def test_insert_chunk_returns_the_stored_chunk(db: Database) -> None:
    chunk = db.log_chunks.insert_chunk(AGENT, "brave-otter", '{"type":"text"}\n', 2)

    assert isinstance(chunk, LogChunk)
    assert len(chunk.id) == 21
    assert chunk.agent_id == AGENT
    assert chunk.agent_name == "brave-otter"
    assert chunk.content == '{"type":"text"}\n'
    assert chunk.session_number == 2
    assert chunk.created_at.tzinfo is not None
    assert db.log_chunks.find_by_agent_id(AGENT) == [chunk]


def test_the_session_number_defaults_to_one(db: Database) -> None:
    chunk = db.log_chunks.insert_chunk(AGENT, "a", "x")

    assert chunk.session_number == 1


def test_create_is_insert_chunk_with_keywords(db: Database) -> None:
    chunk = db.log_chunks.create(agent_id=AGENT, agent_name="a", content="x", session_number=3)

    assert chunk.session_number == 3
    assert db.log_chunks.find_by_id(chunk.id) == chunk


def test_a_chunk_needs_no_existing_agent(db: Database) -> None:
    chunk = db.log_chunks.insert_chunk("never-an-agent-0000000", "ghost", "boo")

    assert db.log_chunks.find_by_agent_id("never-an-agent-0000000") == [chunk]


def test_content_is_kept_verbatim(db: Database) -> None:
    raw = '{"a": 1}\n{"b": "ünïcødé ✓"}\n\n  trailing  '

    chunk = db.log_chunks.insert_chunk(AGENT, "a", raw)

    assert contents(db.log_chunks.find_by_agent_id(AGENT)) == [raw]
    assert chunk.content == raw


@pytest.mark.parametrize(
    ("agent_id", "agent_name", "content", "session_number"),
    [
        (AGENT, "a", None, 1),
        (AGENT, None, "x", 1),
        (None, "a", "x", 1),
        (AGENT, "a", "x", "1"),
        (AGENT, "a", b"bytes", 1),
        (AGENT, "a", "nul\x00", 1),
    ],
)
def test_a_bad_chunk_is_refused(
    db: Database, agent_id: object, agent_name: object, content: object, session_number: object
) -> None:
    with pytest.raises(ValidationError):
        db.log_chunks.insert_chunk(agent_id, agent_name, content, session_number)  # type: ignore[arg-type]
    assert db.log_chunks.find_all() == []


def test_insert_chunks_stores_a_batch_and_returns_the_count(db: Database) -> None:
    count = db.log_chunks.insert_chunks(
        [
            {"agent_id": AGENT, "agent_name": "a", "content": "one"},
            {"agent_id": AGENT, "agent_name": "a", "content": "two", "session_number": 2},
            {"agent_id": OTHER, "agent_name": "b", "content": "three"},
        ]
    )

    assert count == 3
    chunks = db.log_chunks.find_by_agent_id(AGENT)
    assert contents(chunks) == ["one", "two"]
    assert [chunk.session_number for chunk in chunks] == [1, 2]
    assert contents(db.log_chunks.find_by_agent_id(OTHER)) == ["three"]


def test_a_batch_may_give_the_session_number_for_some_chunks_only(db: Database) -> None:
    count = db.log_chunks.insert_chunks(
        [
            {"agent_id": AGENT, "agent_name": "a", "content": "resumed", "session_number": 3},
            {"agent_id": AGENT, "agent_name": "a", "content": "default"},
            {"agent_id": AGENT, "agent_name": "a", "content": "again", "session_number": 3},
        ]
    )

    assert count == 3
    chunks = db.log_chunks.find_by_agent_id(AGENT)
    assert [chunk.session_number for chunk in chunks] == [3, 1, 3]


def test_insert_chunks_accepts_any_iterable(db: Database) -> None:
    lines = ({"agent_id": AGENT, "agent_name": "a", "content": f"line {n}"} for n in range(5))

    assert db.log_chunks.insert_chunks(lines) == 5
    assert contents(db.log_chunks.find_by_agent_id(AGENT)) == [f"line {n}" for n in range(5)]


def test_insert_chunks_of_nothing_is_zero(db: Database) -> None:
    assert db.log_chunks.insert_chunks([]) == 0
    assert db.log_chunks.find_all() == []


def test_a_batch_with_one_bad_chunk_stores_nothing(db: Database) -> None:
    batch = [
        {"agent_id": AGENT, "agent_name": "a", "content": "good"},
        {"agent_id": AGENT, "agent_name": "a"},
    ]

    with pytest.raises(ValidationError):
        db.log_chunks.insert_chunks(batch)

    assert db.log_chunks.find_all() == []


def test_a_batch_item_that_is_not_a_mapping_is_refused(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.log_chunks.insert_chunks(["just a string"])  # type: ignore[list-item]
    assert db.log_chunks.find_all() == []


# --- reading in insertion order -------------------------------------------------------------


def test_chunks_come_back_in_insertion_order(db: Database) -> None:
    lines = scrambled_lines(50)
    for line in lines:
        db.log_chunks.insert_chunk(AGENT, "a", line)

    assert contents(db.log_chunks.find_by_agent_id(AGENT)) == lines


def test_thousands_inserted_in_one_batch_come_back_in_insertion_order(db: Database) -> None:
    lines = scrambled_lines(3000)

    inserted = db.log_chunks.insert_chunks(
        {"agent_id": AGENT, "agent_name": "a", "content": line} for line in lines
    )

    chunks = db.log_chunks.find_by_agent_id(AGENT)
    assert inserted == 3000
    assert contents(chunks) == lines
    # Far more chunks than milliseconds went by: the order cannot come from the clock.
    assert len({chunk.created_at for chunk in chunks}) < len(chunks)


def test_batches_and_single_inserts_keep_their_order_across_calls(db: Database) -> None:
    db.log_chunks.insert_chunks(
        [{"agent_id": AGENT, "agent_name": "a", "content": c} for c in ("z", "y")]
    )
    db.log_chunks.insert_chunk(AGENT, "a", "x")
    db.log_chunks.insert_chunks(
        [{"agent_id": AGENT, "agent_name": "a", "content": c} for c in ("b", "a")]
    )

    assert contents(db.log_chunks.find_by_agent_id(AGENT)) == ["z", "y", "x", "b", "a"]


def test_find_by_agent_id_returns_only_that_agents_chunks(db: Database) -> None:
    for n in range(6):
        db.log_chunks.insert_chunk(AGENT if n % 2 else OTHER, "a", f"{n}")

    assert contents(db.log_chunks.find_by_agent_id(AGENT)) == ["1", "3", "5"]
    assert contents(db.log_chunks.find_by_agent_id(OTHER)) == ["0", "2", "4"]
    assert db.log_chunks.find_by_agent_id("nobody-000000000000000") == []


def test_seq_increases_in_insertion_order(db: Database) -> None:
    first = db.log_chunks.insert_chunk(AGENT, "a", "1")
    second = db.log_chunks.insert_chunk(OTHER, "b", "2")
    third = db.log_chunks.insert_chunk(AGENT, "a", "3")

    assert first.seq < second.seq < third.seq


def _batch(agent_id: str, *lines: str) -> list[dict[str, str]]:
    return [{"agent_id": agent_id, "agent_name": "a", "content": line} for line in lines]


def test_seq_is_never_reused_after_the_newest_chunks_are_deleted(db: Database) -> None:
    # A reader that remembered seq N must find every chunk inserted later with after_seq=N.
    db.log_chunks.insert_chunks(_batch(AGENT, "1", "2", "3", "4"))
    chunks = db.log_chunks.find_by_agent_id(AGENT)
    highest = chunks[-1].seq
    for newest in chunks[-2:]:
        db.log_chunks.delete(newest.id)

    single = db.log_chunks.insert_chunk(AGENT, "a", "5")
    assert single.seq > highest
    assert contents(db.log_chunks.find_by_agent_id(AGENT, after_seq=highest)) == ["5"]

    db.log_chunks.delete_by_agent_id(AGENT)  # the table is empty now
    db.log_chunks.insert_chunks(_batch(OTHER, "6", "7"))
    later = db.log_chunks.find_by_agent_id(OTHER)
    assert min(chunk.seq for chunk in later) > single.seq
    assert [chunk.seq for chunk in later] == sorted(chunk.seq for chunk in later)


def test_seq_is_never_reused_after_a_rolled_back_delete_either(db: Database) -> None:
    db.log_chunks.insert_chunks(_batch(AGENT, "1", "2"))
    highest = db.log_chunks.find_by_agent_id(AGENT)[-1].seq
    with pytest.raises(RuntimeError), db.transaction():
        db.log_chunks.delete_by_agent_id(AGENT)
        raise RuntimeError("abort")
    assert contents(db.log_chunks.find_by_agent_id(AGENT)) == ["1", "2"]
    assert db.log_chunks.insert_chunk(AGENT, "a", "3").seq > highest


def test_find_by_agent_id_filters_by_session_number(db: Database) -> None:
    db.log_chunks.insert_chunk(AGENT, "a", "s1-a", 1)
    db.log_chunks.insert_chunk(AGENT, "a", "s2-a", 2)
    db.log_chunks.insert_chunk(AGENT, "a", "s1-b", 1)
    db.log_chunks.insert_chunk(AGENT, "a", "s2-b", 2)

    assert contents(db.log_chunks.find_by_agent_id(AGENT, session_number=1)) == ["s1-a", "s1-b"]
    assert contents(db.log_chunks.find_by_agent_id(AGENT, session_number=2)) == ["s2-a", "s2-b"]
    assert db.log_chunks.find_by_agent_id(AGENT, session_number=3) == []


def test_find_by_agent_id_after_seq_follows_the_log(db: Database) -> None:
    first = db.log_chunks.insert_chunk(AGENT, "a", "1")
    second = db.log_chunks.insert_chunk(AGENT, "a", "2")
    db.log_chunks.insert_chunk(OTHER, "b", "other")
    db.log_chunks.insert_chunk(AGENT, "a", "3")

    assert contents(db.log_chunks.find_by_agent_id(AGENT, after_seq=first.seq)) == ["2", "3"]
    assert contents(db.log_chunks.find_by_agent_id(AGENT, after_seq=second.seq)) == ["3"]
    last = db.log_chunks.find_by_agent_id(AGENT)[-1]
    assert db.log_chunks.find_by_agent_id(AGENT, after_seq=last.seq) == []
    assert contents(db.log_chunks.find_by_agent_id(AGENT, after_seq=0)) == ["1", "2", "3"]


def test_find_by_agent_id_limit_returns_the_first_chunks(db: Database) -> None:
    for n in range(5):
        db.log_chunks.insert_chunk(AGENT, "a", f"{n}")

    assert contents(db.log_chunks.find_by_agent_id(AGENT, limit=2)) == ["0", "1"]
    assert contents(db.log_chunks.find_by_agent_id(AGENT, limit=10)) == ["0", "1", "2", "3", "4"]
    assert db.log_chunks.find_by_agent_id(AGENT, limit=0) == []


def test_limit_and_after_seq_page_through_the_log(db: Database) -> None:
    lines = scrambled_lines(10)
    for line in lines:
        db.log_chunks.insert_chunk(AGENT, "a", line, 1 + len(line) % 2)

    pages: list[str] = []
    after = 0
    while page := db.log_chunks.find_by_agent_id(AGENT, after_seq=after, limit=3):
        pages.extend(contents(page))
        after = page[-1].seq

    assert pages == lines
    session_two = [line for line in lines if 1 + len(line) % 2 == 2]
    assert contents(db.log_chunks.find_by_agent_id(AGENT, session_number=2, limit=50)) == (
        session_two
    )


@pytest.mark.parametrize(
    "bad", [{"limit": -1}, {"after_seq": -1}, {"limit": "5"}, {"session_number": "1"}]
)
def test_find_by_agent_id_refuses_bad_filters(db: Database, bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        db.log_chunks.find_by_agent_id(AGENT, **bad)  # type: ignore[arg-type]


# --- sessions -------------------------------------------------------------------------------


def test_get_session_count_is_zero_without_chunks(db: Database) -> None:
    db.log_chunks.insert_chunk(OTHER, "b", "x", 4)

    assert db.log_chunks.get_session_count(AGENT) == 0


def test_get_session_count_is_the_highest_session_number(db: Database) -> None:
    for session in (1, 3, 2):
        db.log_chunks.insert_chunk(AGENT, "a", f"session {session}", session)
    db.log_chunks.insert_chunk(OTHER, "b", "x", 9)

    assert db.log_chunks.get_session_count(AGENT) == 3


def test_a_resume_is_the_previous_session_plus_one(db: Database) -> None:
    db.log_chunks.insert_chunk(AGENT, "a", "spawn", 1)
    resumed = db.log_chunks.get_session_count(AGENT) + 1
    db.log_chunks.insert_chunk(AGENT, "a", "resume", resumed)

    assert db.log_chunks.get_session_count(AGENT) == 2


# --- deleting -------------------------------------------------------------------------------


def test_delete_by_agent_id_returns_how_many_it_deleted(db: Database) -> None:
    for n in range(4):
        db.log_chunks.insert_chunk(AGENT, "a", f"{n}")
    kept = db.log_chunks.insert_chunk(OTHER, "b", "keep")

    assert db.log_chunks.delete_by_agent_id(AGENT) == 4

    assert db.log_chunks.find_by_agent_id(AGENT) == []
    assert db.log_chunks.find_by_agent_id(OTHER) == [kept]
    assert db.log_chunks.get_session_count(AGENT) == 0
    assert db.log_chunks.delete_by_agent_id(AGENT) == 0


def test_chunks_survive_deleting_their_agent(db: Database) -> None:
    agent = make_agent(db)
    chunk = db.log_chunks.insert_chunk(agent.id, agent.name, "last words")

    db.agents.delete(agent.id)

    assert db.agents.find_by_id(agent.id) is None
    assert db.log_chunks.find_by_agent_id(agent.id) == [chunk]
    assert chunk.agent_name == agent.name
