"""Claude Code's ``--output-format stream-json`` (agent-clis.md §1.1, §1.2).

- ``system/init`` → :class:`SessionStarted`; ``assistant`` content blocks → text / tool use.
- ``rate_limit_event`` with ``status: "rejected"`` → :class:`UsageLimit` at ``resetsAt``.
- ``result`` → :class:`Result`; when ``is_error`` with ``api_error_status: 429`` or a limit
  text (``You've hit your session limit · resets 4am (UTC)``, the 1.0.x
  ``Claude AI usage limit reached|<epoch>``) a :class:`UsageLimit` comes first.
- ``system/api_retry`` is a retry, not yet a limit: :class:`ProviderError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from codewalkers.agents.dialects._common import (
    clip,
    from_epoch,
    integer,
    json_object,
    mapping,
    match_limit,
    number,
    raw_line,
    read_reset_time,
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
    UsageLimit,
)

USAGE_LIMIT_PATTERNS = (
    r"You[\u2019']ve hit your [^·\n]{0,40}limit",
    r"Claude AI usage limit reached",
    r"\blimit reached\s*[·∙]\s*resets\b",
)


def parse(line: str, patterns: Sequence[re.Pattern[str]]) -> list[OutputEvent]:
    data = json_object(line)
    if data is None:
        return raw_line(line, patterns)
    kind = data.get("type")
    if kind == "system":
        return _system(data)
    if kind == "assistant":
        return _assistant(data, patterns)
    if kind == "rate_limit_event":
        info = mapping(data.get("rate_limit_info"))
        if info.get("status") == "rejected":
            kind_name = text_of(info.get("rateLimitType")) or "usage"
            return [UsageLimit(f"{kind_name} limit rejected", from_epoch(info.get("resetsAt")))]
        return []
    if kind == "result":
        return _result(data, patterns)
    return []


def _system(data: dict[str, Any]) -> list[OutputEvent]:
    subtype = data.get("subtype")
    if subtype == "init":
        session_id = text_of(data.get("session_id"))
        return [SessionStarted(session_id)] if session_id else []
    if subtype == "api_retry":
        status = integer(data.get("error_status"))
        attempt, most = integer(data.get("attempt")), integer(data.get("max_retries"))
        error = text_of(data.get("error")) or "error"
        return [ProviderError(f"API retry {attempt}/{most}: {error} ({status})")]
    return []


def _assistant(data: dict[str, Any], patterns: Sequence[re.Pattern[str]]) -> list[OutputEvent]:
    message = mapping(data.get("message"))
    content = message.get("content")
    events: list[OutputEvent] = []
    synthetic = message.get("model") == "<synthetic>" or isinstance(data.get("error"), str)
    for block in content if isinstance(content, list) else []:
        block = mapping(block)
        if block.get("type") == "text" and text_of(block.get("text")):
            text = block["text"]
            # Only Claude's own synthetic error messages are read for limits, never the
            # model's prose (which may well quote such a message).
            if synthetic and (limit := match_limit(text, patterns)):
                events.append(limit)
            events.append(AssistantText(clip(text)))
        elif block.get("type") == "tool_use":
            name = text_of(block.get("name")) or "tool"
            events.append(ToolUse(name, summarize(block.get("input"))))
    return events


def _result(data: dict[str, Any], patterns: Sequence[re.Pattern[str]]) -> list[OutputEvent]:
    is_error = data.get("is_error") is True
    text = text_of(data.get("result"))
    events: list[OutputEvent] = []
    limit = match_limit(text, patterns, anchored=not is_error)
    if limit is None and is_error and integer(data.get("api_error_status")) == 429:
        limit = UsageLimit(clip(text) or "API error 429", read_reset_time(text))
    if limit is not None:
        events.append(limit)
    usage = data.get("usage")
    events.append(
        Result(
            is_error=is_error,
            text=clip(text),
            cost_usd=number(data.get("total_cost_usd")),
            usage=usage if isinstance(usage, dict) else {},
            session_id=text_of(data.get("session_id")) or None,
            num_turns=integer(data.get("num_turns")),
        )
    )
    return events
