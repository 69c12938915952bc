"""``cw proposal ...``: pages, phases and tasks agents propose, accepted or dismissed."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    database,
    emit,
    ok,
    resolve,
    show_table,
)
from codewalkers.db import ProposalStatus
from codewalkers.services import agents, plan, proposals

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(help="Proposals: what agents suggest; accepting one applies it.")

Id = Annotated[str, typer.Argument(metavar="ID", help="The proposal's id (or a unique prefix).")]
COLUMNS = ["id", "target_type", "target_id", "title", "status", "created_at"]


@app.command(
    "list",
    epilog="Example: cw proposal list --agent brave-otter --status pending",
)
def list_(
    agent: Annotated[str | None, typer.Option("--agent", help="The agent's name (or id).")] = None,
    initiative: Annotated[
        str | None, typer.Option("--initiative", help="Instead of --agent: every agent's.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status: " + ", ".join(ProposalStatus))
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List an agent's proposals (or an initiative's), in order."""
    if (agent is None) == (initiative is None):
        raise CliError("give --agent NAME or --initiative ID")
    with database() as db:
        if agent is not None:
            agent_id = agents.find_agent(db, agent).id
            if status:
                rows = db.proposals.find_by_agent_id_and_status(agent_id, status)
            else:
                rows = db.proposals.find_by_agent_id(agent_id)
        else:
            assert initiative is not None
            initiative_id = resolve(db, "initiative", initiative)
            plan.get_or_raise(db.initiatives, initiative_id, "initiative")
            if status and status not in set(ProposalStatus):
                raise CliError(f"unknown status {status!r} ({', '.join(ProposalStatus)})")
            rows = [
                p
                for p in db.proposals.find_by_initiative_id(initiative_id)
                if status is None or p.status == status
            ]
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no proposals"))


@app.command("get", context_settings=ID_ARGS, epilog="Example: cw proposal get Pp1...")
def get(id: Id, json_output: JsonOption = False) -> None:
    """Show a proposal: what it would create or change, its front matter and content."""
    with database() as db:
        proposal = plan.get_or_raise(db.proposals, resolve(db, "proposal", id), "proposal")
    emit(proposal, json_output)


@app.command(
    "accept",
    context_settings=ID_ARGS,
    epilog="Example: cw proposal accept Pp1...  (or: cw proposal accept --all --agent brave-otter)",
)
def accept(
    id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The proposal's id (or a unique prefix).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every pending proposal of --agent, in order.")
    ] = False,
    agent: Annotated[
        str | None, typer.Option("--agent", help="With --all: the agent's name (or id).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Accept a pending proposal: create or update its page, phase or task (all or nothing),
    with the dependencies it names. With --all --agent NAME: the agent's pending set, in
    order, in one transaction."""
    if all_ == (id is not None):
        raise CliError("give a proposal ID, or --all --agent NAME")
    if all_ and agent is None:
        raise CliError("--all needs --agent NAME: whose proposals to accept")
    if agent is not None and not all_:
        raise CliError("--agent goes with --all")
    with database() as db:
        if id is not None:
            results = [proposals.accept_proposal(db, resolve(db, "proposal", id))]
        else:
            assert agent is not None
            results = proposals.accept_all(db, agents.find_agent(db, agent).id)
    data = results[0] if id is not None else results
    emit(data, json_output, lambda: _show_accepted(results, agent))


def _show_accepted(results: list[proposals.AcceptedProposal], agent: str | None) -> None:
    if not results:
        ok(f"agent {agent} has no pending proposals")
    for result in results:
        kind = result.proposal.target_type
        ok(f"accepted proposal {result.proposal.id}: {result.action} {kind} {result.entity.id}")
        for warning in result.warnings:
            sys.stderr.write(f"warning: {warning}\n")


@app.command("dismiss", context_settings=ID_ARGS, epilog="Example: cw proposal dismiss Pp1...")
def dismiss(id: Id, json_output: JsonOption = False) -> None:
    """Dismiss a pending proposal (nothing is applied)."""
    with database() as db:
        proposal = proposals.dismiss_proposal(db, resolve(db, "proposal", id))
        warnings = proposals.dropped_dependencies(db, proposal.id)
    emit(proposal, json_output, lambda: ok(f"dismissed proposal {proposal.id}"))
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")
