"""``cw account ...``: provider accounts agents run under. Secrets are never printed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from codewalkers.cli._common import (
    CliError,
    JsonOption,
    YesOption,
    account_public,
    confirm,
    consequences,
    database,
    emit,
    named,
    ok,
    read_text_file,
    resolve,
    show_table,
)
from codewalkers.services import accounts

# Nanoids may start with "-": take such an argument as the id, not as an unknown option.
ID_ARGS = {"ignore_unknown_options": True}

app = typer.Typer(
    help="Accounts: provider logins, handed out least-recently-used. Secrets are never shown."
)

Id = Annotated[str, typer.Argument(metavar="ID", help="The account's id (or a unique prefix).")]
Provider = Annotated[str, typer.Option("--provider", help="The provider (claude, codex, ...).")]
# Every output goes through plain()/account_public(): credentials and config never appear.

_DURATION = re.compile(r"(\d+)([smhdw])")
_DURATIONS = re.compile(r"(?:\d+[smhdw])+")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime for ``value``: ISO-8601 (naive means UTC) or a duration from
    now such as ``30m``, ``2h``, ``1d`` or ``1h30m``. Raises ``CliError`` otherwise.
    """
    text = value.strip()
    if _DURATIONS.fullmatch(text):
        try:
            delta = sum(
                (timedelta(**{_UNITS[unit]: int(n)}) for n, unit in _DURATION.findall(text)),
                timedelta(),
            )
            return (now or datetime.now(UTC)) + delta
        except OverflowError:
            raise CliError(f"invalid time {value!r}: that duration is too long") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"invalid time {value!r}: give an ISO-8601 datetime (2026-01-31T18:00, UTC unless "
            "it has an offset) or a duration such as 30m, 2h, 1d"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@app.command(
    "add",
    context_settings=ID_ARGS,
    epilog="Example: cw account add me@example.com --provider claude "
    "--credentials-file ~/.claude/.credentials.json",
)
def add(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    provider: Annotated[
        str | None, typer.Option("--provider", help="The provider (default claude).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config-file", help="A file with the account's config.")
    ] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option("--credentials-file", help="A file with the account's credentials."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Add an account; the files' contents are stored as they are and never shown."""
    config_json = read_text_file(config_file, "config")
    credentials = read_text_file(credentials_file, "credentials")
    with database() as db:
        account = accounts.add_account(
            db, email, provider=provider, config_json=config_json, credentials=credentials
        )
    emit(
        account,
        json_output,
        lambda: ok(f"added {named('account', account)} ({account.provider})"),
    )


@app.command("list", epilog="Example: cw account list")
def list_(json_output: JsonOption = False) -> None:
    """List accounts (without their secrets); one this key cannot read shows readable false."""
    with database() as db:
        found = db.accounts.find_all_with_readability()
    rows = []
    for account, readable in found:
        row = {**account_public(account), "readable": readable}
        if not readable:  # its secrets are there, but this key cannot tell what they are
            row["has_credentials"] = row["has_config"] = None
        rows.append(row)

    def human() -> None:
        # 80 columns: one "secrets" column says what has_credentials and readable say.
        table = [
            {
                **row,
                "until": row["exhausted_until"] if row["is_exhausted"] else None,
                "secrets": "unreadable"
                if not row["readable"]
                else ("credentials" if row["has_credentials"] else "none"),
            }
            for row in rows
        ]
        columns = ["id", "email", "provider", "until", "last_used_at", "secrets"]
        show_table(table, columns, "no accounts")

    emit(rows, json_output, human)


@app.command("next", epilog="Example: cw account next --provider claude --json")
def next_(provider: Provider = "claude", json_output: JsonOption = False) -> None:
    """Claim the least recently used available account of the provider (stamps its use)."""
    with database() as db:
        account = accounts.claim_next(db, provider)
    if account is None:
        raise CliError(f"no {provider} account is available (none added, or all exhausted)")
    emit(account, json_output, lambda: ok(f"account {account.id} {account.email}"))


@app.command(
    "exhaust", context_settings=ID_ARGS, epilog="Example: cw account exhaust Ac1... --until 5h"
)
def exhaust(
    id: Id,
    until: Annotated[
        str,
        typer.Option(
            "--until", help="ISO-8601 time (UTC unless offset given) or a duration: 30m, 2h, 1d."
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Park an account until a time (its usage-limit reset)."""
    moment = parse_when(until)
    with database() as db:
        account = accounts.mark_exhausted(db, resolve(db, "account", id), moment)
    emit(
        account,
        json_output,
        lambda: ok(f"account {account.id} is exhausted until {moment.isoformat()}"),
    )


@app.command("available", context_settings=ID_ARGS, epilog="Example: cw account available Ac1...")
def available(id: Id, json_output: JsonOption = False) -> None:
    """Make an exhausted account available now (its limit was lifted before the reset)."""
    with database() as db:
        account = accounts.mark_available(db, resolve(db, "account", id))
    emit(account, json_output, lambda: ok(f"account {account.id} is available"))


@app.command("clear-expired", epilog="Example: cw account clear-expired")
def clear_expired(json_output: JsonOption = False) -> None:
    """Make available again every account whose exhaustion has passed; print how many."""
    with database() as db:
        count = accounts.clear_expired(db)
    emit({"cleared": count}, json_output, lambda: ok(f"cleared {count} expired exhaustion(s)"))


@app.command(
    "update",
    context_settings=ID_ARGS,
    epilog="Example: cw account update Ac1... --credentials-file ~/.claude/.credentials.json",
)
def update(
    id: Id,
    email: Annotated[str | None, typer.Option(help="New email.")] = None,
    provider: Annotated[str | None, typer.Option(help="New provider.")] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config-file", help="A file with the new config.")
    ] = None,
    credentials_file: Annotated[
        Path | None, typer.Option("--credentials-file", help="A file with the new credentials.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change an account's email, provider, config or credentials (never shown)."""
    fields = {
        "email": email,
        "provider": provider,
        "config_json": read_text_file(config_file, "config"),
        "credentials": read_text_file(credentials_file, "credentials"),
    }
    changes = {key: value for key, value in fields.items() if value is not None}
    if not changes:
        raise CliError(
            "nothing to change: give --email, --provider, --config-file or --credentials-file"
        )
    with database() as db:
        account = accounts.update_account(db, resolve(db, "account", id), **changes)
    emit(account, json_output, lambda: ok(f"updated {named('account', account)}"))


@app.command("remove", context_settings=ID_ARGS, epilog="Example: cw account remove Ac1... --yes")
def remove(id: Id, yes: YesOption = False, json_output: JsonOption = False) -> None:
    """Remove an account (asks first when agents use it)."""
    with database() as db:
        id = resolve(db, "account", id)
        found = consequences(accounts.account_removal(db, id))
        account = accounts.get_account(db, id)
        confirm(f"removing {named('account', account)}", found, yes)
        accounts.remove_account(db, id)
    emit(
        {"id": id, "deleted": True},
        json_output,
        lambda: ok(f"removed {named('account', account)}"),
    )
