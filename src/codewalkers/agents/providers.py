"""Providers are data: how to run one coding-agent CLI non-interactively, resume it, point it
at an account, and read its output. No per-provider code lives here; the output formats are
the dialect parsers of :mod:`codewalkers.agents.dialects`.

Built in: ``claude``, ``codex``, ``gemini``, ``opencode`` (facts: agent-clis.md). ``.cwrc``
overrides keys of a built-in or adds a provider that speaks a known dialect::

    [providers.claude]
    command = "/opt/claude/bin/claude"   # override one key

    [providers.mybot]
    command = "mybot"
    dialect = "claude"                  # every other key from the claude dialect's defaults

:func:`load_providers` raises :class:`ProviderConfigError` naming the key
(``providers.mybot.dialekt: unknown key``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from codewalkers.agents.dialects import DEFAULT_USAGE_LIMIT_PATTERNS, DIALECTS, parse_line
from codewalkers.agents.output import OutputEvent

PromptMode = Literal["argument", "flag", "stdin"]
PROMPT_MODES: tuple[str, ...] = ("argument", "flag", "stdin")


class ProviderConfigError(ValueError):
    """A ``[providers.NAME]`` table in ``.cwrc`` is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """One process to start: ``argv`` (no shell), the text for stdin (``None``: stdin is
    closed, ``/dev/null``), and the variables to ADD to the inherited environment."""

    argv: list[str]
    stdin: str | None
    env: dict[str, str]


@dataclass(frozen=True, slots=True)
class Provider:
    """How to run one coding-agent CLI. Every field is data; see ``docs/agents.md``."""

    name: str
    #: Which parser reads its output (a key of ``dialects.DIALECTS``).
    dialect: str
    #: The executable and its fixed leading arguments (``("codex", "exec")``).
    command: tuple[str, ...]
    #: How the prompt is passed: the last ``argument``, after ``prompt_flag`` (``flag``), or
    #: on ``stdin``.
    prompt_mode: PromptMode = "argument"
    prompt_flag: str = ""
    #: Non-interactive structured output.
    output_args: tuple[str, ...] = ()
    #: Auto-approve edits and commands (the agent works alone in its own worktree).
    approve_args: tuple[str, ...] = ()
    #: Put right after ``command`` when resuming; ``{session_id}`` is replaced.
    resume_args: tuple[str, ...] = ()
    #: Where the session id comes from (documentation; the dialect parser extracts it).
    session_id_from: str = ""
    #: Regexes over any output line (stdout or stderr) that mean "usage limit reached".
    usage_limit_patterns: tuple[str, ...] = ()
    #: How the reset time is read from the limit (documentation).
    reset_time_from: str = ""
    #: The variable that points the CLI at a per-account config directory.
    config_dir_env: str | None = None
    #: The variable an API key goes in, for API-key accounts.
    api_key_env: str | None = None
    #: The variable a subscription (OAuth) token goes in, and how such a token starts: a
    #: plain credential with this prefix is a token, not an API key (``claude setup-token``
    #: prints ``sk-ant-oat01-…``; sent as an API key it is refused).
    token_env: str | None = None
    token_prefix: str = ""
    #: Variables that carry credentials. An agent that runs as an account never inherits
    #: them from the coordinator: the CLIs prefer a key in the environment to the login in
    #: their config dir, so every account would be billed to the coordinator's key.
    auth_env: tuple[str, ...] = ()
    #: ``{model}`` is replaced; used only when a model is asked for.
    model_args: tuple[str, ...] = ()
    default_model: str | None = None
    #: Further arguments, always given.
    extra_args: tuple[str, ...] = ()
    #: Variables added to the environment of every run.
    env: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""

    def command_line(
        self,
        prompt: str,
        *,
        session_id: str | None = None,
        model: str | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
    ) -> Invocation:
        """The process that runs ``prompt``: a new session, or ``session_id`` resumed.

        ``config_dir`` / ``api_key`` go into the environment under the provider's variables.
        Raises :class:`ValueError` when the provider cannot resume, has no model option for
        ``model``, or has no variable for ``config_dir`` / ``api_key``.
        """
        argv = list(self.command)
        if session_id is not None:
            if not self.resume_args:
                raise ValueError(f"provider {self.name} cannot resume a session")
            if not session_id.strip():
                raise ValueError("an empty session id cannot be resumed")
            argv += [arg.replace("{session_id}", session_id) for arg in self.resume_args]
        argv += [*self.output_args, *self.approve_args]
        model = model or self.default_model
        if model:
            if not self.model_args:
                raise ValueError(f"provider {self.name} has no model option")
            argv += [arg.replace("{model}", model) for arg in self.model_args]
        argv += self.extra_args
        stdin: str | None = None
        if self.prompt_mode == "stdin":
            stdin = prompt
        elif self.prompt_mode == "flag":
            argv += [self.prompt_flag, prompt]
        else:
            argv.append(prompt)
        env = dict(self.env)
        if config_dir is not None:
            if not self.config_dir_env:
                raise ValueError(f"provider {self.name} has no config directory variable")
            env[self.config_dir_env] = os.fspath(config_dir)
        if api_key is not None:
            if not self.api_key_env:
                raise ValueError(f"provider {self.name} has no API key variable")
            env[self.api_key_env] = api_key
        return Invocation(argv=argv, stdin=stdin, env=env)

    def credential_variables(self) -> tuple[str, ...]:
        """Every variable through which this CLI takes credentials (``api_key_env``,
        ``token_env``, ``auth_env``), each once."""
        names = (self.api_key_env, self.token_env, *self.auth_env)
        return tuple(dict.fromkeys(name for name in names if name))

    def resolve_executable(self) -> str | None:
        """The absolute path of the executable, or ``None`` when it is not found."""
        executable = self.command[0] if self.command else ""
        if not executable:
            return None
        if os.sep in executable:
            path = Path(executable).expanduser()
            return str(path.resolve()) if os.access(path, os.X_OK) and path.is_file() else None
        return shutil.which(executable)

    def parse_line(self, line: str | bytes) -> list[OutputEvent]:
        """One output line read with this provider's dialect and usage-limit patterns."""
        return parse_line(self.dialect, line, usage_limit_patterns=self.usage_limit_patterns)

    def to_dict(self) -> dict[str, Any]:
        """The data as plain JSON-able values (``cw provider show --json``)."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            data[item.name] = value
        return data


_QUIET_CLAUDE = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    # Claude refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1; for other
    # users the variable changes nothing. See docs/agents.md "Providers".
    "IS_SANDBOX": "1",
}

BUILTIN_PROVIDERS: dict[str, Provider] = {
    "claude": Provider(
        name="claude",
        dialect="claude",
        command=("claude",),
        prompt_mode="flag",
        prompt_flag="-p",
        output_args=("--output-format", "stream-json", "--verbose"),
        approve_args=("--dangerously-skip-permissions",),
        resume_args=("--resume", "{session_id}"),
        session_id_from="system/init session_id (and every later line, and the result)",
        usage_limit_patterns=DEFAULT_USAGE_LIMIT_PATTERNS["claude"],
        reset_time_from=(
            "rate_limit_event.rate_limit_info.resetsAt (epoch seconds); else the text "
            "'resets 4am (UTC)' (next such time) or 'usage limit reached|<epoch>'"
        ),
        config_dir_env="CLAUDE_CONFIG_DIR",
        api_key_env="ANTHROPIC_API_KEY",
        token_env="CLAUDE_CODE_OAUTH_TOKEN",
        token_prefix="sk-ant-oat",
        auth_env=("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"),
        model_args=("--model", "{model}"),
        env=_QUIET_CLAUDE,
        notes=(
            "Sessions are kept per config dir AND cwd: resume from the same workdir; on "
            "failover copy $CLAUDE_CONFIG_DIR/projects/<cwd-slug>/<id>.jsonl to the new dir."
        ),
    ),
    "codex": Provider(
        name="codex",
        dialect="codex",
        command=("codex", "exec"),
        prompt_mode="argument",
        output_args=("--json", "--skip-git-repo-check"),
        approve_args=("--dangerously-bypass-approvals-and-sandbox",),
        resume_args=("resume", "{session_id}"),
        session_id_from="thread.started thread_id",
        usage_limit_patterns=DEFAULT_USAGE_LIMIT_PATTERNS["codex"],
        reset_time_from="the text 'try again at 4:01 AM' (local time) or 'in 5 days 22 hours'",
        config_dir_env="CODEX_HOME",
        api_key_env="CODEX_API_KEY",
        auth_env=("CODEX_API_KEY", "OPENAI_API_KEY", "CODEX_ACCESS_TOKEN"),
        model_args=("--model", "{model}"),
        notes=(
            "stdin must be closed (it waits for input otherwise). Sessions live in "
            "$CODEX_HOME/sessions/; on failover copy sessions/ to the new CODEX_HOME."
        ),
    ),
    "gemini": Provider(
        name="gemini",
        dialect="gemini",
        command=("gemini",),
        prompt_mode="flag",
        prompt_flag="-p",
        output_args=("--output-format", "stream-json", "--skip-trust"),
        approve_args=("--yolo",),
        resume_args=("--resume", "{session_id}"),
        session_id_from="init session_id",
        usage_limit_patterns=DEFAULT_USAGE_LIMIT_PATTERNS["gemini"],
        reset_time_from="not given: the default reset applies",
        config_dir_env="GEMINI_CLI_HOME",
        api_key_env="GEMINI_API_KEY",
        auth_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        model_args=("--model", "{model}"),
        notes=(
            "Sessions: $GEMINI_CLI_HOME/.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl; "
            "on failover copy that file to the new GEMINI_CLI_HOME (the project folder is "
            "named after the cwd again there). An account needs .gemini/settings.json with "
            'security.auth.selectedType "gemini-api-key" when GOOGLE_GEMINI_BASE_URL is set.'
        ),
    ),
    "opencode": Provider(
        name="opencode",
        dialect="opencode",
        command=("opencode", "run"),
        prompt_mode="argument",
        output_args=("--format", "json"),
        resume_args=("--session", "{session_id}"),
        session_id_from="sessionID of every event (ses_...)",
        usage_limit_patterns=DEFAULT_USAGE_LIMIT_PATTERNS["opencode"],
        reset_time_from="the error text, when it says; else the default reset",
        config_dir_env="XDG_DATA_HOME",
        model_args=("--model", "{model}"),
        env={"OPENCODE_DISABLE_AUTOUPDATE": "1"},
        notes=(
            "Unverified here. Credentials and sessions live in $XDG_DATA_HOME/opencode/ "
            "(auth.json, storage). The API key variable depends on the model's provider."
        ),
    ),
}

#: The built-in provider whose data a new ``.cwrc`` provider of that dialect starts from.
DIALECT_DEFAULTS: dict[str, Provider] = {name: BUILTIN_PROVIDERS[name] for name in DIALECTS}

_TUPLE_KEYS = {
    "output_args",
    "approve_args",
    "resume_args",
    "usage_limit_patterns",
    "model_args",
    "extra_args",
    "auth_env",
}
_OPTIONAL_KEYS = {"config_dir_env", "api_key_env", "token_env", "default_model"}
_STRING_KEYS = {
    "dialect",
    "prompt_mode",
    "prompt_flag",
    "token_prefix",
    "session_id_from",
    "reset_time_from",
    "notes",
}
KEYS: tuple[str, ...] = tuple(
    sorted({"command", "env"} | _TUPLE_KEYS | _OPTIONAL_KEYS | _STRING_KEYS)
)


def fake_provider(name: str = "fake") -> Provider:
    """The shipped fake agent (:mod:`codewalkers.agents.fake`) as a ``claude``-dialect
    provider, run with this Python (no console script on PATH needed)."""
    return replace(
        BUILTIN_PROVIDERS["claude"],
        name=name,
        command=(sys.executable, "-m", "codewalkers.agents.fake"),
        notes="The fake agent: acts out a scenario, no model (docs/agents.md).",
    )


def load_providers(settings: Mapping[str, Any]) -> dict[str, Provider]:
    """The built-in providers merged with the ``[providers.NAME]`` tables of ``settings``
    (a parsed ``.cwrc``). Raises :class:`ProviderConfigError` naming the offending key."""
    providers = dict(BUILTIN_PROVIDERS)
    tables = settings.get("providers", {})
    if not isinstance(tables, Mapping):
        raise ProviderConfigError("providers: must be a table of [providers.NAME] tables")
    for name, table in tables.items():
        where = f"providers.{name}"
        if not isinstance(table, Mapping):
            raise ProviderConfigError(f"{where}: must be a table")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)):
            raise ProviderConfigError(f"{where}: a provider name is letters, digits, - _ .")
        for key in table:
            if key not in KEYS:
                raise ProviderConfigError(f"{where}.{key}: unknown key (known: {', '.join(KEYS)})")
        base = providers.get(name)
        if base is None:
            if "dialect" not in table:
                raise ProviderConfigError(f"{where}.dialect: required for a new provider")
            if "command" not in table:
                raise ProviderConfigError(f"{where}.command: required for a new provider")
            dialect = _dialect(where, table["dialect"])
            base = replace(DIALECT_DEFAULTS[dialect], name=name, notes="")
        provider = replace(base, **_changes(where, table))
        if provider.prompt_mode == "flag" and not provider.prompt_flag:
            raise ProviderConfigError(f"{where}.prompt_flag: required when prompt_mode is flag")
        providers[name] = provider
    return providers


def _dialect(where: str, value: Any) -> str:
    if not isinstance(value, str) or value not in DIALECTS:
        raise ProviderConfigError(
            f"{where}.dialect: unknown dialect {value!r} (known: {', '.join(DIALECTS)})"
        )
    return value


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProviderConfigError(f"{where}: must be a list of strings")
    return tuple(value)


def _changes(where: str, table: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in table.items():
        at = f"{where}.{key}"
        if key == "command":
            if isinstance(value, str):
                try:
                    command = tuple(shlex.split(value))
                except ValueError as exc:
                    raise ProviderConfigError(f"{at}: {exc}") from None
            else:
                command = _strings(at, value)
            if not command or not command[0]:
                raise ProviderConfigError(f"{at}: must name an executable")
            changes[key] = command
        elif key == "dialect":
            changes[key] = _dialect(where, value)
        elif key == "env":
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ProviderConfigError(f"{at}: must be a table of strings")
            changes[key] = dict(value)
        elif key in _TUPLE_KEYS:
            changes[key] = _strings(at, value)
            if key == "usage_limit_patterns":
                for index, pattern in enumerate(changes[key]):
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        raise ProviderConfigError(f"{at}[{index}]: bad regex: {exc}") from None
        else:
            if not isinstance(value, str):
                raise ProviderConfigError(f"{at}: must be a string")
            if key == "prompt_mode" and value not in PROMPT_MODES:
                raise ProviderConfigError(f"{at}: must be one of {', '.join(PROMPT_MODES)}")
            changes[key] = (value or None) if key in _OPTIONAL_KEYS else value
    return changes


__all__ = [
    "BUILTIN_PROVIDERS",
    "DIALECT_DEFAULTS",
    "KEYS",
    "Invocation",
    "Provider",
    "ProviderConfigError",
    "fake_provider",
    "load_providers",
]
