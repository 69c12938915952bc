"""Review comments on the lines of a phase's changes."""

from __future__ import annotations

from codewalkers.db import Database, Phase, ReviewComment, ReviewLineType
from codewalkers.services import events
from codewalkers.services.plan import get_or_raise


def _initiative_id(db: Database, phase_id: str) -> str | None:
    phase: Phase | None = db.phases.find_by_id(phase_id)
    return phase.initiative_id if phase is not None else None


def add_comment(
    db: Database,
    phase_id: str,
    file_path: str,
    line_number: int,
    line_type: ReviewLineType | str,
    body: str,
    *,
    author: str | None = None,
) -> ReviewComment:
    """Comment on a line of the phase's diff. Raises ``NotFoundError`` for an unknown phase,
    ``ValidationError`` for a bad line type.
    """
    fields = {"author": author} if author is not None else {}
    with db.transaction():
        phase: Phase = get_or_raise(db.phases, phase_id, "phase")
        comment: ReviewComment = db.review_comments.create(
            phase_id=phase_id,
            file_path=file_path,
            line_number=line_number,
            line_type=line_type,
            body=body,
            **fields,
        )
        events.emit(db, events.REVIEW_COMMENT_CREATED, comment, initiative_id=phase.initiative_id)
    return comment


def resolve_comment(db: Database, comment_id: str) -> ReviewComment:
    """Mark the comment resolved. Raises ``NotFoundError`` for an unknown id."""
    with db.transaction():
        comment: ReviewComment = db.review_comments.resolve(comment_id)
        events.emit(
            db,
            events.REVIEW_RESOLVED,
            comment,
            initiative_id=_initiative_id(db, comment.phase_id),
        )
    return comment


def unresolve_comment(db: Database, comment_id: str) -> ReviewComment:
    """Mark the comment unresolved again. Raises ``NotFoundError`` for an unknown id."""
    with db.transaction():
        comment: ReviewComment = db.review_comments.unresolve(comment_id)
        events.emit(
            db,
            events.REVIEW_UNRESOLVED,
            comment,
            initiative_id=_initiative_id(db, comment.phase_id),
        )
    return comment


def delete_comment(db: Database, comment_id: str) -> ReviewComment:
    """Delete the comment; return it as it was. Raises ``NotFoundError`` for an unknown id."""
    with db.transaction():
        comment: ReviewComment = get_or_raise(db.review_comments, comment_id, "review comment")
        db.review_comments.delete(comment_id)
        events.emit(
            db,
            events.REVIEW_DELETED,
            comment,
            initiative_id=_initiative_id(db, comment.phase_id),
        )
    return comment
