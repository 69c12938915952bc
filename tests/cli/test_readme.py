"""The README's commands exist as written, and what it says of events holds."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main

from codewalkers.cli.app import _register, app
from codewalkers.db import Database
from codewalkers.services import plan

README = Path(__file__).resolve().parents[2] / "README.md"


def _shell_lines() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("cw ")]


def _find(command: Any, words: list[str]) -> tuple[Any, list[str]]:
    while words and getattr(command, "commands", None) and words[0] in command.commands:
        command, words = command.commands[words[0]], words[1:]
    return command, words


def test_every_cw_line_of_the_readme_is_a_command_with_those_options() -> None:
    _register()
    root = typer.main.get_command(app)
    lines = _shell_lines()
    assert any(line[:3] == ["cw", "secret", "import"] for line in lines)  # the team walk
    for words in lines:
        command, rest = _find(root, words[1:])
        assert not getattr(command, "commands", None), f"not a command: {' '.join(words)}"
        known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"{' '.join(words)}: unknown {word}"


def test_repositories_write_no_events_and_services_do(db: Database) -> None:
    before = len(db.events.find_after(0))
    quiet = db.initiatives.create(name="Quiet")
    db.phases.create(initiative_id=quiet.id, name="Design")
    assert len(db.events.find_after(0)) == before
    loud = plan.create_initiative(db, "Loud")
    assert [(e.type, e.entity_id) for e in db.events.find_after(0)][before:] == [
        ("initiative:created", loud.id)
    ]
