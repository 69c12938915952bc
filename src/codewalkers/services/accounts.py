"""Provider accounts: adding them, handing them out least-recently-used, parking them.

Events about accounts carry no secrets (see :mod:`codewalkers.services.serialize`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from codewalkers.db import Account, ConflictError, Database, NotFoundError, SecretKeyError
from codewalkers.services import events
from codewalkers.services.inputs import check_name


def add_account(
    db: Database,
    email: str,
    *,
    provider: str | None = None,
    config_json: str | None = None,
    credentials: str | None = None,
) -> Account:
    """Add an account; its config and credentials are stored, never shown. Raises
    ``ConflictError`` when the provider already has an account with this email.
    """
    fields = {
        "email": email,
        "provider": provider,
        "config_json": config_json,
        "credentials": credentials,
    }
    check_name(email, "email")
    with db.transaction():
        _refuse_taken_email(db, email, provider or "claude")
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


def mark_available(db: Database, account_id: str) -> Account:
    """Make one account available now, whatever its exhaustion said (the person knows its
    limit was lifted). Raises ``NotFoundError`` for an unknown id."""
    with db.transaction():
        get_account(db, account_id)
        account: Account = db.accounts.mark_available(account_id)
        events.emit(db, events.ACCOUNT_EXHAUSTION_CLEARED, account)
    return account


def clear_expired(db: Database) -> int:
    """Make every account whose exhaustion has passed available again; return how many."""
    with db.transaction():
        count: int = db.accounts.clear_expired_exhaustion()
        if count:
            events.emit(db, events.ACCOUNT_EXHAUSTION_CLEARED, {"cleared": count}, entity_id=None)
    return count


def _refuse_taken_email(db: Database, email: str, provider: str, but: str | None = None) -> None:
    # Accounts this key cannot decrypt still count: their email is not secret.
    for account, _ in db.accounts.find_all_with_readability():
        if account.id != but and account.provider == provider and account.email == email:
            raise ConflictError(
                f"provider {provider!r} already has an account {email!r} ({account.id})"
            )


def get_account(db: Database, account_id: str) -> Account:
    for account, _ in db.accounts.find_all_with_readability():
        if account.id == account_id:
            return account
    raise NotFoundError(f"account {account_id!r} not found")


def update_account(db: Database, account_id: str, **changes: Any) -> Account:
    """Change some of ``email``, ``provider``, ``config_json``, ``credentials`` (secrets are
    stored, never shown). Raises ``NotFoundError``, ``ConflictError`` (that email is taken
    for the provider), ``ValidationError``.
    """
    if changes.get("email") is not None:
        check_name(changes["email"], "email")
    with db.transaction():
        before = get_account(db, account_id)
        email = changes.get("email") or before.email
        provider = changes.get("provider") or before.provider
        if (email, provider) != (before.email, before.provider):
            _refuse_taken_email(db, email, provider, but=account_id)
        account: Account = db.accounts.update(account_id, **changes)
        events.emit(db, events.ACCOUNT_UPDATED, account)
    return account


def agents_using(db: Database, account_id: str) -> list[str]:
    """The ids of the agents that run (or ran) under the account."""
    return [agent.id for agent in db.agents.find_all() if agent.account_id == account_id]


def account_removal(db: Database, account_id: str) -> list[tuple[str, int, str]]:
    """What removing the account takes from others: the agents that use it lose it."""
    get_account(db, account_id)
    return [("leaves without an account", len(agents_using(db, account_id)), "agent")]


def remove_account(db: Database, account_id: str) -> Account:
    """Remove the account (its agents keep running records, without an account); return it
    as it was. Raises ``NotFoundError``.
    """
    with db.transaction():
        account = get_account(db, account_id)
        agents = agents_using(db, account_id)
        db.accounts.delete(account_id)
        events.emit(db, events.ACCOUNT_DELETED, account, agent_ids=agents)
    return account
