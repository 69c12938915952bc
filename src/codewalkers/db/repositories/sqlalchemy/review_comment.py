"""Review comments on the lines of a phase's diff."""

from __future__ import annotations

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.records import ReviewComment
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id

comments = schema.review_comments


class SqlReviewCommentRepository(SqlRepository[ReviewComment]):
    table = comments
    record_type = ReviewComment
    entity = "review comment"
    rules = TableRules(
        table, entity, immutable=["id", "phase_id"], not_blank=["file_path", "body", "author"]
    )

    def find_by_phase_id(self, phase_id: str) -> list[ReviewComment]:
        """The phase's comments, oldest first."""
        check_id(phase_id, "phase_id")
        return self._find_where(comments.c.phase_id == phase_id)

    def resolve(self, id: str) -> ReviewComment:
        """Mark the comment resolved. Raises ``NotFoundError`` for an unknown id."""
        return self.update(id, resolved=True)

    def unresolve(self, id: str) -> ReviewComment:
        """Mark the comment unresolved. Raises ``NotFoundError`` for an unknown id."""
        return self.update(id, resolved=False)
