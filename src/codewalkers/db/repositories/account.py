"""What can be asked of provider accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from codewalkers.db.records import Account
from codewalkers.db.repositories._crud import CrudRepository


class AccountRepository(CrudRepository[Account], Protocol):
    def find_by_provider(self, provider: str) -> list[Account]: ...

    def find_by_email(self, email: str) -> list[Account]: ...

    def find_all_with_readability(self) -> list[tuple[Account, bool]]:
        """Every account with whether its secrets can be read (unreadable: secrets ``None``)."""
        ...

    def find_next_available(self, provider: str = "claude") -> Account | None:
        """Claim the least recently used available account (stamps ``last_used_at``)."""
        ...

    def mark_exhausted(self, id: str, until: datetime) -> Account: ...

    def mark_available(self, id: str) -> Account: ...

    def clear_expired_exhaustion(self) -> int: ...
