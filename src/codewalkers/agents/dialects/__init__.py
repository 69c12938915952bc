"""Dialect parsers: one small module per output format, each turning ONE output line into
zero or more :mod:`codewalkers.agents.output` events.

:func:`parse_line` never raises: garbage, binary, truncated JSON, huge lines, JSON of the
wrong shape or with fields of the wrong type become :class:`RawText` or nothing.

Usage-limit text patterns are read from non-JSON lines (stderr, plain text) and from the
error/result texts of JSON events, never from the model's own prose or tool output (which may
quote such a message while working on, say, this very code).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from codewalkers.agents.dialects import claude, codex, gemini, opencode
from codewalkers.agents.dialects._common import decode, read_reset_time
from codewalkers.agents.output import OutputEvent, RawText

_Parser = Callable[[str, Sequence[re.Pattern[str]]], list[OutputEvent]]

_PARSERS: dict[str, _Parser] = {
    "claude": claude.parse,
    "codex": codex.parse,
    "gemini": gemini.parse,
    "opencode": opencode.parse,
}

DIALECTS: tuple[str, ...] = tuple(_PARSERS)

#: The usage-limit patterns each dialect's providers start from (``.cwrc`` may replace them).
DEFAULT_USAGE_LIMIT_PATTERNS: dict[str, tuple[str, ...]] = {
    "claude": claude.USAGE_LIMIT_PATTERNS,
    "codex": codex.USAGE_LIMIT_PATTERNS,
    "gemini": gemini.USAGE_LIMIT_PATTERNS,
    "opencode": opencode.USAGE_LIMIT_PATTERNS,
}


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error:
            continue  # providers validate their patterns on load; never fail a parse
    return tuple(compiled)


def parse_line(
    dialect: str, line: str | bytes, *, usage_limit_patterns: Sequence[str] | None = None
) -> list[OutputEvent]:
    """The events in one line of a provider's output (stdout or stderr), in order.

    ``usage_limit_patterns`` (regexes) default to the dialect's own. An unknown dialect
    reads every line as :class:`RawText`. Never raises.
    """
    try:
        text = decode(line)
        patterns = _compiled(
            tuple(
                usage_limit_patterns
                if usage_limit_patterns is not None
                else DEFAULT_USAGE_LIMIT_PATTERNS.get(dialect, ())
            )
        )
        parser = _PARSERS.get(dialect)
        if parser is None:
            return [RawText(text)] if text.strip() else []
        return parser(text, patterns)
    except Exception:  # a parser bug must not stop the coordinator reading output
        try:
            return [RawText(decode(line)[:65536])]
        except Exception:
            return []


__all__ = ["DEFAULT_USAGE_LIMIT_PATTERNS", "DIALECTS", "parse_line", "read_reset_time"]
