"""The SQLAlchemy adapters: one per repository port, for SQLite and PostgreSQL alike."""

from codewalkers.db.repositories.sqlalchemy.account import SqlAccountRepository
from codewalkers.db.repositories.sqlalchemy.agent import SqlAgentRepository
from codewalkers.db.repositories.sqlalchemy.change_set import SqlChangeSetRepository
from codewalkers.db.repositories.sqlalchemy.chat_session import SqlChatSessionRepository
from codewalkers.db.repositories.sqlalchemy.conversation import SqlConversationRepository
from codewalkers.db.repositories.sqlalchemy.errand import SqlErrandRepository
from codewalkers.db.repositories.sqlalchemy.event import SqlEventRepository
from codewalkers.db.repositories.sqlalchemy.execution import SqlExecutionRepository
from codewalkers.db.repositories.sqlalchemy.initiative import SqlInitiativeRepository
from codewalkers.db.repositories.sqlalchemy.log_chunk import SqlLogChunkRepository
from codewalkers.db.repositories.sqlalchemy.message import SqlMessageRepository
from codewalkers.db.repositories.sqlalchemy.page import SqlPageRepository
from codewalkers.db.repositories.sqlalchemy.phase import SqlPhaseRepository
from codewalkers.db.repositories.sqlalchemy.project import SqlProjectRepository
from codewalkers.db.repositories.sqlalchemy.proposal import SqlProposalRepository
from codewalkers.db.repositories.sqlalchemy.review_comment import SqlReviewCommentRepository
from codewalkers.db.repositories.sqlalchemy.task import SqlTaskRepository

__all__ = [
    "SqlAccountRepository",
    "SqlAgentRepository",
    "SqlChangeSetRepository",
    "SqlChatSessionRepository",
    "SqlConversationRepository",
    "SqlErrandRepository",
    "SqlEventRepository",
    "SqlExecutionRepository",
    "SqlInitiativeRepository",
    "SqlLogChunkRepository",
    "SqlMessageRepository",
    "SqlPageRepository",
    "SqlPhaseRepository",
    "SqlProjectRepository",
    "SqlProposalRepository",
    "SqlReviewCommentRepository",
    "SqlTaskRepository",
]
