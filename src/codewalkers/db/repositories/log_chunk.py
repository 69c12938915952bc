"""What can be asked of agent log chunks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from codewalkers.db.records import LogChunk
from codewalkers.db.repositories._crud import CrudRepository


class LogChunkRepository(CrudRepository[LogChunk], Protocol):
    def insert_chunk(
        self, agent_id: str, agent_name: str, content: str, session_number: int = 1
    ) -> LogChunk: ...

    def insert_chunks(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Batch insert, in order, in one transaction; returns how many."""
        ...

    def find_by_agent_id(
        self,
        agent_id: str,
        *,
        session_number: int | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[LogChunk]: ...

    def find_latest_by_agent_id(
        self, agent_id: str, *, before_seq: int | None = None, limit: int = 200
    ) -> list[LogChunk]:
        """The newest ``limit`` chunks (before ``before_seq``), oldest first."""
        ...

    def delete_by_agent_id(self, agent_id: str) -> int: ...

    def get_session_count(self, agent_id: str) -> int: ...
