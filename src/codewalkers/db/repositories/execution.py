"""What the executor asks of the database: executions, claims, dispatches, leases."""

from __future__ import annotations

from typing import Any, Protocol

from codewalkers.db.enums import DispatchState, ExecutionState
from codewalkers.db.records import Dispatch, Execution, Lease, Task


class ExecutionRepository(Protocol):
    def find_execution(self, initiative_id: str) -> Execution | None:
        """The initiative's execution, or ``None`` when it was never executed."""
        ...

    def find_executions(self, state: ExecutionState | str | None = None) -> list[Execution]:
        """Every execution (with ``state``: in that state), oldest first."""
        ...

    def set_execution_state(self, initiative_id: str, state: ExecutionState | str) -> Execution:
        """Create or change the initiative's execution. Raises ``ReferenceNotFoundError``
        for an unknown initiative."""
        ...

    def claim_task(self, task_id: str) -> Task | None:
        """Move the task from ``pending`` to ``in_progress`` in one conditional update: the
        claimed task, or ``None`` when it was not pending any more (someone else claimed
        it). Two callers never both get the task."""
        ...

    def find_task_dependencies(self, initiative_id: str) -> list[tuple[str, str]]:
        """Every ``(task_id, depends_on_task_id)`` edge among the initiative's tasks, in one
        read."""
        ...

    def find_dispatch(self, task_id: str) -> Dispatch | None: ...

    def find_dispatches(self, initiative_id: str) -> list[Dispatch]:
        """The initiative's dispatch rows, oldest first."""
        ...

    def create_dispatch(self, task_id: str, **fields: Any) -> Dispatch | None:
        """Create the task's dispatch row (its ``initiative_id`` taken from the task); ``None``
        when it has one already. Raises ``ReferenceNotFoundError`` for an unknown task,
        ``ValidationError`` for a task outside any initiative or an unknown field."""
        ...

    def update_dispatch(
        self, task_id: str, *, expected_state: DispatchState | str | None = None, **changes: Any
    ) -> Dispatch | None:
        """Change the task's dispatch row (created first when missing) in one conditional
        update: ``None`` when ``expected_state`` is given and the row is in another state
        (someone else moved it first)."""
        ...

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or renew) the named lease for ``seconds``: True when ``holder`` has it now,
        False while another holder's lease has not expired."""
        ...

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up (only its holder can); True when it was held."""
        ...

    def find_lease(self, name: str) -> Lease | None: ...
