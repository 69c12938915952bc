"""Change sets: changes to an initiative's pages, phases and tasks, applied together in one
transaction, with each entity's state before and after recorded, so that the whole set can be
reverted (docs/planning.md, "Chat sessions").

A change is ``{"action": "create" | "update" | "delete", "entity": "page" | "phase" | "task",
"id": ID, "fields": {...}}`` (a chat agent writes one per file under
``.cw/output/changes/``). An entity's state is the fields a change may set
(:data:`FIELDS`, content as stored: Tiptap JSON) plus ``initiative_id``; a phase's and a
task's include ``depends_on`` (the ids it depends on, sorted).

Reverting restores every entity of the set to its state before the set, in one transaction;
an entity whose state is no longer the one the set left is a conflict, named in the refusal,
unless ``force``. A revert never deletes what others built on: an entity with children (a
phase with tasks, a task with subtasks, a page with child pages) or that others depend on is
not deleted, by a change or by a revert.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codewalkers.content import markdown_to_tiptap
from codewalkers.db import (
    ChangeAction,
    ChangeEntityType,
    ChangeSet,
    ChangeSetEntry,
    ChangeSetStatus,
    ConflictError,
    Database,
    NotFoundError,
    ValidationError,
)
from codewalkers.services import events
from codewalkers.services.pages import ensure_root_page
from codewalkers.services.serialize import plain

#: What a change may set, per entity.
FIELDS: dict[str, tuple[str, ...]] = {
    "page": ("title", "content", "parent_page_id", "sort_order"),
    "phase": ("name", "content", "status", "depends_on"),
    "task": (
        "name",
        "description",
        "phase_id",
        "parent_task_id",
        "priority",
        "category",
        "type",
        "status",
        "order",
        "depends_on",
    ),
}
#: Fields given as Markdown and stored as Tiptap JSON.
MARKDOWN_FIELDS = frozenset({"content"})
#: A change file larger than this is refused (a change is a few fields).
MAX_CHANGE_FILE = 1_000_000


class ChangeConflictError(ConflictError):
    """A revert would overwrite changes made since: the entities are named."""


@dataclass(frozen=True, slots=True)
class Change:
    action: str
    entity: str
    id: str | None
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reverted:
    """What a revert did: the change set, whether it was reverted now (False: it had been
    before, nothing changed), and a one-line message."""

    change_set: ChangeSet
    reverted: bool
    message: str
    forced: list[str]


# -- reading changes ---------------------------------------------------------------------------


def parse_change(data: Any, where: str) -> Change:
    """One change from JSON data; ``ValidationError`` naming ``where`` and the problem."""

    def bad(problem: str) -> ValidationError:
        return ValidationError(f"{where}: {problem}")

    if not isinstance(data, dict):
        raise bad("a change is a JSON object")
    unknown = set(data) - {"action", "entity", "id", "fields"}
    if unknown:
        raise bad(f"unknown key {sorted(unknown)[0]!r}")
    action, entity = data.get("action"), data.get("entity")
    if action not in {a.value for a in ChangeAction}:
        raise bad(f"action must be create, update or delete, not {action!r}")
    if entity not in FIELDS:
        raise bad(f"entity must be page, phase or task, not {entity!r}")
    id_ = data.get("id")
    if id_ is not None and (not isinstance(id_, str) or not id_.strip()):
        raise bad("id must be a non-empty string")
    if action != "create" and id_ is None:
        raise bad(f"{action} needs the id of the {entity}")
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise bad("fields must be an object")
    if action == "delete" and fields:
        raise bad("delete takes no fields")
    if action == "update" and not fields:
        raise bad("update needs fields")
    unknown_fields = sorted(set(fields) - set(FIELDS[entity]))
    if unknown_fields:
        allowed = ", ".join(FIELDS[entity])
        raise bad(f"unknown {entity} field {unknown_fields[0]!r} (fields: {allowed})")
    deps = fields.get("depends_on")
    if deps is not None and (
        not isinstance(deps, list) or not all(isinstance(d, str) and d for d in deps)
    ):
        raise bad("depends_on must be a list of ids")
    return Change(action=action, entity=entity, id=id_, fields=dict(fields))


def read_change_files(folder: Path) -> list[Change]:
    """The changes in ``folder`` (``*.json``, in name order; none when it does not exist).
    Raises ``ValidationError`` naming the first bad file."""
    if not folder.is_dir():
        return []
    changes = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        where = f"change file {path.name}"
        if path.suffix != ".json":
            raise ValidationError(f"{where}: not a .json file")
        if path.stat().st_size > MAX_CHANGE_FILE:
            raise ValidationError(f"{where}: larger than {MAX_CHANGE_FILE} bytes")
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(f"{where}: not JSON ({exc})") from None
        changes.append(parse_change(data, where))
    return changes


# -- states ------------------------------------------------------------------------------------


def _repository(db: Database, entity: str) -> Any:
    return {"page": db.pages, "phase": db.phases, "task": db.tasks}[entity]


def state(db: Database, entity: str, entity_id: str) -> dict[str, Any] | None:
    """The entity's recorded state now (``None`` when it does not exist)."""
    record = _repository(db, entity).find_by_id(entity_id)
    if record is None:
        return None
    data = plain(record)
    found: dict[str, Any] = {"initiative_id": data.get("initiative_id")}
    for name in FIELDS[entity]:
        if name == "depends_on":
            found[name] = sorted(_repository(db, entity).get_dependencies(entity_id))
        else:
            found[name] = data.get(name)
    return found


def _label(db: Database, entity: str, entity_id: str, known: Mapping[str, Any] | None) -> str:
    title = (known or {}).get("title") or (known or {}).get("name")
    return f"{entity} {entity_id}" + (f" ({title!r})" if title else "")


def get(db: Database, change_set_id: str) -> tuple[ChangeSet, list[ChangeSetEntry]]:
    """The change set and its entries. Raises ``NotFoundError``."""
    change_set = db.change_sets.find_by_id(change_set_id)
    if change_set is None:
        raise NotFoundError(f"change set {change_set_id!r} not found")
    return change_set, db.change_sets.find_entries(change_set.id)


def describe_entry(entry: ChangeSetEntry | Mapping[str, Any]) -> str:
    """One line for a person: ``updated task Tk1… 'Add login': name, priority`` (the fields
    changed), ``created phase …``, ``deleted page …``. Takes an entry or its JSON form."""

    def get(name: str) -> Any:
        return entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name)

    before, after = get("previous_state") or {}, get("new_state") or {}
    known = after or before
    title = known.get("title") or known.get("name")
    what = f"{get('entity_type')} {get('entity_id')}" + (f" {title!r}" if title else "")
    action = str(get("action"))
    if action in ("create", "delete"):
        return f"{action}d {what}"
    changed = sorted(k for k in after if before.get(k) != after.get(k))
    return f"updated {what}: {', '.join(changed) or 'nothing'}"


# -- applying ----------------------------------------------------------------------------------


def apply_changes(
    db: Database,
    initiative_id: str,
    changes: Sequence[Change],
    *,
    agent_id: str | None = None,
    summary: str | None = None,
) -> tuple[ChangeSet, list[ChangeSetEntry]]:
    """Apply the changes in order and record them as one change set, in one transaction
    (the caller's, when it holds one): all apply, or none does. Emits each entity's event
    and ``change_set:applied``.

    Raises ``ValidationError`` (bad field, an entity of another initiative, ...),
    ``NotFoundError`` (unknown entity) or ``ConflictError`` (a delete that would take
    children or dependents with it).
    """
    with db.transaction():
        entries = []
        for number, change in enumerate(changes, start=1):
            try:
                entries.append(_apply(db, initiative_id, change))
            except ConflictError as exc:
                raise ConflictError(f"change {number} ({_target(change)}): {exc}") from exc
            except (ValidationError, NotFoundError) as exc:
                raise ValidationError(f"change {number} ({_target(change)}): {exc}") from exc
        change_set = db.change_sets.create(
            initiative_id=initiative_id,
            agent_id=agent_id,
            summary=summary,
            entries=entries,
        )
        recorded = db.change_sets.find_entries(change_set.id)
        events.emit(db, events.CHANGE_SET_APPLIED, change_set, entries=plain(recorded))
    return change_set, recorded


def _target(change: Change) -> str:
    return f"{change.action} {change.entity} {change.id or '(new)'}"


def _own(db: Database, entity: str, entity_id: str, initiative_id: str) -> Any:
    record = _repository(db, entity).find_by_id(entity_id)
    if record is None:
        raise NotFoundError(f"{entity} {entity_id!r} not found")
    if record.initiative_id != initiative_id:
        raise ValidationError(f"{entity} {entity_id!r} belongs to another initiative")
    return record


def _values(entity: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in fields.items() if k != "depends_on"}
    for name in MARKDOWN_FIELDS & set(values):
        if values[name] is not None:
            if not isinstance(values[name], str):
                raise ValidationError(f"{entity} {name} is Markdown text")
            values[name] = markdown_to_tiptap(values[name])
    return values


def _set_dependencies(db: Database, entity: str, entity_id: str, wanted: Sequence[str]) -> None:
    repository = _repository(db, entity)
    current = set(repository.get_dependencies(entity_id))
    for target in current - set(wanted):
        repository.remove_dependency(entity_id, target)
    for target in wanted:
        if target not in current:
            repository.create_dependency(entity_id, target)


def _refuse_cascade(db: Database, entity: str, entity_id: str) -> None:
    """Deleting must not take other entities (or their dependencies) with it."""
    if entity == "phase":
        held = [t.id for t in db.tasks.find_by_phase_id(entity_id)]
        what = "tasks"
    elif entity == "task":
        held = [t.id for t in db.tasks.find_by_parent_task_id(entity_id)]
        what = "subtasks"
    else:
        held = [p.id for p in db.pages.find_by_parent_page_id(entity_id)]
        what = "child pages"
    if held:
        raise ConflictError(f"{entity} {entity_id} still has {what}: {', '.join(held)}")
    if entity != "page":
        dependents = _repository(db, entity).get_dependents(entity_id)
        if dependents:
            raise ConflictError(
                f"{entity} {entity_id} is depended on by {', '.join(sorted(dependents))}"
            )


def _emit(db: Database, entity: str, action: str, record: Any, before: Any = None) -> None:
    status_changed = entity != "page" and before is not None and before.status != record.status
    if action == "update" and status_changed:
        events.emit(db, f"{entity}:status_changed", record, previous_status=before.status)
    events.emit(db, f"{entity}:{action}d", record)


def _apply(db: Database, initiative_id: str, change: Change) -> dict[str, Any]:
    entity, repository = change.entity, _repository(db, change.entity)
    values = _values(entity, change.fields)
    deps = change.fields.get("depends_on")
    if change.action == "create":
        values["initiative_id"] = initiative_id
        if change.id is not None:
            values["id"] = change.id
        if entity == "page" and values.get("parent_page_id") is None:
            root, created = ensure_root_page(db, initiative_id)
            if created:
                events.emit(db, events.PAGE_CREATED, root)
            values["parent_page_id"] = root.id
        record = repository.create(**values)
        if deps:
            _set_dependencies(db, entity, record.id, deps)
        _emit(db, entity, "create", record)
        return _entry(entity, record.id, "create", None, state(db, entity, record.id))
    assert change.id is not None
    before = _own(db, entity, change.id, initiative_id)
    previous = state(db, entity, change.id)
    if change.action == "delete":
        _refuse_cascade(db, entity, change.id)
        repository.delete(change.id)
        events.emit(db, f"{entity}:deleted", before)
        return _entry(entity, change.id, "delete", previous, None)
    record = repository.update(change.id, **values) if values else before
    if deps is not None:
        _set_dependencies(db, entity, change.id, deps)
    _emit(db, entity, "update", record, before)
    return _entry(entity, change.id, "update", previous, state(db, entity, change.id))


def _entry(entity: str, entity_id: str, action: str, before: Any, after: Any) -> dict[str, Any]:
    return {
        "entity_type": ChangeEntityType(entity),
        "entity_id": entity_id,
        "action": ChangeAction(action),
        "previous_state": before,
        "new_state": after,
    }


# -- reverting ---------------------------------------------------------------------------------


def revert(db: Database, change_set_id: str, *, force: bool = False) -> Reverted:
    """Restore every entity of the change set to its state before it, in one transaction,
    and mark it reverted (``change_set:reverted``, and each entity's event). A change set
    reverted before is left as it is (``reverted`` False, the message says when).

    Raises ``NotFoundError``; ``ChangeConflictError`` naming every entity changed since
    (unless ``force``, which overwrites them); ``ConflictError`` when restoring would delete
    an entity others now depend on or hold.
    """
    with db.transaction():
        change_set = db.change_sets.find_by_id(change_set_id)
        if change_set is None:
            raise NotFoundError(f"change set {change_set_id!r} not found")
        if change_set.status == ChangeSetStatus.REVERTED:
            at = change_set.reverted_at
            when = f" at {at:%Y-%m-%d %H:%M:%SZ}" if at else ""
            return Reverted(
                change_set, False, f"change set {change_set.id} was already reverted{when}", []
            )
        entries = db.change_sets.find_entries(change_set.id)
        # Per entity: its state before the set (first entry) and after it (last entry).
        first: dict[tuple[str, str], ChangeSetEntry] = {}
        last: dict[tuple[str, str], ChangeSetEntry] = {}
        for entry in entries:
            key = (str(entry.entity_type), entry.entity_id)
            first.setdefault(key, entry)
            last[key] = entry
        conflicts = []
        for key, entry in last.items():
            now = state(db, *key)
            if now != entry.new_state:
                known = now or entry.new_state or entry.previous_state
                conflicts.append(_label(db, key[0], key[1], known))
        if conflicts and not force:
            raise ChangeConflictError(
                f"change set {change_set.id} cannot be reverted: changed since: "
                f"{'; '.join(conflicts)} (revert with --force to overwrite)"
            )
        # Later changes first: a task made in a phase made by the same set goes before it.
        order = sorted(last, key=lambda k: last[k].sort_order, reverse=True)
        for key in order:
            _restore(db, key[0], key[1], first[key].previous_state)
        reverted = db.change_sets.mark_reverted(change_set.id)
        events.emit(
            db,
            events.CHANGE_SET_REVERTED,
            reverted,
            entries=plain(entries),
            forced=conflicts if force else [],
        )
    return Reverted(reverted, True, f"reverted change set {reverted.id}", conflicts)


def _restore(db: Database, entity: str, entity_id: str, previous: Any) -> None:
    repository = _repository(db, entity)
    current = repository.find_by_id(entity_id)
    if previous is None:
        if current is not None:
            _refuse_cascade(db, entity, entity_id)
            repository.delete(entity_id)
            events.emit(db, f"{entity}:deleted", current)
        return
    fields = {k: v for k, v in previous.items() if k not in {"depends_on", "initiative_id"}}
    if current is None:
        record = repository.create(id=entity_id, initiative_id=previous["initiative_id"], **fields)
        action = "create"
    else:
        record = repository.update(entity_id, **fields)
        action = "update"
    if "depends_on" in previous:
        _set_dependencies(db, entity, entity_id, previous["depends_on"])
    _emit(db, entity, action, record, current)
