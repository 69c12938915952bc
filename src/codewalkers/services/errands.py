"""Errands: small work on one project outside any initiative (docs/planning.md, "Errands").

An errand's agent (mode ``errand``) works on its own branch, ``cw/errand--<slug>-<id8>``,
started from the project's default branch. ``merge`` lands the branch on the remote's default
branch and pushes it; ``abandon`` stops the agent and removes its worktree, keeping the
branch (and its commits) unless asked to delete it. Starting, chatting, merging and
abandoning need the coordinator (:class:`Errands`, over its runtime); listing, showing and
the diff read the database and the project's clone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from codewalkers.agents import git, integration
from codewalkers.agents.paths import RuntimePaths
from codewalkers.db import (
    Agent,
    AgentMode,
    AgentStatus,
    ConflictError,
    Database,
    Errand,
    ErrandStatus,
    Project,
    ValidationError,
    new_id,
)
from codewalkers.services import events
from codewalkers.services.plan import get_or_raise
from codewalkers.services.runtime import AgentRuntime, SpawnRequest, slug

#: How long a merge into a project's default branch holds its lease (seconds).
MERGE_LEASE_SECONDS = 600


@dataclass(frozen=True)
class ErrandView:
    """An errand with its project and agent (``None`` once the agent row is gone)."""

    errand: Errand
    project: Project
    agent: Agent | None


def find_project(db: Database, name_or_id: str) -> Project:
    """The project by name or id. Raises ``ValidationError`` (422: a bad argument, as an
    unknown provider is) when there is none."""
    project = db.projects.find_by_id(name_or_id) or next(
        (p for p in db.projects.find_all() if p.name == name_or_id), None
    )
    if project is None:
        raise ValidationError(f"project {name_or_id!r} not found")
    return project


def get(db: Database, errand_id: str) -> ErrandView:
    """The errand with its project and agent. Raises ``NotFoundError``."""
    errand: Errand = get_or_raise(db.errands, errand_id, "errand")
    project: Project = get_or_raise(db.projects, errand.project_id, "project")
    agent = db.agents.find_by_id(errand.agent_id) if errand.agent_id else None
    return ErrandView(errand, project, agent)


def list_errands(
    db: Database, *, project: str | None = None, status: str | None = None
) -> list[Errand]:
    """Errands, oldest first (optionally of one project, in one status)."""
    if status is not None and status not in {s.value for s in ErrandStatus}:
        raise ValidationError(
            f"invalid status {status!r}: {', '.join(s.value for s in ErrandStatus)}"
        )
    rows = (
        db.errands.find_by_project_id(find_project(db, project).id)
        if project
        else db.errands.find_all()
    )
    return [row for row in rows if status is None or row.status == status]


def diff(db: Database, paths: RuntimePaths, errand_id: str) -> str:
    """The unified diff of the errand's branch since it left the default branch (three
    dots, as a pull request shows it). Raises ``NotFoundError``, ``ConflictError`` when the
    branch is gone (abandoned with ``--delete-branch``)."""
    view = get(db, errand_id)
    integrator = integration.Integrator(
        paths, view.project.name, default_branch=view.project.default_branch
    )
    try:
        return integrator.diff(view.errand.base_branch, view.errand.branch)
    except git.GitError as exc:
        raise ConflictError(f"errand {errand_id}: {exc}") from exc


class Errands:
    """The coordinator's errands: start, chat, merge, abandon."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.paths = runtime.paths

    def start(self, description: str, project: str, *, provider: str | None = None) -> ErrandView:
        """Spawn an agent on a new branch from the project's default branch, and record the
        errand (``errand:started``). Raises ``ValidationError`` (empty description, unknown
        project or provider); a spawn that fails records nothing but the crashed agent."""
        if not description.strip():
            raise ValidationError("the errand's description is empty")
        found = find_project(self.db, project)
        errand_id = new_id()
        branch = integration.child_branch("cw/errand", f"{slug(description)}-{errand_id[:8]}")
        agent = self.runtime.spawn(
            SpawnRequest(
                mode=str(AgentMode.ERRAND),
                provider=provider,
                instructions=f"## The errand\n\n{description.strip()}\n",
                project_ids=(found.id,),
                branch=branch,
            )
        )
        base = git.default_branch(self.paths.repo_path(found.name), found.default_branch)
        with self.db.transaction():
            errand = self.db.errands.create(
                id=errand_id,
                project_id=found.id,
                description=description.strip(),
                branch=branch,
                base_branch=base,
                agent_id=agent.id,
            )
            events.emit(self.db, events.ERRAND_STARTED, errand, agent_name=agent.name)
        return ErrandView(errand, found, agent)

    def chat(self, errand_id: str, message: str) -> ErrandView:
        """Give the errand's agent more to say: it resumes its session with the message
        (or answers its pending questions with it). Raises ``ConflictError`` when the
        errand is over or its agent still runs."""
        view = self._active(errand_id)
        agent = self._agent(view)
        if not message.strip():
            raise ValidationError("the message is empty")
        if agent.status == AgentStatus.RUNNING:
            raise ConflictError(f"errand agent {agent.name} is still working: wait for it")
        if agent.status == AgentStatus.WAITING_FOR_INPUT and agent.pending_questions:
            for question in [q for q in agent.pending_questions if q.get("answer") is None]:
                agent = self.runtime.answer(agent.name, message, str(question["id"]))
        else:
            agent = self.runtime.resume(agent.name, message)
        return ErrandView(view.errand, view.project, agent)

    def merge(self, errand_id: str) -> dict[str, Any]:
        """Merge the errand's branch into the remote's default branch and push it; the
        errand is ``merged`` and its agent's worktree removed (``errand:merged``). Raises
        ``ConflictError`` while its agent runs, when it is not active, or on a merge
        conflict (the files named; nothing pushed)."""
        view = self._active(errand_id)
        if view.agent is not None and view.agent.status == AgentStatus.RUNNING:
            raise ConflictError(
                f"errand agent {view.agent.name} is still working: wait for it, or stop it"
            )
        project, errand = view.project, view.errand
        integrator = integration.Integrator(
            self.paths, project.name, default_branch=project.default_branch
        )
        lease = f"merge:{project.name}:{integrator.default_branch()}"
        if not self.db.execution.acquire_lease(
            lease, self.runtime.workspace_id, MERGE_LEASE_SECONDS
        ):
            raise ConflictError(f"{lease} is being merged into by another coordinator")
        try:
            outcome = integrator.merge_into_default(
                errand.branch, f"Merge errand {errand.branch}: {errand.description[:60]}"
            )
        except git.GitError as exc:
            raise ConflictError(f"errand {errand.id} could not be merged: {exc}") from exc
        finally:
            self.db.execution.release_lease(lease, self.runtime.workspace_id)
        if outcome.conflicts:
            raise ConflictError(
                f"{project.name}: {errand.branch} conflicts with {outcome.target} in "
                f"{', '.join(outcome.conflicts)} (nothing was merged)"
            )
        commit = outcome.commit or outcome.target_commit
        with self.db.transaction():
            merged = self.db.errands.update(
                errand.id, status=ErrandStatus.MERGED, merge_commit=commit
            )
            events.emit(self.db, events.ERRAND_MERGED, merged, commit=commit)
        if view.agent is not None:
            # Merged and pushed: its worktree can go, the branch stays.
            with contextlib.suppress(ConflictError):
                self.runtime.delete(view.agent.name)
        return {"errand": merged, "commit": commit, "already_merged": outcome.already_merged}

    def abandon(self, errand_id: str, *, delete_branch: bool = False) -> Errand:
        """Give the errand up: its agent stopped, its worktree removed (what it left
        uncommitted is committed first), nothing merged; the branch is kept unless
        ``delete_branch`` (``errand:abandoned``). Raises ``ConflictError`` when it is not
        active."""
        view = self._active(errand_id)
        agent = view.agent
        if agent is not None:
            if agent.status == AgentStatus.RUNNING:
                agent = self.runtime.stop(agent.name)
            if agent.user_dismissed_at is None:
                self.runtime.delete(agent.name, force=True)
        deleted = False
        if delete_branch:
            try:
                deleted = git.delete_branch(
                    self.paths.repo_path(view.project.name), view.errand.branch
                )
            except git.GitError as exc:
                raise ConflictError(f"branch {view.errand.branch}: {exc}") from exc
        with self.db.transaction():
            abandoned: Errand = self.db.errands.update(
                view.errand.id, status=ErrandStatus.ABANDONED
            )
            events.emit(self.db, events.ERRAND_ABANDONED, abandoned, branch_deleted=deleted)
        return abandoned

    def _active(self, errand_id: str) -> ErrandView:
        view = get(self.db, errand_id)
        if view.errand.status != ErrandStatus.ACTIVE:
            raise ConflictError(f"errand {errand_id} is {view.errand.status}")
        return view

    def _agent(self, view: ErrandView) -> Agent:
        if view.agent is None:
            raise ConflictError(f"errand {view.errand.id} has no agent any more")
        return view.agent
