"""Checks on what people type, shared by the CLI and the API so both refuse the same input.

Names (of initiatives, phases, tasks, pages, projects) are one line of at most
:data:`NAME_LIMIT` characters without control characters; a project's URL is a git URL, a
``file://`` URL or a path that exists. Each check raises ``ValidationError`` naming the field.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from codewalkers.db import ValidationError

#: The longest name accepted, in characters (documented in the README).
NAME_LIMIT = 500

_GIT_SCHEMES = frozenset({"git", "ssh", "http", "https", "git+ssh", "ssh+git", "file"})
# scp-like syntax git understands: user@host:path (no scheme, no "//" after the colon).
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)\S+$")


def check_name(value: str, field: str = "name") -> str:
    """``value`` when it is a usable name; ``ValidationError`` for a blank one, one with a
    newline or another control character, or one longer than :data:`NAME_LIMIT`.
    """
    if not value.strip():
        raise ValidationError(f"{field} must not be empty")
    for char in value:
        if unicodedata.category(char) == "Cc":
            shown = "a newline" if char in "\r\n" else f"control character {char!r}"
            raise ValidationError(f"{field} must be one line without control characters: {shown}")
    if len(value) > NAME_LIMIT:
        raise ValidationError(f"{field} is {len(value)} characters long; the limit is {NAME_LIMIT}")
    return value


def check_project_url(url: str) -> str:
    """``url`` when git could clone it: a ``git``/``ssh``/``http(s)`` URL with a host, an
    scp-like ``user@host:path``, a ``file://`` URL, or a path that exists (made absolute,
    so that it means the same from any directory). ``ValidationError`` otherwise.
    """
    check_name(url, "url")
    text = url.strip()
    if _SCP_LIKE.match(text):
        return text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.path:
            return text
    elif scheme in _GIT_SCHEMES and parts.netloc and len(scheme) > 1:
        return text
    elif "://" not in text:
        path = Path(text).expanduser()
        if path.exists():
            return str(path.resolve())
    raise ValidationError(
        f"url {url!r} is not a git URL (https://host/repo.git, git@host:repo.git, "
        "ssh://...), a file:// URL or an existing path"
    )
