"""``/proposals``: what agents suggest; accepting one applies it."""

from __future__ import annotations

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out, outs
from codewalkers.services import agents, plan, proposals
from codewalkers.services.serialize import plain

router = make_router("proposals")


@router.get("/proposals/{id}", response_model=m.ProposalPublic, responses=NOT_FOUND)
def get_proposal(db: Db, id: str) -> m.ProposalPublic:
    """One proposal."""
    return out(m.ProposalPublic, plan.get_or_raise(db.proposals, id, "proposal"))


@router.get(
    "/initiatives/{id}/proposals", response_model=list[m.ProposalPublic], responses=NOT_FOUND
)
def initiative_proposals(db: Db, id: str) -> list[m.ProposalPublic]:
    """Every proposal about the initiative."""
    plan.get_or_raise(db.initiatives, id, "initiative")
    return outs(m.ProposalPublic, db.proposals.find_by_initiative_id(id))


@router.post(
    "/proposals/{id}/accept",
    response_model=m.AcceptedProposal,
    responses={**NOT_FOUND, **CONFLICT},
)
def accept(db: Db, id: str) -> m.AcceptedProposal:
    """Apply a pending proposal (create or update its page, phase or task), all or nothing;
    409 when it is not pending.
    """
    return _accepted(proposals.accept_proposal(db, id))


@router.post(
    "/agents/{name}/proposals/accept",
    response_model=list[m.AcceptedProposal],
    responses={**NOT_FOUND, **CONFLICT},
)
def accept_all(db: Db, name: str) -> list[m.AcceptedProposal]:
    """Accept every pending proposal of the agent, in order, all or nothing (the error names
    the proposal that failed); dependencies among them are made."""
    agent = agents.find_agent(db, name)
    return [_accepted(result) for result in proposals.accept_all(db, agent.id)]


def _accepted(result: proposals.AcceptedProposal) -> m.AcceptedProposal:
    return m.AcceptedProposal(
        proposal=out(m.ProposalPublic, result.proposal),
        action="created" if result.action == "created" else "updated",
        entity=plain(result.entity),
        warnings=result.warnings,
    )


@router.post(
    "/proposals/{id}/dismiss", response_model=m.ProposalPublic, responses={**NOT_FOUND, **CONFLICT}
)
def dismiss(db: Db, id: str) -> m.ProposalPublic:
    """Dismiss a pending proposal (nothing is applied); 409 when it is not pending."""
    return out(m.ProposalPublic, proposals.dismiss_proposal(db, id))
