"""``cw init``, ``cw id``, ``cw db ...``: the workspace and its database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from codewalkers.cli._common import JsonOption, emit, ok, settings
from codewalkers.db.ids import new_id
from codewalkers.workspace import (
    SECRET_KEY_ENV,
    create_private_file,
    create_secret_key,
    find_workspace,
    init_workspace,
    secret_key_from_env,
)

if TYPE_CHECKING:
    from codewalkers.db import Database

# `cw id` runs offline and often (agents name new entities with it): the database layer is
# imported inside the commands that use it.

db_app = typer.Typer(help="The workspace database: migrations and schema revision.")


def register(app: typer.Typer) -> None:
    app.command("init", epilog="Example: cw init  (in your project directory)")(init)
    app.command("id", epilog="Example: cw id -n 3")(ids)
    app.add_typer(db_app, name="db")


def init(json_output: JsonOption = False) -> None:
    """Make the current directory a workspace: .cwrc, a migrated .cw/cw.db and the key that
    encrypts account credentials, .cw/secret.key (owner-only; CW_SECRET_KEY overrides it).

    Against a database that already has a key (a team's PostgreSQL), no new key is made:
    get the team's key with `cw secret import FILE` or CW_SECRET_KEY. Running it again is
    harmless: it never replaces an existing key.
    """
    from codewalkers.db import open_database
    from codewalkers.db.secrets import fingerprint
    from codewalkers.services import secret_keys

    workspace, created = init_workspace(Path.cwd(), create_key=False)
    url = workspace.database_url(settings.database_url)
    if url == f"sqlite:///{workspace.default_database_path}":
        # SQLite gives its WAL and shared-memory files the database file's mode.
        create_private_file(workspace.default_database_path)
    db = open_database(url)
    try:
        revision = current_or_head(db)
        team_key = secret_keys.key_status(db, None).database_key
        key = workspace.secret_key()
        if key is None and team_key is None:
            # A database without a key, and none here: this workspace starts the team's key.
            created = create_secret_key(workspace.secret_key_path) or created
            key = workspace.secret_key()
        if key is not None:
            secret_keys.adopt_key(db, key)  # refuses a key other than the team's
        shown = db.url
    finally:
        db.close()
    key_source = (
        None
        if key is None
        else SECRET_KEY_ENV
        if secret_key_from_env()
        else str(workspace.secret_key_path)
    )
    data = {
        "root": str(workspace.root),
        "created": created,
        "database_url": shown,
        "revision": revision,
        "secret_key": key_source,
        "key_fingerprint": team_key or (fingerprint(key) if key else None),
        "needs_team_key": key is None,
    }
    verb = "Initialized" if created else "Already initialized:"

    def human() -> None:
        ok(
            f"{verb} Codewalkers workspace in {workspace.root}"
            f"\ndatabase {shown} at revision {revision}"
        )
        if key is None:
            assert team_key is not None
            ok(f"secret key missing: {secret_keys.missing_key_message(team_key)}")
        else:
            ok(f"secret key {key_source} (fingerprint {data['key_fingerprint']})")

    emit(data, json_output, human)
    from codewalkers.server.auth import ensure_token  # the API token of `cw start`

    ensure_token(workspace.state_dir)


def current_or_head(db: Database) -> str | None:
    """The revision the (just migrated) database is at."""
    return db.schema_revision()


def ids(
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, max=10_000, help="How many ids.")
    ] = 1,
    json_output: JsonOption = False,
) -> None:
    """Print fresh 21-character ids (offline; agents use them to name new entities)."""
    values = [new_id() for _ in range(count)]
    emit(values, json_output, lambda: ok("\n".join(values)))


def _url() -> str:
    return settings.database_url or find_workspace().database_url()


def _status() -> dict[str, object]:
    from codewalkers.db.engine import create_engine, current_revision, head_revision
    from codewalkers.db.errors import translate_errors

    engine = create_engine(_url())
    try:
        with translate_errors(), engine.connect() as connection:
            current = current_revision(connection)
    finally:
        engine.dispose()
    head = head_revision()
    return {
        "database_url": engine.url.render_as_string(hide_password=True),
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }


@db_app.command("upgrade", epilog="Example: cw db upgrade")
def upgrade(json_output: JsonOption = False) -> None:
    """Migrate the database to the newest schema (also done by every command)."""
    from codewalkers.db.engine import create_engine, ensure_schema

    engine = create_engine(_url())
    try:
        revision = ensure_schema(engine)
    finally:
        engine.dispose()
    emit({"revision": revision}, json_output, lambda: ok(f"database at revision {revision}"))


@db_app.command("current", epilog="Example: cw db current --json")
def current(json_output: JsonOption = False) -> None:
    """Print the schema revision the database is at."""
    status = _status()
    emit(status, json_output, lambda: ok(f"{status['current'] or 'none (empty database)'}"))


@db_app.command("check", epilog="Example: cw db check && echo up to date")
def check(json_output: JsonOption = False) -> None:
    """Exit 0 when the database is at the newest schema, 1 otherwise."""
    status = _status()
    emit(
        status,
        json_output,
        lambda: ok(
            "up to date"
            if status["up_to_date"]
            else f"database at {status['current']}, newest is {status['head']}: run cw db upgrade"
        ),
    )
    if not status["up_to_date"]:
        raise typer.Exit(1)


@db_app.command("history", epilog="Example: cw db history")
def history(json_output: JsonOption = False) -> None:
    """List the migrations this Codewalkers knows, newest first."""
    from alembic.script import ScriptDirectory

    from codewalkers.db.engine import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    entries = [
        {"revision": rev.revision, "down_revision": rev.down_revision, "message": rev.doc}
        for rev in script.walk_revisions()
    ]
    emit(
        entries,
        json_output,
        lambda: ok("\n".join(f"{entry['revision']}  {entry['message']}" for entry in entries)),
    )
