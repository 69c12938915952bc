"""``/initiatives/{id}/architect/{mode}``: an agent that reads the initiative and proposes
pages, phases or tasks (``docs/planning.md``). Asks the coordinator's runtime (503 without)."""

from __future__ import annotations

from typing import Literal

from fastapi import status as http

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import NO_RUNTIME, InitiativeId, Runtime, make_router, out
from codewalkers.services import lookup
from codewalkers.services.architect import ArchitectRequest, spawn_architect

router = make_router("architect")


@router.post(
    "/initiatives/{id}/architect/{mode}",
    status_code=http.HTTP_201_CREATED,
    response_model=m.AgentPublic,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def architect(
    runtime: Runtime,
    id: InitiativeId,
    mode: Literal["discuss", "plan", "detail", "refine"],
    body: m.ArchitectSpawn,
) -> m.AgentPublic:
    """Spawn an architect agent on the initiative: ``discuss`` (asks questions, proposes
    pages), ``plan`` (phases), ``detail`` (the tasks of ``phase_id``), ``refine`` (changes to
    existing entities). When it ends done, its output files become pending proposals.
    """
    db = runtime.db
    request = ArchitectRequest(
        mode=mode,
        initiative_id=id,
        phase_id=lookup.resolve(db, "phase", body.phase_id) if body.phase_id else None,
        page_id=lookup.resolve(db, "page", body.page_id) if body.page_id else None,
        instructions=body.instructions,
        provider=body.provider,
        name=body.name,
        model=body.model,
    )
    return out(m.AgentPublic, spawn_architect(runtime, request))
