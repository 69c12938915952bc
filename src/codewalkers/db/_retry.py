"""The one retry loop of the database layer, used by ``Database.run`` and the fast path.

A transaction of its own is run again when it fails on something transient (a busy SQLite
file, a PostgreSQL deadlock or serialization failure), with jittered exponential backoff for
up to :data:`RETRY_SECONDS`; and once, at once, when its connection was found dead before
anything could have committed (:class:`LostBeforeCommit`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc as sa_exc

from codewalkers.db.errors import is_retryable, translate

T = TypeVar("T")

#: How long a lone repository call keeps retrying a transient failure (lock, deadlock).
RETRY_SECONDS = 60.0
#: The first backoff, doubled after each failure up to :data:`MAX_DELAY_SECONDS`.
FIRST_DELAY_SECONDS = 0.005
MAX_DELAY_SECONDS = 0.5


class LostBeforeCommit(Exception):
    """Internal: the connection died before the transaction could commit; ``__cause__`` is
    the driver error (a ``DBAPIError`` with ``connection_invalidated``).
    """


def is_lost(exc: BaseException) -> bool:
    """True when ``exc`` says the connection is gone (SQLAlchemy has invalidated it)."""
    return bool(getattr(exc, "connection_invalidated", False))


def with_retries(attempt: Callable[[], T]) -> T:
    """``attempt()``'s result, running it again as described in the module docstring.

    Errors that are not retried, and the last one when retries run out, are raised translated
    (:class:`~codewalkers.db.errors.DatabaseError`).
    """
    deadline = 0.0
    delay = FIRST_DELAY_SECONDS
    reconnected = False
    while True:
        try:
            return attempt()
        except LostBeforeCommit as lost:
            cause = lost.__cause__
            assert isinstance(cause, sa_exc.SQLAlchemyError)
            if reconnected:
                raise translate(cause) from cause
            reconnected = True  # nothing was committed: run once more, on a new connection
            continue
        except sa_exc.SQLAlchemyError as exc:
            if not is_retryable(exc):
                raise translate(exc) from exc
            deadline = deadline or time.monotonic() + RETRY_SECONDS
            if time.monotonic() + delay > deadline:
                raise translate(exc) from exc
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, MAX_DELAY_SECONDS)
