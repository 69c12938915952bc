"""Request and response bodies of the HTTP API, separate from the database records.

``*Create`` / ``*Update`` are what a client sends (unknown keys are refused, enums are
checked, so a bad body is a 422 naming the field before anything is written); ``*Public``
is what it gets back, with the same snake_case keys as the CLI's ``--json``. Account
secrets are accepted on create and never returned (``has_credentials`` says whether set).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from codewalkers.db import (
    AgentMode,
    AgentStatus,
    ChangeAction,
    ChangeEntityType,
    ChangeSetStatus,
    ChatRole,
    ChatSessionStatus,
    ChatTargetType,
    ConversationStatus,
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

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

Name = Annotated[str, Field(min_length=1, max_length=10_000)]
Text = Annotated[str, Field(max_length=1_000_000)]
Id = Annotated[str, Field(min_length=1, max_length=200)]
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors, health --------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every error: a one-line ``detail``, a machine ``code``, and the ``field`` at fault."""

    detail: str
    code: str
    field: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    uptime: float = Field(description="Seconds since the server started.")
    version: str


class ServerStatus(BaseModel):
    status: Literal["ok"]
    uptime: float
    version: str
    pid: int
    database_url: str = Field(description="Without its password.")
    schema_revision: str | None
    head_revision: str
    up_to_date: bool
    latest_event_seq: int
    event_streams: int
    listening: bool = Field(description="PostgreSQL LISTEN wakes the event stream.")


class Deleted(BaseModel):
    id: str
    deleted: Literal[True] = True


# --- initiatives ------------------------------------------------------------------------


class InitiativeCreate(_Request):
    name: Name
    project_ids: list[Id] = Field(default_factory=list, max_length=1000)
    branch: Text | None = None
    merge_requires_approval: bool = True


class InitiativeUpdate(_Request):
    name: Name | None = None
    status: InitiativeStatus | None = None
    branch: Text | None = None
    merge_requires_approval: bool | None = None


class InitiativePublic(_Public):
    id: str
    name: str
    status: InitiativeStatus
    merge_requires_approval: bool
    branch: str | None
    created_at: datetime
    updated_at: datetime


class InitiativeDetail(InitiativePublic):
    project_ids: list[str]


class ProjectLinks(_Request):
    project_ids: list[Id] = Field(max_length=1000)


# --- phases -----------------------------------------------------------------------------


class PhaseCreate(_Request):
    initiative_id: Id
    name: Name
    content_markdown: Text | None = Field(
        default=None, description="The phase's content as Markdown (stored as Tiptap JSON)."
    )


class PhaseUpdate(_Request):
    name: Name | None = None
    status: PhaseStatus | None = None
    content_markdown: Text | None = None


class PhasePublic(_Public):
    id: str
    initiative_id: str
    name: str
    content: dict[str, Any] | None = Field(description="Tiptap JSON.")
    status: PhaseStatus
    created_at: datetime
    updated_at: datetime


class PhaseDetail(PhasePublic):
    depends_on: list[str]
    content_markdown: str


class PhaseDependencyCreate(_Request):
    depends_on_phase_id: Id


class PhaseDependencyResult(BaseModel):
    phase_id: str
    depends_on_phase_id: str
    added: bool = Field(description="False when the dependency already existed.")


# --- tasks ------------------------------------------------------------------------------


class TaskCreate(_Request):
    name: Name
    phase_id: Id | None = None
    initiative_id: Id | None = None
    parent_task_id: Id | None = None
    description: Text | None = None
    type: TaskType | None = None
    category: TaskCategory | None = None
    priority: TaskPriority | None = None
    status: TaskStatus | None = None
    requires_approval: bool | None = None
    order: Int32 | None = None


class TaskUpdate(_Request):
    name: Name | None = None
    phase_id: Id | None = Field(
        default=None, description="Move it (refused when the plan could never finish)."
    )
    parent_task_id: Id | None = None
    description: Text | None = None
    type: TaskType | None = None
    category: TaskCategory | None = None
    priority: TaskPriority | None = None
    status: TaskStatus | None = None
    requires_approval: bool | None = None
    order: Int32 | None = None
    summary: Text | None = None


class TaskPublic(_Public):
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
    provider: str | None = Field(
        default=None, description="The provider it is dispatched to (null: the workspace's)."
    )


class TaskDetail(TaskPublic):
    depends_on: list[str]
    dependents: list[str]
    effective_requires_approval: bool


class TaskDependencyCreate(_Request):
    depends_on_task_id: Id


class TaskDependencyResult(BaseModel):
    task_id: str
    depends_on_task_id: str
    added: bool = Field(description="False when the dependency already existed.")


class DependencyRemoved(BaseModel):
    removed: bool = Field(description="False when there was no such dependency.")


class WaitReason(BaseModel):
    kind: Literal["task", "person", "phase", "approval"] = Field(
        description="task: a dependency not completed; person: a dependency a person does "
        "(a checkpoint task); phase: a phase its phase depends on; approval: the task waits "
        "for a person's approval."
    )
    id: str
    name: str
    status: str


class WaitingTask(BaseModel):
    task: TaskPublic
    waits_for: list[WaitReason]


class TaskNode(BaseModel):
    task: TaskPublic
    depends_on: list[str]
    children: list[TaskNode]


class PhaseNode(BaseModel):
    phase: PhasePublic
    depends_on: list[str]
    tasks: list[TaskNode]


class InitiativeTree(BaseModel):
    initiative: InitiativePublic
    phases: list[PhaseNode]
    tasks: list[TaskNode] = Field(description="Tasks directly under the initiative.")


# --- pages ------------------------------------------------------------------------------


class PageCreate(_Request):
    initiative_id: Id
    title: Name
    parent_page_id: Id | None = Field(
        default=None, description="Default: the initiative's root page (created if missing)."
    )
    content_markdown: Text | None = None


class PageUpdate(_Request):
    title: Name | None = None
    content_markdown: Text | None = None
    parent_page_id: Id | None = None


class PagePublic(_Public):
    id: str
    initiative_id: str
    parent_page_id: str | None
    title: str
    content: dict[str, Any] | None = Field(description="Tiptap JSON.")
    sort_order: int
    created_at: datetime
    updated_at: datetime


class PageDetail(PagePublic):
    content_markdown: str


class PageNode(BaseModel):
    page: PagePublic
    children: list[PageNode]


# --- projects ---------------------------------------------------------------------------


class ProjectCreate(_Request):
    name: Name
    url: Name
    default_branch: Name | None = None


class ProjectUpdate(_Request):
    name: Name | None = None
    url: Name | None = None
    default_branch: Name | None = None


class ProjectPublic(_Public):
    id: str
    name: str
    url: str
    default_branch: str
    last_fetched_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProjectSynced(BaseModel):
    project: ProjectPublic
    cloned: bool
    default_branch: str | None
    head_commit: str | None
    error: str | None = Field(description="Why the sync failed (None: it worked).")


# --- accounts ---------------------------------------------------------------------------


class AccountCreate(_Request):
    email: Name
    provider: Name | None = None
    config_json: Text | None = Field(default=None, description="Stored, never returned.")
    credentials: Text | None = Field(default=None, description="Stored, never returned.")


class AccountPublic(BaseModel):
    """An account without its secrets: only whether they are set."""

    id: str
    email: str
    provider: str
    is_exhausted: bool
    exhausted_until: datetime | None
    last_used_at: datetime | None
    sort_order: int
    created_at: datetime
    updated_at: datetime
    has_credentials: bool
    has_config: bool


class AccountUpdate(_Request):
    email: Name | None = None
    provider: Name | None = None
    config_json: Text | None = Field(default=None, description="Stored, never returned.")
    credentials: Text | None = Field(default=None, description="Stored, never returned.")


class AccountClaim(_Request):
    provider: Name = "claude"


class AccountExhaust(_Request):
    until: AwareDatetime = Field(description="When the usage limit resets (with an offset).")


class Cleared(BaseModel):
    cleared: int


# --- agents, logs -----------------------------------------------------------------------


class AgentPublic(_Public):
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
    status_reason: str | None


class AgentSpawn(_Request):
    task_id: Id | None = Field(default=None, description="The task to work on.")
    initiative_id: Id | None = Field(
        default=None, description="Without a task: the initiative (its projects get worktrees)."
    )
    provider: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    account_id: Id | None = None
    mode: AgentMode | None = None
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    instructions: Text | None = Field(
        default=None, description="Extra instructions added to the prompt."
    )
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class AgentAnswer(_Request):
    text: Annotated[str, Field(min_length=1, max_length=100_000)]
    question_id: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Which question (may be left out when one is pending)."
    )


class AgentResume(_Request):
    message: Annotated[str, Field(min_length=1, max_length=100_000)] | None = None


class AgentDeleted(BaseModel):
    agent: AgentPublic
    branches_kept: list[str]
    workdir: str


class AgentResult(BaseModel):
    name: str
    status: AgentStatus
    status_reason: str | None
    result: Any
    pending_questions: Any
    exit_code: int | None


class LogChunkPublic(_Public):
    id: str
    agent_id: str
    agent_name: str
    session_number: int
    content: str
    created_at: datetime
    seq: int


# --- proposals --------------------------------------------------------------------------


class ProposalPublic(_Public):
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


class AcceptedProposal(BaseModel):
    proposal: ProposalPublic
    action: Literal["created", "updated"]
    entity: dict[str, Any] = Field(description="The page, phase or task created or updated.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Dependencies dropped: what they named was dismissed or no longer exists.",
    )


class ArchitectSpawn(_Request):
    phase_id: Id | None = Field(
        default=None, description="The phase to detail (needed by detail) or to focus on."
    )
    page_id: Id | None = Field(default=None, description="A page to focus on.")
    instructions: Text | None = Field(
        default=None, description="Extra instructions added to the prompt."
    )
    provider: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None


# --- messages ---------------------------------------------------------------------------


class MessageCreate(_Request):
    to: Id = Field(description="The agent's name or id.")
    content: Text
    type: MessageType = MessageType.INFO
    requires_response: bool = False


class MessageReply(_Request):
    content: Text


class MessagePublic(_Public):
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


# --- conversations ----------------------------------------------------------------------


class ConversationCreate(_Request):
    question: Name
    from_agent_id: Id = Field(description="The asking agent's id or name.")
    agent_id: Id | None = Field(default=None, description="Ask this agent (id or name).")
    task_id: Id | None = Field(default=None, description="Ask the agent working on this task.")
    phase_id: Id | None = Field(
        default=None, description="Ask the newest agent working on this phase."
    )


class ConversationAnswer(_Request):
    answer: Name


class ConversationPublic(_Public):
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


# --- chat -------------------------------------------------------------------------------


class ChatSessionCreate(_Request):
    target_type: ChatTargetType
    target_id: Id


class ChatMessageCreate(_Request):
    content: Name
    provider: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The provider of the session's agent, when it is spawned."
    )


class ChatSessionPublic(_Public):
    id: str
    target_type: ChatTargetType
    target_id: str
    initiative_id: str
    agent_id: str | None
    status: ChatSessionStatus
    created_at: datetime
    updated_at: datetime


class ChatSessionStarted(ChatSessionPublic):
    created: bool = Field(description="False: the active session about the target existed.")


class ChatMessagePublic(_Public):
    id: str
    chat_session_id: str
    role: ChatRole
    content: str
    change_set_id: str | None
    created_at: datetime


class ChangeSetEntryPublic(_Public):
    id: str
    entity_type: ChangeEntityType
    entity_id: str
    action: ChangeAction
    previous_state: Any
    new_state: Any
    sort_order: int


class ChangeSetPublic(_Public):
    id: str
    initiative_id: str
    agent_id: str | None
    summary: str | None
    status: ChangeSetStatus
    reverted_at: datetime | None
    created_at: datetime
    entries: list[ChangeSetEntryPublic] = Field(
        default_factory=list, description="Each entity's state before and after, in order."
    )


class ChatMessageWithChanges(ChatMessagePublic):
    change_set: ChangeSetPublic | None = None


class ChatTranscript(ChatSessionPublic):
    messages: list[ChatMessageWithChanges]


class ChatSent(BaseModel):
    message: ChatMessagePublic
    agent: AgentPublic


class ChangeSetReverted(BaseModel):
    change_set: ChangeSetPublic
    reverted: bool = Field(description="False: it had been reverted before; nothing changed.")
    message: str
    forced: list[str] = Field(description="The entities changed since, overwritten (--force).")


# --- errands ----------------------------------------------------------------------------


class ErrandCreate(_Request):
    description: Name
    project: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The project's name or id."
    )
    provider: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class ErrandMessage(_Request):
    message: Name


class ErrandPublic(_Public):
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


class ErrandDetail(ErrandPublic):
    project: str
    agent: AgentPublic | None


class ErrandMerged(BaseModel):
    errand: ErrandPublic
    commit: str | None
    already_merged: bool


class ErrandDiff(BaseModel):
    errand_id: str
    base: str
    head: str
    diff: str


# --- review comments --------------------------------------------------------------------


class ReviewCommentCreate(_Request):
    file_path: Name
    line_number: Annotated[int, Field(ge=1, le=INT32_MAX)]
    line_type: ReviewLineType
    body: Name
    author: Name | None = None


class ReviewCommentPublic(_Public):
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


# --- events -----------------------------------------------------------------------------


class EventPublic(_Public):
    seq: int
    type: str
    initiative_id: str | None
    entity_id: str | None
    payload: Any
    created_at: datetime


# --- execution ---------------------------------------------------------------------------


class ExecutionPublic(_Public):
    id: str
    initiative_id: str
    state: ExecutionState
    created_at: datetime
    updated_at: datetime


class TaskComplete(_Request):
    summary: Text | None = Field(default=None, description="What was done (handed to dependents).")


class TaskProvider(_Request):
    provider: str | None = Field(
        default=None,
        max_length=100,
        description='The provider to dispatch it to; null, "" or "default": the workspace\'s.',
    )


class ChangesRequest(_Request):
    summary: Text | None = Field(
        default=None, description="What to change, beside the unresolved review comments."
    )


class WorktreePublic(_Public):
    kind: str
    project: str
    path: str
    branch: str | None
    agent: str | None
    agent_status: str | None
    safe: bool
    reasons: list[str]


class DiffPublic(BaseModel):
    project: str
    base: str
    head: str
    files: list[str]
    diff: str
