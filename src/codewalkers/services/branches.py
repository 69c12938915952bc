"""Looking at work on disk: ``cw review diff`` (a phase's branch against its initiative's)
and ``cw worktree list | prune``.

Worktrees are the agents' (one per project in ``agent-workdirs/<agent>/``) and the
integration worktrees (:mod:`codewalkers.agents.integration`); pruning removes only what
holds nothing that is not merged or pushed, through the runtime, which owns them. Landing an
initiative is the executor's (:meth:`~codewalkers.services.execution.Executor.merge_initiative`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codewalkers.agents import git, integration, projects
from codewalkers.agents.paths import RuntimePaths
from codewalkers.db import AgentStatus, ConflictError, Database, Initiative, NotFoundError, Project


def _initiative(db: Database, initiative_id: str) -> tuple[Initiative, list[Project]]:
    initiative = db.initiatives.find_by_id(initiative_id)
    if initiative is None:
        raise NotFoundError(f"initiative {initiative_id!r} not found")
    if not initiative.branch:
        raise ConflictError(f'initiative "{initiative.name}" has no branch yet: execute it first')
    linked = db.projects.find_projects_by_initiative_id(initiative.id)
    if not linked:
        raise ConflictError(f'initiative "{initiative.name}" is linked to no project')
    return initiative, linked


def _integrator(paths: RuntimePaths, project: Project) -> integration.Integrator:
    return integration.Integrator(paths, project.name, default_branch=project.default_branch)


@dataclass(frozen=True, slots=True)
class Diff:
    """What a phase changes in one project, against its initiative's branch."""

    project: str
    base: str
    head: str
    files: list[str]
    diff: str


def phase_diff(db: Database, paths: RuntimePaths, phase_id: str) -> list[Diff]:
    """The phase branch against the initiative branch in every linked project (three
    dots: what the phase changed since it left the initiative branch), for review. Raises
    ``NotFoundError``, ``ConflictError`` when the phase has no branch yet."""
    from codewalkers.services.execution import phase_branches

    phase = db.phases.find_by_id(phase_id)
    if phase is None:
        raise NotFoundError(f"phase {phase_id!r} not found")
    initiative, linked = _initiative(db, phase.initiative_id)
    base = initiative.branch or ""
    head = phase_branches(base, db.phases.find_by_initiative_id(initiative.id))[phase.id]
    diffs = []
    for project in linked:
        integrator = _integrator(paths, project)
        try:
            diffs.append(
                Diff(
                    project.name,
                    base,
                    head,
                    integrator.changed_files(base, head),
                    integrator.diff(base, head),
                )
            )
        except integration.BranchNotFoundError as exc:
            raise ConflictError(
                f'phase "{phase.name}" has no branch in {project.name} yet ({exc})'
            ) from exc
    return diffs


# --- worktrees ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorktreeState:
    """One worktree on disk and whether removing it would lose work."""

    kind: str  # "agent" or "integration"
    project: str
    path: str
    branch: str | None
    agent: str | None = None
    agent_status: str | None = None
    safe: bool = True
    reasons: list[str] = field(default_factory=list)


def list_worktrees(db: Database, paths: RuntimePaths) -> list[WorktreeState]:
    """Every agent worktree (per agent, per project) and integration worktree, with
    whether it is safe to remove: an agent's is safe when nothing in it is uncommitted and
    its branch is merged or pushed, and its agent is not running."""
    states: list[WorktreeState] = []
    for agent in db.agents.find_all():
        directory = paths.workdir(agent.name)
        if not directory.is_dir():
            continue
        for tree in sorted(d for d in directory.iterdir() if (d / ".git").exists()):
            try:
                check = projects.check_removal(paths, tree.name, tree)
            except (git.GitError, projects.ProjectError) as exc:
                states.append(
                    WorktreeState(
                        "agent",
                        tree.name,
                        str(tree),
                        None,
                        agent.name,
                        str(agent.status),
                        safe=False,
                        reasons=[f"cannot be checked: {exc}"],
                    )
                )
                continue
            reasons = list(check.reasons)
            if agent.status == AgentStatus.RUNNING:
                reasons.insert(0, "its agent is running")
            states.append(
                WorktreeState(
                    "agent",
                    tree.name,
                    str(tree),
                    check.branch,
                    agent.name,
                    str(agent.status),
                    safe=not reasons,
                    reasons=reasons,
                )
            )
    for project in db.projects.find_all():
        tree = paths.integration_worktree(project.name)
        if tree.is_dir():
            states.append(WorktreeState("integration", project.name, str(tree), None))
    return states


def prune_worktrees(db: Database, paths: RuntimePaths, delete_agent: Any) -> dict[str, Any]:
    """Remove the workdir of every agent whose worktrees are all safe to remove (see
    :func:`list_worktrees`), with ``delete_agent(name)`` (the runtime's delete, which checks
    again); keep the others and say why. Integration worktrees are left (they are reused)."""
    by_agent: dict[str, list[WorktreeState]] = {}
    for state in list_worktrees(db, paths):
        if state.kind == "agent" and state.agent is not None:
            by_agent.setdefault(state.agent, []).append(state)
    removed: list[str] = []
    kept: list[dict[str, Any]] = []
    for name, states in by_agent.items():
        unsafe = [s for s in states if not s.safe]
        if unsafe:
            kept.extend(
                {"agent": name, "path": s.path, "branch": s.branch, "reasons": s.reasons}
                for s in unsafe
            )
            continue
        try:
            delete_agent(name)
        except ConflictError as exc:  # it changed since the check: keep it
            kept.append({"agent": name, "path": str(paths.workdir(name)), "reasons": [str(exc)]})
            continue
        removed.extend(s.path for s in states)
    return {"removed": removed, "kept": kept}


__all__ = [
    "Diff",
    "WorktreeState",
    "list_worktrees",
    "phase_diff",
    "prune_worktrees",
]
