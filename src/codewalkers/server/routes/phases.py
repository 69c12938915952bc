"""``/phases``: an initiative's stages, their content (Markdown in, Tiptap stored) and
dependencies.
"""

from __future__ import annotations

from typing import Any

from fastapi import status as http

from codewalkers.content import markdown_to_tiptap, tiptap_to_markdown
from codewalkers.db import Database, Phase
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, changes, make_router, out, outs
from codewalkers.services import plan

router = make_router("phases")


def _detail(db: Database, phase: Phase) -> m.PhaseDetail:
    return out(
        m.PhaseDetail,
        phase,
        depends_on=db.phases.get_dependencies(phase.id),
        content_markdown=tiptap_to_markdown(phase.content),
    )


@router.post(
    "/phases",
    status_code=http.HTTP_201_CREATED,
    response_model=m.PhasePublic,
    responses={**NOT_FOUND, **CONFLICT},
)
def create_phase(db: Db, body: m.PhaseCreate) -> m.PhasePublic:
    """Create a phase in an initiative."""
    phase = plan.create_phase(db, body.initiative_id, body.name, body.content_markdown)
    return out(m.PhasePublic, phase)


@router.get("/phases/{id}", response_model=m.PhaseDetail, responses=NOT_FOUND)
def get_phase(db: Db, id: str) -> m.PhaseDetail:
    """A phase, its dependencies and its content as Markdown."""
    return _detail(db, plan.get_or_raise(db.phases, id, "phase"))


@router.patch("/phases/{id}", response_model=m.PhasePublic, responses={**NOT_FOUND, **CONFLICT})
def update_phase(db: Db, id: str, body: m.PhaseUpdate, force: bool = False) -> m.PhasePublic:
    """Change what the body gives of name, status and content (Markdown). Completing a
    phase with unfinished tasks is a 409 unless ``force``.
    """
    fields: dict[str, Any] = changes(body)
    if set(fields) == {"status"}:
        return out(m.PhasePublic, plan.set_phase_status(db, id, fields["status"], force=force))
    if "content_markdown" in fields:
        markdown = fields.pop("content_markdown")
        fields["content"] = markdown_to_tiptap(markdown) if markdown is not None else None
    return out(m.PhasePublic, plan.update_phase(db, id, force=force, **fields))


@router.delete("/phases/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def delete_phase(db: Db, id: str) -> m.Deleted:
    """Delete a phase with its tasks."""
    plan.delete_phase(db, id)
    return m.Deleted(id=id)


@router.get("/phases/{id}/tasks", response_model=list[m.TaskPublic], responses=NOT_FOUND)
def list_tasks(db: Db, id: str) -> list[m.TaskPublic]:
    """The phase's tasks."""
    plan.get_or_raise(db.phases, id, "phase")
    return outs(m.TaskPublic, db.tasks.find_by_phase_id(id))


@router.get("/phases/{id}/dependencies", response_model=list[str], responses=NOT_FOUND)
def list_dependencies(db: Db, id: str) -> list[str]:
    """The ids of the phases this one depends on."""
    plan.get_or_raise(db.phases, id, "phase")
    return db.phases.get_dependencies(id)


@router.post(
    "/phases/{id}/dependencies", response_model=m.PhaseDependencyResult, responses=NOT_FOUND
)
def add_dependency(db: Db, id: str, body: m.PhaseDependencyCreate) -> m.PhaseDependencyResult:
    """Make the phase depend on another phase of its initiative (cycles are refused)."""
    added = plan.add_phase_dependency(db, id, body.depends_on_phase_id)
    return m.PhaseDependencyResult(
        phase_id=id, depends_on_phase_id=body.depends_on_phase_id, added=added
    )


@router.delete(
    "/phases/{id}/dependencies/{depends_on_phase_id}",
    response_model=m.DependencyRemoved,
    responses=NOT_FOUND,
)
def remove_dependency(db: Db, id: str, depends_on_phase_id: str) -> m.DependencyRemoved:
    """Remove the dependency, if there is one."""
    removed = plan.remove_phase_dependency(db, id, depends_on_phase_id)
    return m.DependencyRemoved(removed=removed)
