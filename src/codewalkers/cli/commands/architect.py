"""``cw architect discuss | plan | detail | refine INITIATIVE``: an agent that reads the
initiative and proposes pages, phases or tasks (``docs/planning.md``). Asks the running
coordinator (``cw start``), which owns the agents."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from codewalkers.cli._common import JsonOption, coordinator, emit, ok

app = typer.Typer(help="Architect agents: they read an initiative and propose plans.")

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

Initiative = Annotated[str, typer.Argument(help="The initiative's id (or a unique prefix).")]
PhaseOption = Annotated[
    str | None, typer.Option("--phase", help="The phase to detail, or to focus on.")
]
PageOption = Annotated[str | None, typer.Option("--page", help="A page to focus on.")]
InstructionsOption = Annotated[
    str | None, typer.Option("--instructions", help="Extra instructions for the prompt.")
]
ProviderOption = Annotated[
    str | None, typer.Option("--provider", help="Provider (default: claude).")
]
NameOption = Annotated[str | None, typer.Option("--name", help="Agent name.")]
ModelOption = Annotated[str | None, typer.Option("--model", help="The provider's model.")]


def _spawn(
    mode: str,
    initiative: str,
    phase: str | None,
    page: str | None,
    instructions: str | None,
    provider: str | None,
    name: str | None,
    model: str | None,
    json_output: bool,
) -> None:
    body = {
        "phase_id": phase,
        "page_id": page,
        "instructions": instructions,
        "provider": provider,
        "name": name,
        "model": model,
    }
    path = f"/initiatives/{quote(initiative, safe='')}/architect/{mode}"
    agent = coordinator("POST", path, {k: v for k, v in body.items() if v is not None})
    emit(
        agent,
        json_output,
        lambda: ok(
            f"spawned {mode} agent {agent['name']} ({agent['id']}); its proposals: "
            f"cw proposal list --agent {agent['name']}"
        ),
    )


def _command(mode: str, summary: str, example: str) -> None:
    def command(
        initiative: Initiative,
        phase: PhaseOption = None,
        page: PageOption = None,
        instructions: InstructionsOption = None,
        provider: ProviderOption = None,
        name: NameOption = None,
        model: ModelOption = None,
        json_output: JsonOption = False,
    ) -> None:
        _spawn(mode, initiative, phase, page, instructions, provider, name, model, json_output)

    command.__doc__ = summary
    app.command(mode, context_settings=ID_ARGS, epilog=f"Example: {example}")(command)


_command(
    "discuss",
    "Ask the person what they want (questions: `cw agent answer`), then propose pages "
    "that capture the decisions.",
    'cw architect discuss Xy3... --instructions "Focus on the login flow"',
)
_command(
    "plan",
    "Propose the phases of the initiative, with their dependencies.",
    "cw architect plan Xy3...",
)
_command(
    "detail",
    "Propose the tasks of a phase (--phase, required), with dependencies, priorities and "
    "categories.",
    "cw architect detail Xy3... --phase Ph7...",
)
_command(
    "refine",
    "Propose changes to existing pages, phases and tasks (and what is missing).",
    "cw architect refine Xy3... --page Pg1...",
)
