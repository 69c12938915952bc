"""Our dialect parsers on the stdout the real CLIs printed (``transcripts/``, saved by the
real-CLI tests): fast, and run with no CLI installed.

Each real run is read as the supervisor reads it, line by line: the session id first, the
tools and texts, one result last; the usage-limit runs give a :class:`UsageLimit` before
their error result, and a successful run none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codewalkers.agents.dialects import parse_line
from codewalkers.agents.output import OutputEvent, Result, SessionStarted, ToolUse, UsageLimit

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def events_of(name: str) -> list[OutputEvent]:
    dialect = name.split("-", 1)[0]
    lines = (TRANSCRIPTS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [event for line in lines for event in parse_line(dialect, line)]


@pytest.mark.parametrize(
    ("name", "tools"),
    [
        ("claude-edit-commit-done", ["Write", "Bash", "Write"]),
        ("codex-edit-commit-done", ["command_execution"]),
        ("codex-resume", ["command_execution"]),
        ("gemini-edit-commit-done", ["write_file", "run_shell_command"]),
        ("gemini-resume", ["run_shell_command"]),
    ],
)
def test_a_real_run_reads_as_session_tools_and_one_successful_result(
    name: str, tools: list[str]
) -> None:
    events = events_of(name)
    assert isinstance(events[0], SessionStarted) and events[0].session_id
    assert [e.name for e in events if isinstance(e, ToolUse)] == tools
    results = [e for e in events if isinstance(e, Result)]
    assert len(results) == 1 and not results[0].is_error and results[0].usage
    assert events[-1] is results[0]
    assert not [e for e in events if isinstance(e, UsageLimit)]


@pytest.mark.parametrize("name", ["claude-usage-limit", "codex-usage-limit", "gemini-usage-limit"])
def test_a_real_usage_limit_reads_as_a_limit_then_an_error_result(name: str) -> None:
    events = events_of(name)
    assert isinstance(events[0], SessionStarted)
    limits = [e for e in events if isinstance(e, UsageLimit)]
    assert limits, "the limit is seen"
    assert events.index(limits[0]) < len(events) - 1
    assert isinstance(events[-1], Result) and events[-1].is_error
    if not name.startswith("gemini"):  # Gemini says no reset time
        assert all(limit.resets_at is not None for limit in limits)


def test_a_resumed_claude_run_keeps_its_session_and_reads_cleanly() -> None:
    events = events_of("claude-resume")
    (started,) = [e for e in events if isinstance(e, SessionStarted)]
    (result,) = [e for e in events if isinstance(e, Result)]
    assert result.session_id == started.session_id and not result.is_error
