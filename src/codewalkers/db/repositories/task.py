"""What can be asked of tasks, their hierarchy and dependencies."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import Task
from codewalkers.db.repositories._crud import CrudRepository


class TaskRepository(CrudRepository[Task], Protocol):
    def find_by_phase_id(self, phase_id: str) -> list[Task]: ...

    def find_by_initiative_id(self, initiative_id: str) -> list[Task]: ...

    def find_by_parent_task_id(self, parent_task_id: str) -> list[Task]: ...

    def find_pending_approval(self, initiative_id: str | None = None) -> list[Task]: ...

    def find_ready(self, initiative_id: str) -> list[Task]:
        """Tasks that can start now: high > medium > low, then oldest."""
        ...

    def get_effective_requires_approval(self, task_id: str) -> bool:
        """The task's ``requires_approval``, or its initiative's when ``None``."""
        ...

    def create_dependency(self, task_id: str, depends_on_task_id: str) -> bool: ...

    def remove_dependency(self, task_id: str, depends_on_task_id: str) -> bool: ...

    def get_dependencies(self, task_id: str) -> list[str]: ...

    def get_dependents(self, task_id: str) -> list[str]: ...

    def find_dependencies_by_initiative_id(self, initiative_id: str) -> list[tuple[str, str]]:
        """Every ``(task_id, depends_on_task_id)`` edge among the initiative's tasks."""
        ...
