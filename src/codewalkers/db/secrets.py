"""Encryption at rest for the secrets the database keeps (account ``credentials`` and
``config_json``), with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The database layer never looks for a key: callers hand it to ``open_database(url,
secret_key=...)``. The ``cw`` command line reads it from ``CW_SECRET_KEY`` or the workspace's
``.cw/secret.key`` (created by ``cw init``, mode 0600).

A stored secret is ``fernet:`` followed by the Fernet token, so it can be told from a value
written before encryption existed (read back as it is, encrypted on its next update). Error
messages never contain a secret, nor any part of a token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import TYPE_CHECKING

from codewalkers.db.errors import SecretKeyError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# `cryptography` (~0.1 s to import) is loaded by the first encryption or decryption, not by
# every `cw` call: a key is checked as Fernet checks it (32 bytes of url-safe base64), and
# the key check value is an HMAC from the standard library.

#: Marks an encrypted value in the database.
PREFIX = "fernet:"

#: Where a key comes from, named in every key error so that the reader knows what to fix.
KEY_SOURCES = "CW_SECRET_KEY or .cw/secret.key"


#: What the key check value is computed over: an HMAC of this text under the key.
_KEY_CHECK_INPUT = b"codewalkers secret key check v1"


def key_check_value(key: str | bytes) -> str:
    """The key check value of ``key``: 64 hex digits that identify the key without revealing
    it (an HMAC-SHA256 under the key), stored in the database so that another key is refused.
    Raises :class:`SecretKeyError` for a malformed key.
    """
    check = SecretBox(key).check_value  # a malformed key is refused with the usual message
    assert check is not None
    return check


def fingerprint_of_check(check_value: str) -> str:
    """The short, readable fingerprint of a key check value: ``1a2b-3c4d-5e6f-7a8b``."""
    head = check_value[:16]
    return "-".join(head[index : index + 4] for index in range(0, 16, 4))


def fingerprint(key: str | bytes) -> str:
    """The fingerprint of ``key`` (see :func:`fingerprint_of_check`), safe to show and share."""
    return fingerprint_of_check(key_check_value(key))


def generate_key() -> str:
    """A fresh random key: 32 bytes, url-safe base64 (44 characters)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts and decrypts one kind of secret with one key; without a key it refuses both.

    Raises :class:`SecretKeyError` for a malformed key (at construction), a missing key, and a
    value that this key cannot decrypt.
    """

    __slots__ = ("_check", "_fernet", "_raw")

    def __init__(self, key: str | bytes | None) -> None:
        self._fernet: Fernet | None = None
        self._raw: bytes | None = None
        self._check: str | None = None
        if key is None:
            return
        raw = key.strip() if isinstance(key, bytes) else key.strip().encode("ascii", "replace")
        try:
            # What Fernet(raw) checks, without importing it.
            if len(base64.urlsafe_b64decode(raw)) != 32:
                raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")
            self._raw = raw
        except (ValueError, TypeError, binascii.Error):
            # Not "from exc": the driver's message would quote the key.
            raise SecretKeyError(
                f"the secret key ({KEY_SOURCES}) is malformed: expected 32 url-safe "
                "base64-encoded bytes (44 characters), as `cw init` creates"
            ) from None
        self._check = hmac.new(raw, _KEY_CHECK_INPUT, hashlib.sha256).hexdigest()

    @property
    def check_value(self) -> str | None:
        """The key's check value (see :func:`key_check_value`), ``None`` without a key."""
        return self._check

    def __repr__(self) -> str:
        return f"SecretBox(key={'set' if self._raw else 'missing'})"

    @property
    def has_key(self) -> bool:
        return self._raw is not None

    def _require(self, what: str, action: str) -> Fernet:
        if self._raw is None:
            raise SecretKeyError(
                f"cannot {action} {what}: no secret key configured (set CW_SECRET_KEY, or run "
                "`cw init` in the workspace to create .cw/secret.key)"
            )
        if self._fernet is None:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(self._raw)
        return self._fernet

    def encrypt(self, value: str, what: str) -> str:
        """``value`` encrypted for storage (``what`` names it in errors)."""
        token = self._require(what, "encrypt").encrypt(value.encode("utf-8"))
        return PREFIX + token.decode("ascii")

    def decrypt(self, stored: str, what: str) -> str:
        """The plaintext of a stored value; a value without the prefix is returned as it is."""
        if not stored.startswith(PREFIX):
            return stored
        fernet = self._require(what, "decrypt")
        from cryptography.fernet import InvalidToken  # loaded by _require

        try:
            return fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                f"cannot decrypt {what}: wrong secret key ({KEY_SOURCES}), or the stored "
                "value is damaged"
            ) from None
