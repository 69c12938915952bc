"""Provider accounts, handed out least-recently-used, parked while exhausted.

``credentials`` and ``config_json`` are encrypted at rest (see :mod:`codewalkers.db.secrets`):
encrypted before any SQL sees them, decrypted as a row becomes a record. Records carry the
plaintext; the database, its logs and its error messages only ever see the ciphertext.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, bindparam, case, func, or_, select, update
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_datetime, check_text
from codewalkers.db.errors import SecretKeyError
from codewalkers.db.key_check import remember_key_check
from codewalkers.db.records import Account
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.repositories.sqlalchemy._raw import Prepared, Raw
from codewalkers.db.secrets import SecretBox
from codewalkers.db.types import now_ms

if TYPE_CHECKING:
    from codewalkers.db.database import Database

log = logging.getLogger(__name__)

accounts = schema.accounts

#: PostgreSQL advisory lock that serializes claims (SQLite's BEGIN IMMEDIATE already does).
CLAIM_LOCK_KEY = zlib.crc32(b"codewalkers:accounts:claim")

#: The encrypted columns, and how errors name them.
SECRET_FIELDS = {"credentials": "account credentials", "config_json": "account config"}


# --- the claim statement, built once (performance: issue 5) ---------------------------------
# Building it per call cost ~100 us of SQLAlchemy statement construction and cache-key work.

_CLAIM_LOCK = Prepared(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))


def _claim_statement() -> Any:
    now = bindparam("claim_now", type_=accounts.c.last_used_at.type)
    provider = bindparam("claim_provider", type_=accounts.c.provider.type)
    # The stamp is later than every earlier claim's, even one made by another process in the
    # same millisecond: otherwise two claims tie on last_used_at and the next claim may pick
    # the account just handed out (claims now take well under a millisecond).
    latest = (
        select(func.coalesce(func.max(accounts.c.last_used_at), 0) + 1)
        .where(accounts.c.provider == provider)
        .scalar_subquery()
    )
    stamp = case((latest > now, latest), else_=now)
    candidate = (
        select(accounts.c.id)
        .where(
            accounts.c.provider == provider,
            or_(
                accounts.c.is_exhausted.is_(False),
                and_(
                    accounts.c.exhausted_until.is_not(None),
                    accounts.c.exhausted_until <= now,
                ),
            ),
        )
        .order_by(
            accounts.c.last_used_at.is_not(None),
            accounts.c.last_used_at,
            accounts.c.sort_order,
            accounts.c.created_at,
            accounts.c.id,
        )
        .limit(1)
    )
    return (
        update(accounts)
        .where(accounts.c.id == candidate.scalar_subquery())
        .values(is_exhausted=False, exhausted_until=None, last_used_at=stamp, updated_at=now)
        .returning(*accounts.columns)
    )


_CLAIM = Prepared(_claim_statement(), accounts.columns)


class SqlAccountRepository(SqlRepository[Account]):
    table = accounts
    record_type = Account
    entity = "account"
    rules = TableRules(table, entity, not_blank=["email", "provider"])

    def __init__(self, db: Database, secret_key: str | bytes | None = None) -> None:
        super().__init__(db)
        self._secrets = SecretBox(secret_key)
        self._names = tuple(column.name for column in self._columns)

    # --- encryption at rest ---------------------------------------------------------------

    def _record(self, row: Row[Any]) -> Account:
        values = row._asdict()
        for field, what in SECRET_FIELDS.items():
            if values[field] is not None:
                values[field] = self._secrets.decrypt(values[field], what)
        return Account(**values)

    def _without_secrets(self, values: Mapping[str, Any]) -> Account:
        """The account of a row whose secrets this key cannot read, secrets left out."""
        return Account(**{**values, **dict.fromkeys(SECRET_FIELDS)})

    def _encrypted(self, values: Mapping[str, Any]) -> dict[str, Any]:
        encrypted = dict(values)
        for field, what in SECRET_FIELDS.items():
            if encrypted.get(field) is not None:
                encrypted[field] = self._secrets.encrypt(encrypted[field], what)
        return encrypted

    def create(self, **fields: Any) -> Account:
        """Insert an account (its secrets encrypted) and return it, secrets in plaintext.

        Raises ``ValidationError``, and ``SecretKeyError`` for secrets without a key.
        """
        values = self._encrypted(self.rules.for_create(fields))

        def work(connection: Connection) -> Account:
            self._remember_key(connection, values)
            return self._insert(connection, values)

        return self._write(work)

    def update(self, id: str, **changes: Any) -> Account:
        """Change some fields (secrets encrypted); return the stored account.

        Raises ``NotFoundError`` for an unknown id, ``SecretKeyError`` as :meth:`create`.
        """
        check_id(id)
        values = self._encrypted(self.rules.for_update(changes))

        def work(connection: Connection) -> Account:
            self._remember_key(connection, values)
            return self._update(connection, id, values)

        return self._write(work)

    def _remember_key(self, connection: Connection, values: Mapping[str, Any]) -> None:
        """Before the first secret is written, the database records which key encrypts it;
        a secret encrypted with another key is refused (``SecretKeyError``, both fingerprints).
        """
        check = self._secrets.check_value
        if check is not None and any(values.get(field) is not None for field in SECRET_FIELDS):
            remember_key_check(connection, check)

    # --- queries ------------------------------------------------------------------------

    def find_all_with_readability(self) -> list[tuple[Account, bool]]:
        """Every account, oldest first, with whether this key can read its secrets.

        An account this key cannot decrypt comes back without its secrets (``None``) and
        ``False``, so that one unreadable account never hides the others.
        """

        def record(row: Row[Any]) -> tuple[Account, bool]:
            try:
                return self._record(row), True
            except SecretKeyError:
                return self._without_secrets(row._asdict()), False

        statement = self._select().order_by(*self._order())
        return self._read(lambda c: [record(row) for row in c.execute(statement)])

    def find_by_provider(self, provider: str) -> list[Account]:
        """The provider's accounts, by ``sort_order``."""
        check_text("provider", provider)
        return self._fetch_all(
            self._select()
            .where(accounts.c.provider == provider)
            .order_by(accounts.c.sort_order, accounts.c.created_at, accounts.c.id)
        )

    def find_by_email(self, email: str) -> list[Account]:
        """Accounts with this email (one per provider, usually)."""
        check_text("email", email)
        return self._find_where(accounts.c.email == email)

    def find_next_available(
        self,
        provider: str = "claude",
        *,
        on_unreadable: Callable[[Account, SecretKeyError], None] | None = None,
    ) -> Account | None:
        """Claim the provider's least recently used available account, or ``None``.

        Never-used accounts first, then the oldest ``last_used_at``, then ``sort_order``.
        Accounts exhausted until a future time are skipped; an exhaustion that has expired
        counts as available (and is cleared). The claim stamps ``last_used_at`` in the same
        statement, so concurrent callers never get the same account from one round.

        An account whose secrets this key cannot decrypt (wrong or missing key) is skipped,
        not an error: it is stamped to the back of the rotation like a claimed one, logged
        (a warning), passed to ``on_unreadable`` (the account without its secrets, and the
        error) once the claim is done, and the claim goes on with the next account, each
        candidate tried at most once (``None`` when none can be read).
        """
        check_text("provider", provider)
        names = self._names

        def work(raw: Raw) -> tuple[Account | None, list[tuple[Account, SecretKeyError]]]:
            if raw.dialect.name == "postgresql":
                # Not FOR UPDATE SKIP LOCKED: that hands out None while free accounts are
                # merely locked, and under READ COMMITTED may pick an account another caller
                # has just claimed. Claims queue here, and each statement after the lock
                # sees every earlier claim committed.
                raw.one(_CLAIM_LOCK, {})
            skipped: list[tuple[Account, SecretKeyError]] = []
            while True:
                params = {"claim_provider": provider, "claim_now": now_ms()}
                row = raw.one(_CLAIM, params)
                if row is None:
                    return None, skipped
                try:
                    return self._from_values(row), skipped
                except SecretKeyError as exc:
                    account = self._without_secrets(dict(zip(names, row, strict=True)))
                    if any(account.id == seen.id for seen, _ in skipped):
                        return None, skipped  # every candidate was tried once
                    skipped.append((account, exc))

        # A prepared statement on the driver's connection (performance: issue 5, _raw.py).
        claimed, skipped = self._write_raw(work)
        self._report_unreadable(skipped, on_unreadable)
        return claimed

    @staticmethod
    def _report_unreadable(
        skipped: Sequence[tuple[Account, SecretKeyError]],
        on_unreadable: Callable[[Account, SecretKeyError], None] | None,
    ) -> None:
        for account, error in skipped:
            log.warning(
                "account %s (%s, %s) skipped by a claim: %s",
                account.id,
                account.email,
                account.provider,
                error,
            )
            if on_unreadable is not None:
                on_unreadable(account, error)

    def mark_exhausted(self, id: str, until: datetime) -> Account:
        """Park the account until ``until`` (e.g. its usage-limit reset time)."""
        check_id(id)
        check_datetime("until", until)
        return self._write(
            lambda c: self._update(c, id, {"is_exhausted": True, "exhausted_until": until})
        )

    def mark_available(self, id: str) -> Account:
        """Clear the account's exhaustion."""
        check_id(id)
        return self._write(
            lambda c: self._update(c, id, {"is_exhausted": False, "exhausted_until": None})
        )

    def clear_expired_exhaustion(self) -> int:
        """Clear every exhaustion whose time has passed; return how many were cleared."""

        def work(connection: Connection) -> int:
            now = now_ms()
            statement = (
                update(accounts)
                .where(
                    accounts.c.is_exhausted.is_(True),
                    accounts.c.exhausted_until.is_not(None),
                    accounts.c.exhausted_until <= now,
                )
                .values(is_exhausted=False, exhausted_until=None, updated_at=now)
            )
            return int(connection.execute(statement).rowcount)

        return self._write(work)
