"""``cw proposal ...``: pages, phases and tasks agents propose, accepted or dismissed."""

from __future__ import annotations

from typing import Annotated

import typer

from codewalkers.cli._common import JsonOption, database, emit, ok, resolve, show_table
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


@app.command("accept", context_settings=ID_ARGS, epilog="Example: cw proposal accept Pp1...")
def accept(id: Id, json_output: JsonOption = False) -> None:
    """Accept a pending proposal: create or update its page, phase or task (all or nothing)."""
    with database() as db:
        id = resolve(db, "proposal", id)
        result = proposals.accept_proposal(db, id)
    kind = result.proposal.target_type
    emit(
        result,
        json_output,
        lambda: ok(f"accepted proposal {id}: {result.action} {kind} {result.entity.id}"),
    )


@app.command("dismiss", context_settings=ID_ARGS, epilog="Example: cw proposal dismiss Pp1...")
def dismiss(id: Id, json_output: JsonOption = False) -> None:
    """Dismiss a pending proposal (nothing is applied)."""
    with database() as db:
        proposal = proposals.dismiss_proposal(db, resolve(db, "proposal", id))
    emit(proposal, json_output, lambda: ok(f"dismissed proposal {proposal.id}"))
