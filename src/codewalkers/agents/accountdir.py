"""Per-account provider config directories: where an account's secrets are decrypted, and
only there.

An account's ``config_json`` is a JSON object naming the files of the provider's config
directory (``{"files": {".credentials.json": {...}, ".claude.json": {...}}, "env": {...}}``);
its ``credentials`` is either such a file's content (a JSON object, written to the
provider's credentials file) or a plain key/token given to the process in the provider's
key variable (``ANTHROPIC_API_KEY``, ``CODEX_API_KEY`` ...), or, when it starts with the
provider's token prefix, in its subscription-token variable (``CLAUDE_CODE_OAUTH_TOKEN``).
The directory is 0700 and every file 0600; the provider's config-dir variable
(``CLAUDE_CONFIG_DIR``, ``CODEX_HOME`` ...) points at it. Nothing of it reaches the log,
the events or the agent's workdir.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any


class AccountConfigError(ValueError):
    """The account's stored config cannot be turned into a config directory."""


@dataclass(frozen=True, slots=True)
class AccountEnvironment:
    """What a process needs to run as the account: its config dir and extra variables."""

    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)


def prepare(
    directory: Path,
    *,
    config_json: str | None,
    credentials: str | None,
    config_dir_env: str | None,
    api_key_env: str | None,
    credentials_file: str | None,
    token_env: str | None = None,
    token_prefix: str = "",
) -> AccountEnvironment:
    """Write the account's files into ``directory`` (0700; files 0600) and return the
    environment that points the provider at it. Raises :class:`AccountConfigError` (never
    quoting a secret) for a config that is not a JSON object of files.
    """
    _private_dir(directory)
    env: dict[str, str] = {}
    if config_dir_env:
        env[config_dir_env] = str(directory)
    config = _parse_config(config_json)
    for name, content in config.get("files", {}).items():
        _write_private(directory / _relative(name), _content(content))
    extra_env = config.get("env", {})
    if not isinstance(extra_env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra_env.items()
    ):
        raise AccountConfigError("account config: 'env' must map names to strings")
    env.update(extra_env)
    if credentials:
        parsed = _maybe_json_object(credentials)
        if parsed is not None and credentials_file:
            _write_private(directory / _relative(credentials_file), credentials)
        elif token_env and token_prefix and credentials.strip().startswith(token_prefix):
            env[token_env] = credentials.strip()
        elif api_key_env:
            env[api_key_env] = credentials.strip()
        elif credentials_file:
            _write_private(directory / _relative(credentials_file), credentials)
        else:
            raise AccountConfigError(
                "account has credentials but the provider names neither a key variable "
                "nor a credentials file"
            )
    return AccountEnvironment(config_dir=directory, env=env)


def carry_session(
    source: Path, target: Path, patterns: Sequence[str], session_id: str
) -> list[Path]:
    """Copy the files of session ``session_id`` (``patterns`` with ``{session_id}``,
    relative globs) from one account's config dir to another's, so the session resumes
    there with its history. Returns the files copied.
    """
    copied: list[Path] = []
    if not source.is_dir():
        return copied
    _private_dir(target)
    for pattern in patterns:
        for path in source.glob(pattern.format(session_id=session_id)):
            if not path.is_file():
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(path, destination)
            os.chmod(destination, 0o600)
            copied.append(destination)
    return copied


def _parse_config(config_json: str | None) -> Mapping[str, Any]:
    if not config_json:
        return {}
    try:
        config = json.loads(config_json)
    except ValueError:
        raise AccountConfigError("account config is not JSON") from None
    if not isinstance(config, dict):
        raise AccountConfigError("account config must be a JSON object")
    unknown = set(config) - {"files", "env"}
    if unknown:
        raise AccountConfigError(f"account config: unknown key(s) {sorted(unknown)}")
    if not isinstance(config.get("files", {}), dict):
        raise AccountConfigError("account config: 'files' must be an object")
    return config


def _maybe_json_object(text: str) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError):
        value = json.loads(text)
        if isinstance(value, dict):
            return value
    return None


def _content(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2)


def _relative(name: str) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise AccountConfigError(f"account config: file name {name!r} must stay in its folder")
    return Path(*path.parts)


def _private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(content)
    temporary.replace(path)
