"""Providers are data: the built-ins' command lines, and `.cwrc` overrides and additions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from codewalkers.agents.output import SessionStarted, UsageLimit
from codewalkers.agents.providers import (
    BUILTIN_PROVIDERS,
    ProviderConfigError,
    fake_provider,
    load_providers,
)


def test_claude_runs_headless_with_stream_json_and_resumes_by_id() -> None:
    claude = BUILTIN_PROVIDERS["claude"]
    new = claude.command_line("do it")
    assert new.argv[0] == "claude"
    assert new.argv[-2:] == ["-p", "do it"]
    assert "--verbose" in new.argv and "stream-json" in new.argv
    assert new.stdin is None
    assert new.env["IS_SANDBOX"] == "1"
    resumed = claude.command_line("answers", session_id="abc", model="opus", config_dir="/acct")
    assert resumed.argv[1:3] == ["--resume", "abc"]
    assert resumed.argv[resumed.argv.index("--model") :][:2] == ["--model", "opus"]
    assert resumed.env["CLAUDE_CONFIG_DIR"] == "/acct"


def test_codex_resumes_with_the_exec_resume_subcommand_and_takes_the_prompt_last() -> None:
    codex = BUILTIN_PROVIDERS["codex"]
    invocation = codex.command_line("again", session_id="t-1", api_key="sk-x")
    assert invocation.argv[:4] == ["codex", "exec", "resume", "t-1"]
    assert invocation.argv[-1] == "again"
    assert "--json" in invocation.argv
    assert invocation.stdin is None  # closed: codex waits on an open stdin
    assert invocation.env == {"CODEX_API_KEY": "sk-x"}


def test_every_builtin_has_a_config_dir_variable_and_resume() -> None:
    assert {p.config_dir_env for p in BUILTIN_PROVIDERS.values()} == {
        "CLAUDE_CONFIG_DIR",
        "CODEX_HOME",
        "GEMINI_CLI_HOME",
        "XDG_DATA_HOME",
    }
    for provider in BUILTIN_PROVIDERS.values():
        assert provider.command_line("x", session_id="s").argv.count("s") == 1


def test_a_provider_without_a_model_option_refuses_a_model() -> None:
    provider = load_providers({"providers": {"claude": {"model_args": []}}})["claude"]
    with pytest.raises(ValueError, match="no model option"):
        provider.command_line("x", model="m")


def test_stdin_prompt_mode_puts_the_prompt_on_stdin() -> None:
    provider = load_providers({"providers": {"claude": {"prompt_mode": "stdin"}}})["claude"]
    invocation = provider.command_line("long prompt")
    assert invocation.stdin == "long prompt"
    assert "long prompt" not in invocation.argv


def test_cwrc_overrides_one_key_of_a_builtin() -> None:
    providers = load_providers({"providers": {"claude": {"command": "/opt/claude/bin/claude"}}})
    assert providers["claude"].command == ("/opt/claude/bin/claude",)
    assert providers["claude"].resume_args == BUILTIN_PROVIDERS["claude"].resume_args
    assert providers["codex"] == BUILTIN_PROVIDERS["codex"]


def test_cwrc_adds_a_provider_inheriting_its_dialects_defaults() -> None:
    settings = {"providers": {"mybot": {"command": "mybot --fast", "dialect": "claude"}}}
    mybot = load_providers(settings)["mybot"]
    assert mybot.name == "mybot"
    assert mybot.command == ("mybot", "--fast")
    assert mybot.output_args == BUILTIN_PROVIDERS["claude"].output_args
    assert mybot.command_line("x", session_id="s").argv[:4] == ["mybot", "--fast", "--resume", "s"]
    assert mybot.parse_line('{"type":"system","subtype":"init","session_id":"s1"}') == [
        SessionStarted("s1")
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"mybot": {"command": "b", "dialekt": "claude"}}, "providers.mybot.dialekt: unknown key"),
        ({"mybot": {"command": "mybot", "dialect": "klingon"}}, "providers.mybot.dialect: unknown"),
        ({"mybot": {"command": "mybot"}}, "providers.mybot.dialect: required"),
        ({"mybot": {"dialect": "codex"}}, "providers.mybot.command: required"),
        ({"claude": {"output_args": "--json"}}, "providers.claude.output_args: must be a list"),
        ({"claude": {"env": {"A": 1}}}, "providers.claude.env: must be a table of strings"),
        ({"claude": {"prompt_mode": "telepathy"}}, "providers.claude.prompt_mode: must be one"),
        ({"claude": {"usage_limit_patterns": ["("]}}, r"usage_limit_patterns\[0\]: bad regex"),
        ({"claude": {"command": ""}}, "providers.claude.command: must name an executable"),
        ({"claude": "nope"}, "providers.claude: must be a table"),
    ],
)
def test_a_bad_providers_table_is_an_error_naming_the_key(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        load_providers({"providers": table})


def test_custom_usage_limit_patterns_are_used_by_the_parser() -> None:
    settings = {"providers": {"claude": {"usage_limit_patterns": ["quota gone"]}}}
    events = load_providers(settings)["claude"].parse_line("quota gone, try again in 2 hours")
    assert isinstance(events[0], UsageLimit) and events[0].resets_at is not None


def test_resolve_executable_finds_it_on_path_or_says_none(tmp_path: Path) -> None:
    tool = tmp_path / "mybot"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    by_path = load_providers({"providers": {"m": {"command": str(tool), "dialect": "claude"}}})
    assert by_path["m"].resolve_executable() == str(tool.resolve())
    absent = {"providers": {"m": {"command": "no-such-cw-tool", "dialect": "claude"}}}
    assert load_providers(absent)["m"].resolve_executable() is None
    assert fake_provider().resolve_executable() is not None
