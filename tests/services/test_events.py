"""Domain events: every write through the services records its event in the same
transaction; the outbox numbers them for good, filters, prunes, and is shared by every
process (and, on PostgreSQL, wakes listeners on commit)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    ConflictError,
    Database,
    Event,
    NotFoundError,
    ProposalTargetType,
    TaskStatus,
    ValidationError,
    open_database,
)
from codewalkers.db.engine import WRITE
from codewalkers.services import (
    accounts,
    agents,
    chat,
    conversations,
    events,
    messages,
    pages,
    plan,
    projects,
    proposals,
    review,
)
from tests.factories import (
    make_agent,
    make_initiative,
    make_phase,
    make_project,
    make_task,
)

# --- helpers ----------------------------------------------------------------------------


def emitted(db: Database, call: Callable[[], Any]) -> tuple[Any, list[Event]]:
    """Run ``call``; return its result and the events it recorded."""
    before = db.events.latest_seq()
    result = call()
    return result, db.events.find_after(before)


def kinds(found: list[Event]) -> list[tuple[str, str | None, str | None]]:
    return [(event.type, event.initiative_id, event.entity_id) for event in found]


def only(db: Database, call: Callable[[], Any]) -> tuple[Any, Event]:
    """Run ``call``, which must record exactly one event; return its result and the event."""
    result, found = emitted(db, call)
    assert len(found) == 1, kinds(found)
    return result, found[0]


# --- each write emits its event -----------------------------------------------------------


def test_creating_an_initiative_emits_initiative_created(db: Database) -> None:
    initiative, event = only(db, lambda: plan.create_initiative(db, "Auth"))
    assert (event.type, event.initiative_id, event.entity_id) == (
        "initiative:created",
        initiative.id,
        initiative.id,
    )
    assert event.payload["name"] == "Auth"
    assert event.payload["status"] == "active"
    assert event.payload["created_at"].endswith("Z")


def test_creating_an_initiative_with_projects_also_emits_project_linked(db: Database) -> None:
    project = make_project(db)
    initiative, found = emitted(
        db, lambda: plan.create_initiative(db, "Auth", project_ids=[project.id])
    )
    assert [e.type for e in found] == ["initiative:created", "project:linked"]
    assert found[1].initiative_id == initiative.id
    assert found[1].payload == {"initiative_id": initiative.id, "project_ids": [project.id]}


def test_updating_archiving_and_deleting_an_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    _, updated = only(db, lambda: plan.update_initiative(db, initiative.id, name="Auth v2"))
    assert (updated.type, updated.initiative_id) == ("initiative:updated", initiative.id)
    assert updated.payload["name"] == "Auth v2"
    _, archived = only(db, lambda: plan.archive_initiative(db, initiative.id))
    assert (archived.type, archived.payload["status"]) == ("initiative:updated", "archived")
    _, deleted = only(db, lambda: plan.delete_initiative(db, initiative.id))
    assert (deleted.type, deleted.initiative_id, deleted.entity_id) == (
        "initiative:deleted",
        initiative.id,
        initiative.id,
    )
    assert deleted.payload["name"] == "Auth v2"


def test_phase_writes(db: Database) -> None:
    initiative = make_initiative(db)
    phase, created = only(db, lambda: plan.create_phase(db, initiative.id, "Design", "# Hi"))
    assert kinds([created]) == [("phase:created", initiative.id, phase.id)]
    assert created.payload["content"]["type"] == "doc"

    _, changed = only(db, lambda: plan.set_phase_status(db, phase.id, "in_progress"))
    assert kinds([changed]) == [("phase:status_changed", initiative.id, phase.id)]
    assert changed.payload["status"] == "in_progress"
    assert changed.payload["previous_status"] == "pending"

    other = make_phase(db, initiative)
    added, depends = only(db, lambda: plan.add_phase_dependency(db, other.id, phase.id))
    assert added is True
    assert kinds([depends]) == [("phase:updated", initiative.id, other.id)]
    assert depends.payload["depends_on_phase_id"] == phase.id
    again, nothing = emitted(db, lambda: plan.add_phase_dependency(db, other.id, phase.id))
    assert (again, nothing) == (False, [])

    _, removed = only(db, lambda: plan.remove_phase_dependency(db, other.id, phase.id))
    assert (removed.type, removed.payload["removed_depends_on_phase_id"]) == (
        "phase:updated",
        phase.id,
    )
    assert emitted(db, lambda: plan.remove_phase_dependency(db, other.id, phase.id)) == (
        False,
        [],
    )
    _, found = emitted(db, lambda: plan.update_phase(db, phase.id, name="D2", status="blocked"))
    assert [e.type for e in found] == ["phase:status_changed", "phase:updated"]
    _, renamed = only(db, lambda: plan.update_phase(db, phase.id, name="D3"))
    assert (renamed.type, renamed.payload["name"]) == ("phase:updated", "D3")

    _, deleted = only(db, lambda: plan.delete_phase(db, phase.id))
    assert kinds([deleted]) == [("phase:deleted", initiative.id, phase.id)]


def test_task_writes(db: Database) -> None:
    phase = make_phase(db)
    task, created = only(db, lambda: plan.create_task(db, "Form", phase_id=phase.id))
    # The task's initiative comes from its phase.
    assert kinds([created]) == [("task:created", phase.initiative_id, task.id)]

    _, changed = only(db, lambda: plan.set_task_status(db, task.id, "in_progress"))
    assert kinds([changed]) == [("task:status_changed", phase.initiative_id, task.id)]
    assert (changed.payload["status"], changed.payload["previous_status"]) == (
        "in_progress",
        "pending",
    )

    other = make_task(db, phase)
    _, depends = only(db, lambda: plan.add_task_dependency(db, other.id, task.id))
    assert kinds([depends]) == [("task:updated", phase.initiative_id, other.id)]
    assert depends.payload["depends_on_task_id"] == task.id

    waiting = make_task(db, phase, status=TaskStatus.PENDING_APPROVAL)
    _, approved = only(db, lambda: plan.approve_task(db, waiting.id))
    assert kinds([approved]) == [("task:approved", phase.initiative_id, waiting.id)]
    assert approved.payload["status"] == "pending"

    _, removed = only(db, lambda: plan.remove_task_dependency(db, other.id, task.id))
    assert removed.payload["removed_depends_on_task_id"] == task.id
    _, found = emitted(db, lambda: plan.update_task(db, task.id, status="completed"))
    assert [e.type for e in found] == ["task:status_changed", "task:updated"]
    _, renamed = only(db, lambda: plan.update_task(db, task.id, priority="high"))
    assert (renamed.type, renamed.payload["priority"]) == ("task:updated", "high")

    _, deleted = only(db, lambda: plan.delete_task(db, task.id))
    assert kinds([deleted]) == [("task:deleted", phase.initiative_id, task.id)]


def test_page_writes_and_the_root_page_created_on_the_way(db: Database) -> None:
    initiative = make_initiative(db)
    page, found = emitted(db, lambda: pages.create_page(db, initiative.id, "Arch", "text"))
    root = db.pages.find_root_page(initiative.id)
    assert root is not None
    assert kinds(found) == [
        ("page:created", initiative.id, root.id),
        ("page:created", initiative.id, page.id),
    ]
    _, second = only(db, lambda: pages.create_page(db, initiative.id, "More"))
    assert second.type == "page:created"
    _, nothing = emitted(db, lambda: pages.root_page(db, initiative.id))
    assert nothing == []

    _, updated = only(db, lambda: pages.update_page(db, page.id, title="Arch v2"))
    assert kinds([updated]) == [("page:updated", initiative.id, page.id)]
    assert updated.payload["title"] == "Arch v2"
    _, deleted = only(db, lambda: pages.delete_page(db, page.id))
    assert kinds([deleted]) == [("page:deleted", initiative.id, page.id)]


def test_asking_for_a_missing_root_page_creates_and_announces_it(db: Database) -> None:
    initiative = make_initiative(db)
    root, event = only(db, lambda: pages.root_page(db, initiative.id))
    assert kinds([event]) == [("page:created", initiative.id, root.id)]


def test_project_writes(db: Database) -> None:
    project, created = only(db, lambda: projects.add_project(db, "api", "git@x:api.git"))
    assert kinds([created]) == [("project:created", None, project.id)]
    initiative = make_initiative(db)
    _, linked = only(db, lambda: projects.link_projects(db, initiative.id, [project.id]))
    assert kinds([linked]) == [("project:linked", initiative.id, initiative.id)]
    assert linked.payload["project_ids"] == [project.id]


def test_account_events_never_carry_secrets(db: Database) -> None:
    account, created = only(
        db,
        lambda: accounts.add_account(
            db, "me@example.com", config_json='{"k": "CONFIG"}', credentials="SECRET-TOKEN"
        ),
    )
    assert kinds([created]) == [("account:created", None, account.id)]
    assert created.payload["has_credentials"] is True
    assert "credentials" not in created.payload and "config_json" not in created.payload

    claimed, event = only(db, lambda: accounts.claim_next(db, "claude"))
    assert claimed is not None and claimed.id == account.id
    assert kinds([event]) == [("account:claimed", None, account.id)]

    past = datetime.now(UTC) - timedelta(minutes=1)
    _, exhausted = only(db, lambda: accounts.mark_exhausted(db, account.id, past))
    assert exhausted.type == "account:exhausted"
    assert exhausted.payload["is_exhausted"] is True

    count, cleared = only(db, lambda: accounts.clear_expired(db))
    assert count == 1
    assert (cleared.type, cleared.payload) == ("account:exhaustion_cleared", {"cleared": 1})
    assert emitted(db, lambda: accounts.clear_expired(db)) == (0, [])
    assert emitted(db, lambda: accounts.claim_next(db, "codex")) == (None, [])

    with db.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT payload FROM events")).scalars().all()
    assert stored and not any("SECRET-TOKEN" in p or "CONFIG" in p for p in stored)


def test_agent_writes(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db, initiative_id=initiative.id)
    _, dismissed = only(db, lambda: agents.dismiss_agent(db, agent.name))
    assert kinds([dismissed]) == [("agent:dismissed", initiative.id, agent.id)]
    chunk, output = only(db, lambda: agents.record_output(db, agent, "hello\n"))
    assert kinds([output]) == [("agent:output", initiative.id, agent.id)]
    assert (output.payload["content"], output.payload["seq"]) == ("hello\n", chunk.seq)


def test_accepting_a_proposal_emits_what_it_did_then_proposal_accepted(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)
    proposal = db.proposals.create(
        agent_id=agent.id,
        initiative_id=initiative.id,
        target_type=ProposalTargetType.PAGE,
        title="Design notes",
        content="Some *notes*",
    )
    result, found = emitted(db, lambda: proposals.accept_proposal(db, proposal.id))
    root = db.pages.find_root_page(initiative.id)
    assert root is not None
    assert kinds(found) == [
        ("page:created", initiative.id, root.id),
        ("page:created", initiative.id, result.entity.id),
        ("proposal:accepted", initiative.id, proposal.id),
    ]
    assert found[-1].payload["action"] == "created"
    assert found[-1].payload["target_entity_id"] == result.entity.id

    task = make_task(db, initiative_id=initiative.id)
    update = db.proposals.create(
        agent_id=agent.id,
        initiative_id=initiative.id,
        target_type=ProposalTargetType.TASK,
        target_id=task.id,
        title="Renamed",
    )
    _, found = emitted(db, lambda: proposals.accept_proposal(db, update.id))
    assert [e.type for e in found] == ["task:updated", "proposal:accepted"]

    other = db.proposals.create(
        agent_id=agent.id,
        initiative_id=initiative.id,
        target_type=ProposalTargetType.PHASE,
        title="Later",
    )
    _, dismissed = only(db, lambda: proposals.dismiss_proposal(db, other.id))
    assert kinds([dismissed]) == [("proposal:dismissed", initiative.id, other.id)]


def test_messages(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db, initiative_id=initiative.id)
    message, sent = only(db, lambda: messages.send_to_agent(db, agent.name, "Use v2"))
    assert kinds([sent]) == [("message:created", initiative.id, message.id)]
    question = db.messages.create(
        sender_type="agent",
        sender_id=agent.id,
        recipient_type="user",
        type="question",
        content="Which API?",
        requires_response=True,
    )
    answer, replied = only(db, lambda: messages.reply(db, question.id, "v2"))
    assert kinds([replied]) == [("message:created", initiative.id, answer.id)]
    assert replied.payload["parent_message_id"] == question.id


def test_conversations(db: Database) -> None:
    initiative = make_initiative(db)
    asker = make_agent(db, initiative_id=initiative.id)
    target = make_agent(db, initiative_id=initiative.id)
    conversation, asked = only(
        db, lambda: conversations.ask(db, "Port?", asker.id, agent_id=target.id)
    )
    assert kinds([asked]) == [("conversation:created", initiative.id, conversation.id)]
    assert asked.payload["question"] == "Port?"
    _, answered = only(db, lambda: conversations.answer(db, conversation.id, "3847"))
    assert kinds([answered]) == [("conversation:answered", initiative.id, conversation.id)]
    assert answered.payload["answer"] == "3847"
    with pytest.raises(ConflictError):
        conversations.answer(db, conversation.id, "again")
    assert db.events.latest_seq() == answered.seq


def test_chat(db: Database) -> None:
    phase = make_phase(db)
    started, created = only(db, lambda: chat.start_session(db, "phase", phase.id))
    session = started.session
    assert kinds([created]) == [("chat:session_created", phase.initiative_id, session.id)]
    assert emitted(db, lambda: chat.start_session(db, "phase", phase.id))[1] == []
    message, sent = only(db, lambda: chat.send(db, session.id, "Split it"))
    assert kinds([sent]) == [("chat:message_created", phase.initiative_id, message.id)]
    _, closed = only(db, lambda: chat.close(db, session.id))
    assert kinds([closed]) == [("chat:session_closed", phase.initiative_id, session.id)]
    assert emitted(db, lambda: chat.close(db, session.id))[1] == []


def test_review_comments(db: Database) -> None:
    phase = make_phase(db)
    comment, created = only(
        db, lambda: review.add_comment(db, phase.id, "src/app.py", 42, "added", "Hmm")
    )
    assert kinds([created]) == [("review:comment_created", phase.initiative_id, comment.id)]
    _, resolved = only(db, lambda: review.resolve_comment(db, comment.id))
    assert (resolved.type, resolved.payload["resolved"]) == ("review:resolved", True)
    _, unresolved = only(db, lambda: review.unresolve_comment(db, comment.id))
    assert (unresolved.type, unresolved.payload["resolved"]) == ("review:unresolved", False)
    _, deleted = only(db, lambda: review.delete_comment(db, comment.id))
    assert kinds([deleted]) == [("review:deleted", phase.initiative_id, comment.id)]


def test_every_emitted_type_is_a_known_event_type(db: Database) -> None:
    test_phase_writes(db)
    test_chat(db)
    test_review_comments(db)
    assert {event.type for event in db.events.find_after()} <= events.EVENT_TYPES


# --- same transaction ---------------------------------------------------------------------


def test_a_rolled_back_transaction_leaves_no_event(db: Database) -> None:
    initiative = make_initiative(db)
    with pytest.raises(RuntimeError), db.transaction():
        plan.create_phase(db, initiative.id, "Design")
        assert [e.type for e in db.events.find_after()] == ["phase:created"]
        raise RuntimeError("abort")
    assert db.events.find_after() == []
    assert db.phases.find_by_initiative_id(initiative.id) == []


def test_a_failed_write_emits_nothing(db: Database) -> None:
    task = make_task(db)
    with pytest.raises(ValidationError):
        plan.set_task_status(db, task.id, "bogus")
    with pytest.raises(NotFoundError):
        plan.set_task_status(db, "no-such-task", "completed")
    with pytest.raises(ConflictError):
        plan.approve_task(db, task.id)  # not waiting for approval
    assert db.events.find_after() == []


def test_a_failing_emit_rolls_the_write_back(db: Database) -> None:
    initiative = make_initiative(db)
    with pytest.raises(ValidationError), db.transaction():
        db.phases.create(initiative_id=initiative.id, name="Design")
        events.emit(db, events.PHASE_CREATED, {"bad": float("nan")})
    assert db.phases.find_by_initiative_id(initiative.id) == []


# --- the outbox -----------------------------------------------------------------------------


def test_an_empty_outbox(db: Database) -> None:
    assert db.events.latest_seq() == 0
    assert db.events.find_after() == []


def test_append_returns_the_stored_event(db: Database) -> None:
    event = db.events.append("x:y", {"a": [1, "b"]}, initiative_id="I", entity_id="E")
    assert (event.type, event.payload, event.initiative_id, event.entity_id) == (
        "x:y",
        {"a": [1, "b"]},
        "I",
        "E",
    )
    assert abs(event.created_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert db.events.find_after() == [event]
    assert db.events.latest_seq() == event.seq


@pytest.mark.parametrize(
    ("type_", "payload"), [("", {}), ("  ", {}), ("x:y", None), ("x:y", {"v": float("inf")})]
)
def test_append_refuses_a_blank_type_or_a_payload_that_is_not_json(
    db: Database, type_: str, payload: Any
) -> None:
    with pytest.raises(ValidationError):
        db.events.append(type_, payload)
    assert db.events.latest_seq() == 0


def test_append_many_records_in_order_with_one_statement_all_or_none(db: Database) -> None:
    """The output path's batch: the events come back in the items' order with increasing
    seq, as find_after reads them; one bad item records none of them."""
    items = [("x:y", {"n": n}, "I", f"E{n}") for n in range(5)]
    recorded = db.events.append_many(items)
    assert [(e.type, e.payload, e.initiative_id, e.entity_id) for e in recorded] == items
    seqs = [event.seq for event in recorded]
    assert seqs == sorted(set(seqs))
    assert db.events.find_after() == recorded
    assert db.events.append_many([]) == []
    with pytest.raises(ValidationError):
        db.events.append_many([("x:y", {"n": 6}, None, None), ("", {"n": 7}, None, None)])
    assert db.events.latest_seq() == seqs[-1]
    emitted = events.emit_many(db, [(events.AGENT_OUTPUT, {"id": "C1", "seq": 1}, "I", "A")])
    assert emitted[0].payload == {"id": "C1", "seq": 1}
    assert (emitted[0].initiative_id, emitted[0].entity_id) == ("I", "A")


def test_seq_increases_strictly_and_is_never_reused(db: Database) -> None:
    seqs = [db.events.append("x:y", {"n": n}).seq for n in range(5)]
    assert seqs == sorted(set(seqs))
    with db.engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            connection.execute(sa.text("DELETE FROM events WHERE seq >= :s"), {"s": seqs[2]})
    assert db.events.latest_seq() == seqs[1]
    after = db.events.append("x:y", {"n": 5})
    assert after.seq > seqs[-1]


def test_seq_is_not_reused_after_a_rollback(db: Database) -> None:
    first = db.events.append("x:y", {})
    with pytest.raises(RuntimeError), db.transaction():
        db.events.append("x:y", {})
        raise RuntimeError("abort")
    assert db.events.append("x:y", {}).seq > first.seq


def test_find_after_filters(db: Database) -> None:
    a = db.events.append("task:created", {}, initiative_id="A")
    b = db.events.append("task:status_changed", {}, initiative_id="B")
    c = db.events.append("page:created", {}, initiative_id="A")
    d = db.events.append("taskx:created", {}, initiative_id=None)
    e = db.events.append("task_:x", {}, initiative_id="A")

    def seqs(**kwargs: Any) -> list[int]:
        return [event.seq for event in db.events.find_after(**kwargs)]

    assert seqs() == [a.seq, b.seq, c.seq, d.seq, e.seq]
    assert seqs(after_seq=b.seq) == [c.seq, d.seq, e.seq]
    assert seqs(types=["task:created"]) == [a.seq]
    assert seqs(types=["task:*"]) == [a.seq, b.seq]
    assert seqs(types=["task_*"]) == [e.seq]  # "_" is not a wildcard
    assert seqs(types=["task:*", "page:created"]) == [a.seq, b.seq, c.seq]
    assert seqs(types=["*"]) == seqs(types=[]) == seqs()
    assert seqs(types=["nothing:here"]) == []
    assert seqs(initiative_id="A") == [a.seq, c.seq, e.seq]
    assert seqs(initiative_id="A", types=["task:*"]) == [a.seq]
    assert seqs(limit=2) == [a.seq, b.seq]
    assert seqs(after_seq=a.seq, limit=1) == [b.seq]
    assert seqs(limit=0) == []


def test_find_after_refuses_bad_arguments(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.events.find_after(-1)
    with pytest.raises(ValidationError):
        db.events.find_after(limit=-1)


def _age(db: Database, seqs: list[int], days: int) -> None:
    stamp = int((datetime.now(UTC) - timedelta(days=days)).timestamp() * 1000)
    with db.engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            for seq in seqs:
                connection.execute(
                    sa.text("UPDATE events SET created_at = :t WHERE seq = :s"),
                    {"t": stamp, "s": seq},
                )


def test_prune_deletes_old_events_but_keeps_the_newest(db: Database) -> None:
    seqs = [db.events.append("x:y", {"n": n}).seq for n in range(6)]
    _age(db, seqs[:5], days=10)  # the first five are old, the last is new
    cutoff = datetime.now(UTC) - timedelta(days=7)

    # However old, the newest three stay.
    assert db.events.prune(cutoff, keep_last=3) == 3
    assert [e.seq for e in db.events.find_after()] == seqs[3:]
    # A new event is never pruned, whatever keep_last says.
    assert db.events.prune(cutoff, keep_last=0) == 2
    assert [e.seq for e in db.events.find_after()] == seqs[5:]
    assert db.events.prune(cutoff, keep_last=0) == 0


def test_prune_keeps_everything_when_there_are_fewer_than_keep_last(db: Database) -> None:
    for n in range(3):
        db.events.append("x:y", {"n": n})
    future = datetime.now(UTC) + timedelta(days=1)
    assert db.events.prune(future, keep_last=5) == 0
    assert db.events.prune(future, keep_last=1) == 2
    assert len(db.events.find_after()) == 1


# --- several processes ------------------------------------------------------------------------


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    url: str

    def cw(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "codewalkers", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def workspace(backend: str, database_url: str, tmp_path: Path) -> Workspace:
    root = tmp_path / "workspace"
    root.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    url = f"sqlite:///{root / '.cw' / 'cw.db'}"
    if backend == "postgresql":
        env["CW_DATABASE_URL"] = url = database_url
    space = Workspace(root, env, url)
    space.cw("init")
    return space


def test_events_written_by_a_cw_process_reach_another_process(workspace: Workspace) -> None:
    import json

    reader = open_database(workspace.url)
    try:
        start = reader.events.latest_seq()
        initiative = json.loads(workspace.cw("initiative", "create", "Auth", "--json"))
        phase = json.loads(
            workspace.cw("phase", "create", "--initiative", initiative["id"], "Design", "--json")
        )
        workspace.cw("phase", "status", phase["id"], "in_progress")
        found = reader.events.find_after(start)
    finally:
        reader.close()
    assert kinds(found) == [
        ("initiative:created", initiative["id"], initiative["id"]),
        ("phase:created", initiative["id"], phase["id"]),
        ("phase:status_changed", initiative["id"], phase["id"]),
    ]
    assert found[0].payload == initiative  # the payload is the record as --json prints it


# --- PostgreSQL: LISTEN / NOTIFY --------------------------------------------------------------


def _listen(database_url: str) -> Any:
    psycopg = pytest.importorskip("psycopg")
    url = sa.make_url(database_url).set(drivername="postgresql")
    connection = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    connection.execute("LISTEN codewalkers_events")
    return connection


def _notified(connection: Any, timeout: float) -> list[str]:
    return [n.payload for n in connection.notifies(timeout=timeout, stop_after=10)]


def test_a_listener_is_notified_on_commit_only(
    db: Database, backend: str, database_url: str
) -> None:
    if backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listener = _listen(database_url)
    try:
        initiative = make_initiative(db)
        with db.transaction():
            phase = plan.create_phase(db, initiative.id, "Design")
            assert _notified(listener, timeout=0.3) == []  # not before the commit
        seq = db.events.latest_seq()
        assert _notified(listener, timeout=5) == [str(seq)]

        with pytest.raises(RuntimeError), db.transaction():
            plan.set_phase_status(db, phase.id, "in_progress")
            raise RuntimeError("abort")
        assert _notified(listener, timeout=0.3) == []  # a rolled-back event is never announced
    finally:
        listener.close()


def _wait_until_blocked(thread: threading.Thread, database_url: str, backend: str) -> None:
    """Until ``thread``'s append waits for the lock an open transaction holds: SQLite's
    write lock (the thread sits in ``BEGIN IMMEDIATE``), PostgreSQL's advisory lock (a lock
    not granted). Were it not made to wait, it would have finished by then.
    """
    engine = sa.create_engine(database_url) if backend == "postgresql" else None

    def waiting() -> bool:
        if engine is not None:
            with engine.connect() as connection:
                ungranted = connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                ).scalar()
            return bool(ungranted)
        frame = sys._current_frames().get(thread.ident or -1)
        while frame is not None:
            code = frame.f_code
            if code.co_name == "_begin" and code.co_filename.endswith(
                os.path.join("db", "engine.py")
            ):
                return True
            frame = frame.f_back
        return False

    deadline = time.monotonic() + 10
    try:
        while not waiting():
            assert thread.is_alive(), "the append finished without waiting"
            assert time.monotonic() < deadline, "the append never waited for the lock"
            time.sleep(0.01)
    finally:
        if engine is not None:
            engine.dispose()


def test_events_become_visible_in_seq_order(db: Database, backend: str, database_url: str) -> None:
    # A transaction that recorded an event holds back later ones until it commits, so a
    # reader that has seen seq N never later finds a smaller seq appearing.
    other = open_database(database_url)
    try:
        first_recorded = threading.Event()
        release = threading.Event()

        def slow() -> None:
            with other.transaction():
                other.events.append("x:slow", {})
                first_recorded.set()
                release.wait(10)

        thread = threading.Thread(target=slow)
        thread.start()
        assert first_recorded.wait(10)
        finished: list[Event] = []
        fast = threading.Thread(target=lambda: finished.append(db.events.append("x:fast", {})))
        fast.start()
        _wait_until_blocked(fast, database_url, backend)
        visible = [e.type for e in db.events.find_after()]
        assert visible == [] and not finished  # the second waits for the first's commit
        release.set()
        thread.join(10)
        fast.join(10)
        assert [e.type for e in db.events.find_after()] == ["x:slow", "x:fast"]
    finally:
        other.close()
