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
from codewalkers.services import agents, proposals

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
    agent: Annotated[str, typer.Option("--agent", help="The agent's name (or id).")],
    status: Annotated[
        str | None, typer.Option(help="Only this status: " + ", ".join(ProposalStatus))
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List an agent's proposals."""
    with database() as db:
        agent_id = agents.find_agent(db, agent).id
        if status:
            rows = db.proposals.find_by_agent_id_and_status(agent_id, status)
        else:
            rows = db.proposals.find_by_agent_id(agent_id)
    emit(rows, json_output, lambda: show_table(rows, COLUMNS, "no proposals"))


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
