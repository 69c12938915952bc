"""Proposals: what planning agents suggest. An architect's output files become pending
proposals (:func:`record_proposals`); accepting one applies it, creating or updating its
page, phase or task with the dependencies it names (:func:`accept_proposal`,
:func:`accept_all`). The rules are in ``docs/planning.md``, "Proposals".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from codewalkers.agents.workdir import ProposalFile, ProposalProblem
from codewalkers.content import markdown_to_tiptap
from codewalkers.db import (
    ConflictError,
    Database,
    DatabaseError,
    Page,
    Phase,
    Proposal,
    ProposalStatus,
    ProposalTargetType,
    Task,
    ValidationError,
)
from codewalkers.services import events, plan
from codewalkers.services.pages import ensure_root_page
from codewalkers.services.plan import get_or_raise


@dataclass
class AcceptedProposal:
    """What accepting did: the proposal (now accepted), the entity created or updated, and
    warnings (dependencies dropped because what they named was dismissed or is gone)."""

    proposal: Proposal
    action: str  # "created" or "updated"
    entity: Page | Phase | Task
    warnings: list[str] = field(default_factory=list)


@dataclass
class RecordedProposals:
    """What an agent's output files became: the new pending proposals, in order, and the
    files that did not become one, each with its problem."""

    proposals: list[Proposal]
    problems: list[ProposalProblem]
    #: Files already recorded earlier, unchanged (an agent resumed after its ``done``).
    unchanged: list[str] = field(default_factory=list)
    #: Of ``proposals``, those that were pending already, updated from a changed file.
    updated: list[str] = field(default_factory=list)


# --- recording an agent's output ------------------------------------------------------------


def record_proposals(
    db: Database,
    agent_id: str,
    files: Sequence[ProposalFile],
    problems: Sequence[ProposalProblem] = (),
    *,
    default_phase_id: str | None = None,
) -> RecordedProposals:
    """Make the agent's well-formed proposal files pending proposals of its initiative, in
    the order given, all in one transaction (the caller's, when it holds one).

    Beyond ``problems`` (files that could not be read), a file is refused, with its reason,
    when it names what does not exist: a ``target_id`` that is no page, phase or task of the
    initiative (of its kind), a dependency, ``phase_id`` or ``parent_id`` that is neither an
    entity nor a proposal (of this set or a pending or accepted one), an ``id`` already used,
    or a proposal of this set that was itself refused. A task without ``phase_id`` belongs to
    ``default_phase_id`` (the agent's phase). A file recorded before with the same content is
    skipped; a changed file whose proposal is still pending updates that proposal. Emits
    ``proposal:created`` or ``proposal:updated`` per proposal and ``proposal:rejected`` per
    refused file. Raises ``NotFoundError`` for an unknown agent.
    """
    agent = get_or_raise(db.agents, agent_id, "agent")
    rejected = list(problems)
    if agent.initiative_id is None:
        rejected += [ProposalProblem(f.name, "the agent works on no initiative") for f in files]
        with db.transaction():
            _emit_rejected(db, agent.id, None, rejected)
        return RecordedProposals([], rejected)
    initiative_id: str = agent.initiative_id
    with db.transaction():
        earlier = db.proposals.find_by_initiative_id(initiative_id)
        mine = [p for p in earlier if p.agent_id == agent.id]
        seen = {(_meta(p).get("file"), _meta(p).get("digest")) for p in mine}
        unchanged = [f.name for f in files if (f.name, _digest(f)) in seen]
        fresh = [f for f in files if (f.name, _digest(f)) not in seen]
        # A file changed since it became a proposal still pending: that proposal is updated.
        names = {f.name for f in fresh}
        replacing = {
            _meta(p).get("file"): p
            for p in mine
            if p.status == ProposalStatus.PENDING and _meta(p).get("file") in names
        }
        others = [p for p in earlier if p.id not in {r.id for r in replacing.values()}]
        accepted, refused = _check(db, initiative_id, fresh, others)
        order = {f.name: i for i, f in enumerate(files)}
        refused.sort(key=lambda p: order[p.name])
        rejected = sorted([*rejected, *refused], key=lambda p: p.name)
        start = max((p.sort_order for p in mine), default=-1) + 1
        written: list[tuple[str, Proposal]] = []
        for item in accepted:
            fields: dict[str, Any] = {
                "target_type": item.kind,
                "target_id": item.target_id,
                "title": item.title,
                "summary": item.summary,
                "content": item.body,
                "metadata": _metadata_of(item, default_phase_id),
            }
            old = replacing.get(item.name)
            if old is not None:
                written.append((events.PROPOSAL_UPDATED, db.proposals.update(old.id, **fields)))
                continue
            made = db.proposals.create(
                agent_id=agent.id,
                initiative_id=initiative_id,
                status=ProposalStatus.PENDING,
                sort_order=start,
                **fields,
            )
            start += 1
            written.append((events.PROPOSAL_CREATED, made))
        for event, proposal in written:
            events.emit(db, event, proposal)
        _emit_rejected(db, agent.id, initiative_id, rejected)
    updated = [p.id for event, p in written if event == events.PROPOSAL_UPDATED]
    return RecordedProposals([p for _, p in written], rejected, unchanged, updated)


def _emit_rejected(
    db: Database, agent_id: str, initiative_id: str | None, problems: Sequence[ProposalProblem]
) -> None:
    for problem in problems:
        events.emit(
            db,
            events.PROPOSAL_REJECTED,
            {"agent_id": agent_id, "file": problem.name, "problem": problem.problem},
            initiative_id=initiative_id,
            entity_id=agent_id,
        )


def _digest(item: ProposalFile) -> str:
    text = json.dumps(asdict(item), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _metadata_of(item: ProposalFile, default_phase_id: str | None) -> dict[str, Any]:
    phase_id = item.phase_id
    if item.kind == "task" and phase_id is None and item.target_id is None:
        phase_id = default_phase_id
    meta: dict[str, Any] = {"file": item.name, "digest": _digest(item)}
    optional = {
        "id": item.id,
        "phase_id": phase_id,
        "parent_page_id": item.parent_id,
        "priority": item.priority,
        "category": item.category,
        "type": item.type,
    }
    meta.update({key: value for key, value in optional.items() if value is not None})
    if item.depends_on is not None:
        meta["depends_on"] = list(item.depends_on)
    return meta


def _check(
    db: Database,
    initiative_id: str,
    files: Sequence[ProposalFile],
    earlier: Sequence[Proposal],
) -> tuple[list[ProposalFile], list[ProposalProblem]]:
    existing = {
        "page": {p.id for p in db.pages.find_by_initiative_id(initiative_id)},
        "phase": {p.id for p in db.phases.find_by_initiative_id(initiative_id)},
        "task": {t.id for t in db.tasks.find_by_initiative_id(initiative_id)},
    }
    proposed: dict[str, str] = {}  # a proposal's id -> its kind (pending or accepted)
    for other in earlier:
        pid = _meta(other).get("id")
        if isinstance(pid, str) and other.status != ProposalStatus.DISMISSED:
            proposed[pid] = str(other.target_type)
    problems: dict[str, str] = {}
    batch: dict[str, ProposalFile] = {}  # ids proposed by this set (forward references too)
    for item in files:
        if item.id is None:
            continue
        if item.id in batch:
            problems[item.name] = f"id {item.id} is also the id of {batch[item.id].name}"
        else:
            batch[item.id] = item
    for item in files:
        if item.name not in problems:
            problem = _problem(db, item, existing, proposed, batch)
            if problem is not None:
                problems[item.name] = problem
    # A proposal naming one of this set that was refused is refused too (to a fixpoint).
    entities = set().union(*existing.values())
    changed = True
    while changed:
        changed = False
        for item in files:
            if item.name in problems:
                continue
            for ref in _references(item):
                source = batch.get(ref)
                if source is not None and source.name in problems and ref not in entities:
                    problems[item.name] = (
                        f"names {ref}, proposed by {source.name}, which was refused"
                    )
                    changed = True
                    break
    ok = [item for item in files if item.name not in problems]
    return ok, [ProposalProblem(name, text) for name, text in problems.items()]


def _references(item: ProposalFile) -> list[str]:
    refs = list(item.depends_on or ())
    refs += [ref for ref in (item.phase_id, item.parent_id) if ref is not None]
    return refs


def _problem(
    db: Database,
    item: ProposalFile,
    existing: dict[str, set[str]],
    proposed: dict[str, str],
    batch: dict[str, ProposalFile],
) -> str | None:
    kind = item.kind
    if item.target_id is not None and item.target_id not in existing[kind]:
        return f"target_id {item.target_id} is no {kind} of this initiative"
    if item.id is not None:
        taken = item.id in proposed or any(
            repository.find_by_id(item.id) is not None
            for repository in (db.pages, db.phases, db.tasks)
        )
        if taken:
            return f"id {item.id} is already used: get a new one with `cw id`"

    def known(ref: str, of: str) -> bool:
        return (
            ref in existing[of]
            or proposed.get(ref) == of
            or (ref in batch and batch[ref].kind == of)
        )

    for ref in item.depends_on or ():
        if not known(ref, kind):
            return (
                f"depends_on names {ref}, which is no {kind} or proposed {kind} of this initiative"
            )
    if item.phase_id is not None and not known(item.phase_id, "phase"):
        return f"phase_id {item.phase_id} is no phase or proposed phase of this initiative"
    if item.parent_id is not None and not known(item.parent_id, "page"):
        return f"parent_id {item.parent_id} is no page or proposed page of this initiative"
    return None


# --- accepting and dismissing -------------------------------------------------------------


def accept_proposal(db: Database, proposal_id: str) -> AcceptedProposal:
    """Apply a pending proposal and mark it accepted, all in one transaction.

    ``target_id`` None creates the target, with the proposal's ``id`` when it has one: a
    page (under ``metadata.parent_page_id`` or the root page), a phase, or a task (in
    ``metadata.phase_id``, else in the initiative, with its priority, category and type);
    otherwise that entity's title/name and content/description (and a task's priority,
    category, type, phase) are updated, its id unchanged. Content is Markdown (stored as
    Tiptap for pages and phases).

    Dependencies (``metadata.depends_on``, phases and tasks) on an entity that exists are
    made; on a pending proposal, they are made when that one is accepted; on a dismissed
    proposal, or on something that no longer exists, they are dropped with a warning. A
    change that names ``depends_on`` replaces the entity's dependencies.

    Raises ``NotFoundError`` for an unknown proposal or target, ``ConflictError`` when the
    proposal is not pending or its phase (or parent page) is a proposal still pending,
    ``ValidationError`` for a target in another initiative, a dependency cycle or bad
    proposal data. On any error nothing changes.
    """
    with db.transaction():
        return _accept(db, proposal_id)


def accept_all(db: Database, agent_id: str) -> list[AcceptedProposal]:
    """Accept every pending proposal of the agent, in their order, in one transaction: all
    or none. An error names the proposal (and its file) that failed. Raises
    ``NotFoundError`` for an unknown agent."""
    agent = get_or_raise(db.agents, agent_id, "agent")
    results: list[AcceptedProposal] = []
    with db.transaction():
        for proposal in db.proposals.find_by_agent_id_and_status(agent.id, ProposalStatus.PENDING):
            try:
                results.append(_accept(db, proposal.id))
            except DatabaseError as exc:
                where = _meta(proposal).get("file") or proposal.title
                raise type(exc)(f"proposal {proposal.id} ({where}): {exc}") from exc
    return results


def dismiss_proposal(db: Database, proposal_id: str) -> Proposal:
    """Mark a pending proposal dismissed. ``ConflictError`` when it is not pending. The
    ``proposal:dismissed`` event carries :func:`dropped_dependencies` as ``warnings``."""
    with db.transaction():
        proposal = _lock_pending(db, proposal_id)
        dismissed: Proposal = db.proposals.update(proposal.id, status=ProposalStatus.DISMISSED)
        warnings = dropped_dependencies(db, dismissed.id)
        events.emit(db, events.PROPOSAL_DISMISSED, dismissed, warnings=warnings)
    return dismissed


def dropped_dependencies(db: Database, proposal_id: str) -> list[str]:
    """For a dismissed proposal: the dependencies on it that will never be made, those of
    entities accepted from other proposals that named its id (one warning each)."""
    proposal: Proposal = get_or_raise(db.proposals, proposal_id, "proposal")
    pid = _meta(proposal).get("id")
    if proposal.status != ProposalStatus.DISMISSED or not isinstance(pid, str):
        return []
    return [
        f"{other.target_type} {other.target_id or _meta(other).get('id')} "
        f"({other.title!r}) will not depend on {pid}: proposal {proposal.id} was dismissed"
        for other in db.proposals.find_by_initiative_id(proposal.initiative_id)
        if other.status == ProposalStatus.ACCEPTED
        and other.target_type == proposal.target_type
        and pid in (_meta(other).get("depends_on") or [])
    ]


def _accept(db: Database, proposal_id: str) -> AcceptedProposal:
    proposal = _lock_pending(db, proposal_id)
    creates = proposal.target_id is None
    new_root: list[Page] = []
    warnings: list[str] = []
    entity = _create(db, proposal, new_root, warnings) if creates else _update(db, proposal)
    accepted: Proposal = db.proposals.update(proposal.id, status=ProposalStatus.ACCEPTED)
    action = "created" if creates else "updated"
    for root in new_root:
        events.emit(db, events.PAGE_CREATED, root)
    events.emit(db, f"{proposal.target_type}:{action}", entity)
    if proposal.target_type != ProposalTargetType.PAGE:
        _link(db, accepted, entity.id, warnings)
    events.emit(
        db,
        events.PROPOSAL_ACCEPTED,
        accepted,
        action=action,
        target_entity_id=entity.id,
        warnings=warnings,
    )
    return AcceptedProposal(accepted, action, entity, warnings)


def _lock_pending(db: Database, proposal_id: str) -> Proposal:
    # An update that changes nothing but updated_at locks the row on PostgreSQL and returns
    # its newest status, so two concurrent accepts cannot both apply it (SQLite's write lock
    # already serializes them). Raises NotFoundError for an unknown id.
    proposal: Proposal = db.proposals.update(proposal_id)
    if proposal.status != ProposalStatus.PENDING:
        raise ConflictError(f"proposal {proposal_id!r} is already {proposal.status}")
    return proposal


def _meta(proposal: Proposal) -> dict[str, Any]:
    return proposal.metadata if isinstance(proposal.metadata, dict) else {}


def _tiptap(markdown: str | None) -> dict[str, Any] | None:
    return markdown_to_tiptap(markdown) if markdown is not None else None


def _proposal_with_id(db: Database, proposal: Proposal, pid: str) -> Proposal | None:
    """The initiative's proposal whose new entity would have id ``pid`` (not dismissed
    first)."""
    found = [
        other
        for other in db.proposals.find_by_initiative_id(proposal.initiative_id)
        if _meta(other).get("id") == pid and other.id != proposal.id
    ]
    found.sort(key=lambda other: other.status == ProposalStatus.DISMISSED)
    return found[0] if found else None


def _resolve_parent(
    db: Database, proposal: Proposal, ref: str, kind: str, warnings: list[str]
) -> str | None:
    """``ref`` (a phase or parent page) when it exists; refused while it is a pending
    proposal; ``None`` with a warning when its proposal was dismissed."""
    repository = db.phases if kind == "phase" else db.pages
    if repository.find_by_id(ref) is not None:
        return ref
    other = _proposal_with_id(db, proposal, ref)
    if other is not None and other.status == ProposalStatus.PENDING:
        raise ConflictError(
            f"its {kind} {ref} is proposed by proposal {other.id} ({other.title!r}), "
            "still pending: accept that one first"
        )
    if other is not None and other.status == ProposalStatus.DISMISSED and kind == "page":
        warnings.append(
            f"its parent page {ref} (proposal {other.id}) was dismissed: put under the root page"
        )
        return None
    why = "was dismissed" if other is not None else "does not exist"
    raise ValidationError(f"its {kind} {ref} {why}: dismiss this proposal or fix its {kind}")


def _create(
    db: Database, proposal: Proposal, new_root: list[Page], warnings: list[str]
) -> Page | Phase | Task:
    meta = _meta(proposal)
    ids: dict[str, Any] = {}
    if isinstance(meta.get("id"), str):
        ids["id"] = meta["id"]
        for repository in (db.pages, db.phases, db.tasks):
            if repository.find_by_id(meta["id"]) is not None:
                raise ConflictError(f"an entity with id {meta['id']} exists already")
    if proposal.target_type == ProposalTargetType.PAGE:
        parent = meta.get("parent_page_id")
        if parent is not None:
            parent = _resolve_parent(db, proposal, parent, "page", warnings)
        if parent is None:
            root, created = ensure_root_page(db, proposal.initiative_id)
            if created:
                new_root.append(root)
            parent = root.id
        page: Page = db.pages.create(
            **ids,
            initiative_id=proposal.initiative_id,
            parent_page_id=parent,
            title=proposal.title,
            content=_tiptap(proposal.content),
        )
        return page
    if proposal.target_type == ProposalTargetType.PHASE:
        phase: Phase = db.phases.create(
            **ids,
            initiative_id=proposal.initiative_id,
            name=proposal.title,
            content=_tiptap(proposal.content),
        )
        return phase
    fields: dict[str, Any] = {
        **ids,
        "initiative_id": proposal.initiative_id,
        "name": proposal.title,
        "description": proposal.content or proposal.summary,
        **_task_fields(meta),
    }
    if meta.get("phase_id") is not None:
        # With the initiative given too, a phase of another initiative is refused.
        fields["phase_id"] = _resolve_parent(db, proposal, meta["phase_id"], "phase", warnings)
    task: Task = db.tasks.create(**fields)
    return task


def _task_fields(meta: dict[str, Any]) -> dict[str, Any]:
    return {key: meta[key] for key in ("priority", "category", "type") if meta.get(key)}


def _update(db: Database, proposal: Proposal) -> Page | Phase | Task:
    target_id = proposal.target_id
    assert target_id is not None
    kind = str(proposal.target_type)
    if proposal.target_type == ProposalTargetType.PAGE:
        _same_initiative(proposal, get_or_raise(db.pages, target_id, kind))
        changes: dict[str, Any] = {"title": proposal.title}
        if proposal.content is not None:
            changes["content"] = _tiptap(proposal.content)
        page: Page = db.pages.update(target_id, **changes)
        return page
    if proposal.target_type == ProposalTargetType.PHASE:
        _same_initiative(proposal, get_or_raise(db.phases, target_id, kind))
        changes = {"name": proposal.title}
        if proposal.content is not None:
            changes["content"] = _tiptap(proposal.content)
        phase: Phase = db.phases.update(target_id, **changes)
        return phase
    _same_initiative(proposal, get_or_raise(db.tasks, target_id, kind))
    meta = _meta(proposal)
    changes = {"name": proposal.title, **_task_fields(meta)}
    description = proposal.content or proposal.summary
    if description is not None:
        changes["description"] = description
    if meta.get("phase_id") is not None:
        changes["phase_id"] = _resolve_parent(db, proposal, meta["phase_id"], "phase", [])
    task: Task = db.tasks.update(target_id, **changes)
    return task


def _link(db: Database, proposal: Proposal, entity_id: str, warnings: list[str]) -> None:
    """The accepted proposal's dependencies, and those of proposals accepted before that
    waited for this one."""
    is_phase = proposal.target_type == ProposalTargetType.PHASE
    repository: Any = db.phases if is_phase else db.tasks
    add = plan.add_phase_dependency if is_phase else plan.add_task_dependency
    remove = plan.remove_phase_dependency if is_phase else plan.remove_task_dependency
    wanted = _meta(proposal).get("depends_on")
    if isinstance(wanted, list):
        if proposal.target_id is not None:
            for current in repository.get_dependencies(entity_id):
                if current not in wanted:
                    remove(db, entity_id, current)
        for ref in wanted:
            if repository.find_by_id(ref) is not None:
                add(db, entity_id, ref)
                continue
            other = _proposal_with_id(db, proposal, ref)
            if other is not None and other.status == ProposalStatus.PENDING:
                continue  # made when that proposal is accepted
            if other is not None and other.status == ProposalStatus.DISMISSED:
                warnings.append(
                    f"dropped the dependency on {ref}: proposal {other.id} "
                    f"({other.title!r}) was dismissed"
                )
            else:
                warnings.append(f"dropped the dependency on {ref}: it no longer exists")
    # Proposals accepted earlier that named this one as a dependency.
    for other in db.proposals.find_by_initiative_id(proposal.initiative_id):
        meta = _meta(other)
        if (
            other.id == proposal.id
            or other.status != ProposalStatus.ACCEPTED
            or other.target_type != proposal.target_type
            or entity_id not in (meta.get("depends_on") or [])
        ):
            continue
        dependent = other.target_id or meta.get("id")
        if isinstance(dependent, str) and repository.find_by_id(dependent) is not None:
            add(db, dependent, entity_id)


def _same_initiative(proposal: Proposal, entity: Page | Phase | Task) -> None:
    if entity.initiative_id is not None and entity.initiative_id != proposal.initiative_id:
        raise ValidationError(
            f"proposal {proposal.id!r} targets {proposal.target_type} {entity.id!r} "
            f"of another initiative ({entity.initiative_id!r})"
        )


__all__ = [
    "AcceptedProposal",
    "RecordedProposals",
    "accept_all",
    "accept_proposal",
    "dismiss_proposal",
    "dropped_dependencies",
    "record_proposals",
]
