"""An account's stored config and credentials turned into a config dir and environment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from codewalkers.agents import accountdir
from codewalkers.agents.providers import BUILTIN_PROVIDERS, Provider, load_providers


def prepare(directory: Path, credentials: str, provider: Provider) -> accountdir.AccountEnvironment:
    return accountdir.prepare(
        directory,
        config_json=json.dumps({"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}}),
        credentials=credentials,
        config_dir_env=provider.config_dir_env,
        api_key_env=provider.api_key_env,
        credentials_file=".credentials.json",
        token_env=provider.token_env,
        token_prefix=provider.token_prefix,
    )


def test_a_claude_setup_token_goes_in_the_oauth_variable_not_as_an_api_key(
    tmp_path: Path,
) -> None:
    claude = BUILTIN_PROVIDERS["claude"]
    prepared = prepare(tmp_path / "a", " sk-ant-oat01-abc\n", claude)
    assert prepared.env["CLAUDE_CODE_OAUTH_TOKEN"] == "sk-ant-oat01-abc"
    assert "ANTHROPIC_API_KEY" not in prepared.env
    assert prepared.env["CLAUDE_CONFIG_DIR"] == str(tmp_path / "a")
    assert prepared.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"


def test_an_api_key_goes_in_the_key_variable(tmp_path: Path) -> None:
    prepared = prepare(tmp_path / "a", "sk-ant-api03-xyz", BUILTIN_PROVIDERS["claude"])
    assert prepared.env["ANTHROPIC_API_KEY"] == "sk-ant-api03-xyz"
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in prepared.env


def test_a_json_login_is_written_to_the_private_credentials_file(tmp_path: Path) -> None:
    login = json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-abc"}})
    prepared = prepare(tmp_path / "a", login, BUILTIN_PROVIDERS["claude"])
    written = tmp_path / "a" / ".credentials.json"
    assert written.read_text() == login
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert "sk-ant-oat01-abc" not in json.dumps(prepared.env)


def test_a_provider_names_every_variable_its_credentials_come_through() -> None:
    assert BUILTIN_PROVIDERS["claude"].credential_variables() == (
        "ANTHROPIC_API_KEY",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "ANTHROPIC_AUTH_TOKEN",
    )
    assert "OPENAI_API_KEY" in BUILTIN_PROVIDERS["codex"].credential_variables()


def test_cwrc_sets_the_credential_keys_of_a_provider() -> None:
    table = {"command": "mybot", "dialect": "claude", "auth_env": ["MYBOT_KEY"], "token_env": ""}
    mybot = load_providers({"providers": {"mybot": table}})["mybot"]
    assert mybot.auth_env == ("MYBOT_KEY",)
    assert mybot.token_env is None and mybot.token_prefix == "sk-ant-oat"
    assert mybot.credential_variables() == ("ANTHROPIC_API_KEY", "MYBOT_KEY")
