"""Proposals: accepting one applies it (creates or updates its page, phase or task)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codewalkers.content import markdown_to_tiptap
from codewalkers.db import (
    ConflictError,
    Database,
    Page,
    Phase,
    Proposal,
    ProposalStatus,
    ProposalTargetType,
    Task,
    ValidationError,
)
from codewalkers.services import events
from codewalkers.services.pages import ensure_root_page
from codewalkers.services.plan import get_or_raise


@dataclass
class AcceptedProposal:
    """What accepting did: the proposal (now accepted) and the entity created or updated."""

    proposal: Proposal
    action: str  # "created" or "updated"
    entity: Page | Phase | Task


def accept_proposal(db: Database, proposal_id: str) -> AcceptedProposal:
    """Apply a pending proposal and mark it accepted, all in one transaction.

    ``target_id`` None creates the target: a page (under ``metadata.parent_page_id`` or the
    root page), a phase, or a task (in ``metadata.phase_id``, else in the initiative);
    otherwise that entity's title/name and content/description are updated. Content is
    Markdown (stored as Tiptap for pages and phases).

    Raises ``NotFoundError`` for an unknown proposal or target, ``ConflictError`` when the
    proposal is not pending, ``ValidationError`` for a target in another initiative or bad
    proposal data. On any error nothing changes.
    """
    with db.transaction():
        proposal = _lock_pending(db, proposal_id)
        creates = proposal.target_id is None
        new_root: list[Page] = []
        entity = _create(db, proposal, new_root) if creates else _update(db, proposal)
        accepted: Proposal = db.proposals.update(proposal.id, status=ProposalStatus.ACCEPTED)
        action = "created" if creates else "updated"
        for root in new_root:
            events.emit(db, events.PAGE_CREATED, root)
        events.emit(db, f"{proposal.target_type}:{action}", entity)
        events.emit(
            db, events.PROPOSAL_ACCEPTED, accepted, action=action, target_entity_id=entity.id
        )
    return AcceptedProposal(accepted, action, entity)


def dismiss_proposal(db: Database, proposal_id: str) -> Proposal:
    """Mark a pending proposal dismissed. ``ConflictError`` when it is not pending."""
    with db.transaction():
        proposal = _lock_pending(db, proposal_id)
        dismissed: Proposal = db.proposals.update(proposal.id, status=ProposalStatus.DISMISSED)
        events.emit(db, events.PROPOSAL_DISMISSED, dismissed)
    return dismissed


def _lock_pending(db: Database, proposal_id: str) -> Proposal:
    # An update that changes nothing but updated_at locks the row on PostgreSQL and returns
    # its newest status, so two concurrent accepts cannot both apply it (SQLite's write lock
    # already serializes them). Raises NotFoundError for an unknown id.
    proposal: Proposal = db.proposals.update(proposal_id)
    if proposal.status != ProposalStatus.PENDING:
        raise ConflictError(f"proposal {proposal_id!r} is already {proposal.status}")
    return proposal


def _metadata(proposal: Proposal) -> dict[str, Any]:
    return proposal.metadata if isinstance(proposal.metadata, dict) else {}


def _tiptap(markdown: str | None) -> dict[str, Any] | None:
    return markdown_to_tiptap(markdown) if markdown is not None else None


def _create(db: Database, proposal: Proposal, new_root: list[Page]) -> Page | Phase | Task:
    meta = _metadata(proposal)
    if proposal.target_type == ProposalTargetType.PAGE:
        parent = meta.get("parent_page_id")
        if parent is None:
            root, created = ensure_root_page(db, proposal.initiative_id)
            if created:
                new_root.append(root)
            parent = root.id
        page: Page = db.pages.create(
            initiative_id=proposal.initiative_id,
            parent_page_id=parent,
            title=proposal.title,
            content=_tiptap(proposal.content),
        )
        return page
    if proposal.target_type == ProposalTargetType.PHASE:
        phase: Phase = db.phases.create(
            initiative_id=proposal.initiative_id,
            name=proposal.title,
            content=_tiptap(proposal.content),
        )
        return phase
    fields: dict[str, Any] = {
        "initiative_id": proposal.initiative_id,
        "name": proposal.title,
        "description": proposal.content or proposal.summary,
    }
    if meta.get("phase_id") is not None:
        # With the initiative given too, a phase of another initiative is refused.
        fields["phase_id"] = meta["phase_id"]
    task: Task = db.tasks.create(**fields)
    return task


def _update(db: Database, proposal: Proposal) -> Page | Phase | Task:
    target_id = proposal.target_id
    assert target_id is not None
    kind = str(proposal.target_type)
    if proposal.target_type == ProposalTargetType.PAGE:
        _same_initiative(proposal, get_or_raise(db.pages, target_id, kind))
        changes: dict[str, Any] = {"title": proposal.title}
        if proposal.content is not None:
            changes["content"] = _tiptap(proposal.content)
        page: Page = db.pages.update(target_id, **changes)
        return page
    if proposal.target_type == ProposalTargetType.PHASE:
        _same_initiative(proposal, get_or_raise(db.phases, target_id, kind))
        changes = {"name": proposal.title}
        if proposal.content is not None:
            changes["content"] = _tiptap(proposal.content)
        phase: Phase = db.phases.update(target_id, **changes)
        return phase
    _same_initiative(proposal, get_or_raise(db.tasks, target_id, kind))
    changes = {"name": proposal.title}
    description = proposal.content or proposal.summary
    if description is not None:
        changes["description"] = description
    task: Task = db.tasks.update(target_id, **changes)
    return task


def _same_initiative(proposal: Proposal, entity: Page | Phase | Task) -> None:
    if entity.initiative_id is not None and entity.initiative_id != proposal.initiative_id:
        raise ValidationError(
            f"proposal {proposal.id!r} targets {proposal.target_type} {entity.id!r} "
            f"of another initiative ({entity.initiative_id!r})"
        )
