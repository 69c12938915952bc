"""docs/cli.md is the commands' own help, and every command shows an example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from codewalkers.cli._docs import render
from codewalkers.cli.app import _register, app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _leaves(command: Any, path: str) -> list[tuple[str, Any]]:
    children = getattr(command, "commands", None)
    if not children:
        return [(path, command)]
    return [leaf for name, child in children.items() for leaf in _leaves(child, f"{path} {name}")]


def test_every_command_has_an_example_and_a_json_option() -> None:
    _register()
    leaves = _leaves(typer.main.get_command(app), "cw")
    assert len(leaves) > 50
    for path, command in leaves:
        assert (command.epilog or "").startswith("Example: cw"), path
        assert any("--json" in param.opts for param in command.params), path


def test_docs_cli_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale: run `python -m codewalkers.cli._docs > docs/cli.md`"
    )
