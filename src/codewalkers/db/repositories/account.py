"""What can be asked of provider accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from codewalkers.db.errors import SecretKeyError
from codewalkers.db.records import Account
from codewalkers.db.repositories._crud import CrudRepository


class AccountRepository(CrudRepository[Account], Protocol):
    def find_by_provider(self, provider: str) -> list[Account]: ...

    def find_by_email(self, email: str) -> list[Account]: ...

    def find_all_with_readability(self) -> list[tuple[Account, bool]]:
        """Every account with whether its secrets can be read (unreadable: secrets ``None``)."""
        ...

    def find_next_available(
        self,
        provider: str = "claude",
        *,
        on_unreadable: Callable[[Account, SecretKeyError], None] | None = None,
    ) -> Account | None:
        """Claim the least recently used available account (stamps ``last_used_at``).

        An account whose secrets cannot be decrypted is skipped (stamped to the back of the
        rotation, logged, and passed to ``on_unreadable`` without its secrets), never an error.
        """
        ...

    def mark_exhausted(self, id: str, until: datetime) -> Account: ...

    def mark_available(self, id: str) -> Account: ...

    def clear_expired_exhaustion(self) -> int: ...
