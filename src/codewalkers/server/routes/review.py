"""Review comments on the lines of a phase's changes."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.server import models as m
from codewalkers.server.errors import NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out, outs
from codewalkers.services import plan, review

router = make_router("review")


@router.get(
    "/phases/{id}/review-comments",
    response_model=list[m.ReviewCommentPublic],
    responses=NOT_FOUND,
)
def list_comments(db: Db, id: str, unresolved: bool = False) -> list[m.ReviewCommentPublic]:
    """The phase's review comments, oldest first (``unresolved``: only those still open)."""
    plan.get_or_raise(db.phases, id, "phase")
    rows = db.review_comments.find_by_phase_id(id)
    if unresolved:
        rows = [row for row in rows if not row.resolved]
    return outs(m.ReviewCommentPublic, rows)


@router.post(
    "/phases/{id}/review-comments",
    status_code=http.HTTP_201_CREATED,
    response_model=m.ReviewCommentPublic,
    responses=NOT_FOUND,
)
def comment(db: Db, id: str, body: m.ReviewCommentCreate) -> m.ReviewCommentPublic:
    """Comment on a line of the phase's diff."""
    created = review.add_comment(
        db, id, body.file_path, body.line_number, body.line_type, body.body, author=body.author
    )
    return out(m.ReviewCommentPublic, created)


@router.post(
    "/review-comments/{id}/resolve", response_model=m.ReviewCommentPublic, responses=NOT_FOUND
)
def resolve(db: Db, id: str) -> m.ReviewCommentPublic:
    """Mark the comment resolved."""
    return out(m.ReviewCommentPublic, review.resolve_comment(db, id))


@router.post(
    "/review-comments/{id}/unresolve", response_model=m.ReviewCommentPublic, responses=NOT_FOUND
)
def unresolve(db: Db, id: str) -> m.ReviewCommentPublic:
    """Mark the comment unresolved again."""
    return out(m.ReviewCommentPublic, review.unresolve_comment(db, id))


@router.delete("/review-comments/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def delete(db: Db, id: str) -> m.Deleted:
    """Delete the comment."""
    review.delete_comment(db, id)
    return m.Deleted(id=id)
