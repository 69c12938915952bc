"""Secrets: account ``credentials`` and ``config_json`` are encrypted at rest with the
workspace's key; they come back in plaintext through the repository only, and never appear
in the database file, CLI output, logs, exception messages or reprs.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.cli import _common
from codewalkers.db import (
    Database,
    DatabaseError,
    SecretKeyError,
    ValidationError,
    generate_key,
    open_database,
)
from tests.reliability._cli import run

SECRET = "sk-ant-PLANTED-s3cr3t-credential-0123456789"
CONFIG_SECRET = "cfg-PLANTED-oauth-token-9876543210"
KEY = generate_key()


def raw_values(db: Database) -> list[tuple[Any, Any]]:
    with db.engine.connect() as connection:
        return list(
            connection.execute(sa.text("SELECT credentials, config_json FROM accounts")).all()
        )


def database_bytes(url: str) -> bytes:
    """Every byte SQLite keeps for the database: the file, its WAL and shared memory."""
    path = sa.make_url(url).database
    return b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{path}{suffix}").exists()
    )


# --- the repository ---------------------------------------------------------------------------


def test_the_repository_gives_the_plaintext_back_and_stores_only_ciphertext(
    database_url: str, backend: str
) -> None:
    with open_database(database_url, secret_key=KEY) as db:
        created = db.accounts.create(email="a@example.com", credentials=SECRET, config_json="{}")
        assert created.credentials == SECRET and created.config_json == "{}"
        assert db.accounts.find_by_id(created.id) == created
        assert db.accounts.find_all() == [created]
        assert db.accounts.find_by_provider("claude")[0].credentials == SECRET
        claimed = db.accounts.find_next_available()
        assert claimed is not None and claimed.credentials == SECRET
        updated = db.accounts.update(created.id, config_json=CONFIG_SECRET)
        assert updated.config_json == CONFIG_SECRET and updated.credentials == SECRET

        for credentials, config in raw_values(db):
            for stored in (credentials, config):
                assert stored.startswith("fernet:")
                assert SECRET not in stored and CONFIG_SECRET not in stored
        if backend == "postgresql":
            with db.engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT CAST(a.* AS text) FROM accounts a"))
                dump = " ".join(row[0] for row in rows)
            assert SECRET not in dump and CONFIG_SECRET not in dump
    if backend == "sqlite":
        raw = database_bytes(database_url)
        assert raw, "no database bytes read"
        assert SECRET.encode() not in raw and CONFIG_SECRET.encode() not in raw
        assert b"PLANTED" not in raw


def test_the_same_secret_encrypts_differently_each_time(database_url: str) -> None:
    with open_database(database_url, secret_key=KEY) as db:
        db.accounts.create(email="a@example.com", credentials=SECRET)
        db.accounts.create(email="b@example.com", credentials=SECRET)
        first, second = (row[0] for row in raw_values(db))
    assert first != second


def test_a_wrong_key_is_a_clear_error_never_garbage(database_url: str) -> None:
    with open_database(database_url, secret_key=KEY) as db:
        account = db.accounts.create(email="a@example.com", credentials=SECRET)
    with open_database(database_url, secret_key=generate_key()) as db:
        for read in (
            lambda: db.accounts.find_by_id(account.id),
            db.accounts.find_all,
        ):
            with pytest.raises(SecretKeyError) as error:
                read()
            message = str(error.value)
            assert message.startswith("cannot decrypt account credentials: wrong secret key")
            assert "CW_SECRET_KEY" in message and ".cw/secret.key" in message
            assert SECRET not in message and "fernet:" not in message
        # A claim skips the account it cannot read (see below) instead of failing.
        assert db.accounts.find_next_available() is None


KEYS = {"missing key": None, "wrong key": generate_key()}


@pytest.mark.parametrize("other_key", KEYS.values(), ids=KEYS.keys())
def test_a_claim_skips_an_unreadable_account_and_hands_out_the_next(
    database_url: str, other_key: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with open_database(database_url, secret_key=KEY) as db:
        secret = db.accounts.create(email="secret@example.com", credentials=SECRET, sort_order=0)
        plain = db.accounts.create(email="plain@example.com", sort_order=1)
        lonely = db.accounts.create(email="c@example.com", provider="codex", credentials=SECRET)
    with open_database(database_url, secret_key=other_key) as db:
        reported: list[tuple[Any, SecretKeyError]] = []
        with caplog.at_level(logging.WARNING, logger="codewalkers"):
            # Each claim tries the unreadable account first (least recently used), stamps it
            # to the back of the rotation, and hands out the next one.
            for _ in range(3):
                claimed = db.accounts.find_next_available(
                    on_unreadable=lambda account, error: reported.append((account, error))
                )
                assert claimed is not None and claimed.id == plain.id
            # With nothing readable, each candidate is tried once: None, not an error.
            assert db.accounts.find_next_available("codex") is None
        assert [account.id for account, _ in reported] == [secret.id] * 3
        assert all(a.credentials is None and a.email == secret.email for a, _ in reported)
        assert all("cannot decrypt account credentials" in str(e) for _, e in reported)
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum(secret.id in line for line in logged) == 3
        assert sum(lonely.id in line for line in logged) == 1
        assert all("cannot decrypt" in line and SECRET not in line for line in logged)
    with open_database(database_url, secret_key=KEY) as db:
        stamped = db.accounts.find_by_id(secret.id)
        assert stamped is not None and stamped.credentials == SECRET  # untouched but stamped
        assert stamped.last_used_at is not None


def test_claim_next_reports_an_unreadable_account_as_an_event(database_url: str) -> None:
    from codewalkers.services import accounts

    with open_database(database_url, secret_key=KEY) as db:
        secret = db.accounts.create(email="secret@example.com", credentials=SECRET)
        plain = db.accounts.create(email="plain@example.com", sort_order=1)
        before = db.events.latest_seq()
    with open_database(database_url) as db:
        claimed = accounts.claim_next(db)
        assert claimed is not None and claimed.id == plain.id
        found = db.events.find_after(before)
    assert [(e.type, e.entity_id) for e in found] == [
        ("account:unreadable", secret.id),
        ("account:claimed", plain.id),
    ]
    payload = found[0].payload
    assert payload["email"] == "secret@example.com"
    assert payload["has_credentials"] is None and "cannot decrypt" in payload["reason"]
    assert SECRET not in json.dumps(payload) and "fernet:" not in json.dumps(payload)


def test_without_a_key_secrets_are_refused_and_other_accounts_still_work(
    database_url: str,
) -> None:
    with open_database(database_url, secret_key=KEY) as db:
        secret = db.accounts.create(email="a@example.com", credentials=SECRET)
    with open_database(database_url) as db:
        plain = db.accounts.create(email="b@example.com", provider="codex")
        assert db.accounts.find_by_id(plain.id) == plain
        assert db.accounts.find_next_available("codex") is not None
        assert db.initiatives.create(name="works").name == "works"
        with pytest.raises(SecretKeyError, match="no secret key configured"):
            db.accounts.create(email="c@example.com", credentials=SECRET)
        with pytest.raises(SecretKeyError, match="CW_SECRET_KEY"):
            db.accounts.update(plain.id, config_json="{}")
        with pytest.raises(SecretKeyError, match="cannot decrypt account credentials"):
            db.accounts.find_by_id(secret.id)
        assert len(raw_values(db)) == 2


@pytest.mark.parametrize("key", ["", "short", "x" * 44, SECRET])
def test_a_malformed_key_is_refused_when_the_database_opens(database_url: str, key: str) -> None:
    with pytest.raises(SecretKeyError) as error:
        open_database(database_url, secret_key=key or " ")
    assert "malformed" in str(error.value)
    assert key not in str(error.value) or not key.strip()


# --- the workspace key ------------------------------------------------------------------------


@pytest.fixture
def workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, database_url: str
) -> Iterator[Path]:
    """A fresh ``cw init`` workspace, driven in-process; CW_* variables cleared."""
    for name in list(os.environ):
        if name.startswith("CW_") and name != "CW_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    if backend == "postgresql":
        monkeypatch.setenv("CW_DATABASE_URL", database_url)
    root = tmp_path / "ws"
    root.mkdir()
    monkeypatch.chdir(root)
    assert run("init")[0] == 0
    yield root
    _common.settings = _common.Settings()


def test_cw_init_creates_an_owner_only_key_and_never_replaces_it(workspace: Path) -> None:
    state = workspace / ".cw"
    key_file = state / "secret.key"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) == 44
    for path in state.iterdir():  # every file that holds a secret is owner-only
        if path.is_file() and path.name != ".gitignore":
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    code, out, _ = run("init", "--json")
    assert code == 0 and json.loads(out)["secret_key"] == str(key_file)
    assert key_file.read_text().strip() == key
    assert key not in out


def test_cw_secret_key_overrides_the_key_file(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(SECRET)
    file_key = (workspace / ".cw" / "secret.key").read_text().strip()
    add = ("account", "add", "a@example.com", "--credentials-file", str(credentials))
    # The variable wins over the file: another key in it is the one checked, and refused
    # (the database remembers the key that encrypts it), with nothing written.
    monkeypatch.setenv("CW_SECRET_KEY", KEY)
    code, out, err = run(*add)
    assert code == 1 and out == ""
    assert err.startswith("error: this database's secrets are encrypted with the key")
    assert err.count("\n") == 1 and SECRET not in err and KEY not in err
    monkeypatch.setenv("CW_SECRET_KEY", file_key)
    code, out, err = run(*add)
    assert code == 0, err
    monkeypatch.delenv("CW_SECRET_KEY")
    code, out, err = run("account", "list", "--json")
    assert code == 0, err
    assert [a["email"] for a in json.loads(out)] == ["a@example.com"]
    assert SECRET not in out


def test_init_with_cw_secret_key_set_writes_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CW_SECRET_KEY", KEY)
    monkeypatch.delenv("CW_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("init", "--json")
    assert code == 0 and json.loads(out)["secret_key"] == "CW_SECRET_KEY"
    assert not (tmp_path / ".cw" / "secret.key").exists()
    _common.settings = _common.Settings()


# --- a planted secret never leaks ---------------------------------------------------------------


def test_a_planted_secret_appears_in_no_output_log_or_error(
    workspace: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"token": SECRET}))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"oauth": CONFIG_SECRET}))
    nul = tmp_path / "nul.json"
    nul.write_text(SECRET + "\x00")
    files = ["--credentials-file", str(credentials), "--config-file", str(config)]
    seen: list[str] = []

    caplog.set_level(logging.DEBUG)  # every logger, sqlalchemy.engine's statements included
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        code, out, err = run("account", "add", "a@example.com", *files, "--json")
        assert code == 0, err
        account_id = json.loads(out)["id"]
        seen += [out, err]
        for argv in (
            ["account", "add", "b@example.com", *files],
            ["account", "list"],
            ["account", "list", "--json"],
            ["--json", "account", "list"],
            ["account", "next"],
            ["account", "next", "--json"],
            ["account", "exhaust", account_id, "--until", "2h"],
            ["account", "exhaust", account_id, "--until", "2h", "--json"],
            ["account", "clear-expired", "--json"],
            # error paths
            ["account", "add", "c@example.com", "--credentials-file", str(nul)],
            ["account", "add", "", *files],
            ["account", "exhaust", "missing", "--until", "2h"],
            ["account", "exhaust", account_id, "--until", "never"],
            ["account", "next", "--provider", "nobody"],
        ):
            code, out, err = run(*argv)
            assert code in (0, 1), (argv, code, err)
            assert "Traceback" not in err
            seen += [out, err]
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    assert any("accounts.credentials" in r.getMessage() for r in caplog.records), (
        "SQL logging was not captured: the log check would prove nothing"
    )
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.args) for record in caplog.records]
    for text in seen:
        assert SECRET not in text and CONFIG_SECRET not in text, text


def test_secrets_are_not_in_reprs_or_exception_messages(database_url: str) -> None:
    with open_database(database_url, secret_key=KEY) as db:
        account = db.accounts.create(
            email="a@example.com", credentials=SECRET, config_json=CONFIG_SECRET
        )
        texts = [repr(account), str(account), repr(db), repr(db.accounts)]
        errors: list[DatabaseError] = []
        for call in (
            lambda: db.accounts.create(email="", credentials=SECRET),
            lambda: db.accounts.create(email="b@example.com", credentials=SECRET + "\x00"),
            lambda: db.accounts.update(account.id, credentials=SECRET + "\x00"),
            lambda: db.accounts.update("missing", credentials=SECRET),
            lambda: db.accounts.create(email="b@example.com", credentials=SECRET, bogus=1),
            lambda: db.accounts.create(email="b@example.com", credentials=SECRET, sort_order=2**40),
        ):
            with pytest.raises(DatabaseError) as caught:
                call()
            errors.append(caught.value)
    with open_database(database_url, secret_key=generate_key()) as wrong:
        with pytest.raises(SecretKeyError) as caught:
            wrong.accounts.find_by_id(account.id)
        errors.append(caught.value)
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            texts += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__
    assert any(isinstance(error, ValidationError) for error in errors)
    for text in texts:
        assert SECRET not in text and CONFIG_SECRET not in text, text
