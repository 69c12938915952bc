"""``/accounts``: provider logins. Credentials and config are accepted, never returned."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.db import Account, NotFoundError
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, changes, make_router
from codewalkers.services import accounts, plan
from codewalkers.services.serialize import account_public

router = make_router("accounts")


def _public(account: Account) -> m.AccountPublic:
    # The CLI's public view: every output of both goes through this one function.
    return m.AccountPublic.model_validate(account_public(account))


@router.get("/accounts", response_model=list[m.AccountPublic])
def list_accounts(db: Db) -> list[m.AccountPublic]:
    """Accounts, without their secrets."""
    return [_public(account) for account in db.accounts.find_all()]


@router.post(
    "/accounts",
    status_code=http.HTTP_201_CREATED,
    response_model=m.AccountPublic,
    responses=CONFLICT,
)
def create_account(db: Db, body: m.AccountCreate) -> m.AccountPublic:
    """Add an account; ``credentials`` and ``config_json`` are stored and never shown. The
    provider's email must be new (409).
    """
    account = accounts.add_account(
        db,
        body.email,
        provider=body.provider,
        config_json=body.config_json,
        credentials=body.credentials,
    )
    return _public(account)


@router.post("/accounts/next", response_model=m.AccountPublic, responses=NOT_FOUND)
def claim_next(db: Db, body: m.AccountClaim) -> m.AccountPublic:
    """Claim the least recently used available account of the provider (stamps its use);
    404 when none is available.
    """
    account = accounts.claim_next(db, body.provider)
    if account is None:
        raise NotFoundError(f"no {body.provider} account is available")
    return _public(account)


@router.post("/accounts/clear-expired", response_model=m.Cleared)
def clear_expired(db: Db) -> m.Cleared:
    """Make available again every account whose exhaustion has passed."""
    return m.Cleared(cleared=accounts.clear_expired(db))


@router.get("/accounts/{id}", response_model=m.AccountPublic, responses=NOT_FOUND)
def get_account(db: Db, id: str) -> m.AccountPublic:
    """One account, without its secrets."""
    account: Account = plan.get_or_raise(db.accounts, id, "account")
    return _public(account)


@router.post("/accounts/{id}/exhaust", response_model=m.AccountPublic, responses=NOT_FOUND)
def exhaust(db: Db, id: str, body: m.AccountExhaust) -> m.AccountPublic:
    """Park the account until its usage limit resets."""
    return _public(accounts.mark_exhausted(db, id, body.until))


@router.post("/accounts/{id}/available", response_model=m.AccountPublic, responses=NOT_FOUND)
def available(db: Db, id: str) -> m.AccountPublic:
    """Make the account available now, before its exhaustion would end."""
    return _public(accounts.mark_available(db, id))


@router.patch("/accounts/{id}", response_model=m.AccountPublic, responses={**NOT_FOUND, **CONFLICT})
def update_account(db: Db, id: str, body: m.AccountUpdate) -> m.AccountPublic:
    """Change what the body gives of email, provider, config and credentials."""
    return _public(accounts.update_account(db, id, **changes(body)))


@router.delete("/accounts/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def remove_account(db: Db, id: str) -> m.Deleted:
    """Remove the account; agents that used it keep their records, without an account."""
    accounts.remove_account(db, id)
    return m.Deleted(id=id)
