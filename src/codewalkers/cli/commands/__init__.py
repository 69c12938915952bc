"""The command groups of ``cw``.

A call imports only the module of the command it runs (``cw task list`` imports
``commands/task.py``, not the server's or the agents'): :data:`GROUPS` says which module
registers which top-level names, so that ``cw.app.main`` can pick it from the command line
before anything is parsed. Help screens and unknown names register everything.
``tests/cli/test_startup.py`` checks this table against what the modules register.
"""

from __future__ import annotations

import importlib

import typer

#: Each command module (in help order) and the top-level names it registers. A module with
#: an ``app`` of its own is added as the group of its name; the others have ``register``.
GROUPS: dict[str, tuple[str, ...]] = {
    "workspace": ("init", "id", "db"),
    "initiative": ("initiative",),
    "phase": ("phase",),
    "task": ("task",),
    "page": ("page",),
    "project": ("project",),
    "account": ("account",),
    "secret": ("secret",),
    "agent": ("agent",),
    "proposal": ("proposal",),
    "architect": ("architect",),
    "message": ("message",),
    "conversation": ("ask", "listen", "answer"),
    "review": ("review",),
    "chat": ("chat",),
    "errand": ("errand",),
    "server": ("start", "stop", "status", "open"),
    "provider": ("provider",),
    "execution": ("dispatch", "worktree"),
}

#: Modules that add commands to another module's group (``execution.py`` adds ``cw phase
#: approve``, ``cw initiative execute`` ...): loaded with that group, or its commands vanish.
EXTENDED_BY: dict[str, tuple[str, ...]] = {
    "initiative": ("execution",),
    "phase": ("execution",),
    "task": ("execution",),
    "review": ("execution",),
}

#: The module that registers each top-level name.
MODULE_OF = {name: module for module, names in GROUPS.items() for name in names}


def register_module(app: typer.Typer, module: str) -> None:
    """Import ``commands/<module>.py`` and add its commands to ``app``."""
    loaded = importlib.import_module(f"codewalkers.cli.commands.{module}")
    for extension in EXTENDED_BY.get(module, ()):
        importlib.import_module(f"codewalkers.cli.commands.{extension}")
    if hasattr(loaded, "register"):
        loaded.register(app)
    else:
        app.add_typer(loaded.app, name=module)


def register(app: typer.Typer) -> None:
    """Add every command group to ``app`` (help screens, docs)."""
    for module in GROUPS:
        register_module(app, module)
