"""The enumerations of the schema. Each is a ``StrEnum``: ``TaskStatus.PENDING == "pending"``.

The database enforces every one of them with a CHECK constraint (see ``schema.py``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AgentMode",
    "AgentStatus",
    "ChangeAction",
    "ChangeEntityType",
    "ChangeSetStatus",
    "ChatRole",
    "ChatSessionStatus",
    "ChatTargetType",
    "ConversationStatus",
    "DispatchState",
    "ExecutionState",
    "InitiativeStatus",
    "MessageStatus",
    "MessageType",
    "ParticipantType",
    "PhaseStatus",
    "ProposalStatus",
    "ProposalTargetType",
    "ReviewLineType",
    "TaskCategory",
    "TaskPriority",
    "TaskStatus",
    "TaskType",
]


class InitiativeStatus(StrEnum):
    ACTIVE = "active"
    PENDING_REVIEW = "pending_review"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class PhaseStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BLOCKED = "blocked"
    #: Not in the seed (migration 0008): every task done, the phase branch waits for a
    #: person's review before it is merged into the initiative branch.
    PENDING_REVIEW = "pending_review"


class TaskType(StrEnum):
    AUTO = "auto"
    HUMAN_VERIFY = "checkpoint:human-verify"
    DECISION = "checkpoint:decision"
    HUMAN_ACTION = "checkpoint:human-action"


class TaskCategory(StrEnum):
    EXECUTE = "execute"
    RESEARCH = "research"
    DISCUSS = "discuss"
    PLAN = "plan"
    DETAIL = "detail"
    REFINE = "refine"
    VERIFY = "verify"
    MERGE = "merge"
    REVIEW = "review"


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BLOCKED = "blocked"


class AgentStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    WAITING_FOR_INPUT = "waiting_for_input"
    STOPPED = "stopped"
    CRASHED = "crashed"


class AgentMode(StrEnum):
    EXECUTE = "execute"
    DISCUSS = "discuss"
    PLAN = "plan"
    DETAIL = "detail"
    REFINE = "refine"
    #: A chat session's agent: changes the plan through change files (docs/planning.md).
    CHAT = "chat"
    #: An errand's agent: small work on a project outside any initiative.
    ERRAND = "errand"


class ProposalTargetType(StrEnum):
    PAGE = "page"
    PHASE = "phase"
    TASK = "task"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class ParticipantType(StrEnum):
    """Who sends or receives a message."""

    AGENT = "agent"
    USER = "user"


class MessageType(StrEnum):
    QUESTION = "question"
    INFO = "info"
    ERROR = "error"
    RESPONSE = "response"


class MessageStatus(StrEnum):
    PENDING = "pending"
    READ = "read"
    RESPONDED = "responded"


class ConversationStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"


class ChatTargetType(StrEnum):
    PHASE = "phase"
    TASK = "task"


class ChatSessionStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class ChatRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class ReviewLineType(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CONTEXT = "context"


class ChangeSetStatus(StrEnum):
    APPLIED = "applied"
    REVERTED = "reverted"


class ChangeEntityType(StrEnum):
    PAGE = "page"
    PHASE = "phase"
    TASK = "task"


class ChangeAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ExecutionState(StrEnum):
    """Whether an executed initiative's ready work is dispatched (``running``) or held."""

    RUNNING = "running"
    PAUSED = "paused"


class ErrandStatus(StrEnum):
    """Where an errand is: its agent works or worked on its branch (``active``), the branch
    was merged into the default branch and pushed (``merged``), or it was given up."""

    ACTIVE = "active"
    MERGED = "merged"
    ABANDONED = "abandoned"


class DispatchState(StrEnum):
    """Where a task is in the executor's hands (see docs/execution.md)."""

    #: Ready; waits for a free agent slot.
    QUEUED = "queued"
    #: Claimed and given to an agent.
    DISPATCHED = "dispatched"
    #: Its agent crashed; dispatched again after ``retry_after``.
    RETRYING = "retrying"
    #: The task completed; its branch waits to be merged into the phase branch.
    COMPLETED = "completed"
    #: Completed and merged (or nothing to merge): dependents may start.
    DONE = "done"
    #: The merge into the phase branch conflicted.
    CONFLICTED = "conflicted"
    #: Given up on (crashed too often, error signal, conflict): a person retries it.
    BLOCKED = "blocked"
