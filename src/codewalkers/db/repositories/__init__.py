"""The repository ports: one ``typing.Protocol`` per table group, in domain words.

Adapters live in :mod:`codewalkers.db.repositories.sqlalchemy`.
"""

from codewalkers.db.repositories._crud import CrudRepository
from codewalkers.db.repositories.account import AccountRepository
from codewalkers.db.repositories.agent import AgentRepository
from codewalkers.db.repositories.change_set import ChangeSetRepository
from codewalkers.db.repositories.chat_session import ChatSessionRepository
from codewalkers.db.repositories.conversation import ConversationRepository
from codewalkers.db.repositories.errand import ErrandRepository
from codewalkers.db.repositories.event import EventRepository
from codewalkers.db.repositories.execution import ExecutionRepository
from codewalkers.db.repositories.initiative import InitiativeRepository
from codewalkers.db.repositories.log_chunk import LogChunkRepository
from codewalkers.db.repositories.message import MessageRepository
from codewalkers.db.repositories.page import PageRepository
from codewalkers.db.repositories.phase import PhaseRepository
from codewalkers.db.repositories.project import ProjectRepository
from codewalkers.db.repositories.proposal import ProposalRepository
from codewalkers.db.repositories.review_comment import ReviewCommentRepository
from codewalkers.db.repositories.task import TaskRepository

__all__ = [
    "AccountRepository",
    "AgentRepository",
    "ChangeSetRepository",
    "ChatSessionRepository",
    "ConversationRepository",
    "CrudRepository",
    "ErrandRepository",
    "EventRepository",
    "ExecutionRepository",
    "InitiativeRepository",
    "LogChunkRepository",
    "MessageRepository",
    "PageRepository",
    "PhaseRepository",
    "ProjectRepository",
    "ProposalRepository",
    "ReviewCommentRepository",
    "TaskRepository",
]
