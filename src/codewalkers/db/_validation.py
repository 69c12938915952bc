"""Input checks derived from the schema, run before any SQL so that bad input changes nothing.

Each column's type decides what a value must be: text (no NUL), an int that fits the column,
a ``bool``, an aware ``datetime``, a member or value of the column's enum, a JSON value, or a
Tiptap document. Every failure is a :class:`ValidationError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Integer, Table, Text

from codewalkers.db.errors import ValidationError
from codewalkers.db.types import EnumText, JSONText, Millis, TiptapJSON

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_JSON_DEPTH = 100


def check_text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise ValidationError(f"{field} must not contain NUL characters")
    if value.isascii():  # no lone surrogates: skip the encoding check below
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{field} is not valid Unicode text ({exc.reason})") from exc
    return value


def check_int(field: str, value: Any, bounds: tuple[int, int] = INT32) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer, not {type(value).__name__}")
    if not bounds[0] <= value <= bounds[1]:
        raise ValidationError(f"{field} is out of range ({bounds[0]} to {bounds[1]}): {value}")
    return value


def check_enum(field: str, value: Any, enum: type[StrEnum]) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(f"invalid {field} {value!r}: expected one of {allowed}") from None


def check_datetime(field: str, value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(f"{field} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field} must be timezone-aware (e.g. datetime.now(UTC))")
    return value


def check_json(field: str, value: Any, depth: int = 0) -> Any:
    """A JSON value that reads back exactly as given: dicts with str keys, lists, scalars."""
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return check_int(field, value, INT64)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{field} must not contain NaN or infinity")
        return value
    if isinstance(value, str):
        return check_text(field, value)
    if isinstance(value, list):
        for item in value:
            check_json(field, item, depth + 1)
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{field} has a non-string key {key!r}")
            check_text(field, key)
            check_json(field, item, depth + 1)
        return value
    raise ValidationError(f"{field} must be JSON (dict, list, str, number, bool or None)")


_TIPTAP_KEYS = {"type", "content", "text", "marks", "attrs"}


def check_tiptap(field: str, value: Any) -> dict[str, Any]:
    """A Tiptap document: ``{"type": "doc", "content": [node, ...]}``."""
    if not isinstance(value, dict) or value.get("type") != "doc":
        raise ValidationError(f'{field} must be a Tiptap document {{"type": "doc", ...}}')
    check_json(field, value)
    _check_node(field, value, "doc")
    return value


def _check_node(field: str, node: Any, where: str) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str) or not node["type"]:
        raise ValidationError(f"{field}: {where} must be a node with a string 'type'")
    unknown = set(node) - _TIPTAP_KEYS
    if unknown:
        raise ValidationError(f"{field}: {where} has unknown keys {sorted(unknown)}")
    if "attrs" in node and not isinstance(node["attrs"], dict):
        raise ValidationError(f"{field}: {where}.attrs must be an object")
    if node["type"] == "text" and not isinstance(node.get("text"), str):
        raise ValidationError(f"{field}: {where} is a text node without 'text'")
    if "text" in node and node["type"] != "text":
        raise ValidationError(f"{field}: {where} has 'text' but is not a text node")
    marks = node.get("marks", [])
    if not isinstance(marks, list):
        raise ValidationError(f"{field}: {where}.marks must be a list")
    for index, mark in enumerate(marks):
        _check_mark(field, mark, f"{where}.marks[{index}]")
    children = node.get("content", [])
    if not isinstance(children, list):
        raise ValidationError(f"{field}: {where}.content must be a list")
    for index, child in enumerate(children):
        _check_node(field, child, f"{where}.content[{index}]")


def _check_mark(field: str, mark: Any, where: str) -> None:
    if not isinstance(mark, dict) or not isinstance(mark.get("type"), str):
        raise ValidationError(f"{field}: {where} must be a mark with a string 'type'")
    if set(mark) - {"type", "attrs"} or not isinstance(mark.get("attrs", {}), dict):
        raise ValidationError(f"{field}: {where} may only have 'type' and an 'attrs' object")


def check_column(column: Column[Any], field: str, value: Any) -> Any:
    """``value`` checked against ``column``'s type and nullability."""
    if value is None:
        if not column.nullable:
            raise ValidationError(f"{field} is required and cannot be None")
        return None
    kind = column.type
    if isinstance(kind, EnumText):
        return check_enum(field, value, kind.enum)
    if isinstance(kind, TiptapJSON):
        return check_tiptap(field, value)
    if isinstance(kind, JSONText):
        return check_json(field, value)
    if isinstance(kind, Millis):
        return check_datetime(field, value)
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValidationError(f"{field} must be a bool, not {type(value).__name__}")
        return value
    if isinstance(kind, BigInteger):
        return check_int(field, value, INT64)
    if isinstance(kind, Integer):
        return check_int(field, value, INT32)
    if isinstance(kind, Text):
        return check_text(field, value)
    raise AssertionError(f"no check for column type {kind!r}")  # pragma: no cover


class TableRules:
    """What ``create`` and ``update`` accept for one table."""

    def __init__(
        self,
        table: Table,
        entity: str,
        *,
        managed: Iterable[str] = ("created_at", "updated_at"),
        immutable: Iterable[str] = ("id",),
        not_blank: Iterable[str] = (),
    ) -> None:
        self.table = table
        self.entity = entity
        self.managed = frozenset(managed)
        self.immutable = frozenset(immutable) | self.managed
        self.not_blank = frozenset(not_blank) | {"id"}
        self.columns = {column.name: column for column in table.columns}
        self.required = frozenset(
            column.name
            for column in table.columns
            if not column.nullable
            and column.server_default is None
            and not column.primary_key
            and column.name not in self.managed
            and column.identity is None
        )
        self._creatable = frozenset(self.columns) - self.managed
        self._updatable = frozenset(self.columns) - self.immutable

    def _check(self, fields: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
        if not allowed.issuperset(fields):
            unknown = sorted(set(fields) - allowed)
            known = ", ".join(sorted(allowed))
            raise ValidationError(f"unknown {self.entity} field(s) {unknown}; known: {known}")
        values = {}
        columns, not_blank = self.columns, self.not_blank
        for name, value in fields.items():
            if type(value) is str and "\x00" not in value and value.isascii():
                # The common case, checked without the dispatch below: plain ASCII text
                # for a text column (enum and JSON columns still go through check_column).
                column = columns[name]
                if type(column.type) is not Text:
                    value = check_column(column, name, value)
            else:
                value = check_column(columns[name], name, value)
            if name in not_blank and not value.strip():
                raise ValidationError(f"{self.entity} {name} must not be empty")
            values[name] = value
        return values

    def for_create(
        self, fields: Mapping[str, Any], filled_later: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """Checked values for an insert (without id and timestamps). Required fields in
        ``filled_later`` may be missing: the repository fills them in itself.
        """
        values = self._check(fields, self._creatable)
        if not self.required.issubset(values):
            missing = sorted(self.required - set(values) - filled_later)
            if missing:
                raise ValidationError(f"missing required {self.entity} field(s): {missing}")
        return values

    def for_update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Checked values for an update; the id, timestamps and immutable fields are refused."""
        fixed = sorted(set(changes) & self.immutable)
        if fixed:
            raise ValidationError(f"{self.entity} field(s) {fixed} cannot be changed")
        return self._check(changes, self._updatable)
