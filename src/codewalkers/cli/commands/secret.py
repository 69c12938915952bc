"""``cw secret ...``: the key that encrypts account credentials, shared by a team.

Every workspace on one database needs the same key. The database remembers which key that
is (its fingerprint, never the key), so a teammate's workspace gets it with ``cw secret
export`` on one machine and ``cw secret import`` on the other.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from codewalkers.cli._common import CliError, JsonOption, database, emit, ok, workspace
from codewalkers.db.secrets import SecretBox, fingerprint
from codewalkers.services import secret_keys
from codewalkers.workspace import create_private_file, read_secret_key, secret_key_from_env

app = typer.Typer(help="The secret key: fingerprint, export for a teammate, import.")

EXPORT_WARNING = (
    "warning: this file decrypts every account credential in the database. Hand it to your "
    "teammate privately (not in chat, not in git) and delete it once imported."
)


def _current_key() -> tuple[str | None, str | None]:
    """The workspace's key and where it comes from."""
    env = secret_key_from_env()
    if env is not None:
        return env, "CW_SECRET_KEY"
    path = workspace().secret_key_path
    key = read_secret_key(path)
    return key, None if key is None else str(path)


@app.command("fingerprint", epilog="Example: cw secret fingerprint")
def fingerprint_(json_output: JsonOption = False) -> None:
    """Print the fingerprint of this workspace's key and of the database's (never the key)."""
    key, source = _current_key()
    with database(check_key=False) as db:
        status = secret_keys.key_status(db, key)
    data = {
        "fingerprint": status.workspace_key,
        "source": source,
        "database_fingerprint": status.database_key,
        "matches": status.matches,
    }

    def human() -> None:
        ok(f"{status.workspace_key or 'no key'}" + (f"  ({source})" if source else ""))
        if status.database_key is None:
            ok("the database has no key yet: the first secret written records this one")
        elif status.database_key != status.workspace_key:
            ok(f"the database's key is {status.database_key}")

    emit(data, json_output, human)


@app.command("export", epilog="Example: cw secret export team.key")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the key (must not exist).")],
    json_output: JsonOption = False,
) -> None:
    """Write this workspace's key to FILE (owner-only, 0600) for a teammate's `cw secret
    import`, after a warning. An existing FILE is never overwritten.
    """
    key, _source = _current_key()
    if key is None:
        raise CliError("this workspace has no secret key to export (run `cw init` first)")
    with database(check_key=False) as db:
        secret_keys.check_key(db, key)  # never hand out a key the database refuses
    if file.exists():
        raise CliError(f"{file} already exists: choose a new file name")
    sys.stderr.write(EXPORT_WARNING + "\n")
    if not create_private_file(file, key + "\n"):
        raise CliError(f"{file} already exists: choose a new file name")
    shown = fingerprint(key)
    emit(
        {"path": str(file), "fingerprint": shown},
        json_output,
        lambda: ok(f"wrote key {shown} to {file} (mode 0600)"),
    )


@app.command("import", epilog="Example: cw secret import team.key")
def import_(
    file: Annotated[Path, typer.Argument(help="A key file written by `cw secret export`.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Replace a different key (kept as .cw/secret.key.<fingerprint>)."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Make the team's key this workspace's .cw/secret.key (0600), after checking it is the
    key the database remembers.
    """
    key = read_secret_key(file)
    if key is None:
        raise CliError(f"cannot read a key from {file}: no such file, or it is empty")
    SecretBox(key)  # a malformed key is refused here, before it is stored
    imported = fingerprint(key)
    here = workspace()
    with database(check_key=False) as db:
        status = secret_keys.key_status(db, key)
        if not status.matches:
            raise CliError(
                f"{file} holds the key {imported}, but this database's secrets are encrypted "
                f"with the key {status.database_key}: ask for the team's key"
            )
        path = here.secret_key_path
        existing = read_secret_key(path)
        if existing is not None and existing != key:
            if not replace:
                raise CliError(
                    f"this workspace already has a different key {fingerprint(existing)} in "
                    f"{path}: give --replace to keep it aside and use {imported}"
                )
            path.rename(path.with_name(f"{path.name}.{fingerprint(existing)}"))
        if existing != key:
            create_private_file(path, key + "\n")
        secret_keys.adopt_key(db, key)
    if secret_key_from_env() not in (None, key):
        sys.stderr.write("note: CW_SECRET_KEY is set and overrides .cw/secret.key\n")
    emit(
        {"path": str(path), "fingerprint": imported},
        json_output,
        lambda: ok(f"imported key {imported} into {path}"),
    )
