"""Architect modes: an agent that reads an initiative and proposes pages, phases and tasks.

``discuss`` asks the person questions and proposes pages that capture the decisions;
``plan`` proposes phases with their dependencies; ``detail`` the tasks of one phase with
their dependencies, priorities and categories; ``refine`` changes to existing pages,
phases and tasks. The agent runs under the coordinator's runtime like any other (same
workdir contract, supervision, questions and answers); when it ends ``done``, its output
files become pending proposals (``services.proposals.record_proposals``, called by the
runtime). ``docs/planning.md``, "Architect modes".
"""

from __future__ import annotations

from dataclasses import dataclass

from codewalkers.agents.workdir import PageInput, page_file_name
from codewalkers.db import Agent, Database, Initiative, Page, Phase, ValidationError
from codewalkers.services.plan import get_or_raise
from codewalkers.services.runtime import AgentRuntime, SpawnRequest

#: The architect modes, in the order a plan usually goes through them.
ARCHITECT_MODES: tuple[str, ...] = ("discuss", "plan", "detail", "refine")


@dataclass(frozen=True, slots=True)
class ArchitectRequest:
    """What ``cw architect MODE INITIATIVE`` asks for."""

    mode: str
    initiative_id: str
    phase_id: str | None = None
    page_id: str | None = None
    instructions: str | None = None
    provider: str | None = None
    name: str | None = None
    model: str | None = None


def spawn_architect(runtime: AgentRuntime, request: ArchitectRequest) -> Agent:
    """Spawn an agent in an architect mode on the initiative (and the phase or page it is
    to focus on). Its inputs are the initiative, its pages as Markdown, its phases and
    tasks with ids and dependencies (``docs/agents.md``, the workdir contract).

    Raises ``ValidationError`` for an unknown mode, ``detail`` without a phase, a phase or
    page of another initiative (and whatever :meth:`AgentRuntime.spawn` refuses),
    ``NotFoundError`` for an unknown initiative, phase or page. Nothing is created then.
    """
    if request.mode not in ARCHITECT_MODES:
        raise ValidationError(
            f"unknown architect mode {request.mode!r} (modes: {', '.join(ARCHITECT_MODES)})"
        )
    db = runtime.db
    initiative: Initiative = get_or_raise(db.initiatives, request.initiative_id, "initiative")
    phase = _phase(db, initiative, request.phase_id)
    page = _page(db, initiative, request.page_id)
    if request.mode == "detail" and phase is None:
        raise ValidationError("detail needs a phase (--phase ID): the phase to break into tasks")
    return runtime.spawn(
        SpawnRequest(
            initiative_id=initiative.id,
            phase_id=phase.id if phase is not None else None,
            mode=request.mode,
            instructions=_instructions(request, phase, page),
            provider=request.provider,
            name=request.name,
            model=request.model,
        )
    )


def _phase(db: Database, initiative: Initiative, phase_id: str | None) -> Phase | None:
    if phase_id is None:
        return None
    phase: Phase = get_or_raise(db.phases, phase_id, "phase")
    if phase.initiative_id != initiative.id:
        raise ValidationError(f"phase {phase.id} belongs to another initiative")
    return phase


def _page(db: Database, initiative: Initiative, page_id: str | None) -> Page | None:
    if page_id is None:
        return None
    page: Page = get_or_raise(db.pages, page_id, "page")
    if page.initiative_id != initiative.id:
        raise ValidationError(f"page {page.id} belongs to another initiative")
    return page


def _instructions(request: ArchitectRequest, phase: Phase | None, page: Page | None) -> str | None:
    """The person's instructions, after what to focus on."""
    parts = []
    if phase is not None and request.mode != "detail":
        parts.append(
            f"Focus on the phase {phase.name!r} (`{phase.id}`, described in `.cw/input/phase.md`)."
        )
    if page is not None:
        name = page_file_name(PageInput(page.id, page.title, page.parent_page_id, ""))
        parts.append(f"Focus on the page {page.title!r} (`{page.id}`, `.cw/input/pages/{name}`).")
    if request.instructions and request.instructions.strip():
        parts.append(request.instructions.strip())
    return "\n\n".join(parts) or None


__all__ = ["ARCHITECT_MODES", "ArchitectRequest", "spawn_architect"]
