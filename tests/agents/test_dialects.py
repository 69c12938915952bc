"""The dialect parsers read the real CLIs' lines (copied from agent-clis.md and
offline-provider-clis.md) and never raise on garbage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewalkers.agents.dialects import DIALECTS, parse_line, read_reset_time
from codewalkers.agents.output import (
    AssistantText,
    ProviderError,
    RawText,
    Result,
    SessionStarted,
    ToolUse,
    UsageLimit,
)

NOW = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)

# --- claude ----------------------------------------------------------------------------------

CLAUDE_INIT = (
    '{"type":"system","subtype":"init","cwd":"/w/repo","session_id":"81ed8e30-aaaa",'
    '"tools":["Bash"],"model":"claude-opus-4-8[1m]","permissionMode":"bypassPermissions"}'
)
CLAUDE_TOOL = (
    '{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant",'
    '"model":"claude-opus-4-8","content":[{"type":"tool_use","id":"toolu_1","name":"Write",'
    '"input":{"file_path":"/w/repo/hello.txt","content":"hi"}}],"stop_reason":null},'
    '"parent_tool_use_id":null,"session_id":"81ed8e30-aaaa"}'
)
CLAUDE_RESULT = (
    '{"type":"result","subtype":"success","is_error":false,"api_error_status":null,'
    '"duration_ms":455,"num_turns":2,"result":"Done: I created the file hello.txt.",'
    '"stop_reason":"end_turn","session_id":"81ed8e30-aaaa","total_cost_usd":0.002015,'
    '"usage":{"input_tokens":203,"output_tokens":40}}'
)
CLAUDE_RATE_LIMIT = (
    '{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796184045,'
    '"rateLimitType":"five_hour","isUsingOverage":false}}'
)
CLAUDE_SESSION_LIMIT_RESULT = (
    '{"type":"result","subtype":"success","is_error":true,"api_error_status":429,'
    '"result":"You\'ve hit your session limit \u00b7 resets 4am (UTC)","session_id":"s1"}'
)


def test_claude_run_reads_session_tool_use_and_result() -> None:
    assert parse_line("claude", CLAUDE_INIT) == [SessionStarted("81ed8e30-aaaa")]
    assert parse_line("claude", CLAUDE_TOOL) == [ToolUse("Write", "/w/repo/hello.txt")]
    [result] = parse_line("claude", CLAUDE_RESULT)
    assert result == Result(
        is_error=False,
        text="Done: I created the file hello.txt.",
        cost_usd=0.002015,
        usage={"input_tokens": 203, "output_tokens": 40},
        session_id="81ed8e30-aaaa",
        num_turns=2,
    )


def test_claude_assistant_text_block() -> None:
    line = json.dumps(
        {"type": "assistant", "message": {"content": [{"type": "text", "text": "On it."}]}}
    )
    assert parse_line("claude", line) == [AssistantText("On it.")]


def test_claude_rejected_rate_limit_event_is_a_usage_limit_at_resets_at() -> None:
    [limit] = parse_line("claude", CLAUDE_RATE_LIMIT)
    assert isinstance(limit, UsageLimit)
    assert limit.resets_at == datetime.fromtimestamp(1796184045, tz=UTC)
    allowed = '{"type":"rate_limit_event","rate_limit_info":{"status":"allowed"}}'
    assert parse_line("claude", allowed) == []


def test_claude_subscriber_limit_result_is_a_usage_limit_then_an_error_result() -> None:
    limit, result = parse_line("claude", CLAUDE_SESSION_LIMIT_RESULT)
    assert isinstance(limit, UsageLimit) and isinstance(result, Result)
    assert result.is_error
    assert limit.resets_at is not None and limit.resets_at.hour == 4
    assert limit.resets_at > datetime.now(UTC)


def test_claude_old_usage_limit_text_with_epoch() -> None:
    line = json.dumps(
        {"type": "result", "is_error": True, "result": "Claude AI usage limit reached|1755615600"}
    )
    limit, _ = parse_line("claude", line)
    assert isinstance(limit, UsageLimit)
    assert limit.resets_at == datetime.fromtimestamp(1755615600, tz=UTC)
    # The same text on stderr / as a plain line:
    plain = parse_line("claude", "Claude AI usage limit reached|1755615600")
    assert isinstance(plain[0], UsageLimit) and isinstance(plain[1], RawText)


def test_claude_api_key_429_after_retries_is_a_usage_limit_without_reset() -> None:
    line = json.dumps(
        {
            "type": "result",
            "subtype": "success",
            "is_error": True,
            "api_error_status": 429,
            "result": "API Error: Request rejected (429) · rate limited",
        }
    )
    limit, result = parse_line("claude", line)
    assert isinstance(limit, UsageLimit) and limit.resets_at is None
    assert isinstance(result, Result) and result.is_error


def test_claude_api_retry_with_429_is_not_yet_a_limit() -> None:
    line = (
        '{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,'
        '"retry_delay_ms":500,"error_status":429,"error":"rate_limit"}'
    )
    [event] = parse_line("claude", line)
    assert isinstance(event, ProviderError) and "429" in event.message


def test_claude_model_prose_quoting_a_limit_is_not_a_limit() -> None:
    prose = 'I added handling for "You\'ve hit your session limit · resets 4am (UTC)".'
    line = json.dumps(
        {"type": "assistant", "message": {"content": [{"type": "text", "text": prose}]}}
    )
    assert parse_line("claude", line) == [AssistantText(prose)]
    ok = json.dumps({"type": "result", "is_error": False, "result": prose})
    assert all(not isinstance(e, UsageLimit) for e in parse_line("claude", ok))


def test_claude_failed_resume_on_stderr_is_raw_text() -> None:
    assert parse_line("claude", "No conversation found with session ID: abc\n") == [
        RawText("No conversation found with session ID: abc")
    ]


# --- codex -----------------------------------------------------------------------------------

CODEX_LIMIT = (
    "You\u2019ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
    "https://chatgpt.com/settings/usage to purchase more credits or try again at 4:01 AM."
)


def test_codex_run() -> None:
    lines = [
        '{"type":"thread.started","thread_id":"01a234b3-58fa-7c42-8770-8bc619034e16"}',
        '{"type":"turn.started"}',
        '{"type":"item.started","item":{"id":"item_1","type":"command_execution",'
        '"command":"/bin/bash -lc \\"echo hi > hello.txt\\"","aggregated_output":"",'
        '"exit_code":null,"status":"in_progress"}}',
        '{"type":"item.completed","item":{"id":"item_1","type":"command_execution",'
        '"command":"x","aggregated_output":"","exit_code":0,"status":"completed"}}',
        '{"type":"item.completed","item":{"id":"item_2","type":"agent_message",'
        '"text":"Done: created hello.txt."}}',
        '{"type":"turn.completed","usage":{"input_tokens":203,"cached_input_tokens":0,'
        '"output_tokens":40}}',
    ]
    events = [event for line in lines for event in parse_line("codex", line)]
    assert events == [
        SessionStarted("01a234b3-58fa-7c42-8770-8bc619034e16"),
        ToolUse("command_execution", '/bin/bash -lc "echo hi > hello.txt"'),
        AssistantText("Done: created hello.txt."),
        Result(
            is_error=False,
            usage={"input_tokens": 203, "cached_input_tokens": 0, "output_tokens": 40},
        ),
    ]


def test_codex_usage_limit_with_curly_apostrophe_and_clock_time() -> None:
    [limit] = parse_line("codex", json.dumps({"type": "error", "message": CODEX_LIMIT}))
    assert isinstance(limit, UsageLimit) and limit.resets_at is not None
    local = limit.resets_at.astimezone()
    assert (local.hour, local.minute) == (4, 1)
    failed = json.dumps({"type": "turn.failed", "error": {"message": CODEX_LIMIT}})
    limit2, result = parse_line("codex", failed)
    assert isinstance(limit2, UsageLimit) and isinstance(result, Result) and result.is_error


def test_codex_reconnect_errors_are_not_limits() -> None:
    line = (
        '{"type":"error","message":"Reconnecting... 1/5 (exceeded retry limit, last status: '
        '429 Too Many Requests)"}'
    )
    [event] = parse_line("codex", line)
    assert isinstance(event, ProviderError)


def test_codex_older_limit_text_in_days_and_hours() -> None:
    text = "You\u2019ve hit your usage limit. Try again in 5 days 22 hours 11 minutes."
    [limit] = parse_line("codex", json.dumps({"type": "error", "message": text}))
    assert isinstance(limit, UsageLimit) and limit.resets_at is not None
    expected = datetime.now(UTC) + timedelta(days=5, hours=22, minutes=11)
    assert abs((limit.resets_at - expected).total_seconds()) < 60


# --- gemini ----------------------------------------------------------------------------------


def test_gemini_run() -> None:
    lines = [
        '{"type":"init","timestamp":"t","session_id":"2c3a44c1-x","model":"auto"}',
        '{"type":"message","timestamp":"t","role":"user","content":"make the file"}',
        '{"type":"tool_use","timestamp":"t","tool_name":"run_shell_command","tool_id":"r_0",'
        '"parameters":{"command":"echo hi > hello.txt","description":"create file"}}',
        '{"type":"tool_result","timestamp":"t","tool_id":"r_0","status":"success","output":""}',
        '{"type":"message","timestamp":"t","role":"assistant","content":"Done.","delta":true}',
        '{"type":"result","timestamp":"t","status":"success","stats":{"total_tokens":366}}',
    ]
    events = [event for line in lines for event in parse_line("gemini", line)]
    assert events == [
        SessionStarted("2c3a44c1-x"),
        ToolUse("run_shell_command", "echo hi > hello.txt"),
        AssistantText("Done."),
        Result(is_error=False, usage={"total_tokens": 366}),
    ]


def test_gemini_daily_quota_is_a_limit_but_retry_lines_are_not() -> None:
    line = json.dumps(
        {
            "type": "result",
            "status": "error",
            "error": {
                "type": "unknown",
                "message": "[API Error: You have exhausted your daily quota on this model.]\n"
                "Please wait and try again later.",
            },
            "stats": {},
        }
    )
    limit, result = parse_line("gemini", line)
    assert isinstance(limit, UsageLimit) and isinstance(result, Result) and result.is_error
    retry = (
        "Attempt 1 failed with status 429. Retrying with backoff... _ApiError: "
        '{"error":{"code":429,"message":"You have exhausted your daily quota"}}'
    )
    assert [type(e) for e in parse_line("gemini", retry)] == [RawText]


# --- opencode --------------------------------------------------------------------------------


def test_opencode_run() -> None:
    lines = [
        '{"type":"step_start","timestamp":1767036059338,"sessionID":"ses_4947",'
        '"part":{"type":"step-start"}}',
        '{"type":"tool_use","timestamp":1,"sessionID":"ses_4947","part":{"tool":"bash",'
        '"callID":"c1","state":{"status":"completed","input":{"command":"ls"}}}}',
        '{"type":"step_finish","timestamp":1,"sessionID":"ses_4947",'
        '"part":{"type":"step-finish","reason":"tool-calls"}}',
        '{"type":"text","timestamp":1,"sessionID":"ses_4947","part":{"type":"text","text":"hello"}}',
        '{"type":"step_finish","timestamp":1,"sessionID":"ses_4947","part":{"type":"step-finish",'
        '"reason":"stop","cost":0.01,"tokens":{"input":17509,"output":3}}}',
    ]
    events = [event for line in lines for event in parse_line("opencode", line)]
    assert events == [
        SessionStarted("ses_4947"),
        ToolUse("bash", "ls"),
        AssistantText("hello"),
        Result(False, "", 0.01, {"input": 17509, "output": 3}, "ses_4947"),
    ]
    error = '{"type":"error","sessionID":"s","error":{"name":"APIError","data":{"message":"boom"}}}'
    assert parse_line("opencode", error) == [ProviderError("boom")]


# --- reset times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claude AI usage limit reached|1755615600", datetime.fromtimestamp(1755615600, UTC)),
        (
            "You've hit your session limit · resets 4am (UTC)",
            datetime(2026, 12, 2, 4, 0, tzinfo=UTC),
        ),
        (
            "You've hit your weekly limit · resets 1am (UTC)",
            datetime(2026, 12, 3, 1, 0, tzinfo=UTC),
        ),
        ("resets 4:30pm (UTC)", datetime(2026, 12, 2, 16, 30, tzinfo=UTC)),
        # The message names minutes: the current minute is now, a minute ago is tomorrow.
        ("resets 1:30am (UTC)", NOW),
        ("resets 1:29am (UTC)", datetime(2026, 12, 3, 1, 29, tzinfo=UTC)),
        ("resets 9am (Europe/Paris)", datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),
        ("resets Dec 5, 4pm (UTC)", datetime(2026, 12, 5, 16, 0, tzinfo=UTC)),
        ("try again in 5 days 22 hours 11 minutes", NOW + timedelta(days=5, hours=22, minutes=11)),
        ("please try again in 30 seconds", NOW + timedelta(seconds=30)),
        ('{"resets_in_seconds": 120}', NOW + timedelta(seconds=120)),
        ("Please wait and try again later.", None),
        ("resets 99pm (UTC)", None),
    ],
)
def test_read_reset_time(text: str, expected: datetime | None) -> None:
    assert read_reset_time(text, now=NOW) == expected


def test_try_again_at_is_the_machines_local_time() -> None:
    reset = read_reset_time("or try again at 4:01 AM.", now=NOW)
    assert reset is not None and reset > NOW
    local = reset.astimezone()
    assert (local.hour, local.minute) == (4, 1)
    assert reset - NOW <= timedelta(days=1)


# --- never raises ----------------------------------------------------------------------------

GARBAGE: list[str | bytes] = [
    "",
    "   ",
    "not json at all",
    b"\xff\xfe\x00\x80binary\xc3",
    '{"type":"result","is_error":',
    "[1, 2, 3]",
    "42",
    '"a string"',
    "null",
    '{"type": 7}',
    '{"type":"result","result":["x"],"usage":"many","total_cost_usd":"1","num_turns":"2",'
    '"is_error":"yes","session_id":5}',
    '{"type":"assistant","message":{"content":"not a list"}}',
    '{"type":"assistant","message":{"content":[1,null,{"type":"tool_use","input":null}]}}',
    '{"type":"system","subtype":"init","session_id":{"x":1}}',
    '{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":"soon"}}',
    '{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1e300}}',
    '{"type":"item.started","item":[]}',
    '{"type":"turn.failed","error":"string"}',
    '{"type":"result","status":"error","error":"flat"}',
    '{"type":"error","error":[1]}',
    "[" * 100_000,
    '{"a":' * 10_000,
]


@pytest.mark.parametrize("dialect", [*DIALECTS, "no-such-dialect"])
@pytest.mark.parametrize("line", GARBAGE)
def test_garbage_never_raises(dialect: str, line: str | bytes) -> None:
    events = parse_line(dialect, line)
    assert isinstance(events, list)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_10_mb_line_is_read_without_raising(dialect: str) -> None:
    huge = "x" * (10 * 1024 * 1024)
    [event] = parse_line(dialect, huge)
    assert isinstance(event, RawText) and len(event.text) < 100_000
    as_json = json.dumps(
        {"type": "assistant", "message": {"content": [{"type": "text", "text": huge}]}}
    )
    assert isinstance(parse_line(dialect, as_json), list)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_input_never_raises(line: str | bytes) -> None:
    for dialect in DIALECTS:
        parse_line(dialect, line)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_json_value_never_raises(value: object) -> None:
    for kind in (
        "result",
        "assistant",
        "system",
        "rate_limit_event",
        "item.started",
        "turn.failed",
        "error",
        "tool_use",
        "step_finish",
        "text",
    ):
        line = json.dumps(
            {
                "type": kind,
                "message": value,
                "result": value,
                "item": value,
                "error": value,
                "part": value,
                "rate_limit_info": value,
                "subtype": "init",
                "session_id": value,
                "usage": value,
            }
        )
        for dialect in DIALECTS:
            parse_line(dialect, line)
