"""Records as JSON-ready data, the one shape the CLI's ``--json``, the server and event
payloads share: dicts with snake_case keys, enums as strings, datetimes ISO-8601 (UTC, ``Z``).

Account secrets (``credentials``, ``config_json``) never appear: only whether they are set.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from codewalkers.db import Account


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: records as dicts, enums as strings, datetimes ISO-8601."""
    if isinstance(value, Account):
        return account_public(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def account_public(account: Account) -> dict[str, Any]:
    """An account without its secrets: only whether they are set."""
    data = {
        field.name: plain(getattr(account, field.name))
        for field in dataclasses.fields(account)
        if field.name not in ("credentials", "config_json")
    }
    data["has_credentials"] = account.credentials is not None
    data["has_config"] = account.config_json is not None
    return data
