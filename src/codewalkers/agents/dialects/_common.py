"""What every dialect parser shares: safe decoding, JSON objects, reset-time reading, and the
usage-limit text patterns."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from codewalkers.agents.output import OutputEvent, RawText, UsageLimit

# Events carry at most this much text: the full line is in the agent's log file already.
MAX_EVENT_TEXT = 64 * 1024
# Usage-limit messages are short: patterns look at the start of a long line only.
MAX_PATTERN_SCAN = 8 * 1024


def decode(line: str | bytes) -> str:
    """``line`` as text without its line ending; invalid UTF-8 becomes U+FFFD."""
    if isinstance(line, bytes | bytearray):
        line = bytes(line).decode("utf-8", errors="replace")
    return line.rstrip("\r\n")


def clip(text: str) -> str:
    return text if len(text) <= MAX_EVENT_TEXT else text[:MAX_EVENT_TEXT] + "…[truncated]"


def json_object(text: str) -> dict[str, Any] | None:
    """The line as a JSON object, or ``None`` (not JSON, truncated, or a list/number/string)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def text_of(value: Any) -> str:
    """``value`` if it is a string, else ``""`` (fields of the wrong type are ignored)."""
    return value if isinstance(value, str) else ""


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def summarize(value: Any, limit: int = 200) -> str:
    """A short one-line view of a tool's input."""
    if isinstance(value, dict):
        for key in ("command", "cmd", "file_path", "filePath", "path", "pattern", "url", "query"):
            if isinstance(value.get(key), str):
                value = value[key]
                break
    if isinstance(value, list):
        value = " ".join(str(part) for part in value)
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            value = str(value)
    line = " ".join(value.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def from_epoch(value: Any) -> datetime | None:
    """Epoch seconds (or milliseconds) as an aware UTC datetime, or ``None``."""
    seconds = number(value)
    if seconds is None and isinstance(value, str) and value.strip().isdigit():
        seconds = float(value.strip())
    if seconds is None or seconds <= 0:
        return None
    if seconds > 1e12:  # milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


_EPOCH = re.compile(r"(?:\||resets_at\"?\s*[:=]\s*|resetsAt\"?\s*[:=]\s*)(\d{10,13})\b")
_RESETS_IN_SECONDS = re.compile(r"resets_in_seconds\"?\s*[:=]\s*(\d+)")
_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_DATE = (
    r"(?:(?P<month>[A-Za-z]{3,9})\.? (?P<day>\d{1,2})(?:st|nd|rd|th)?,? "
    r"(?:(?P<year>\d{4}),? )?(?:at )?)?"
)
_CLOCK = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
# Claude: "resets 4am (UTC)", "resets Dec 3, 4:30pm (Europe/Paris)".
_RESETS_AT = re.compile(r"\bresets (?:at )?" + _DATE + _CLOCK + r"(?:\s*\((?P<tz>[^)]+)\))?")
# Codex: "try again at 4:01 AM", "try again at Sep 20th, 2025 8:16 PM" (the machine's local time).
_TRY_AGAIN_AT = re.compile(r"\btry again at " + _DATE + _CLOCK)
_DURATION_PART = re.compile(
    r"(\d+)\s*(days?|d\b|hours?|hrs?|h\b|minutes?|mins?|m\b|seconds?|secs?|s\b)", re.IGNORECASE
)
_IN_DURATION = re.compile(
    r"\b(?:in|after)\s+((?:\d+\s*(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
    r"\b[\s,]*(?:and\s+)?)+)",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _clock_time(match: re.Match[str], tz: Any, now: datetime) -> datetime | None:
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    ampm = (match["ampm"] or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    local_now = now.astimezone(tz)
    month_name = (match["month"] or "").lower()
    try:
        if month_name:
            month = _MONTHS.get(month_name)
            if month is None:
                return None
            year = int(match["year"]) if match["year"] else local_now.year
            candidate = local_now.replace(
                year=year,
                month=month,
                day=int(match["day"]),
                hour=hour,
                minute=minute,
                second=0,
                microsecond=0,
            )
            if not match["year"] and candidate < local_now - timedelta(days=1):
                candidate = candidate.replace(year=year + 1)
        else:
            candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            # The next occurrence of that time of day; the message names minutes, so a time
            # in the current minute is now, not tomorrow.
            if candidate <= local_now - timedelta(minutes=1):
                candidate += timedelta(days=1)
    except ValueError:
        return None
    return candidate.astimezone(UTC)


def _zone(name: str | None) -> Any:
    if not name:
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ValueError, KeyError, OSError):
        return UTC


def read_reset_time(text: str, *, now: datetime | None = None) -> datetime | None:
    """When a usage limit ends, read from its message; ``None`` when the text does not say.

    Understands epoch seconds (``…limit reached|1755615600``, ``"resets_at": 1755615600``),
    ``resets_in_seconds``, Claude's ``resets 4am (UTC)`` / ``resets Dec 3, 4:30pm
    (Europe/Paris)`` (the next such time), Codex's ``try again at 4:01 AM`` (local time of
    this machine, where the CLI runs) and relative durations (``in 5 days 22 hours 11
    minutes``). The result is an aware UTC datetime.
    """
    now = now or datetime.now(UTC)
    text = text[:MAX_PATTERN_SCAN]
    if match := _EPOCH.search(text):
        return from_epoch(match[1])
    if match := _RESETS_IN_SECONDS.search(text):
        return now + timedelta(seconds=int(match[1]))
    if match := _RESETS_AT.search(text):
        return _clock_time(match, _zone(match["tz"]), now)
    if match := _TRY_AGAIN_AT.search(text):
        return _clock_time(match, now.astimezone().tzinfo, now)
    if match := _IN_DURATION.search(text):
        seconds = sum(
            int(amount) * _UNIT_SECONDS[unit[0].lower()]
            for amount, unit in _DURATION_PART.findall(match[1])
        )
        if seconds:
            return now + timedelta(seconds=seconds)
    return None


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    return [re.compile(pattern) for pattern in patterns]


def match_limit(
    text: str, patterns: Iterable[re.Pattern[str]], *, anchored: bool = False
) -> UsageLimit | None:
    """A :class:`UsageLimit` when ``text`` matches one of ``patterns`` (``anchored``: at its
    start only), with the reset time read from the whole text."""
    head = text[:MAX_PATTERN_SCAN]
    for pattern in patterns:
        found = pattern.match(head.lstrip()) if anchored else pattern.search(head)
        if found:
            return UsageLimit(message=clip(text.strip()), resets_at=read_reset_time(head))
    return None


def raw_line(
    text: str, patterns: Iterable[re.Pattern[str]], ignore: re.Pattern[str] | None = None
) -> list[OutputEvent]:
    """A non-JSON line (stderr, plain text): :class:`RawText`, preceded by a
    :class:`UsageLimit` when a pattern matches (and ``ignore`` does not)."""
    if not text.strip():
        return []
    events: list[OutputEvent] = []
    if ignore is None or not ignore.search(text[:MAX_PATTERN_SCAN]):
        limit = match_limit(text, patterns)
        if limit is not None:
            events.append(limit)
    events.append(RawText(clip(text)))
    return events
