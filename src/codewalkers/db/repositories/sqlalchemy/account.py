"""Provider accounts, handed out least-recently-used, parked while exhausted."""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_datetime, check_text
from codewalkers.db.records import Account
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.types import now_ms

accounts = schema.accounts

#: PostgreSQL advisory lock that serializes claims (SQLite's BEGIN IMMEDIATE already does).
CLAIM_LOCK_KEY = zlib.crc32(b"codewalkers:accounts:claim")


class SqlAccountRepository(SqlRepository[Account]):
    table = accounts
    record_type = Account
    entity = "account"
    rules = TableRules(table, entity, not_blank=["email", "provider"])

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

    def find_next_available(self, provider: str = "claude") -> Account | None:
        """Claim the provider's least recently used available account, or ``None``.

        Never-used accounts first, then the oldest ``last_used_at``, then ``sort_order``.
        Accounts exhausted until a future time are skipped; an exhaustion that has expired
        counts as available (and is cleared). The claim stamps ``last_used_at`` in the same
        statement, so concurrent callers never get the same account from one round.
        """
        check_text("provider", provider)

        def work(connection: Connection) -> Account | None:
            if connection.dialect.name == "postgresql":
                # Not FOR UPDATE SKIP LOCKED: that hands out None while free accounts are
                # merely locked, and under READ COMMITTED may pick an account another caller
                # has just claimed. Claims queue here, and each statement after the lock
                # sees every earlier claim committed.
                connection.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
            now = now_ms()
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
            statement = (
                update(accounts)
                .where(accounts.c.id == candidate.scalar_subquery())
                .values(is_exhausted=False, exhausted_until=None, last_used_at=now, updated_at=now)
                .returning(*self._columns)
            )
            row = connection.execute(statement).first()
            return None if row is None else self._record(row)

        return self._write(work)

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
