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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewalkers.services.serialize import account_public as account_public  # re-exported
from codewalkers.services.serialize import plain as plain  # re-exported
from codewalkers.workspace import Workspace, WorkspaceError, find_workspace, secret_key_from_env

if TYPE_CHECKING:
    from rich.console import Console

    from codewalkers.db import Database

# Start-up: a command imports what it uses when it uses it. Rich (tables, trees) loads
# with the first human output that needs it, the database layer (SQLAlchemy) with the
# first `database()`; `tests/cli/test_startup.py` keeps plain reads free of Alembic,
# FastAPI and the server.


class _Console:
    """The Rich console, made on first use (``console.print(...)`` as before)."""

    _console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            # Piped output is not cut to 80 columns: ids and trees must survive `| grep`
            # and `> file`.
            width = None if sys.stdout.isatty() else 200
            type(self)._console = Console(highlight=False, soft_wrap=True, width=width)
        return getattr(self._console, name)


console: Console = _Console()  # type: ignore[assignment]

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


#: Seconds a command waits for the coordinator (a spawn may clone a repository).
COORDINATOR_TIMEOUT = 300.0


def coordinator(method: str, path: str, body: Any = None) -> Any:
    """Ask the workspace's running coordinator (``cw start``): the answer as JSON. Without
    one, or when it refuses, a ``CliError`` with one line (the server's own reason)."""
    from codewalkers.server import runner
    from codewalkers.server.auth import read_token

    state = workspace().state_dir
    info, _stale = runner.running(state)
    if info is None:
        raise CliError(
            "no coordinator is running for this workspace: run `cw start --detach` first"
        )
    try:
        return runner.request_json(
            info,
            path,
            token=read_token(state),
            timeout=COORDINATOR_TIMEOUT,
            method=method,
            body=body,
        )
    except runner.ServerError as exc:
        raise CliError(str(exc)) from exc


@contextmanager
def database(*, check_key: bool = True) -> Iterator[Database]:
    """The workspace's database, migrated, closed afterwards, with the workspace's secret key
    (``CW_SECRET_KEY``, else ``.cw/secret.key``) for account credentials; a key other than
    the one the database remembers is refused (``SecretKeyError``) unless ``check_key`` is
    false (``cw secret`` compares keys itself).
    """
    from codewalkers.db import open_database
    from codewalkers.services import secret_keys

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


#: Human tables fit this many columns (``--json`` is never shortened).
TABLE_WIDTH = 80
#: Ids in tables are cut to their unique prefix among the rows, never below this: long
#: enough to stay unique in the whole workspace, and accepted back by every command.
SHORT_ID = 8


def short_ids(ids: Sequence[str]) -> dict[str, str]:
    """Each id's shortest prefix (at least :data:`SHORT_ID` characters) that no other of
    ``ids`` shares.
    """
    shown = {}
    for id in ids:
        length = min(SHORT_ID, len(id))
        while length < len(id) and any(o != id and o.startswith(id[:length]) for o in ids):
            length += 1
        shown[id] = id[:length]
    return shown


def _cell(column: str, value: Any, ids: dict[str, str]) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and column.endswith("_at") and "T" in value:
        return value[:16].replace("T", " ")  # minutes are enough in a table
    if column == "id" or column.endswith("_id"):
        return ids.get(value, str(value))
    return str(value)


#: Shorter headers where the column name is long for what it holds.
HEADERS = {
    "merge_requires_approval": "approval",
    "has_credentials": "credentials",
    "is_exhausted": "exhausted",
    "last_used_at": "last used",
    "default_branch": "branch",
}


def _fit(widths: list[int], fixed: set[int], budget: int) -> list[int]:
    """``widths`` narrowed, widest first (never the ``fixed`` ones, never below 3), until
    their sum is at most ``budget``.
    """
    widths = list(widths)
    while sum(widths) > budget:
        shrinkable = [i for i in range(len(widths)) if i not in fixed and widths[i] > 3]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def show_table(rows: Sequence[Any], columns: Sequence[str], empty: str = "nothing found") -> None:
    """Records as a table of the given columns, at most :data:`TABLE_WIDTH` wide: ids cut
    to a unique prefix (usable as the id), long values cut with an ellipsis.
    """
    if not rows:
        console.print(empty, style="dim")
        return
    data = [plain(row) for row in rows]
    id_columns = {i for i, c in enumerate(columns) if c == "id" or c.endswith("_id")}
    ids = short_ids(
        sorted(
            {d[columns[i]] for d in data for i in id_columns if isinstance(d.get(columns[i]), str)}
        )
    )
    headers = [HEADERS.get(c, c).replace("_", " ") for c in columns]
    cells = [[_cell(c, row.get(c), ids) for c in columns] for row in data]
    natural = [max(len(headers[i]), *(len(r[i]) for r in cells)) for i in range(len(columns))]
    widths = _fit(natural, id_columns, TABLE_WIDTH - 3 * (len(columns) - 1))
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for header, width in zip(headers, widths, strict=True):
        # Ids are never cut (they are copied into the next command); the rest may be.
        table.add_column(header, no_wrap=True, overflow="ellipsis", width=width)
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)


def read_text_file(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} file {path}: {exc}") from exc


def ok(message: str) -> None:
    """A plain line on stdout (no Rich: ``cw id`` and confirmations need none)."""
    sys.stdout.write(message + "\n")


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
    from codewalkers.services.lookup import label

    text = label(record)
    return f'{entity} "{text}" ({record.id})' if text else f"{entity} {record.id}"


def resolve(db: Database, entity: str, given: str) -> str:
    """The full id of ``given`` (a full id or a unique prefix of at least 4 characters);
    an ambiguous prefix is refused listing the candidates.
    """
    from codewalkers.services import lookup

    return lookup.resolve(db, entity, given)


def resolve_all(db: Database, entity: str, given: Sequence[str]) -> list[str]:
    from codewalkers.services import lookup

    return [lookup.resolve(db, entity, value) for value in given]
