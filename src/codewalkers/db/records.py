"""The immutable row types the repositories return: one per table, attributes = columns.

Enum attributes are ``StrEnum`` members (equal to their strings), timestamps aware UTC
``datetime``s, JSON columns parsed Python values. ``config_json`` and ``credentials`` stay
opaque strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from codewalkers.db.enums import (
    AgentMode,
    AgentStatus,
    ChangeAction,
    ChangeEntityType,
    ChangeSetStatus,
    ChatRole,
    ChatSessionStatus,
    ChatTargetType,
    ConversationStatus,
    DispatchState,
    ErrandStatus,
    ExecutionState,
    InitiativeStatus,
    MessageStatus,
    MessageType,
    ParticipantType,
    PhaseStatus,
    ProposalStatus,
    ProposalTargetType,
    ReviewLineType,
    TaskCategory,
    TaskPriority,
    TaskStatus,
    TaskType,
)

__all__ = [
    "Account",
    "Agent",
    "ChangeSet",
    "ChangeSetEntry",
    "ChatMessage",
    "ChatSession",
    "Conversation",
    "Dispatch",
    "Errand",
    "Event",
    "Execution",
    "Initiative",
    "InitiativeProject",
    "Lease",
    "LogChunk",
    "Message",
    "Page",
    "Phase",
    "PhaseDependency",
    "Project",
    "Proposal",
    "ReviewComment",
    "Setting",
    "Task",
    "TaskDependency",
]


@dataclass(frozen=True, slots=True)
class Initiative:
    id: str
    name: str
    status: InitiativeStatus
    merge_requires_approval: bool
    branch: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Phase:
    id: str
    initiative_id: str
    name: str
    content: dict[str, Any] | None
    status: PhaseStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PhaseDependency:
    id: str
    phase_id: str
    depends_on_phase_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    phase_id: str | None
    initiative_id: str | None
    parent_task_id: str | None
    name: str
    description: str | None
    type: TaskType
    category: TaskCategory
    priority: TaskPriority
    status: TaskStatus
    requires_approval: bool | None
    order: int
    summary: str | None
    created_at: datetime
    updated_at: datetime
    #: Not in the seed: the provider the executor dispatches it to (None: the workspace's).
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class TaskDependency:
    id: str
    task_id: str
    depends_on_task_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    email: str
    provider: str
    config_json: str | None
    credentials: str | None
    is_exhausted: bool
    exhausted_until: datetime | None
    last_used_at: datetime | None
    sort_order: int
    created_at: datetime
    updated_at: datetime

    def __repr__(self) -> str:
        # Secrets never reach logs or tracebacks through a repr.
        return (
            f"Account(id={self.id!r}, email={self.email!r}, provider={self.provider!r}, "
            f"is_exhausted={self.is_exhausted!r}, exhausted_until={self.exhausted_until!r}, "
            f"last_used_at={self.last_used_at!r}, sort_order={self.sort_order!r})"
        )


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    task_id: str | None
    initiative_id: str | None
    session_id: str | None
    worktree_id: str
    provider: str
    account_id: str | None
    status: AgentStatus
    mode: AgentMode
    pid: int | None
    exit_code: int | None
    output_file_path: str | None
    result: Any
    pending_questions: Any
    user_dismissed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    session_number: int
    output_offset: int
    process_started_at: datetime | None
    status_reason: str | None
    workspace_id: str | None


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    agent_id: str
    initiative_id: str
    target_type: ProposalTargetType
    target_id: str | None
    title: str
    summary: str | None
    content: str | None
    metadata: Any
    status: ProposalStatus
    sort_order: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    initiative_id: str
    parent_page_id: str | None
    title: str
    content: dict[str, Any] | None
    sort_order: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    url: str
    default_branch: str
    last_fetched_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InitiativeProject:
    id: str
    initiative_id: str
    project_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    sender_type: ParticipantType
    sender_id: str | None
    recipient_type: ParticipantType
    recipient_id: str | None
    type: MessageType
    content: str
    requires_response: bool
    status: MessageStatus
    parent_message_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LogChunk:
    id: str
    agent_id: str
    agent_name: str
    session_number: int
    content: str
    created_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    from_agent_id: str
    to_agent_id: str
    initiative_id: str | None
    phase_id: str | None
    task_id: str | None
    question: str
    answer: str | None
    status: ConversationStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChatSession:
    id: str
    target_type: ChatTargetType
    target_id: str
    initiative_id: str
    agent_id: str | None
    status: ChatSessionStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChangeSet:
    id: str
    initiative_id: str
    agent_id: str | None
    summary: str | None
    status: ChangeSetStatus
    reverted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChangeSetEntry:
    id: str
    change_set_id: str
    entity_type: ChangeEntityType
    entity_id: str
    action: ChangeAction
    previous_state: Any
    new_state: Any
    sort_order: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: str
    chat_session_id: str
    role: ChatRole
    content: str
    change_set_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewComment:
    id: str
    phase_id: str
    file_path: str
    line_number: int
    line_type: ReviewLineType
    body: str
    author: str
    resolved: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """A domain event from the outbox: ``seq`` orders them, and is never reused."""

    seq: int
    type: str
    initiative_id: str | None
    entity_id: str | None
    payload: Any
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Setting:
    """A fact about the database itself, by name (``id``), such as its key check value."""

    id: str
    value: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Execution:
    id: str
    initiative_id: str
    state: ExecutionState
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Dispatch:
    id: str
    task_id: str
    initiative_id: str
    state: DispatchState
    attempts: int
    retry_after: datetime | None
    workspace_id: str | None
    agent_id: str | None
    reason: str | None
    merge_commit: str | None
    resolutions: int
    created_at: datetime
    updated_at: datetime
    #: When a person put it at the front of the queue (``cw dispatch queue TASK``).
    queued_by_hand_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    holder: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Errand:
    """Small work on one project outside any initiative (docs/planning.md, "Errands")."""

    id: str
    project_id: str
    description: str
    branch: str
    base_branch: str
    agent_id: str | None
    status: ErrandStatus
    merge_commit: str | None
    created_at: datetime
    updated_at: datetime
