"""The typed events a provider's output turns into (one output line → zero or more events).

The dialect parsers (:mod:`codewalkers.agents.dialects`) produce them; the supervisor reads
them. None of them decides by itself how a run ended: that is the exit code, the
``signal.json`` and, for usage limits, :class:`UsageLimit`.

- :class:`SessionStarted` may repeat with the same id (some dialects carry it on many lines).
- :class:`UsageLimit` may repeat for one limit (Codex prints it as ``error`` and ``turn.failed``).
- :class:`ProviderError` is informational (a retry, a warning, a failed resume): the end of
  the run is still told by :class:`Result` and the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The provider's session id (what ``--resume`` takes)."""

    session_id: str


@dataclass(frozen=True, slots=True)
class AssistantText:
    """Text the model wrote."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The model called a tool; ``summary`` is a short human line (a command, a path)."""

    name: str
    summary: str


@dataclass(frozen=True, slots=True)
class Result:
    """The end of one run as the provider reports it."""

    is_error: bool
    text: str = ""
    cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    num_turns: int | None = None


@dataclass(frozen=True, slots=True)
class UsageLimit:
    """The account hit its usage limit; ``resets_at`` (UTC) is ``None`` when unreadable."""

    message: str
    resets_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderError:
    """An error the provider reported (not by itself the end of the run)."""

    message: str


@dataclass(frozen=True, slots=True)
class RawText:
    """A line that is not one of the dialect's events (stderr, plain text, garbage)."""

    text: str


OutputEvent = (
    SessionStarted | AssistantText | ToolUse | Result | UsageLimit | ProviderError | RawText
)

__all__ = [
    "AssistantText",
    "OutputEvent",
    "ProviderError",
    "RawText",
    "Result",
    "SessionStarted",
    "ToolUse",
    "UsageLimit",
]
