"""Inline review comments on a phase's diff (seed: ``review_comments``,
``ReviewCommentRepository`` create, findByPhaseId, resolve, unresolve, delete)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    Database,
    NotFoundError,
    Phase,
    ReferenceNotFoundError,
    ReviewComment,
    ReviewLineType,
    ValidationError,
)
from codewalkers.db.schema import review_comments
from tests.factories import make_initiative, make_phase


def make_comment(db: Database, phase: Phase | None = None, **fields: Any) -> ReviewComment:
    phase = phase or make_phase(db)
    return db.review_comments.create(
        **{
            "phase_id": phase.id,
            "file_path": "src/app.py",
            "line_number": 12,
            "line_type": "added",
            "body": "Why not a dataclass?",
            **fields,
        }
    )


def find_comment(db: Database, comment: ReviewComment) -> ReviewComment | None:
    """The stored comment, read back through the port (which has no ``find_by_id``)."""
    return next(
        (c for c in db.review_comments.find_by_phase_id(comment.phase_id) if c.id == comment.id),
        None,
    )


def comment_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(review_comments)).scalar_one()
        )


# --- create and defaults ------------------------------------------------------------------


def test_a_comment_is_created_by_you_and_unresolved(db: Database) -> None:
    phase = make_phase(db)

    comment = db.review_comments.create(
        phase_id=phase.id,
        file_path="src/app.py",
        line_number=7,
        line_type=ReviewLineType.REMOVED,
        body="This line was needed.",
    )

    assert len(comment.id) == 21
    assert comment.phase_id == phase.id
    assert comment.file_path == "src/app.py"
    assert comment.line_number == 7
    assert comment.line_type == "removed"
    assert comment.line_type is ReviewLineType.REMOVED
    assert comment.body == "This line was needed."
    assert comment.author == "you"
    assert comment.resolved is False
    assert comment.updated_at == comment.created_at
    assert find_comment(db, comment) == comment


def test_a_comment_may_name_its_author(db: Database) -> None:
    assert make_comment(db, author="reviewer-bot").author == "reviewer-bot"


@pytest.mark.parametrize("missing", ["phase_id", "file_path", "line_number", "line_type", "body"])
def test_a_comment_needs_its_required_fields(db: Database, missing: str) -> None:
    phase = make_phase(db)
    fields = {
        "phase_id": phase.id,
        "file_path": "a.py",
        "line_number": 1,
        "line_type": "context",
        "body": "b",
    }
    del fields[missing]

    with pytest.raises(ValidationError):
        db.review_comments.create(**fields)

    assert comment_count(db) == 0


def test_a_comment_on_an_unknown_phase_is_refused(db: Database) -> None:
    with pytest.raises(ReferenceNotFoundError):
        make_comment(db, phase_id="no-such-phase")

    assert comment_count(db) == 0


def test_line_number_must_be_an_integer(db: Database) -> None:
    with pytest.raises(ValidationError):
        make_comment(db, line_number="12")

    assert comment_count(db) == 0


def test_line_type_must_be_added_removed_or_context(db: Database) -> None:
    with pytest.raises(ValidationError):
        make_comment(db, line_type="modified")

    assert comment_count(db) == 0


def test_the_database_itself_enforces_line_type(db: Database) -> None:
    comment = make_comment(db)

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE review_comments SET line_type = 'modified' WHERE id = :id"),
            {"id": comment.id},
        )

    assert find_comment(db, comment) == comment


# --- find by phase ------------------------------------------------------------------------


def test_find_by_phase_id_lists_the_phases_comments_oldest_first(db: Database) -> None:
    phase = make_phase(db)
    made = [make_comment(db, phase, line_number=n) for n in (30, 10, 20)]
    make_comment(db)  # another phase

    assert db.review_comments.find_by_phase_id(phase.id) == made


def test_find_by_phase_id_of_a_phase_without_comments_is_empty(db: Database) -> None:
    make_comment(db)

    assert db.review_comments.find_by_phase_id(make_phase(db).id) == []
    assert db.review_comments.find_by_phase_id("no-such-phase") == []


# --- resolve / unresolve ------------------------------------------------------------------


def test_resolve_marks_the_comment_resolved(db: Database) -> None:
    comment = make_comment(db)

    resolved = db.review_comments.resolve(comment.id)

    assert resolved.resolved is True
    assert resolved.updated_at > comment.updated_at
    assert find_comment(db, comment) == resolved


def test_unresolve_marks_it_unresolved_again(db: Database) -> None:
    comment = make_comment(db)
    db.review_comments.resolve(comment.id)

    unresolved = db.review_comments.unresolve(comment.id)

    assert unresolved.resolved is False
    assert find_comment(db, comment) == unresolved


def test_resolve_touches_only_that_comment(db: Database) -> None:
    phase = make_phase(db)
    comment, other = make_comment(db, phase), make_comment(db, phase)

    db.review_comments.resolve(comment.id)

    assert find_comment(db, other) == other


def test_resolve_and_unresolve_are_idempotent(db: Database) -> None:
    comment = make_comment(db)

    assert db.review_comments.resolve(comment.id).resolved is True
    assert db.review_comments.resolve(comment.id).resolved is True
    assert db.review_comments.unresolve(comment.id).resolved is False
    assert db.review_comments.unresolve(comment.id).resolved is False


def test_resolve_of_an_unknown_comment_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.review_comments.resolve("no-such-comment")


def test_unresolve_of_an_unknown_comment_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.review_comments.unresolve("no-such-comment")


# --- delete -------------------------------------------------------------------------------


def test_delete_removes_the_comment(db: Database) -> None:
    phase = make_phase(db)
    doomed, kept = make_comment(db, phase), make_comment(db, phase)

    db.review_comments.delete(doomed.id)

    assert find_comment(db, doomed) is None
    assert db.review_comments.find_by_phase_id(phase.id) == [kept]


def test_delete_of_an_unknown_comment_raises_not_found(db: Database) -> None:
    make_comment(db)

    with pytest.raises(NotFoundError):
        db.review_comments.delete("no-such-comment")

    assert comment_count(db) == 1


# --- cascades -----------------------------------------------------------------------------


def test_deleting_the_phase_deletes_its_comments(db: Database) -> None:
    initiative = make_initiative(db)
    doomed, other = make_phase(db, initiative), make_phase(db, initiative)
    make_comment(db, doomed)
    make_comment(db, doomed)
    kept = make_comment(db, other)

    db.phases.delete(doomed.id)

    assert db.review_comments.find_by_phase_id(doomed.id) == []
    assert db.review_comments.find_by_phase_id(other.id) == [kept]
    assert comment_count(db) == 1


def test_deleting_the_initiative_deletes_its_phases_comments(db: Database) -> None:
    doomed = make_initiative(db)
    make_comment(db, make_phase(db, doomed))
    kept = make_comment(db)

    db.initiatives.delete(doomed.id)

    assert db.review_comments.find_by_phase_id(kept.phase_id) == [kept]
    assert comment_count(db) == 1
