"""Render docs/cli.md from the ``cw`` app itself, so the reference cannot drift from the code.

    python -m codewalkers.cli._docs > docs/cli.md

``tests/cli/test_docs.py`` fails when docs/cli.md differs from what this renders.
"""

from __future__ import annotations

from typing import Any

import typer.main

INTRO = """\
# The `cw` command line

`cw` is how people, and the agents themselves, use Codewalkers. Every command talks to the
workspace's database directly: SQLite in `.cw/cw.db` by default, PostgreSQL when
`--database-url` / `CW_DATABASE_URL` says so. Commands find the workspace by walking up from
the current directory to `.cwrc`, as git does.

- Human output by default; `--json` on every command (or `cw --json ...`) prints JSON with
  snake_case keys, ids, enums and ISO-8601 UTC timestamps as strings. Agents and scripts
  consume it: it is kept stable. `cw ask`, `cw listen` and `cw answer` always print JSON.
- Exit codes: 0 success; 1 a user error (unknown id, bad enum value, a dependency cycle,
  outside a workspace…), with one line `error: ...` on stderr and the database unchanged;
  2 bad usage (unknown command or option, missing argument).
- Account credentials are never printed, in any format.

A first initiative:

```sh
jid() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
cw init
I=$(cw initiative create "User auth" --json | jid)
P=$(cw phase create --initiative "$I" Design --json | jid)
cw task create "Sketch the token flow" --phase "$P" --priority high
cw initiative tree "$I"
cw task ready --initiative "$I"
```

This page is generated from the commands' own help (`python -m codewalkers.cli._docs`).
"""


def _usage(command: Any, path: str) -> str:
    pieces = []
    for param in command.params:
        if param.param_type_name == "argument":
            name = (param.metavar or param.name or "").upper()
            pieces.append(name if param.required else f"[{name}]")
    has_options = any(p.param_type_name == "option" for p in command.params)
    return f"{path}{' [OPTIONS]' if has_options else ''}" + "".join(f" {p}" for p in pieces)


def _options(command: Any) -> list[str]:
    lines = []
    for param in command.params:
        if param.param_type_name != "option" or param.name == "help":
            continue
        names = ", ".join(f"`{name}`" for name in [*param.opts, *param.secondary_opts])
        required = " (required)" if param.required else ""
        help_text = (param.help or "").replace("\n", " ")
        lines.append(f"- {names}{required}: {help_text}".rstrip(": "))
    return lines


def _render(command: Any, path: str, out: list[str]) -> None:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        if path != "cw":
            out.append(f"## `{path}`\n")
            out.append((command.help or "").strip() + "\n")
        for name in subcommands:
            _render(subcommands[name], f"{path} {name}", out)
        return
    out.append(f"### `{path}`\n")
    out.append((command.help or "").strip() + "\n")
    out.append(f"```\n{_usage(command, path)}\n```\n")
    options = _options(command)
    if options:
        out.append("\n".join(options) + "\n")
    if command.epilog:
        out.append(f"{command.epilog.strip()}\n")


def render() -> str:
    """The Markdown reference of every ``cw`` command."""
    from codewalkers.cli.app import _register, app

    _register()
    out = [INTRO]
    _render(typer.main.get_command(app), "cw", out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
