"""Accounts: the seed's ``accounts`` table and ``AccountRepository`` (find_next_available,
round-robin by least recent use; mark_exhausted; clear_expired_exhaustion), plus the opaque
secrets it keeps.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from codewalkers.db import Account, Database, NotFoundError, ValidationError
from tests.factories import make_account, make_agent

SECRET = '{"claudeAiOauth": {"accessToken": "sk-ant-very-secret-token"}}'
CONFIG = '{\n  "oauthAccount": {"emailAddress": "me@example.com"},  "theme": "dark"\n}'


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def claim(db: Database, provider: str = "claude") -> Account | None:
    return db.accounts.find_next_available(provider)


# --- CRUD -----------------------------------------------------------------------------------


def test_a_new_account_defaults(db: Database) -> None:
    account = db.accounts.create(email="a@example.com")

    assert isinstance(account, Account)
    assert len(account.id) == 21
    assert account.provider == "claude"
    assert account.is_exhausted is False
    assert account.exhausted_until is None
    assert account.last_used_at is None
    assert account.config_json is None
    assert account.credentials is None
    assert isinstance(account.sort_order, int)
    assert db.accounts.find_by_id(account.id) == account


def test_an_account_needs_an_email(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.accounts.create(provider="claude")
    with pytest.raises(ValidationError):
        db.accounts.create(email="")
    assert db.accounts.find_all() == []


def test_updating_an_account_returns_the_stored_row(db: Database) -> None:
    account = make_account(db)

    updated = db.accounts.update(account.id, sort_order=7, email="new@example.com")

    assert updated.sort_order == 7
    assert updated.email == "new@example.com"
    assert updated.updated_at > account.updated_at
    assert db.accounts.find_by_id(account.id) == updated


def test_updating_or_deleting_a_missing_account_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.accounts.update("no-such-account-000000", sort_order=1)
    with pytest.raises(NotFoundError):
        db.accounts.delete("no-such-account-000000")


def test_deleting_an_account(db: Database) -> None:
    account = make_account(db)
    kept = make_account(db)

    db.accounts.delete(account.id)

    assert db.accounts.find_by_id(account.id) is None
    assert db.accounts.find_all() == [kept]


def test_deleting_an_account_keeps_its_agents_without_an_account(db: Database) -> None:
    account = make_account(db)
    agent = make_agent(db, account_id=account.id)

    db.accounts.delete(account.id)

    stored = db.agents.find_by_id(agent.id)
    assert stored is not None
    assert stored.account_id is None


def test_find_by_provider_orders_by_sort_order(db: Database) -> None:
    second = make_account(db, sort_order=2)
    first = make_account(db, sort_order=1)
    make_account(db, provider="codex")

    assert db.accounts.find_by_provider("claude") == [first, second]
    assert db.accounts.find_by_provider("gemini") == []


def test_find_by_email(db: Database) -> None:
    claude = make_account(db, email="me@example.com")
    codex = make_account(db, email="me@example.com", provider="codex")
    make_account(db, email="you@example.com")

    assert db.accounts.find_by_email("me@example.com") == [claude, codex]
    assert db.accounts.find_by_email("nobody@example.com") == []


# --- secrets stay opaque --------------------------------------------------------------------


def test_credentials_and_config_json_stay_opaque_strings(db: Database) -> None:
    account = make_account(db, credentials=SECRET, config_json=CONFIG)

    stored = db.accounts.find_by_id(account.id)
    assert stored is not None
    assert stored.credentials == SECRET
    assert stored.config_json == CONFIG
    assert isinstance(stored.credentials, str)
    assert isinstance(stored.config_json, str)


def test_credentials_that_are_not_json_are_kept_verbatim(db: Database) -> None:
    account = make_account(db, credentials="not json {", config_json="  ")

    stored = db.accounts.find_by_id(account.id)
    assert stored is not None
    assert stored.credentials == "not json {"
    assert stored.config_json == "  "


def test_credentials_must_be_strings(db: Database) -> None:
    with pytest.raises(ValidationError):
        make_account(db, credentials={"token": "x"})
    assert db.accounts.find_all() == []


def test_an_account_repr_does_not_show_its_secrets(db: Database) -> None:
    account = make_account(db, credentials=SECRET, config_json=CONFIG)

    for text in (repr(account), str(account)):
        assert "sk-ant-very-secret-token" not in text
        assert "oauthAccount" not in text
        assert account.id in text


# --- find_next_available: least recently used -----------------------------------------------


def test_never_used_accounts_come_first(db: Database) -> None:
    used = make_account(db, sort_order=0, last_used_at=now() - hours(48))
    fresh = make_account(db, sort_order=9)

    assert claim(db) == db.accounts.find_by_id(fresh.id)
    assert claim(db) == db.accounts.find_by_id(used.id)


def test_then_the_oldest_last_use(db: Database) -> None:
    recent = make_account(db, sort_order=0, last_used_at=now() - hours(1))
    oldest = make_account(db, sort_order=5, last_used_at=now() - hours(3))
    middle = make_account(db, sort_order=1, last_used_at=now() - hours(2))

    claimed = [claim(db) for _ in range(3)]

    assert [a.id for a in claimed if a] == [oldest.id, middle.id, recent.id]


def test_then_the_sort_order(db: Database) -> None:
    third = make_account(db, sort_order=3)
    first = make_account(db, sort_order=1)
    second = make_account(db, sort_order=2)

    claimed = [claim(db) for _ in range(3)]

    assert [a.id for a in claimed if a] == [first.id, second.id, third.id]


def test_accounts_used_at_the_same_time_go_by_sort_order(db: Database) -> None:
    when = now() - hours(1)
    later = make_account(db, sort_order=4, last_used_at=when)
    sooner = make_account(db, sort_order=2, last_used_at=when)

    assert claim(db) == db.accounts.find_by_id(sooner.id)
    assert claim(db) == db.accounts.find_by_id(later.id)


def test_accounts_are_handed_out_round_robin(db: Database) -> None:
    accounts = [make_account(db, sort_order=n) for n in range(3)]

    claimed = [claim(db) for _ in range(7)]

    ids = [a.id for a in accounts]
    assert [a.id for a in claimed if a] == [*ids, *ids, ids[0]]


def test_a_claim_stamps_last_used_at(db: Database) -> None:
    account = make_account(db)
    before = now()

    claimed = claim(db)

    assert claimed is not None
    assert claimed.id == account.id
    assert claimed.last_used_at is not None
    assert claimed.last_used_at.tzinfo is not None
    assert claimed.last_used_at >= before
    assert db.accounts.find_by_id(account.id) == claimed


def test_each_claim_stamps_a_later_last_used_at(db: Database) -> None:
    make_account(db)

    first = claim(db)
    second = claim(db)

    assert first is not None and second is not None
    assert first.last_used_at is not None and second.last_used_at is not None
    assert second.last_used_at > first.last_used_at


def test_find_next_available_defaults_to_claude(db: Database) -> None:
    codex = make_account(db, provider="codex")

    assert db.accounts.find_next_available() is None
    claimed = db.accounts.find_next_available("codex")
    assert claimed is not None and claimed.id == codex.id


def test_find_next_available_only_hands_out_the_providers_accounts(db: Database) -> None:
    make_account(db, provider="codex", sort_order=0)
    claude = make_account(db, provider="claude", sort_order=1)

    claimed = claim(db, "claude")
    assert claimed is not None and claimed.id == claude.id
    codex = db.accounts.find_by_provider("codex")[0]
    assert codex.last_used_at is None


def test_no_account_means_none(db: Database) -> None:
    assert db.accounts.find_next_available() is None


def test_accounts_exhausted_until_the_future_are_skipped(db: Database) -> None:
    exhausted = make_account(db, sort_order=0)
    db.accounts.mark_exhausted(exhausted.id, now() + hours(5))
    available = make_account(db, sort_order=1)

    assert claim(db) == db.accounts.find_by_id(available.id)
    assert claim(db) == db.accounts.find_by_id(available.id)
    stored = db.accounts.find_by_id(exhausted.id)
    assert stored is not None and stored.last_used_at is None


def test_none_when_every_account_is_exhausted(db: Database) -> None:
    for _ in range(3):
        account = make_account(db)
        db.accounts.mark_exhausted(account.id, now() + hours(1))

    assert claim(db) is None


def test_an_expired_exhaustion_counts_as_available(db: Database) -> None:
    account = make_account(db)
    db.accounts.mark_exhausted(account.id, now() - timedelta(minutes=1))

    claimed = claim(db)

    assert claimed is not None and claimed.id == account.id
    assert claimed.last_used_at is not None
    assert claimed.is_exhausted is False


def test_an_exhaustion_without_an_end_is_skipped(db: Database) -> None:
    make_account(db, is_exhausted=True)

    assert claim(db) is None


# --- mark_exhausted -------------------------------------------------------------------------


def test_mark_exhausted_parks_the_account_until_a_time(db: Database) -> None:
    account = make_account(db)
    until = now() + hours(2)

    parked = db.accounts.mark_exhausted(account.id, until)

    assert parked.is_exhausted is True
    assert parked.exhausted_until == until
    assert parked.updated_at > account.updated_at
    assert db.accounts.find_by_id(account.id) == parked


def test_mark_exhausted_accepts_any_timezone(db: Database) -> None:
    account = make_account(db)
    tokyo = timezone(timedelta(hours=9))
    until = datetime(2030, 1, 1, 9, 0, tzinfo=tokyo)

    parked = db.accounts.mark_exhausted(account.id, until)

    assert parked.exhausted_until == datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    assert parked.exhausted_until is not None
    assert parked.exhausted_until.utcoffset() == timedelta(0)


def test_mark_exhausted_for_a_missing_account_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.accounts.mark_exhausted("no-such-account-000000", now() + hours(1))


def test_mark_exhausted_refuses_a_naive_datetime(db: Database) -> None:
    account = make_account(db)

    with pytest.raises(ValidationError):
        db.accounts.mark_exhausted(account.id, datetime(2030, 1, 1))

    assert db.accounts.find_by_id(account.id) == account


def test_mark_exhausted_refuses_a_non_datetime(db: Database) -> None:
    account = make_account(db)

    with pytest.raises(ValidationError):
        db.accounts.mark_exhausted(account.id, "tomorrow")  # type: ignore[arg-type]

    assert db.accounts.find_by_id(account.id) == account


def test_mark_available_clears_the_exhaustion(db: Database) -> None:
    account = make_account(db)
    db.accounts.mark_exhausted(account.id, now() + hours(1))

    cleared = db.accounts.mark_available(account.id)

    assert cleared.is_exhausted is False
    assert cleared.exhausted_until is None
    assert claim(db) == db.accounts.find_by_id(account.id)
    with pytest.raises(NotFoundError):
        db.accounts.mark_available("no-such-account-000000")


# --- clear_expired_exhaustion ---------------------------------------------------------------


def test_clear_expired_exhaustion_returns_how_many_it_cleared(db: Database) -> None:
    expired = [make_account(db) for _ in range(2)]
    for account in expired:
        db.accounts.mark_exhausted(account.id, now() - hours(1))
    future = make_account(db)
    until = now() + hours(1)
    db.accounts.mark_exhausted(future.id, until)
    fresh = make_account(db)

    assert db.accounts.clear_expired_exhaustion() == 2

    for account in expired:
        stored = db.accounts.find_by_id(account.id)
        assert stored is not None
        assert stored.is_exhausted is False
        assert stored.exhausted_until is None
    still = db.accounts.find_by_id(future.id)
    assert still is not None
    assert still.is_exhausted is True
    assert still.exhausted_until == until
    assert db.accounts.find_by_id(fresh.id) == fresh
    assert db.accounts.clear_expired_exhaustion() == 0


def test_clear_expired_exhaustion_with_nothing_to_clear(db: Database) -> None:
    assert db.accounts.clear_expired_exhaustion() == 0


def test_clear_expired_exhaustion_leaves_open_ended_exhaustion(db: Database) -> None:
    account = make_account(db, is_exhausted=True)

    assert db.accounts.clear_expired_exhaustion() == 0
    assert db.accounts.find_by_id(account.id) == account


# --- threads --------------------------------------------------------------------------------


def test_concurrent_threads_never_get_the_same_account(db: Database) -> None:
    count = 8
    for n in range(count):
        make_account(db, sort_order=n)
    barrier = threading.Barrier(count)
    claimed: list[str | None] = [None] * count
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            barrier.wait(timeout=30)
            account = claim(db)
            claimed[slot] = None if account is None else account.id
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert None not in claimed
    assert len(set(claimed)) == count
