"""Provider accounts: adding them, handing them out least-recently-used, parking them.

Events about accounts carry no secrets (see :mod:`codewalkers.services.serialize`).
"""

from __future__ import annotations

from datetime import datetime

from codewalkers.db import Account, Database, SecretKeyError
from codewalkers.services import events


def add_account(
    db: Database,
    email: str,
    *,
    provider: str | None = None,
    config_json: str | None = None,
    credentials: str | None = None,
) -> Account:
    """Add an account; its config and credentials are stored, never shown."""
    fields = {
        "email": email,
        "provider": provider,
        "config_json": config_json,
        "credentials": credentials,
    }
    with db.transaction():
        account: Account = db.accounts.create(
            **{key: value for key, value in fields.items() if value is not None}
        )
        events.emit(db, events.ACCOUNT_CREATED, account)
    return account


def claim_next(db: Database, provider: str = "claude") -> Account | None:
    """Claim the least recently used available account of the provider (stamping its
    use), or ``None`` when none is available.

    An account whose secrets this workspace's key cannot decrypt is skipped (the claim goes
    on with the next one) and reported: a warning in the log and an ``account:unreadable``
    event, so that one such account never stops every claim.
    """
    unreadable: list[tuple[Account, SecretKeyError]] = []
    with db.transaction():
        account: Account | None = db.accounts.find_next_available(
            provider, on_unreadable=lambda skipped, error: unreadable.append((skipped, error))
        )
        for skipped, error in unreadable:
            # Its secrets are there, but this key cannot tell what they are: unknown.
            events.emit(
                db,
                events.ACCOUNT_UNREADABLE,
                skipped,
                has_credentials=None,
                has_config=None,
                reason=str(error),
            )
        if account is not None:
            events.emit(db, events.ACCOUNT_CLAIMED, account)
    return account


def mark_exhausted(db: Database, account_id: str, until: datetime) -> Account:
    """Park the account until ``until``. Raises ``NotFoundError`` for an unknown id."""
    with db.transaction():
        account: Account = db.accounts.mark_exhausted(account_id, until)
        events.emit(db, events.ACCOUNT_EXHAUSTED, account)
    return account


def clear_expired(db: Database) -> int:
    """Make every account whose exhaustion has passed available again; return how many."""
    with db.transaction():
        count: int = db.accounts.clear_expired_exhaustion()
        if count:
            events.emit(db, events.ACCOUNT_EXHAUSTION_CLEARED, {"cleared": count}, entity_id=None)
    return count
