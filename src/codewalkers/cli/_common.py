"""What every ``cw`` command shares: the database handle, output (human or ``--json``), errors.

Commands stay thin: parse, call a service or repository, print through :func:`emit`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from codewalkers.db import Account, Database, open_database
from codewalkers.workspace import Workspace, find_workspace

# Piped output is not cut to 80 columns: ids and trees must survive `| grep` and `> file`.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON (snake_case keys).")
]


class CliError(Exception):
    """A user error: printed as one line on stderr, exit code 1."""


@dataclasses.dataclass
class Settings:
    """Options given before the command (``cw --database-url URL task list``)."""

    database_url: str | None = None
    json: bool = False


settings = Settings()


def workspace() -> Workspace:
    return find_workspace()


@contextmanager
def database() -> Iterator[Database]:
    """The workspace's database, migrated, closed afterwards."""
    url = settings.database_url
    if not url:
        url = workspace().database_url()
    db = open_database(url)
    try:
        yield db
    finally:
        db.close()


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


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON when asked, else call ``human`` (default: a generic view)."""
    if as_json or settings.json:
        sys.stdout.write(json.dumps(plain(data), ensure_ascii=False, indent=2) + "\n")
    elif human is not None:
        human()
    else:
        show_record(data)


def show_record(record: Any) -> None:
    """A record as ``key: value`` lines."""
    data = plain(record)
    if not isinstance(data, dict):
        console.print(str(data), markup=False)
        return
    width = max((len(key) for key in data), default=0)
    for key, value in data.items():
        if value is None:
            value = "-"
        elif isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False)
        console.print(f"[bold]{key.ljust(width)}[/bold]  ", end="")
        console.print(str(value), markup=False)


def show_table(rows: Sequence[Any], columns: Sequence[str], empty: str = "nothing found") -> None:
    """Records as a table of the given columns."""
    if not rows:
        console.print(empty, style="dim")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in columns:
        is_id = column == "id" or column.endswith("_id")
        # Ids are copied into the next command: never wrap or truncate them.
        table.add_column(column.replace("_", " "), no_wrap=is_id, min_width=21 if is_id else None)
    for row in rows:
        data = plain(row)
        table.add_row(*("-" if data.get(c) is None else str(data.get(c)) for c in columns))
    console.print(table)


def read_text_file(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} file {path}: {exc}") from exc


def ok(message: str) -> None:
    console.print(message, markup=False)
