"""Gemini CLI's ``--output-format stream-json`` (agent-clis.md §3).

``init`` → :class:`SessionStarted`; assistant ``message`` → text; ``tool_use`` → tool use;
``result`` → :class:`Result` (usage from ``stats``; Gemini reports no cost). A result error
"You have exhausted your daily quota" is a :class:`UsageLimit`. The stderr retry lines
("Attempt N failed with status 429. Retrying with backoff...") are not by themselves a limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codewalkers.agents.dialects._common import (
    clip,
    json_object,
    mapping,
    match_limit,
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
    r"exhausted your (?:daily )?quota",
    r"\bTerminalQuotaError\b",
    r"\bMODEL_CAPACITY_EXHAUSTED\b",
)

_RETRY = re.compile(r"Attempt \d+ failed with status \d+")


def parse(line: str, patterns: Sequence[re.Pattern[str]]) -> list[OutputEvent]:
    data = json_object(line)
    if data is None:
        return raw_line(line, patterns, ignore=_RETRY)
    kind = data.get("type")
    if kind == "init":
        session_id = text_of(data.get("session_id"))
        return [SessionStarted(session_id)] if session_id else []
    if kind == "message" and data.get("role") == "assistant":
        text = text_of(data.get("content"))
        return [AssistantText(clip(text))] if text else []
    if kind == "tool_use":
        name = text_of(data.get("tool_name")) or "tool"
        return [ToolUse(name, summarize(data.get("parameters")))]
    if kind == "error":
        message = text_of(data.get("message")) or "error"
        limit = match_limit(message, patterns)
        return [limit] if limit else [ProviderError(clip(message))]
    if kind == "result":
        stats = data.get("stats")
        usage = stats if isinstance(stats, dict) else {}
        if data.get("status") == "success":
            return [Result(is_error=False, usage=usage)]
        error = mapping(data.get("error"))
        message = text_of(error.get("message")) or text_of(data.get("error")) or "error"
        limit = match_limit(message, patterns)
        return [*([limit] if limit else []), Result(True, clip(message), usage=usage)]
    return []
