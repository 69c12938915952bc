"""What every ``cw`` command shares: the database handle, output (human or ``--json``), errors.

Commands stay thin: parse, call a service or repository, print through :func:`emit`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from codewalkers.db import Database, open_database
from codewalkers.services import lookup, secret_keys
from codewalkers.services.lookup import label
from codewalkers.services.serialize import account_public as account_public  # re-exported
from codewalkers.services.serialize import plain as plain  # re-exported
from codewalkers.workspace import Workspace, WorkspaceError, find_workspace, secret_key_from_env

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
def database(*, check_key: bool = True) -> Iterator[Database]:
    """The workspace's database, migrated, closed afterwards, with the workspace's secret key
    (``CW_SECRET_KEY``, else ``.cw/secret.key``) for account credentials; a key other than
    the one the database remembers is refused (``SecretKeyError``) unless ``check_key`` is
    false (``cw secret`` compares keys itself).
    """
    url = settings.database_url
    if url:
        key = secret_key_from_env()
        if key is None:
            try:
                key = workspace().secret_key()
            except WorkspaceError:
                key = None  # --database-url outside a workspace: no key file to read
    else:
        here = workspace()
        url = here.database_url()
        key = here.secret_key()
    db = open_database(url, secret_key=key)
    try:
        # Another key than the team's is refused before anything is written with it.
        if check_key:
            secret_keys.check_key(db, key)
        yield db
    finally:
        db.close()


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


YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")
]


def confirm(action: str, consequences: Sequence[str], yes: bool) -> None:
    """Go ahead with ``action`` when it has no ``consequences`` ("deletes 3 tasks"), when
    ``yes`` (``--yes``), or when a person at a terminal agrees; otherwise raise ``CliError``
    (changing nothing). Without a terminal on stdin there is no prompt: it refuses unless
    ``--yes``.
    """
    if not consequences or yes:
        return
    what = f"{action} also {', '.join(consequences)}"
    if not sys.stdin.isatty():
        raise CliError(f"{what}; give --yes to go ahead (stdin is not a terminal, so no prompt)")
    if not typer.confirm(f"{what}. Go ahead?", default=False, err=True):
        raise CliError("nothing deleted")


def counted(verb: str, count: int, noun: str) -> list[str]:
    """``["deletes 3 tasks"]`` (``[]`` for none), for :func:`confirm`."""
    if count == 0:
        return []
    return [f"{verb} {count} {noun}" + ("" if count == 1 else "s")]


def consequences(found: Sequence[tuple[str, int, str]]) -> list[str]:
    """A service's ``(verb, count, noun)`` list as :func:`confirm`'s phrases, one verb said
    once: ``["deletes 2 phases", "3 tasks"]``.
    """
    phrases: list[str] = []
    said = None
    for verb, count, noun in found:
        for phrase in counted(verb, count, noun):
            phrases.append(phrase if verb != said else phrase.removeprefix(f"{verb} "))
            said = verb
    return phrases


def named(entity: str, record: Any) -> str:
    """``task "Sketch the token flow" (16Z7…full id)``: a thing named as well as identified."""
    text = label(record)
    return f'{entity} "{text}" ({record.id})' if text else f"{entity} {record.id}"


def resolve(db: Database, entity: str, given: str) -> str:
    """The full id of ``given`` (a full id or a unique prefix of at least 4 characters);
    an ambiguous prefix is refused listing the candidates.
    """
    return lookup.resolve(db, entity, given)


def resolve_all(db: Database, entity: str, given: Sequence[str]) -> list[str]:
    return [lookup.resolve(db, entity, value) for value in given]
