"""Plain parameter values without pydantic: start-up time for every ``cw`` call.

Typer 0.29 coerces every parameter value through a pydantic ``TypeAdapter`` built on first
use: importing pydantic and building the adapters is about a tenth of a plain read's time.
:func:`install` gives Typer's parameters a first step that takes the values needing no
work as they are (a ``str`` for a ``str``; an integer or a decimal number within its
bounds for an ``int`` or a ``float``) and hands anything else (other types, a value out of
bounds, one to clamp or convert) to Typer's own coercion, so its results and error messages
are unchanged. ``tests/cli/test_startup.py`` checks the values and the errors.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from typer import core
from typer._click.exceptions import MissingParameter

# ASCII digits only: Python's int() takes other scripts' digits, pydantic does not.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
_MISSING = object()

_typer_process_value = core._TyperParameter.process_value


def _plain(parameter: Any, value: Any) -> Any:
    """``value`` as Typer would coerce it when that takes no work; else ``_MISSING``."""
    descriptor = parameter.type_descriptor
    annotation = descriptor.annotation
    if annotation is str:
        return value if isinstance(value, str) else _MISSING
    if annotation is not int and annotation is not float:
        return _MISSING
    info = descriptor.parameter_info
    if getattr(info, "clamp", False) or getattr(info, "parser", None) is not None:
        return _MISSING
    if isinstance(value, str):
        pattern = _INTEGER if annotation is int else _DECIMAL
        if not pattern.fullmatch(value):
            return _MISSING
        value = annotation(value)
    elif not _number(value, annotation):
        return _MISSING
    else:
        value = annotation(value)
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if (low is not None and value < low) or (high is not None and value > high):
        return _MISSING
    return value


def _number(value: Any, annotation: type) -> bool:
    """A number Typer takes as it is: an int for an int, an int or a float for a float."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (annotation is float and isinstance(value, float))


def _process_value(self: Any, ctx: Any, value: Any) -> Any:
    if value is None:
        # What Typer's coercion gives for no value, without building its adapter first.
        value = () if self.multiple or self.nargs == -1 else None
        if self.required and self.value_is_missing(value):
            raise MissingParameter(ctx=ctx, param=self)
        return self.callback(ctx, self, value) if self.callback is not None else value
    if not (self.multiple or self.nargs != 1):
        plain = _plain(self, value)
        if plain is not _MISSING:
            if self.callback is not None:
                plain = self.callback(ctx, self, plain)
            return plain
    return _typer_process_value(self, ctx, value)


@functools.cache
def install() -> None:
    """Give Typer's parameters the plain first step (idempotent)."""
    core._TyperParameter.process_value = _process_value  # type: ignore[method-assign]
