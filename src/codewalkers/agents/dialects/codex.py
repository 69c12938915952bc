"""Codex's ``codex exec --json`` JSONL (agent-clis.md §2).

``thread.started`` → :class:`SessionStarted` (the thread id is what ``exec resume`` takes);
``item.*`` → text and tool use; ``turn.completed`` → :class:`Result` with its usage (Codex
reports no cost); ``turn.failed`` → an error :class:`Result`. ``error`` lines are retries or
warnings (:class:`ProviderError`) unless they carry the usage-limit text ("You've hit your
usage limit … try again at 4:01 AM", with a curly apostrophe), which also comes again in
``turn.failed``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

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

USAGE_LIMIT_PATTERNS = (r"You[\u2019']ve hit your usage limit", r"\busage_limit_reached\b")

_TOOL_ITEMS = {"command_execution", "mcp_tool_call", "web_search", "file_change"}


def parse(line: str, patterns: Sequence[re.Pattern[str]]) -> list[OutputEvent]:
    data = json_object(line)
    if data is None:
        return raw_line(line, patterns)
    kind = data.get("type")
    if kind == "thread.started":
        thread_id = text_of(data.get("thread_id"))
        return [SessionStarted(thread_id)] if thread_id else []
    if kind in ("item.started", "item.completed"):
        return _item(kind, mapping(data.get("item")))
    if kind == "turn.completed":
        usage = data.get("usage")
        return [Result(is_error=False, usage=usage if isinstance(usage, dict) else {})]
    if kind == "turn.failed":
        message = text_of(mapping(data.get("error")).get("message")) or "turn failed"
        limit = match_limit(message, patterns)
        return [*([limit] if limit else []), Result(is_error=True, text=clip(message))]
    if kind == "error":
        message = text_of(data.get("message")) or "error"
        limit = match_limit(message, patterns)
        return [limit] if limit else [ProviderError(clip(message))]
    return []


def _item(kind: str, item: dict[str, Any]) -> list[OutputEvent]:
    item_type = item.get("type")
    if kind == "item.completed" and item_type == "agent_message":
        text = text_of(item.get("text"))
        return [AssistantText(clip(text))] if text else []
    if kind == "item.completed" and item_type == "error":
        return [ProviderError(clip(text_of(item.get("message")) or "error"))]
    # A tool is shown once: when it starts, or (file changes) when it is done.
    wanted = "item.completed" if item_type == "file_change" else "item.started"
    if item_type in _TOOL_ITEMS and kind == wanted:
        detail: Any = item.get("command") or item.get("changes") or item.get("query") or item
        if item_type == "mcp_tool_call":
            detail = f"{text_of(item.get('server'))} {text_of(item.get('tool'))}".strip()
        return [ToolUse(str(item_type), summarize(detail))]
    return []
