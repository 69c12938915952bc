"""``/errands``: small work on one project outside any initiative (docs/planning.md).

Starting, chatting, merging and abandoning go to the coordinator (503 without one); the
others read the database and the project's clone.
"""

from __future__ import annotations

from fastapi import status as http

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import (
    NO_RUNTIME,
    Db,
    ErrandsDep,
    Runtime,
    make_router,
    out,
    outs,
)
from codewalkers.services import errands, lookup
from codewalkers.services.errands import ErrandView

router = make_router("errands")


def _detail(view: ErrandView) -> m.ErrandDetail:
    return out(
        m.ErrandDetail,
        view.errand,
        project=view.project.name,
        agent=out(m.AgentPublic, view.agent) if view.agent else None,
    )


@router.post(
    "/errands",
    status_code=http.HTTP_201_CREATED,
    response_model=m.ErrandDetail,
    responses={**CONFLICT, **NO_RUNTIME},
)
def start(work: ErrandsDep, body: m.ErrandCreate) -> m.ErrandDetail:
    """Spawn an agent on a new branch from the project's default branch (422 for an unknown
    project or provider: nothing is created)."""
    return _detail(work.start(body.description, body.project, provider=body.provider))


@router.get("/errands", response_model=list[m.ErrandPublic])
def list_errands(
    db: Db, project: str | None = None, status: str | None = None
) -> list[m.ErrandPublic]:
    """Errands, oldest first (optionally of one project, in one status)."""
    return outs(m.ErrandPublic, errands.list_errands(db, project=project, status=status))


@router.get("/errands/{id}", response_model=m.ErrandDetail, responses=NOT_FOUND)
def show(db: Db, id: str) -> m.ErrandDetail:
    """The errand with its project and agent."""
    return _detail(errands.get(db, lookup.resolve(db, "errand", id)))


@router.get(
    "/errands/{id}/diff",
    response_model=m.ErrandDiff,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def diff(db: Db, runtime: Runtime, id: str) -> m.ErrandDiff:
    """What the errand's branch changes since it left the default branch."""
    view = errands.get(db, lookup.resolve(db, "errand", id))
    text = errands.diff(db, runtime.paths, view.errand.id)
    return m.ErrandDiff(
        errand_id=view.errand.id, base=view.errand.base_branch, head=view.errand.branch, diff=text
    )


@router.post(
    "/errands/{id}/chat",
    response_model=m.ErrandDetail,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def chat(db: Db, work: ErrandsDep, id: str, body: m.ErrandMessage) -> m.ErrandDetail:
    """Resume the errand's agent with a message (or answer its questions with it)."""
    return _detail(work.chat(lookup.resolve(db, "errand", id), body.message))


@router.post(
    "/errands/{id}/merge",
    response_model=m.ErrandMerged,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def merge(db: Db, work: ErrandsDep, id: str) -> m.ErrandMerged:
    """Merge the errand's branch into the default branch and push it (409 on a conflict,
    nothing pushed)."""
    done = work.merge(lookup.resolve(db, "errand", id))
    return m.ErrandMerged(
        errand=out(m.ErrandPublic, done["errand"]),
        commit=done["commit"],
        already_merged=done["already_merged"],
    )


@router.post(
    "/errands/{id}/abandon",
    response_model=m.ErrandPublic,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def abandon(db: Db, work: ErrandsDep, id: str, delete_branch: bool = False) -> m.ErrandPublic:
    """Give the errand up: nothing merged, its worktree removed, its branch kept unless
    ``delete_branch=true``."""
    return out(
        m.ErrandPublic,
        work.abandon(lookup.resolve(db, "errand", id), delete_branch=delete_branch),
    )
