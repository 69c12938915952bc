"""Domain events: their names, and :func:`emit`, which records one in the outbox.

Every write a service makes emits an event in the same transaction (``with
db.transaction():``), so an event exists exactly when its write committed, whichever
process made it. Readers follow ``db.events.find_after(seq)``; on PostgreSQL a commit also
notifies the ``codewalkers_events`` channel.

Payload: the record as JSON-ready data, the shape of the CLI's ``--json`` (see
:func:`codewalkers.services.serialize.plain`), plus a few keys named per event below.
Account credentials and config never appear in a payload. ``initiative_id`` is the
initiative the event belongs to (``None`` for accounts and projects); ``entity_id`` the
id of the record.

Retention: ``db.events.prune(older_than, keep_last)`` deletes events older than the cut-off
(e.g. 7 days) but always keeps the newest ``keep_last`` (e.g. 10,000), however old, so a
reader that was away can still resume from a recent ``seq``. ``seq`` is never reused.

Emit events last in a transaction, after its other writes: on PostgreSQL the first event
takes a lock that serializes event-writing transactions until they commit (it is what
keeps ``seq`` in commit order), so it should be held briefly.

===============================  ==========================================================
Event                            Payload
===============================  ==========================================================
``initiative:created``           the initiative
``initiative:updated``           the initiative (also when archived)
``initiative:deleted``           the initiative as it was
``phase:created``                the phase
``phase:updated``                the phase; with ``depends_on_phase_id`` (added) or
                                 ``removed_depends_on_phase_id`` for a dependency
``phase:status_changed``         the phase, ``previous_status``
``phase:deleted``                the phase as it was
``task:created``                 the task
``task:updated``                 the task; with ``depends_on_task_id`` (added) or
                                 ``removed_depends_on_task_id`` for a dependency, or
                                 ``provider`` (its own provider set, or null: the default)
``task:status_changed``          the task, ``previous_status``
``task:approved``                the task (now pending)
``task:deleted``                 the task as it was
``page:created|updated``         the page
``page:deleted``                 the page as it was
``project:created|updated``      the project
``project:deleted``              the project as it was, ``initiative_ids`` it was linked to
``project:linked``               ``initiative_id``, ``project_ids`` (exactly those now linked)
``project:synced``               the project, ``cloned``, ``default_branch``, ``head_commit``
``project:sync_failed``          the project, ``error`` (one line, no credentials in URLs)
``account:created|claimed``      the account without secrets (``has_credentials`` instead)
``account:exhausted``            the account without secrets
``account:updated``              the account without secrets
``account:deleted``              the account as it was (no secrets), ``agent_ids`` using it
``account:exhaustion_cleared``   ``cleared`` (how many accounts became available again)
``account:unreadable``           the account skipped by a claim because this key cannot
                                 decrypt its secrets (``has_credentials`` and
                                 ``has_config`` null: unknown), ``reason``
``agent:dismissed``              the agent
``agent:output``                 the log chunk (``agent_id``, ``session_number``, ``seq``, ...)
``agent:spawned|resumed``        the agent (``reason`` for a resume)
``agent:waiting``                the agent; ``questions``, or ``reason: account`` and ``until``
``agent:answered``               the agent, ``question_id``
``agent:stopped|crashed``        the agent, ``reason`` (``task_complete``, ``error``, ...)
``agent:account_switched``       the agent, ``from_account_id``, ``to_account_id``
``worktree:created|removed``     ``agent_id``, ``project``, ``path``, ``branch``
``proposal:created|updated``     the proposal (an architect's output file, pending; updated
                                 when the file changed before it was decided)
``proposal:rejected``            ``agent_id``, ``file``, ``problem``: an output file that did
                                 not become a proposal
``proposal:accepted``            the proposal, ``action``, ``target_entity_id``, ``warnings``
                                 (see below)
``proposal:dismissed``           the proposal
``message:created``              the message
``conversation:created``         the conversation (the question)
``conversation:answered``        the conversation (with its answer)
``chat:session_created``         the chat session
``chat:message_created``         the chat message
``chat:session_closed``          the chat session
``change_set:applied``           the change set, ``entries`` (each entity's state before and
                                 after); each entity's own event comes first
``change_set:reverted``          the change set, ``entries``, ``forced`` (entities overwritten)
``errand:started``               the errand, ``agent_name``
``errand:merged``                the errand, ``commit`` (on the default branch, pushed)
``errand:abandoned``             the errand, ``branch_deleted``
``review:comment_created``       the review comment
``review:resolved|unresolved``   the review comment
``review:deleted``               the review comment as it was
``initiative:executing|paused``  the initiative, ``execution`` (its execution state)
``initiative:resumed``           the initiative, ``execution``
``initiative:pending_review``    the initiative (every phase merged into its branch)
``initiative:review_approved``   the initiative: a person approved its review by merging it
                                 (just before ``initiative:merged``)
``initiative:merged``            the initiative (completed), ``commits`` (project → commit)
``initiative:pushed``            the initiative, ``projects`` (its branch pushed there)
``task:queued``                  the task (ready: waits for an agent slot); ``by_hand``
                                 when a person put it first (``cw dispatch queue TASK``)
``task:dispatched``              the task, ``agent_id``, ``agent_name``, ``attempt``
``task:completed``               the task (``summary``)
``task:blocked``                 the task, ``reason``, ``waiting_dependents`` (task ids)
``phase:queued|started``         the phase (``branch`` for started)
``phase:completed``              the phase (merged into the initiative branch)
``phase:blocked``                the phase, ``reason``
``phase:pending_review``         the phase, ``branch``
``phase:changes_requested``      the phase, ``task_id`` (the review task), ``comment_ids``
``initiative:changes_requested`` the initiative (active again), ``phase_id`` (the new
                                 "Changes requested" phase), ``task_id``, ``comment_ids``
``merge:queued|started``         ``project``, ``source``, ``target``, ``task_id`` or
                                 ``phase_id``
``merge:completed``              the same, ``commit``, ``already_merged``
``merge:conflicted``             the same, ``conflicts`` (file paths)
``worktree:merged|conflict``     as ``merge:completed|conflicted`` (the branch's side)
===============================  ==========================================================

Accepting a proposal also emits the event of what it did (``page:created``,
``task:updated``, ...) before ``proposal:accepted``; creating a page under a new root page
emits ``page:created`` for the root first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from codewalkers.db import Database, Event, Initiative
from codewalkers.services.serialize import plain

INITIATIVE_CREATED: Final = "initiative:created"
INITIATIVE_UPDATED: Final = "initiative:updated"
INITIATIVE_DELETED: Final = "initiative:deleted"

PHASE_CREATED: Final = "phase:created"
PHASE_UPDATED: Final = "phase:updated"
PHASE_STATUS_CHANGED: Final = "phase:status_changed"
PHASE_DELETED: Final = "phase:deleted"

TASK_CREATED: Final = "task:created"
TASK_UPDATED: Final = "task:updated"
TASK_STATUS_CHANGED: Final = "task:status_changed"
TASK_APPROVED: Final = "task:approved"
TASK_DELETED: Final = "task:deleted"

PAGE_CREATED: Final = "page:created"
PAGE_UPDATED: Final = "page:updated"
PAGE_DELETED: Final = "page:deleted"

PROJECT_CREATED: Final = "project:created"
PROJECT_UPDATED: Final = "project:updated"
PROJECT_DELETED: Final = "project:deleted"
PROJECT_LINKED: Final = "project:linked"
PROJECT_SYNCED: Final = "project:synced"
PROJECT_SYNC_FAILED: Final = "project:sync_failed"

ACCOUNT_CREATED: Final = "account:created"
ACCOUNT_UPDATED: Final = "account:updated"
ACCOUNT_DELETED: Final = "account:deleted"
ACCOUNT_EXHAUSTED: Final = "account:exhausted"
ACCOUNT_CLAIMED: Final = "account:claimed"
ACCOUNT_EXHAUSTION_CLEARED: Final = "account:exhaustion_cleared"
ACCOUNT_UNREADABLE: Final = "account:unreadable"

AGENT_DISMISSED: Final = "agent:dismissed"
AGENT_OUTPUT: Final = "agent:output"
AGENT_SPAWNED: Final = "agent:spawned"
AGENT_WAITING: Final = "agent:waiting"
AGENT_ANSWERED: Final = "agent:answered"
AGENT_RESUMED: Final = "agent:resumed"
AGENT_STOPPED: Final = "agent:stopped"
AGENT_CRASHED: Final = "agent:crashed"
AGENT_ACCOUNT_SWITCHED: Final = "agent:account_switched"

WORKTREE_CREATED: Final = "worktree:created"
WORKTREE_REMOVED: Final = "worktree:removed"
WORKTREE_MERGED: Final = "worktree:merged"
WORKTREE_CONFLICT: Final = "worktree:conflict"

INITIATIVE_EXECUTING: Final = "initiative:executing"
INITIATIVE_PAUSED: Final = "initiative:paused"
INITIATIVE_RESUMED: Final = "initiative:resumed"
INITIATIVE_PENDING_REVIEW: Final = "initiative:pending_review"
INITIATIVE_REVIEW_APPROVED: Final = "initiative:review_approved"
INITIATIVE_MERGED: Final = "initiative:merged"
INITIATIVE_PUSHED: Final = "initiative:pushed"

TASK_QUEUED: Final = "task:queued"
TASK_DISPATCHED: Final = "task:dispatched"
TASK_COMPLETED: Final = "task:completed"
TASK_BLOCKED: Final = "task:blocked"

PHASE_QUEUED: Final = "phase:queued"
PHASE_STARTED: Final = "phase:started"
PHASE_COMPLETED: Final = "phase:completed"
PHASE_BLOCKED: Final = "phase:blocked"
PHASE_PENDING_REVIEW: Final = "phase:pending_review"
PHASE_CHANGES_REQUESTED: Final = "phase:changes_requested"
INITIATIVE_CHANGES_REQUESTED: Final = "initiative:changes_requested"

MERGE_QUEUED: Final = "merge:queued"
MERGE_STARTED: Final = "merge:started"
MERGE_COMPLETED: Final = "merge:completed"
MERGE_CONFLICTED: Final = "merge:conflicted"

PROPOSAL_CREATED: Final = "proposal:created"
PROPOSAL_UPDATED: Final = "proposal:updated"
PROPOSAL_REJECTED: Final = "proposal:rejected"
PROPOSAL_ACCEPTED: Final = "proposal:accepted"
PROPOSAL_DISMISSED: Final = "proposal:dismissed"

MESSAGE_CREATED: Final = "message:created"

CONVERSATION_CREATED: Final = "conversation:created"
CONVERSATION_ANSWERED: Final = "conversation:answered"

CHAT_SESSION_CREATED: Final = "chat:session_created"
CHAT_MESSAGE_CREATED: Final = "chat:message_created"
CHAT_SESSION_CLOSED: Final = "chat:session_closed"

CHANGE_SET_APPLIED: Final = "change_set:applied"
CHANGE_SET_REVERTED: Final = "change_set:reverted"

ERRAND_STARTED: Final = "errand:started"
ERRAND_MERGED: Final = "errand:merged"
ERRAND_ABANDONED: Final = "errand:abandoned"

REVIEW_COMMENT_CREATED: Final = "review:comment_created"
REVIEW_RESOLVED: Final = "review:resolved"
REVIEW_UNRESOLVED: Final = "review:unresolved"
REVIEW_DELETED: Final = "review:deleted"

#: Every event type the services emit.
EVENT_TYPES: Final = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str) and ":" in value
)

#: Keys never written into a payload, whatever the caller passes.
_SECRETS = frozenset({"credentials", "config_json"})


class _Derived:
    def __repr__(self) -> str:
        return "DERIVED"


#: ``emit``'s default for ``initiative_id`` / ``entity_id``: taken from the record.
DERIVED: Any = _Derived()


def emit(
    db: Database,
    type: str,
    record_or_payload: Any,
    *,
    initiative_id: str | None = DERIVED,
    entity_id: str | None = DERIVED,
    **extra: Any,
) -> Event:
    """Record event ``type`` about ``record_or_payload`` (a record or a JSON-ready mapping)
    in the caller's transaction, and return it.

    The payload is the record as JSON-ready data with ``extra`` keys added, secrets left out.
    ``initiative_id`` defaults to the record's ``initiative_id`` (its ``id`` for an
    initiative), ``entity_id`` to its ``id``. Raises ``ValidationError`` for a payload that
    is not JSON.
    """
    item = _item(type, record_or_payload, initiative_id, entity_id, extra)
    return db.events.append(*item)


def emit_many(
    db: Database, items: Sequence[tuple[str, Any, str | None, str | None]]
) -> list[Event]:
    """Record several events at once, in order, in the caller's transaction (one statement:
    the output path stores a whole supervisor pass's chunks this way). Each item is
    ``(type, record_or_payload, initiative_id, entity_id)``, as :func:`emit` takes them.
    """
    return db.events.append_many(
        [_item(type, record, initiative, entity, {}) for type, record, initiative, entity in items]
    )


def _item(
    type: str,
    record_or_payload: Any,
    initiative_id: str | None,
    entity_id: str | None,
    extra: dict[str, Any],
) -> tuple[str, Any, str | None, str | None]:
    payload = plain(record_or_payload)
    if not isinstance(payload, dict):
        payload = {"value": payload}
    payload = {key: value for key, value in payload.items() if key not in _SECRETS}
    if extra:
        payload.update(plain(extra))
    if initiative_id is DERIVED:
        if isinstance(record_or_payload, Initiative):
            initiative_id = record_or_payload.id
        else:
            initiative_id = _text(payload.get("initiative_id"))
    if entity_id is DERIVED:
        entity_id = _text(payload.get("id"))
    return type, payload, initiative_id, entity_id


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
