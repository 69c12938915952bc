"""OpenCode's ``opencode run --format json`` JSONL. Not run here: the shapes come from its
documentation and its ``run.ts`` as described by others (each line ``{type, timestamp,
sessionID, part | error}``).

``step_start`` → :class:`SessionStarted` (``sessionID``, ``ses_…``); ``text`` → text;
``tool_use`` → tool use (``part.tool``, ``part.state.input``); ``step_finish`` whose reason is
not ``tool-calls`` → :class:`Result` (``part.cost``, ``part.tokens``); ``error`` →
:class:`ProviderError`, or :class:`UsageLimit` when its message matches a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codewalkers.agents.dialects._common import (
    clip,
    json_object,
    mapping,
    match_limit,
    number,
    raw_line,
    summarize,
    text_of,
)
from codewalkers.agents.output import (
    AssistantText,
    OutputEvent,
    ProviderError,
    Result,
    SessionStarted,
    ToolUse,
)

USAGE_LIMIT_PATTERNS = (
    r"(?i)usage limit (?:reached|exceeded)",
    r"You[\u2019']ve hit your (?:usage|session|weekly)[^\n]{0,20} limit",
    r"exhausted your (?:daily )?quota",
    r"\busage_limit_reached\b",
)


def parse(line: str, patterns: Sequence[re.Pattern[str]]) -> list[OutputEvent]:
    data = json_object(line)
    if data is None:
        return raw_line(line, patterns)
    kind = data.get("type")
    session_id = text_of(data.get("sessionID")) or None
    part = mapping(data.get("part"))
    if kind == "step_start":
        return [SessionStarted(session_id)] if session_id else []
    if kind == "text":
        text = text_of(part.get("text"))
        return [AssistantText(clip(text))] if text else []
    if kind == "tool_use":
        state = mapping(part.get("state"))
        return [ToolUse(text_of(part.get("tool")) or "tool", summarize(state.get("input")))]
    if kind == "step_finish":
        if part.get("reason") == "tool-calls":
            return []
        tokens = part.get("tokens")
        return [
            Result(
                is_error=False,
                cost_usd=number(part.get("cost")),
                usage=tokens if isinstance(tokens, dict) else {},
                session_id=session_id,
            )
        ]
    if kind == "error":
        error = mapping(data.get("error"))
        message = (
            text_of(mapping(error.get("data")).get("message"))
            or text_of(error.get("message"))
            or text_of(error.get("name"))
            or text_of(data.get("error"))
            or "error"
        )
        limit = match_limit(message, patterns)
        return [limit] if limit else [ProviderError(clip(message))]
    return []
