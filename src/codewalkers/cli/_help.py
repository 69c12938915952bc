"""Help screens in the usual command-line style: ``cw task get ID``, ``--name TEXT``, and
nothing after a flag, instead of Typer's ``{ID}``, ``<str>`` and ``<bool>`` placeholders.

Typer offers no setting for these, so :func:`install` replaces the three methods that
render them, once, before the first help screen is drawn.
"""

from __future__ import annotations

import functools
from typing import Any

from typer import core

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "list[str]": "TEXT"}
_typer_option_type = core.TyperOption.display_type_rich


def _option_type(self: core.TyperOption, ctx: Any) -> str | None:
    if self.metavar is not None:
        return self.metavar
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    label = (_typer_option_type(self, ctx) or "").strip("<>").removesuffix("...")
    return _TYPE_NAMES.get(label, label.upper()) or None


def _argument_type(self: core.TyperArgument, ctx: Any) -> str | None:
    return None  # the name column already says what it is (ID, NAME, STATUS, ...)


def _argument_usage(self: core.TyperArgument) -> str:
    name = self.display_name_raw.upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


@functools.cache
def install() -> None:
    """Make every ``cw`` help screen use the plain placeholders (idempotent)."""
    patches: list[tuple[type, str, Any]] = [
        (core.TyperOption, "display_type_rich", _option_type),
        (core.TyperArgument, "display_type_rich", _argument_type),
        (core.TyperArgument, "_usage_display_name", _argument_usage),
    ]
    for owner, attribute, replacement in patches:
        if hasattr(owner, attribute):  # a Typer without it has no such placeholder either
            setattr(owner, attribute, replacement)
