"""The agent workdir contract: what an agent is given under ``.cw/input/`` and what it hands
back in ``.cw/output/signal.json`` (``docs/agents.md``, "The agent workdir: a contract").

::

    inputs = snapshot_inputs(db, agent_id=agent.id, agent_name=agent.name, mode="execute",
                             task_id=task.id, projects=[ProjectInput("api", "api", branch, base)])
    write_inputs(workdir, inputs)            # .cw/input/*, PROMPT.md, an empty .cw/output/
    ...                                      # the agent runs, writes .cw/output/signal.json
    signal = read_signal(workdir)            # never raises: done | questions | error |
                                             # missing | malformed (with the problem)
    clear_signal(workdir)                    # before a resume: the old one kept as signal-<n>
    write_inputs(workdir, inputs, prompt=render_resume_with_message(inputs, "go on"))

Nothing here knows about accounts: no secret can reach the workdir through this module.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Literal

from codewalkers.content import tiptap_to_markdown
from codewalkers.db import Database, NotFoundError, Page, Phase, Task

__all__ = [
    "HELPER_PROMPTS",
    "MANIFEST_VERSION",
    "MAX_SIGNAL_BYTES",
    "MODES",
    "AgentInputs",
    "DependencyInput",
    "InitiativeInput",
    "PageInput",
    "PhaseInput",
    "ProjectInput",
    "ProposalFile",
    "ProposalProblem",
    "Question",
    "ReviewCommentInput",
    "Signal",
    "TaskInput",
    "clear_signal",
    "input_dir",
    "output_dir",
    "read_manifest",
    "read_proposals",
    "read_signal",
    "render_commit_reminder",
    "render_prompt",
    "render_resume_with_answers",
    "render_resume_with_message",
    "signal_path",
    "snapshot_inputs",
    "write_inputs",
    "write_prompt",
]

Mode = Literal["execute", "discuss", "plan", "detail", "refine", "conflict", "review"]
#: Modes with a full prompt template of their own.
MODES: tuple[str, ...] = (
    "execute",
    "discuss",
    "plan",
    "detail",
    "refine",
    "conflict",
    "review",
    "chat",
    "errand",
)
#: Short prompts given on a resume, not at spawn.
HELPER_PROMPTS: tuple[str, ...] = ("resume-answers", "resume-message", "commit-reminder")
PLANNING_MODES = frozenset({"discuss", "plan", "detail", "refine"})
#: The version of ``manifest.json``'s shape; bumped on any incompatible change.
MANIFEST_VERSION = 1
#: A signal file larger than this is malformed (an agent's summary is a paragraph).
MAX_SIGNAL_BYTES = 1024 * 1024

INPUT_DIR = Path(".cw") / "input"
OUTPUT_DIR = Path(".cw") / "output"
SIGNAL_NAME = "signal.json"


def input_dir(workdir: Path) -> Path:
    return workdir / INPUT_DIR


def output_dir(workdir: Path) -> Path:
    return workdir / OUTPUT_DIR


def signal_path(workdir: Path) -> Path:
    """Where the agent writes its signal, as its last act."""
    return workdir / OUTPUT_DIR / SIGNAL_NAME


# --- what an agent is given ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectInput:
    """A project checked out for the agent: ``path`` is relative to the workdir."""

    name: str
    path: str
    branch: str | None = None
    base: str | None = None


@dataclass(frozen=True, slots=True)
class InitiativeInput:
    id: str
    name: str
    branch: str | None
    status: str


@dataclass(frozen=True, slots=True)
class PageInput:
    id: str
    title: str
    parent_id: str | None
    markdown: str


@dataclass(frozen=True, slots=True)
class DependencyInput:
    """Something this phase or task depends on, by id, with its name and status."""

    id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class PhaseInput:
    id: str
    name: str
    status: str
    description: str  # the phase's content as Markdown
    dependencies: tuple[DependencyInput, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskInput:
    id: str
    name: str
    description: str
    status: str
    priority: str
    category: str
    type: str
    phase_id: str | None
    parent_task_id: str | None = None
    summary: str | None = None
    dependencies: tuple[DependencyInput, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewCommentInput:
    """An unresolved review comment on a line of the phase's diff."""

    id: str
    file_path: str
    line_number: int
    line_type: str
    author: str
    body: str


@dataclass(frozen=True, slots=True)
class AgentInputs:
    """Everything an agent is told, read from the database at one moment.

    ``phases`` and ``tasks`` are the whole initiative's (the context); ``dependency_summaries``
    are the completed tasks this task depends on, with their summaries (what execution hands
    on). ``conflict_files`` and ``merge_branch`` are for the ``conflict`` mode, and
    ``review_comments`` for the ``review`` mode.
    """

    agent_id: str
    agent_name: str
    mode: str
    task_id: str | None = None
    phase_id: str | None = None
    initiative_id: str | None = None
    projects: tuple[ProjectInput, ...] = ()
    initiative: InitiativeInput | None = None
    pages: tuple[PageInput, ...] = ()
    phase: PhaseInput | None = None
    task: TaskInput | None = None
    phases: tuple[PhaseInput, ...] = ()
    tasks: tuple[TaskInput, ...] = ()
    dependency_summaries: tuple[TaskInput, ...] = ()
    instructions: str | None = None
    conflict_files: tuple[str, ...] = ()
    merge_branch: str | None = None
    review_comments: tuple[ReviewCommentInput, ...] = ()


def snapshot_inputs(
    db: Database,
    *,
    agent_id: str,
    agent_name: str,
    mode: str,
    task_id: str | None = None,
    initiative_id: str | None = None,
    phase_id: str | None = None,
    projects: Sequence[ProjectInput] | None = None,
    instructions: str | None = None,
    conflict_files: Sequence[str] = (),
    merge_branch: str | None = None,
) -> AgentInputs:
    """Read what the agent will be told from the database.

    The task (when given) fixes its phase and initiative; otherwise ``phase_id`` fixes the
    initiative. ``projects`` are the checked-out worktrees; ``None`` lists the initiative's
    linked projects at ``./<name>/`` with no branch. The number of queries does not grow with
    the initiative, except one per task for task dependencies (the task port has no
    per-initiative read of them yet).

    Raises ``ValueError`` for an unknown mode and ``NotFoundError`` for an unknown task,
    phase or initiative.
    """
    _check_mode(mode)
    task: Task | None = None
    if task_id is not None:
        task = db.tasks.find_by_id(task_id)
        if task is None:
            raise NotFoundError(f"task {task_id} not found")
        phase_id = task.phase_id or phase_id
        initiative_id = task.initiative_id or initiative_id
    if phase_id is not None and initiative_id is None:
        found_phase = db.phases.find_by_id(phase_id)
        if found_phase is None:
            raise NotFoundError(f"phase {phase_id} not found")
        initiative_id = found_phase.initiative_id

    initiative: InitiativeInput | None = None
    pages: tuple[PageInput, ...] = ()
    phases: list[Phase] = []
    tasks: list[Task] = [task] if task is not None else []
    phase_edges: list[tuple[str, str]] = []
    task_edges: list[tuple[str, str]] = []
    if initiative_id is not None:
        record = db.initiatives.find_by_id(initiative_id)
        if record is None:
            raise NotFoundError(f"initiative {initiative_id} not found")
        initiative = InitiativeInput(record.id, record.name, record.branch, str(record.status))
        pages = tuple(_page(page) for page in db.pages.find_by_initiative_id(initiative_id))
        phases = db.phases.find_by_initiative_id(initiative_id)
        phase_edges = db.phases.find_dependencies_by_initiative_id(initiative_id)
        tasks = db.tasks.find_by_initiative_id(initiative_id)
        task_edges = _task_edges(db, initiative_id, tasks)
    elif task is not None:
        task_edges = [(task.id, target) for target in db.tasks.get_dependencies(task.id)]
        tasks += [
            found
            for found in (db.tasks.find_by_id(target) for _, target in task_edges)
            if found is not None
        ]
    if projects is None:
        linked = db.projects.find_projects_by_initiative_id(initiative_id) if initiative_id else []
        projects = [ProjectInput(project.name, project.name) for project in linked]

    phase_inputs = _phases(phases, phase_edges)
    task_inputs = _tasks(tasks, task_edges)
    by_id = {item.id: item for item in task_inputs}
    this_task = by_id.get(task.id) if task is not None else None
    this_phase = next((item for item in phase_inputs if item.id == phase_id), None)
    if phase_id is not None and this_phase is None:
        raise NotFoundError(f"phase {phase_id} not found in initiative {initiative_id}")
    summaries: tuple[TaskInput, ...] = ()
    if this_task is not None:
        summaries = tuple(
            by_id[dep.id]
            for dep in this_task.dependencies
            if dep.id in by_id and by_id[dep.id].summary
        )
    comments: tuple[ReviewCommentInput, ...] = ()
    if mode == "review" and phase_id is not None:
        comments = tuple(
            ReviewCommentInput(c.id, c.file_path, c.line_number, str(c.line_type), c.author, c.body)
            for c in db.review_comments.find_by_phase_id(phase_id)
            if not c.resolved
        )
    return AgentInputs(
        agent_id=agent_id,
        agent_name=agent_name,
        mode=mode,
        task_id=task.id if task is not None else None,
        phase_id=phase_id,
        initiative_id=initiative_id,
        projects=tuple(projects),
        initiative=initiative,
        pages=pages,
        phase=this_phase,
        task=this_task,
        phases=tuple(phase_inputs),
        tasks=tuple(task_inputs),
        dependency_summaries=summaries,
        instructions=instructions,
        conflict_files=tuple(conflict_files),
        merge_branch=merge_branch,
        review_comments=comments,
    )


def _task_edges(db: Database, initiative_id: str, tasks: Iterable[Task]) -> list[tuple[str, str]]:
    # One query when the port offers a per-initiative read (as phases do); else one per task.
    finder = getattr(db.tasks, "find_dependencies_by_initiative_id", None)
    if finder is not None:
        return [(str(a), str(b)) for a, b in finder(initiative_id)]
    return [(task.id, target) for task in tasks for target in db.tasks.get_dependencies(task.id)]


def _page(page: Page) -> PageInput:
    return PageInput(page.id, page.title, page.parent_page_id, tiptap_to_markdown(page.content))


def _phases(phases: list[Phase], edges: list[tuple[str, str]]) -> list[PhaseInput]:
    names = {phase.id: phase for phase in phases}
    result = []
    for phase in phases:
        deps = tuple(
            DependencyInput(target, names[target].name, str(names[target].status))
            for source, target in edges
            if source == phase.id and target in names
        )
        result.append(
            PhaseInput(
                phase.id, phase.name, str(phase.status), tiptap_to_markdown(phase.content), deps
            )
        )
    return result


def _tasks(tasks: list[Task], edges: list[tuple[str, str]]) -> list[TaskInput]:
    names = {task.id: task for task in tasks}
    targets: dict[str, list[str]] = {}
    for source, target in edges:
        targets.setdefault(source, []).append(target)
    result = []
    for task in tasks:
        deps = tuple(
            DependencyInput(target, names[target].name, str(names[target].status))
            for target in targets.get(task.id, [])
            if target in names
        )
        result.append(
            TaskInput(
                id=task.id,
                name=task.name,
                description=task.description or "",
                status=str(task.status),
                priority=str(task.priority),
                category=str(task.category),
                type=str(task.type),
                phase_id=task.phase_id,
                parent_task_id=task.parent_task_id,
                summary=task.summary,
                dependencies=deps,
            )
        )
    return result


# --- writing the inputs ---------------------------------------------------------------------


def write_inputs(workdir: Path, inputs: AgentInputs, *, prompt: str | None = None) -> list[Path]:
    """Write ``.cw/input/`` for ``inputs`` and create an empty ``.cw/output/``.

    ``PROMPT.md`` is ``prompt`` when given (a resume's prompt), else the mode's prompt.
    Every file is written atomically (a temporary file renamed over it); files of an earlier
    run that this one does not write are removed, so a re-run leaves exactly this run's
    inputs. Returns the paths written, ``manifest.json`` last. Raises ``ValueError`` for an
    unknown mode, ``OSError`` when the disk refuses.
    """
    if prompt is None:
        prompt = render_prompt(inputs.mode, inputs)
    files = _input_files(inputs)
    files["PROMPT.md"] = prompt
    manifest = _manifest(inputs, [*files, "manifest.json"])
    files["manifest.json"] = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    root = input_dir(workdir)
    written = []
    for name, text in files.items():
        path = root / name
        _write_atomic(path, text)
        written.append(path)
    _remove_stale(root, set(files))
    output_dir(workdir).mkdir(parents=True, exist_ok=True)
    return written


def write_prompt(workdir: Path, prompt: str) -> Path:
    """Replace ``PROMPT.md`` alone (a resume), atomically."""
    path = input_dir(workdir) / "PROMPT.md"
    _write_atomic(path, prompt)
    return path


def _manifest(inputs: AgentInputs, files: list[str]) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "agent_id": inputs.agent_id,
        "agent_name": inputs.agent_name,
        "mode": inputs.mode,
        "initiative_id": inputs.initiative_id,
        "phase_id": inputs.phase_id,
        "task_id": inputs.task_id,
        "projects": [
            {"name": p.name, "path": p.path, "branch": p.branch, "base": p.base}
            for p in inputs.projects
        ],
        "files": sorted(files),
        "prompt": str(INPUT_DIR / "PROMPT.md"),
        "output_dir": str(OUTPUT_DIR),
        "signal": str(OUTPUT_DIR / SIGNAL_NAME),
    }


def _input_files(inputs: AgentInputs) -> dict[str, str]:
    files: dict[str, str] = {
        "initiative.md": _initiative_md(inputs),
        "phase.md": _phase_md(inputs.phase),
        "task.md": _task_md(inputs),
        "context/phases.md": _context_phases_md(inputs),
        "context/tasks.md": _context_tasks_md(inputs),
    }
    for page in inputs.pages:
        files[f"pages/{page_file_name(page)}"] = _page_md(page)
    return files


def page_file_name(page: PageInput) -> str:
    """``<slug>-<first 8 characters of the id>.md``: readable and unique."""
    return f"{_slug(page.title)}-{page.id[:8]}.md"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:48].rstrip("-") or "page"


def _front_matter(fields: Mapping[str, object]) -> str:
    lines = ["---"]
    for key, value in fields.items():
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _page_md(page: PageInput) -> str:
    head = _front_matter({"id": page.id, "title": page.title, "parent": page.parent_id})
    return f"{head}\n# {page.title}\n\n{page.markdown}"


def _initiative_md(inputs: AgentInputs) -> str:
    initiative = inputs.initiative
    if initiative is None:
        return "# No initiative\n\nThis agent works outside any initiative.\n"
    lines = [
        f"# Initiative: {initiative.name}",
        "",
        f"- id: `{initiative.id}`",
        f"- status: {initiative.status}",
        f"- branch: {_code(initiative.branch)}",
        "",
        "## Pages",
        "",
    ]
    if inputs.pages:
        lines += [
            f"- [{page.title}](pages/{page_file_name(page)}) (`{page.id}`)" for page in inputs.pages
        ]
    else:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


def _phase_md(phase: PhaseInput | None) -> str:
    if phase is None:
        return "# No phase\n\nThis agent works on no particular phase.\n"
    lines = [
        f"# Phase: {phase.name}",
        "",
        f"- id: `{phase.id}`",
        f"- status: {phase.status}",
        f"- depends on: {_deps(phase.dependencies)}",
        "",
        "## Description",
        "",
        phase.description.strip() or "(no description)",
    ]
    return "\n".join(lines) + "\n"


def _task_md(inputs: AgentInputs) -> str:
    task = inputs.task
    if task is None:
        return "# No task\n\nThis agent works on no particular task.\n"
    lines = [
        f"# Task: {task.name}",
        "",
        f"- id: `{task.id}`",
        f"- status: {task.status}",
        f"- priority: {task.priority}",
        f"- category: {task.category}",
        f"- type: {task.type}",
        f"- depends on: {_deps(task.dependencies)}",
        "",
        "## Description",
        "",
        task.description.strip() or "(no description)",
    ]
    if inputs.dependency_summaries:
        lines += ["", "## What the tasks this one builds on did", ""]
        for dep in inputs.dependency_summaries:
            heading = f"### {dep.name} (`{dep.id}`, {dep.status})"
            lines += [heading, "", (dep.summary or "").strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _context_phases_md(inputs: AgentInputs) -> str:
    lines = ["# Phases of the initiative", ""]
    if not inputs.phases:
        lines.append("(none)")
    for phase in inputs.phases:
        here = " (this phase)" if phase.id == inputs.phase_id else ""
        lines += [
            f"## {phase.name}{here}",
            "",
            f"- id: `{phase.id}`",
            f"- status: {phase.status}",
            f"- depends on: {_deps(phase.dependencies)}",
            "",
        ]
        if phase.description.strip():
            lines += [_indent_headings(phase.description.strip()), ""]
    return "\n".join(lines).rstrip() + "\n"


def _context_tasks_md(inputs: AgentInputs) -> str:
    lines = ["# Tasks of the initiative", ""]
    if not inputs.tasks:
        lines.append("(none)")
    phase_names = {phase.id: phase.name for phase in inputs.phases}
    for task in inputs.tasks:
        here = " (this task)" if task.id == inputs.task_id else ""
        phase = phase_names.get(task.phase_id or "", task.phase_id or "none")
        lines += [
            f"## {task.name}{here}",
            "",
            f"- id: `{task.id}`",
            f"- phase: {phase}",
            f"- status: {task.status}",
            f"- priority: {task.priority}, category: {task.category}, type: {task.type}",
            f"- depends on: {_deps(task.dependencies)}",
        ]
        if task.parent_task_id:
            lines.append(f"- subtask of: `{task.parent_task_id}`")
        if task.status == "completed" and task.summary:
            lines += ["", "Summary:", "", _indent_headings(task.summary.strip())]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _indent_headings(markdown: str) -> str:
    # Keep an item's own headings below the "## item" they sit in.
    return re.sub(r"^(#{1,4}) ", r"##\1 ", markdown, flags=re.MULTILINE)


def _deps(deps: Sequence[DependencyInput]) -> str:
    if not deps:
        return "nothing"
    return ", ".join(f"{dep.name} (`{dep.id}`, {dep.status})" for dep in deps)


def _code(value: str | None) -> str:
    return f"`{value}`" if value else "(none yet)"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove_stale(root: Path, keep: set[str]) -> None:
    for sub in ("pages", "context"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and path.relative_to(root).as_posix() not in keep:
                path.unlink()


# --- prompts ----------------------------------------------------------------------------------


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown agent mode {mode!r} (expected one of {', '.join(MODES)})")


def _template(name: str) -> Template:
    text = resources.files("codewalkers.agents.prompts").joinpath(f"{name}.md").read_text("utf-8")
    return Template(text)


def render_prompt(mode: str, inputs: AgentInputs) -> str:
    """The full prompt an agent in ``mode`` is given. Raises ``ValueError`` for an unknown mode."""
    _check_mode(mode)
    values = _values(inputs)
    values["contract"] = _template("_contract").substitute(values)
    if mode in PLANNING_MODES:
        values["planning_output"] = _template("_planning-output").substitute(values)
    return _template(mode).substitute(values)


def render_resume_with_answers(inputs: AgentInputs, answers: Sequence[tuple[Question, str]]) -> str:
    """The prompt that resumes an agent with the answers to the questions it asked."""
    values = _values(inputs)
    sections = "\n\n".join(
        f"### {question.id}: {question.question}\n\n{answer}" for question, answer in answers
    )
    # One line per answer as well (``q1: blue``), the form scripts and the fake agent read.
    short = "\n".join(f"{question.id}: {' '.join(answer.split())}" for question, answer in answers)
    values["answers"] = f"{sections}\n\nIn short:\n\n{short}"
    return _template("resume-answers").substitute(values)


def render_resume_with_message(inputs: AgentInputs, message: str) -> str:
    """The prompt that resumes an idle or stopped agent with a person's message."""
    values = _values(inputs)
    values["message"] = message
    return _template("resume-message").substitute(values)


def render_commit_reminder(inputs: AgentInputs, uncommitted: Sequence[str]) -> str:
    """The prompt that resumes an agent that ended with uncommitted changes in ``uncommitted``
    (project directories)."""
    values = _values(inputs)
    values["uncommitted"] = "\n".join(f"- `./{name}/`" for name in uncommitted) or "- (none)"
    return _template("commit-reminder").substitute(values)


def _values(inputs: AgentInputs) -> dict[str, str]:
    task = inputs.task
    phase = inputs.phase
    initiative = inputs.initiative
    if inputs.projects:
        projects = "\n".join(
            f"  - `./{p.path}/`: project **{p.name}**, a git worktree on branch "
            f"{_code(p.branch)}" + (f" (started from `{p.base}`)" if p.base else "")
            for p in inputs.projects
        )
    else:
        projects = "  - (no project is checked out for you)"
    instructions = (
        f"\n## Extra instructions\n\n{inputs.instructions.strip()}\n"
        if inputs.instructions and inputs.instructions.strip()
        else ""
    )
    comments = "\n".join(
        f"- `{c.file_path}` line {c.line_number} ({c.line_type}), {c.author} [`{c.id}`]: {c.body}"
        for c in inputs.review_comments
    )
    return {
        "agent_id": inputs.agent_id,
        "agent_name": inputs.agent_name,
        "mode": inputs.mode,
        "initiative_id": inputs.initiative_id or "(none)",
        "initiative_name": initiative.name if initiative else "(none)",
        "initiative_branch": _code(initiative.branch if initiative else None),
        "phase_id": inputs.phase_id or "(none)",
        "phase_name": phase.name if phase else "(none)",
        "task_id": inputs.task_id or "(none)",
        "task_name": task.name if task else "(none)",
        "task_description": (task.description.strip() if task else "") or "(no description)",
        "projects": projects,
        "instructions": instructions,
        "input_dir": str(INPUT_DIR),
        "output_dir": str(OUTPUT_DIR),
        "signal": str(OUTPUT_DIR / SIGNAL_NAME),
        "conflict_files": "\n".join(f"- `{name}`" for name in inputs.conflict_files)
        or "- (git will tell you: `git status`)",
        "merge_branch": _code(inputs.merge_branch),
        "merge_branch_name": inputs.merge_branch or "BRANCH",
        "review_comments": comments or "- (no unresolved comment)",
    }


# --- the signal -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str


@dataclass(frozen=True, slots=True)
class Signal:
    """What the agent said at its end. ``problem`` explains ``missing`` and ``malformed``."""

    status: Literal["done", "questions", "error", "missing", "malformed"]
    result: str | None = None
    questions: list[Question] = field(default_factory=list)
    error: str | None = None
    problem: str | None = None


def read_signal(workdir: Path) -> Signal:
    """The agent's ``.cw/output/signal.json``, checked. Never raises."""
    path = signal_path(workdir)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SIGNAL_BYTES + 1)
    except FileNotFoundError:
        return Signal("missing", problem=f"no {OUTPUT_DIR / SIGNAL_NAME}")
    except OSError as exc:
        return _malformed(f"cannot read {SIGNAL_NAME}: {exc.strerror or exc}")
    try:
        return _parse_signal(data)
    except Exception as exc:  # never raise: any surprise is a malformed signal
        return _malformed(f"cannot parse {SIGNAL_NAME}: {type(exc).__name__}")


def _malformed(problem: str) -> Signal:
    return Signal("malformed", problem=problem)


def _parse_signal(data: bytes) -> Signal:
    if len(data) > MAX_SIGNAL_BYTES:
        return _malformed(f"{SIGNAL_NAME} is larger than {MAX_SIGNAL_BYTES} bytes")
    if b"\x00" in data:
        return _malformed(f"{SIGNAL_NAME} is binary, not JSON text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _malformed(f"{SIGNAL_NAME} is not UTF-8 text")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return _malformed(f"{SIGNAL_NAME} is not JSON: {exc.msg} at line {exc.lineno}")
    except RecursionError:
        return _malformed(f"{SIGNAL_NAME} is nested too deeply")
    if not isinstance(value, dict):
        return _malformed(f"{SIGNAL_NAME} must be a JSON object, not {_kind(value)}")
    status = value.get("status")
    if status == "done":
        result = value.get("result")
        if result is not None and not isinstance(result, str):
            return _malformed(f'"result" must be a string, not {_kind(result)}')
        return Signal("done", result=result)
    if status == "error":
        error = value.get("error")
        if not isinstance(error, str) or not error.strip():
            got = _kind(error)
            return _malformed(f'an error signal needs "error" as a non-empty string, got {got}')
        return Signal("error", error=error)
    if status == "questions":
        return _questions(value.get("questions"))
    if isinstance(status, str):
        return _malformed(f'unknown status "{status[:40]}" (expected done, questions or error)')
    return _malformed(f'"status" must be "done", "questions" or "error", not {_kind(status)}')


def _questions(items: object) -> Signal:
    if not isinstance(items, list) or not items:
        return _malformed(f'"questions" must be a non-empty list, not {_kind(items)}')
    questions: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict):
            return _malformed(f"question {index} must be an object, not {_kind(item)}")
        qid, text = item.get("id"), item.get("question")
        if not isinstance(qid, str) or not qid.strip():
            return _malformed(f'question {index} needs an "id" (a non-empty string)')
        if qid in seen:
            return _malformed(f'question id "{qid[:40]}" is used twice')
        if not isinstance(text, str) or not text.strip():
            return _malformed(f'question "{qid[:40]}" needs a non-empty "question" string')
        seen.add(qid)
        questions.append(Question(qid, text))
    return Signal("questions", questions=questions)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def clear_signal(workdir: Path) -> Path | None:
    """Move the signal aside to ``signal-<n>.json`` (n = 1, 2, …) before a resume.

    Returns where it went, or ``None`` when there was none. Raises ``OSError`` when the disk
    refuses.
    """
    path = signal_path(workdir)
    if not path.exists():
        return None
    taken = [
        int(match.group(1))
        for other in path.parent.glob("signal-*.json")
        if (match := re.fullmatch(r"signal-(\d+)\.json", other.name))
    ]
    target = path.with_name(f"signal-{max(taken, default=0) + 1}.json")
    os.replace(path, target)
    return target


def read_manifest(workdir: Path) -> dict[str, Any] | None:
    """``.cw/input/manifest.json`` as written at spawn, or ``None`` when it is missing or
    unreadable. Never raises."""
    try:
        value = json.loads((input_dir(workdir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# --- proposals (planning modes) ----------------------------------------------------------------

#: The folders of ``.cw/output/`` that hold proposals, and the entity each proposes.
PROPOSAL_FOLDERS: dict[str, str] = {"pages": "page", "phases": "phase", "tasks": "task"}
#: A proposal file larger than this is refused (a page is a few pages of text).
MAX_PROPOSAL_BYTES = 1024 * 1024
_PRIORITIES = ("high", "medium", "low")
_CATEGORIES: tuple[str, ...] = (
    *("execute", "research", "discuss", "plan", "detail", "refine", "verify", "merge", "review"),
)
_TYPES = ("auto", "checkpoint:human-verify", "checkpoint:decision", "checkpoint:human-action")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class ProposalFile:
    """One well-formed proposal file: ``name`` relative to ``.cw/output/`` (``phases/01-a.md``),
    ``kind`` page | phase | task, the front matter's fields, and the body (Markdown).

    ``depends_on`` is ``None`` when the file does not say (a change keeps the entity's
    dependencies), else the ids named.
    """

    name: str
    kind: str
    title: str
    body: str
    id: str | None = None
    target_id: str | None = None
    summary: str | None = None
    depends_on: tuple[str, ...] | None = None
    phase_id: str | None = None
    parent_id: str | None = None
    priority: str | None = None
    category: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class ProposalProblem:
    """A proposal file that cannot become a proposal, and why (one line)."""

    name: str
    problem: str


def read_proposals(workdir: Path) -> tuple[list[ProposalFile], list[ProposalProblem]]:
    """Every file under ``.cw/output/pages|phases|tasks/``, in name order (``pages/`` <
    ``phases/`` < ``tasks/``): the well-formed ones, and the others with their problem.

    Hidden files (a temporary file being written) are skipped. Never raises.
    """
    found: list[ProposalFile] = []
    problems: list[ProposalProblem] = []
    root = output_dir(workdir)
    for folder, kind in sorted(PROPOSAL_FOLDERS.items()):
        base = root / folder
        try:
            entries = sorted(base.rglob("*"))
        except OSError:
            continue
        for path in entries:
            name = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in path.relative_to(base).parts):
                continue
            if path.is_dir():
                continue
            try:
                found.append(_read_proposal(path, name, kind))
            except _Malformed as exc:
                problems.append(ProposalProblem(name, str(exc)))
            except Exception as exc:  # never raise: any surprise is a malformed file
                problems.append(ProposalProblem(name, f"cannot read it: {type(exc).__name__}"))
    return found, problems


class _Malformed(ValueError):
    pass


def _read_proposal(path: Path, name: str, kind: str) -> ProposalFile:
    import yaml  # only planning agents' ends need it

    if path.suffix != ".md":
        raise _Malformed("not a Markdown file (.md)")
    if path.parent.name != name.split("/")[0]:
        raise _Malformed(f"proposals go directly in {name.split('/')[0]}/, not in a subfolder")
    with path.open("rb") as stream:
        data = stream.read(MAX_PROPOSAL_BYTES + 1)
    if len(data) > MAX_PROPOSAL_BYTES:
        raise _Malformed(f"larger than {MAX_PROPOSAL_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed("not UTF-8 text") from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[0].strip() != "---":
        raise _Malformed("no front matter: the file must start with a line '---'")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise _Malformed("the front matter is not closed by a line '---'")
    try:
        fields = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise _Malformed(f"the front matter is not YAML: {problem}{where}") from None
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise _Malformed("the front matter must be a mapping (key: value lines)")
    body = "\n".join(lines[end + 1 :]).strip("\n")
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _Malformed('"title" is missing or not a non-empty text')
    new_id = _opt_id(fields, "id")
    target_id = _opt_id(fields, "target_id")
    if new_id and target_id:
        raise _Malformed('give "id" (a new entity) or "target_id" (a change), not both')
    depends = fields.get("depends_on")
    depends_on: tuple[str, ...] | None = None
    if "depends_on" in fields:
        if depends is None:
            depends = []
        if isinstance(depends, str):
            depends = [depends]
        if not isinstance(depends, list) or not all(
            isinstance(d, str) and _ID.fullmatch(d) for d in depends
        ):
            raise _Malformed('"depends_on" must be a list of ids')
        depends_on = tuple(dict.fromkeys(depends))
        if new_id in depends_on or target_id in depends_on:
            raise _Malformed('"depends_on" names the entity itself')
    summary = fields.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise _Malformed('"summary" must be a text')
    return ProposalFile(
        name=name,
        kind=kind,
        title=title.strip(),
        body=body,
        id=new_id,
        target_id=target_id,
        summary=summary,
        depends_on=depends_on if kind != "page" else None,
        phase_id=_opt_id(fields, "phase_id") if kind == "task" else None,
        parent_id=_opt_id(fields, "parent_id") if kind == "page" else None,
        priority=_opt_choice(fields, "priority", _PRIORITIES) if kind == "task" else None,
        category=_opt_choice(fields, "category", _CATEGORIES) if kind == "task" else None,
        type=_opt_choice(fields, "type", _TYPES) if kind == "task" else None,
    )


def _opt_id(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _Malformed(f'"{key}" must be an id (letters, digits, "_" and "-"), got {value!r}')
    return value


def _opt_choice(fields: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if value not in choices:
        raise _Malformed(f'"{key}" must be one of {", ".join(choices)}, got {value!r}')
    return str(value)
