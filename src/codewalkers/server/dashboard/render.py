"""Agent output as people read it: each stored line parsed by the provider's dialect and
turned into escaped HTML (assistant text, tool calls, the end of a session with its cost).
"""

from __future__ import annotations

from html import escape

from codewalkers.agents.dialects import parse_line
from codewalkers.agents.output import (
    AssistantText,
    ProviderError,
    RawText,
    Result,
    SessionStarted,
    ToolUse,
    UsageLimit,
)
from codewalkers.db import LogChunk

#: Longer lines are cut (the full text stays in the log file and the API).
MAX_LINE_CHARS = 4000


def _cut(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return escape(text)
    more = len(text) - MAX_LINE_CHARS
    return f"{escape(text[:MAX_LINE_CHARS])}<span class=more> … {more:,} more characters</span>"


def render_line(dialect: str, line: str) -> str:
    """One output line as zero or more ``<div class="l ...">`` elements."""
    parts: list[str] = []
    for event in parse_line(dialect, line):
        if isinstance(event, AssistantText):
            parts.append(f'<div class="l text">{_cut(event.text)}</div>')
        elif isinstance(event, ToolUse):
            parts.append(
                f'<div class="l tool"><b>{escape(event.name)}</b> {_cut(event.summary)}</div>'
            )
        elif isinstance(event, SessionStarted):
            parts.append(f'<div class="l sys">session {escape(event.session_id)}</div>')
        elif isinstance(event, Result):
            facts = ["error" if event.is_error else "done"]
            if event.cost_usd is not None:
                facts.append(f"cost ${event.cost_usd:.4f}")
            if event.num_turns is not None:
                facts.append(f"{event.num_turns} turns")
            parts.append(f'<div class="l end">— session end: {escape(", ".join(facts))} —</div>')
        elif isinstance(event, UsageLimit):
            parts.append(f'<div class="l warn">usage limit: {_cut(event.message)}</div>')
        elif isinstance(event, ProviderError):
            parts.append(f'<div class="l warn">{_cut(event.message)}</div>')
        elif isinstance(event, RawText) and event.text.strip():
            parts.append(f'<div class="l raw">{_cut(event.text)}</div>')
    return "".join(parts)


def render_chunk(dialect: str, seq: int, session_number: int, content: str) -> str:
    """A stored chunk (one or more lines) as ``<div class="chunk" data-seq=...>``."""
    body = "".join(render_line(dialect, line) for line in content.splitlines())
    return (
        f'<div class="chunk" id="chunk-{seq}" data-seq="{seq}" '
        f'data-session="{session_number}">{body}</div>'
    )


def render_chunks(dialect: str, chunks: list[LogChunk]) -> str:
    return "".join(render_chunk(dialect, c.seq, c.session_number, c.content) for c in chunks)
