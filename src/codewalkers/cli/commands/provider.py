"""``cw provider ...``: the coding-agent CLIs Codewalkers can run (built-in + ``.cwrc``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codewalkers.agents.providers import (
    BUILTIN_PROVIDERS,
    Provider,
    ProviderConfigError,
    load_providers,
)
from codewalkers.cli._common import CliError, JsonOption, console, emit, show_record, show_table
from codewalkers.workspace import WorkspaceError, find_workspace

app = typer.Typer(help="Providers: the coding-agent CLIs agents run (claude, codex, ...).")


def _providers() -> dict[str, Provider]:
    """The merged providers of this workspace's ``.cwrc``; the built-ins outside one."""
    try:
        settings = find_workspace().settings
    except WorkspaceError:
        return dict(BUILTIN_PROVIDERS)
    try:
        return load_providers(settings)
    except ProviderConfigError as exc:
        raise CliError(f".cwrc: {exc}") from exc


def _summary(provider: Provider) -> dict[str, Any]:
    path = provider.resolve_executable()
    return {
        "name": provider.name,
        "dialect": provider.dialect,
        "executable": provider.command[0],
        "found": path is not None,
        "path": path,
    }


@app.command("list", epilog="Example: cw provider list --json")
def list_(json_output: JsonOption = False) -> None:
    """List providers: dialect, executable, and whether it is found on this machine."""
    rows = [_summary(provider) for provider in _providers().values()]
    for row in rows:
        row["found_at"] = row["path"] or "not found"
    emit(
        [{k: v for k, v in row.items() if k != "found_at"} for row in rows],
        json_output,
        lambda: show_table(rows, ["name", "dialect", "executable", "found_at"]),
    )


@app.command("show", epilog="Example: cw provider show claude --json")
def show(
    name: Annotated[str, typer.Argument(help="The provider's name.")],
    json_output: JsonOption = False,
) -> None:
    """Show a provider's merged data (built-in defaults + .cwrc) and its executable's path."""
    providers = _providers()
    provider = providers.get(name)
    if provider is None:
        raise CliError(f"unknown provider {name!r} (known: {', '.join(sorted(providers))})")
    data = {**provider.to_dict(), "path": provider.resolve_executable()}
    emit(data, json_output, lambda: _human(data))


def _human(data: dict[str, Any]) -> None:
    show_record({**data, "path": data["path"] or "not found"})
    if not data["path"]:
        console.print("the executable is not found on PATH", style="dim")
