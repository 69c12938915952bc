"""The agent runtime as the coordinator runs it: spawn, follow, end, answer, resume, stop,
fail over between accounts, and reconcile after a restart.

:class:`AgentRuntime` owns a :class:`~codewalkers.agents.supervisor.Supervisor` (processes
and output files) and is its listener: every decision about what an agent's end means,
and every database write with its event, happens here, one transaction at a time. State
lives in the database and on disk, never only in memory: a coordinator killed at any line
finds, at its next start, every agent either still running (adopted, followed from the
stored offset) or ended (finished from its output, exit file and signal file).

Only the coordinator (``cw start``) builds a runtime; commands ask it over the API.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from codewalkers.agents import accountdir, git, integration, process, projects, workdir
from codewalkers.agents.output import Result, SessionStarted, UsageLimit
from codewalkers.agents.paths import RuntimePaths
from codewalkers.agents.providers import Provider, load_providers
from codewalkers.agents.settings import AgentSettings
from codewalkers.agents.supervisor import AgentRun, OutputBatch, Supervisor
from codewalkers.db import (
    Account,
    Agent,
    AgentMode,
    AgentStatus,
    ConflictError,
    Database,
    DatabaseError,
    MessageType,
    ParticipantType,
    Project,
    TaskStatus,
    ValidationError,
)
from codewalkers.services import accounts, events
from codewalkers.services import projects as project_service
from codewalkers.services import proposals as proposal_service
from codewalkers.services.agents import describe, find_agent
from codewalkers.workspace import Workspace

log = logging.getLogger(__name__)

#: ``status_reason`` prefix of a running agent that waits for an account to come free.
WAITING_FOR_ACCOUNT = "waiting for an account"
#: Where a JSON credentials document goes in the account's config dir, per dialect.
CREDENTIALS_FILES: dict[str, str] = {
    "claude": ".credentials.json",
    "codex": "auth.json",
}
#: Session files to carry from one account's config dir to the next, per dialect.
SESSION_FILES: dict[str, tuple[str, ...]] = {
    "claude": ("projects/*/{session_id}.jsonl",),
    "codex": ("sessions/**/*{session_id}*.jsonl",),
    # Gemini CLI 0.61 names a session's file by its id's first 8 characters only:
    # .gemini/tmp/<project>/chats/session-2026-12-02T12-20-289990ee.jsonl
    "gemini": (".gemini/tmp/*/chats/session-*-{session_id:.8}.jsonl",),
}


class AgentStateError(ConflictError):
    """The agent is not in a state that allows the operation (e.g. answering a running
    agent)."""


class UnsafeDeleteError(ConflictError):
    """Deleting would lose work: the branches named are neither merged nor pushed."""


@dataclass(frozen=True, slots=True)
class SpawnRequest:
    task_id: str | None = None
    initiative_id: str | None = None
    provider: str | None = None
    account_id: str | None = None
    mode: str | None = None
    name: str | None = None
    instructions: str | None = None
    #: The branch the agent's branch starts from, per project name (default: the
    #: initiative branch when it exists, else the project's default branch).
    start_points: dict[str, str] | None = None
    model: str | None = None
    #: The agent's branch in every project (default: ``<initiative branch>--<task>-<id8>``).
    branch: str | None = None
    #: Without a task: the phase the agent works on (an architect detailing it).
    phase_id: str | None = None
    #: The projects to check out (default: the initiative's linked projects); ``()`` for
    #: none (a chat agent changes the plan, not code), one for an errand.
    project_ids: tuple[str, ...] | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def slug(text: str, limit: int = 40) -> str:
    out = []
    for char in text.lower():
        out.append(char if char.isascii() and char.isalnum() else "-")
    cleaned = "-".join(part for part in "".join(out).split("-") if part)
    return cleaned[:limit].strip("-") or "work"


class AgentRuntime:
    """The coordinator's agents. Thread-safe: API threads call the operations, the
    supervisor thread calls the listener methods; one lock orders them per runtime."""

    def __init__(
        self,
        db: Database,
        workspace: Workspace,
        *,
        settings: AgentSettings | None = None,
        providers: dict[str, Provider] | None = None,
        workspace_id: str | None = None,
    ) -> None:
        self.db = db
        self.workspace = workspace
        self.paths = RuntimePaths.for_workspace(workspace)
        self.settings = settings or AgentSettings.from_settings(workspace.settings)
        self.providers = providers if providers is not None else load_providers(workspace.settings)
        self.workspace_id = workspace_id or workspace_identity(workspace)
        self.supervisor = Supervisor(self, self.settings)
        self._lock = threading.RLock()
        self._commit_reminders: dict[str, int] = {}
        #: Called with the agent's id after an agent's process ended and its end was
        #: recorded (e.g. the executor, to look at its task at once). Must not raise or block.
        self.end_listeners: list[Callable[[str], None]] = []

    # -- lifecycle of the runtime --------------------------------------------------------------

    def start(self) -> None:
        """Reconcile what the database says with what runs, then start following."""
        self.reconcile()
        self.supervisor.start()

    def close(self) -> None:
        """Stop following; the agents keep running (the next coordinator adopts them)."""
        self.supervisor.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            yield

    # -- spawn ---------------------------------------------------------------------------------

    def provider(self, name: str | None) -> Provider:
        key = name or "claude"
        provider = self.providers.get(key)
        if provider is None:
            known = ", ".join(sorted(self.providers))
            raise ValidationError(f"unknown provider {key!r} (known: {known})")
        return provider

    def spawn(self, request: SpawnRequest) -> Agent:
        """Start an agent for a task (or an initiative): row, worktrees, inputs, account,
        process. Bad input (unknown task, provider, account, mode) changes nothing."""
        provider = self.provider(request.provider)
        if provider.resolve_executable() is None:
            executable = provider.command[0] if provider.command else "?"
            raise ValidationError(
                f"provider {provider.name!r}: executable {executable!r} not found"
            )
        modes = {str(m) for m in AgentMode}
        if request.mode is not None and request.mode not in modes:
            raise ValidationError(
                f"unknown mode {request.mode!r} (modes: {', '.join(sorted(modes))})"
            )
        mode = AgentMode(request.mode) if request.mode else AgentMode.EXECUTE
        task = self.db.tasks.find_by_id(request.task_id) if request.task_id else None
        if request.task_id and task is None:
            raise ValidationError(f"task {request.task_id!r} not found")
        initiative_id = request.initiative_id or (task.initiative_id if task else None)
        if task is not None and initiative_id is None and task.phase_id:
            phase = self.db.phases.find_by_id(task.phase_id)
            initiative_id = phase.initiative_id if phase else None
        if initiative_id and self.db.initiatives.find_by_id(initiative_id) is None:
            raise ValidationError(f"initiative {initiative_id!r} not found")
        if request.account_id:
            account = self.db.accounts.find_by_id(request.account_id)
            if account is None:
                raise ValidationError(f"account {request.account_id!r} not found")
            if account.provider != provider.name:
                raise ValidationError(
                    f"account {account.email} is a {account.provider} account, not {provider.name}"
                )
        if request.name is not None and self.db.agents.find_by_name(request.name):
            raise ConflictError(f"an agent named {request.name!r} exists already")
        if request.project_ids is not None:
            linked = []
            for project_id in request.project_ids:
                project = self.db.projects.find_by_id(project_id)
                if project is None:
                    raise ValidationError(f"project {project_id!r} not found")
                linked.append(project)
        else:
            linked = (
                self.db.projects.find_projects_by_initiative_id(initiative_id)
                if initiative_id
                else []
            )

        with self._locked():
            with self.db.transaction():
                agent = self.db.agents.create(
                    **({"name": request.name} if request.name else {}),
                    task_id=task.id if task else None,
                    initiative_id=initiative_id,
                    provider=provider.name,
                    mode=mode,
                    status=AgentStatus.RUNNING,
                    status_reason="starting",
                    workspace_id=self.workspace_id,
                )
            try:
                self._prepare_workdir(agent, linked, request)
                account = self._claim(provider, request.account_id)
                if account is None and self._has_accounts(provider):
                    return self._wait_for_account(agent, provider, first=True)
                prompt = self._initial_prompt(agent)
                return self._launch(
                    agent,
                    provider,
                    account,
                    prompt,
                    session_number=1,
                    model=request.model,
                    first=True,
                )
            except Exception as exc:
                self._crash(agent, f"spawn failed: {exc}")
                if isinstance(exc, (git.GitError, projects.ProjectError, process.SpawnError)):
                    raise ConflictError(f"agent {agent.name} could not start: {exc}") from exc
                if isinstance(exc, accountdir.AccountConfigError):
                    raise ValidationError(f"agent {agent.name} could not start: {exc}") from exc
                raise

    def _prepare_workdir(self, agent: Agent, linked: list[Project], request: SpawnRequest) -> None:
        directory = self.paths.workdir(agent.name)
        directory.mkdir(parents=True, exist_ok=True)
        task = self.db.tasks.find_by_id(agent.task_id) if agent.task_id else None
        initiative = (
            self.db.initiatives.find_by_id(agent.initiative_id) if agent.initiative_id else None
        )
        branch_root = (initiative.branch if initiative and initiative.branch else None) or (
            f"cw/{slug(initiative.name)}" if initiative else "cw/errand"
        )
        leaf = f"{slug(task.name) if task else agent.mode}-{(task.id if task else agent.id)[:8]}"
        # Siblings, not children: git cannot hold both `cw/x` and `cw/x/y` (integration.py).
        branch = request.branch or integration.child_branch(branch_root, leaf)
        made = []
        for project in linked:
            synced = project_service.sync_project(self.db, self.paths, project)
            if synced.error is not None:
                raise ConflictError(f"project {project.name}: {synced.error}")
            start = (request.start_points or {}).get(project.name) or self._start_point(
                project, initiative.branch if initiative else None, synced.default_branch
            )
            info = projects.create_worktree_for_agent(
                self.paths, project.name, directory, branch, start
            )
            made.append(
                workdir.ProjectInput(
                    name=project.name, path=project.name, branch=info.branch, base=start
                )
            )
            with self.db.transaction():
                events.emit(
                    self.db,
                    events.WORKTREE_CREATED,
                    {
                        "agent_id": agent.id,
                        "agent_name": agent.name,
                        "project": project.name,
                        "path": str(info.path),
                        "branch": info.branch,
                        "base_commit": info.base_commit,
                    },
                    initiative_id=agent.initiative_id,
                    entity_id=agent.id,
                )
        inputs = workdir.snapshot_inputs(
            self.db,
            agent_id=agent.id,
            agent_name=agent.name,
            mode=str(agent.mode),
            task_id=agent.task_id,
            initiative_id=agent.initiative_id,
            phase_id=request.phase_id,
            projects=made,
            instructions=request.instructions,
        )
        workdir.write_inputs(directory, inputs)

    def _start_point(
        self, project: Project, initiative_branch: str | None, default: str | None = None
    ) -> str:
        """The initiative's branch when the clone has it, else the remote's default branch
        (``default``: as the sync just read it)."""
        repo = self.paths.repo_path(project.name)
        if initiative_branch and git.branch_exists(repo, initiative_branch):
            return initiative_branch
        return default or git.default_branch(repo, fallback=project.default_branch)

    def _inputs(self, agent: Agent) -> workdir.AgentInputs:
        """The agent's inputs as the database says now (for prompts)."""
        return workdir.snapshot_inputs(
            self.db,
            agent_id=agent.id,
            agent_name=agent.name,
            mode=str(agent.mode),
            task_id=agent.task_id,
            initiative_id=agent.initiative_id,
            phase_id=self._scope_phase(agent),
            projects=self._project_inputs(agent),
        )

    def _scope_phase(self, agent: Agent) -> str | None:
        """The agent's phase: its task's, else the one it was spawned for (its manifest
        says), if any."""
        if agent.task_id:
            task = self.db.tasks.find_by_id(agent.task_id)
            return task.phase_id if task is not None else None
        manifest = workdir.read_manifest(self.paths.workdir(agent.name)) or {}
        phase_id = manifest.get("phase_id")
        if isinstance(phase_id, str) and self.db.phases.find_by_id(phase_id) is not None:
            return phase_id
        return None

    def _project_inputs(self, agent: Agent) -> list[workdir.ProjectInput]:
        found = []
        for tree in self._worktrees(agent):
            branch = None
            try:
                branch = git.worktree_branch(self.paths.repo_path(tree.name), tree)
            except git.GitError:
                log.exception("cannot read the branch of %s", tree)
            found.append(workdir.ProjectInput(name=tree.name, path=tree.name, branch=branch))
        return found

    def _initial_prompt(self, agent: Agent) -> str:
        # The prompt written at spawn: it has the spawn's instructions, which the database
        # does not keep (a chat's first message, an errand's description).
        written = workdir.input_dir(self.paths.workdir(agent.name)) / "PROMPT.md"
        try:
            return written.read_text(encoding="utf-8")
        except OSError:
            return workdir.render_prompt(str(agent.mode), self._inputs(agent))

    def _has_accounts(self, provider: Provider) -> bool:
        return bool(self._readable_accounts(provider))

    def _readable_accounts(self, provider: Provider) -> list[Account]:
        """The provider's accounts whose secrets this workspace can read (an unreadable one
        is skipped by claims, so it is no reason to wait)."""
        return [
            account
            for account, readable in self.db.accounts.find_all_with_readability()
            if readable and account.provider == provider.name
        ]

    def _claim(self, provider: Provider, account_id: str | None) -> Account | None:
        if account_id:
            account = self.db.accounts.find_by_id(account_id)
            if account is not None and account.is_exhausted:
                raise ConflictError(
                    f"account {account.email} is exhausted until {account.exhausted_until}"
                )
            return account
        # Skips (and reports) an account whose secrets this key cannot read.
        return accounts.claim_next(self.db, provider.name)

    def _launch(
        self,
        agent: Agent,
        provider: Provider,
        account: Account | None,
        prompt: str,
        *,
        session_number: int,
        session_id: str | None = None,
        model: str | None = None,
        first: bool = False,
        reason: str | None = None,
    ) -> Agent:
        """Start the provider process for one session of the agent and follow it."""
        directory = self.paths.workdir(agent.name)
        invocation = provider.command_line(prompt, session_id=session_id, model=model)
        env = base_environment()
        if account is not None:
            # The account's credentials only: the CLIs prefer a key in the environment to
            # the login in their config dir.
            for name in provider.credential_variables():
                env.pop(name, None)
        env.update(invocation.env)
        if account is not None:
            prepared = accountdir.prepare(
                self.paths.accounts_dir(account.id),
                config_json=account.config_json,
                credentials=account.credentials,
                config_dir_env=provider.config_dir_env,
                api_key_env=provider.api_key_env,
                credentials_file=CREDENTIALS_FILES.get(provider.dialect),
                token_env=provider.token_env,
                token_prefix=provider.token_prefix,
            )
            env.update(prepared.env)
        env["CW_AGENT_ID"] = agent.id
        env["CW_AGENT_NAME"] = agent.name
        env["CW_WORKSPACE"] = str(self.workspace.root)
        output = self.paths.output_file(agent.name, session_number)
        exit_file = output.with_suffix(".exit")
        popen, info = process.start(
            invocation.argv,
            cwd=directory,
            env=env,
            output_file=output,
            exit_file=exit_file,
            stdin_text=invocation.stdin,
        )
        process.write_process_file(self.paths.logs_dir(agent.name) / "process.json", info)
        with self.db.transaction():
            updated = self.db.agents.update(
                agent.id,
                status=AgentStatus.RUNNING,
                status_reason=None,
                pid=info.pid,
                process_started_at=datetime.fromtimestamp(info.started_at_ms / 1000, UTC),
                exit_code=None,
                output_file_path=str(output),
                output_offset=0,
                session_number=session_number,
                account_id=account.id if account else None,
                pending_questions=None,
            )
            if first:
                events.emit(self.db, events.AGENT_SPAWNED, updated)
                if agent.task_id:
                    self._set_task(agent.task_id, TaskStatus.IN_PROGRESS)
            else:
                events.emit(self.db, events.AGENT_RESUMED, updated, reason=reason)
        self.supervisor.watch(
            AgentRun(
                agent_id=agent.id,
                name=agent.name,
                dialect=provider.dialect,
                session_number=session_number,
                output_file=output,
                exit_file=exit_file,
                pid=info.pid,
                started_at_ms=info.started_at_ms,
                popen=popen,
            )
        )
        return updated

    def _set_task(self, task_id: str, status: TaskStatus, **extra: Any) -> None:
        """In the caller's transaction: the task's status (and fields), with its event."""
        task = self.db.tasks.find_by_id(task_id)
        if task is None or (task.status == status and not extra):
            return
        updated = self.db.tasks.update(task_id, status=status, **extra)
        events.emit(self.db, events.TASK_STATUS_CHANGED, updated, previous_status=task.status)

    # -- the supervisor's listener ---------------------------------------------------------------

    def on_output(self, run: AgentRun, batch: OutputBatch) -> None:
        with self.db.transaction():
            events.emit_many(self.db, self._store_output(run, batch))

    def on_outputs(self, batches: list[tuple[AgentRun, OutputBatch]]) -> None:
        # One transaction for a whole supervisor pass: its cost (BEGIN, COMMIT, the write
        # lock) is paid once per interval, not once per agent; and the pass's events are
        # one statement, last (on PostgreSQL they take the outbox lock: held briefly). No
        # savepoint per write: should one fail, the supervisor offers each batch alone to
        # on_output (with savepoints), so this block never goes on after a failed write.
        with self.db.transaction(savepoints=False):
            outputs = []
            for run, batch in batches:
                outputs += self._store_output(run, batch)
            events.emit_many(self.db, outputs)

    def _store_output(
        self, run: AgentRun, batch: OutputBatch
    ) -> list[tuple[str, Any, str | None, str | None]]:
        """In the caller's transaction: the batch's log chunks, the offset, the session id
        and the result; returns the chunks' ``agent:output`` events for the caller to emit
        (see :func:`events.emit_many`)."""
        session_id = next(
            (e.session_id for e in batch.events if isinstance(e, SessionStarted) and e.session_id),
            None,
        )
        results = [e for e in batch.events if isinstance(e, Result)]
        agent = self.db.agents.find_by_id(run.agent_id)
        if agent is None:
            return []
        outputs: list[tuple[str, Any, str | None, str | None]] = []
        for content in chunk_lines(batch.lines, self.settings.max_chunk_chars):
            chunk = self.db.log_chunks.insert_chunk(
                agent.id, agent.name, content, run.session_number
            )
            outputs.append((events.AGENT_OUTPUT, chunk, agent.initiative_id, agent.id))
        changes: dict[str, Any] = {"output_offset": batch.end_offset}
        if session_id and session_id != agent.session_id:
            changes["session_id"] = session_id
        if results:
            last = results[-1]
            result = result_of(agent)
            cost = result.get("cost_usd") or 0.0
            if last.cost_usd is not None:
                cost += last.cost_usd
            result.update(
                {
                    "cost_usd": round(cost, 6),
                    "usage": last.usage,
                    "num_turns": last.num_turns,
                    "provider_result": last.text,
                    "provider_is_error": last.is_error,
                }
            )
            changes["result"] = result
        self.db.agents.update(agent.id, **changes)
        return outputs

    def on_hung(self, run: AgentRun) -> None:
        signal = workdir.read_signal(self.paths.workdir(run.name))
        reason = "signal_written" if signal.status in {"done", "questions", "error"} else "hung"
        log.warning(
            "agent %s wrote nothing for %ss: stopping it (%s)",
            run.name,
            self.settings.hang_timeout,
            reason,
        )
        run.stop_reason = None if reason == "signal_written" else "hung"
        threading.Thread(
            target=process.stop_group,
            args=(run.pid, run.started_at_ms),
            kwargs={"grace": self.settings.stop_grace},
            daemon=True,
        ).start()

    def on_exit(self, run: AgentRun, exit_code: int | None) -> None:
        with self._locked():
            agent = self.db.agents.find_by_id(run.agent_id)
            if agent is None or agent.session_number != run.session_number:
                return
            if run.stop_reason is not None:
                self._finish_stopped(agent, run.stop_reason, exit_code)
            elif run.usage_limit is not None and isinstance(run.usage_limit, UsageLimit):
                self._fail_over(agent, run.usage_limit, exit_code)
            else:
                self._finish(agent, exit_code)
        for listener in self.end_listeners:
            try:
                listener(run.agent_id)
            except Exception:
                log.exception("an end listener failed for agent %s", run.name)

    def on_tick(self) -> None:
        with self._locked():
            self._resume_waiting_for_accounts()
            self._resume_idle_with_questions()

    # -- ends ------------------------------------------------------------------------------

    def _finish(self, agent: Agent, exit_code: int | None) -> None:
        directory = self.paths.workdir(agent.name)
        signal = workdir.read_signal(directory)
        if signal.status == "missing":
            time.sleep(self.settings.signal_grace)
            signal = workdir.read_signal(directory)
        if signal.status in {"done", "error"}:
            dirty = self._dirty_worktrees(agent)
            reminded = self._commit_reminders.get(agent.id, 0)
            if dirty and reminded < self.settings.commit_reminders:
                self._commit_reminders[agent.id] = reminded + 1
                prompt = workdir.render_commit_reminder(self._inputs(agent), dirty)
                self._resume_session(agent, prompt, reason="uncommitted_changes")
                return
            self._commit_reminders.pop(agent.id, None)
            committed = self._commit_leftovers(agent, "it ended with them uncommitted")
        elif signal.status in {"missing", "malformed"}:
            # A crash: commit what it left before saying so, so that nothing is lost and
            # whoever sees `crashed` finds the work on the branch.
            committed = self._commit_leftovers(agent, "it crashed with them uncommitted")
        else:
            committed = []
        proposal_files = None
        if signal.status == "done" and str(agent.mode) in workdir.PLANNING_MODES:
            proposal_files = workdir.read_proposals(directory)
        now = utcnow()
        with self.db.transaction():
            result = result_of(agent)
            if committed:
                result["committed_by_coordinator"] = committed
            if signal.status == "done":
                result.update({"status": "done", "result": signal.result})
                if proposal_files is not None:
                    result.update(self._record_proposals(agent, *proposal_files))
                updated = self.db.agents.update(
                    agent.id,
                    status=AgentStatus.IDLE,
                    exit_code=exit_code,
                    result=result,
                    status_reason="done",
                    pid=None,
                )
                if agent.task_id:
                    self._set_task(agent.task_id, TaskStatus.COMPLETED, summary=signal.result)
                events.emit(self.db, events.AGENT_STOPPED, updated, reason="task_complete")
            elif signal.status == "questions":
                questions = [
                    {
                        "id": q.id,
                        "question": q.question,
                        "answer": None,
                        "asked_at": now.isoformat(),
                    }
                    for q in signal.questions
                ]
                updated = self.db.agents.update(
                    agent.id,
                    status=AgentStatus.WAITING_FOR_INPUT,
                    exit_code=exit_code,
                    pending_questions=questions,
                    status_reason="waiting for answers",
                    pid=None,
                )
                for question in signal.questions:
                    message = self.db.messages.create(
                        sender_type=ParticipantType.AGENT,
                        sender_id=agent.id,
                        recipient_type=ParticipantType.USER,
                        recipient_id=None,
                        type=MessageType.QUESTION,
                        content=f"[{question.id}] {question.question}",
                        requires_response=True,
                    )
                    events.emit(
                        self.db,
                        events.MESSAGE_CREATED,
                        message,
                        initiative_id=agent.initiative_id,
                    )
                events.emit(self.db, events.AGENT_WAITING, updated, questions=questions)
            elif signal.status == "error":
                result.update({"status": "error", "error": signal.error})
                updated = self.db.agents.update(
                    agent.id,
                    status=AgentStatus.IDLE,
                    exit_code=exit_code,
                    result=result,
                    status_reason=f"error: {signal.error}",
                    pid=None,
                )
                if agent.task_id:
                    self._set_task(agent.task_id, TaskStatus.BLOCKED)
                events.emit(
                    self.db, events.AGENT_STOPPED, updated, reason="error", error=signal.error
                )
            else:
                problem = signal.problem or "no signal file"
                reason = f"{problem} (exit code {exit_code})"
                result.update({"status": "crashed", "error": reason})
                updated = self.db.agents.update(
                    agent.id,
                    status=AgentStatus.CRASHED,
                    exit_code=exit_code,
                    result=result,
                    status_reason=reason,
                    pid=None,
                )
                if agent.task_id:
                    self._set_task(agent.task_id, TaskStatus.BLOCKED)
                events.emit(self.db, events.AGENT_CRASHED, updated, reason=reason)

    def _record_proposals(
        self,
        agent: Agent,
        files: list[workdir.ProposalFile],
        problems: list[workdir.ProposalProblem],
    ) -> dict[str, Any]:
        """In the caller's transaction: a planning agent's output files as pending
        proposals (all or none), and what it says in the agent's result."""
        try:
            with self.db.transaction():
                recorded = proposal_service.record_proposals(
                    self.db, agent.id, files, problems, default_phase_id=self._scope_phase(agent)
                )
        except DatabaseError as exc:
            log.exception("could not record the proposals of agent %s", agent.name)
            reason = f"could not record the proposals: {str(exc).splitlines()[0]}"
            return {
                "proposals": [],
                "proposal_problems": [{"file": f.name, "problem": reason} for f in files]
                + [{"file": p.name, "problem": p.problem} for p in problems],
            }
        problems_found = [{"file": p.name, "problem": p.problem} for p in recorded.problems]
        return {
            "proposals": [p.id for p in recorded.proposals],
            "proposal_problems": problems_found,
        }

    def _finish_stopped(self, agent: Agent, reason: str, exit_code: int | None) -> None:
        committed = self._commit_leftovers(agent, f"it was stopped ({reason})")
        with self.db.transaction():
            result = result_of(agent)
            if committed:
                result["committed_by_coordinator"] = committed
            updated = self.db.agents.update(
                agent.id,
                status=AgentStatus.STOPPED,
                exit_code=exit_code,
                pid=None,
                status_reason=reason,
                result=result,
            )
            if agent.task_id and reason != "user_requested_keep_task":
                task = self.db.tasks.find_by_id(agent.task_id)
                if task is not None and task.status == TaskStatus.IN_PROGRESS:
                    self._set_task(
                        agent.task_id,
                        TaskStatus.BLOCKED if reason == "hung" else TaskStatus.PENDING,
                    )
            events.emit(self.db, events.AGENT_STOPPED, updated, reason=reason)

    def _crash(self, agent: Agent, reason: str) -> None:
        try:
            with self.db.transaction():
                updated = self.db.agents.update(
                    agent.id, status=AgentStatus.CRASHED, status_reason=reason, pid=None
                )
                events.emit(self.db, events.AGENT_CRASHED, updated, reason=reason)
        except DatabaseError:
            log.exception("could not record the crash of agent %s", agent.name)

    # -- never lose work -------------------------------------------------------------------

    def _worktrees(self, agent: Agent) -> list[Path]:
        directory = self.paths.workdir(agent.name)
        if not directory.is_dir():
            return []
        return sorted(
            child for child in directory.iterdir() if child.is_dir() and (child / ".git").exists()
        )

    def _dirty_worktrees(self, agent: Agent) -> list[str]:
        dirty = []
        for tree in self._worktrees(agent):
            try:
                if git.has_uncommitted_changes(tree):
                    dirty.append(tree.name)
            except git.GitError:
                log.exception("cannot read the status of %s", tree)
        return dirty

    def _commit_leftovers(self, agent: Agent, why: str) -> list[dict[str, str]]:
        committed = []
        for tree in self._worktrees(agent):
            try:
                if not git.has_uncommitted_changes(tree):
                    continue
                sha = git.commit_all(
                    tree,
                    f"Work in progress of agent {agent.name}, committed by Codewalkers\n\n"
                    f"The agent left these changes uncommitted: {why}.",
                )
            except git.GitError:
                log.exception("cannot commit the leftovers of %s in %s", agent.name, tree)
                continue
            if sha:
                committed.append({"project": tree.name, "commit": sha})
        return committed

    # -- resume, answer --------------------------------------------------------------------

    def _resume_session(
        self, agent: Agent, prompt: str, *, reason: str, account: Account | None = None
    ) -> Agent:
        provider = self.provider(agent.provider)
        if account is None and agent.account_id:
            account = self.db.accounts.find_by_id(agent.account_id)
        workdir.clear_signal(self.paths.workdir(agent.name))
        workdir.write_prompt(self.paths.workdir(agent.name), prompt)
        return self._launch(
            agent,
            provider,
            account,
            prompt,
            session_number=agent.session_number + 1,
            session_id=agent.session_id,
            reason=reason,
        )

    def resume(self, name: str, message: str | None = None) -> Agent:
        """Resume an idle, stopped or crashed agent's session (optionally with a message)."""
        with self._locked():
            agent = find_agent(self.db, name)
            if agent.status == AgentStatus.RUNNING:
                raise AgentStateError(f"agent {agent.name} is running")
            if agent.status == AgentStatus.WAITING_FOR_INPUT:
                raise AgentStateError(
                    f"agent {agent.name} waits for answers: use `cw agent answer`"
                )
            prompt = workdir.render_resume_with_message(
                self._inputs(agent), message or "Continue where you left off."
            )
            if agent.task_id:
                with self.db.transaction():
                    self._set_task(agent.task_id, TaskStatus.IN_PROGRESS)
            return self._resume_session(agent, prompt, reason="user_requested")

    def answer(self, name: str, text: str, question_id: str | None = None) -> Agent:
        """Answer one of the agent's pending questions; once all are answered the session
        resumes with the answers."""
        with self._locked():
            agent = find_agent(self.db, name)
            if agent.status != AgentStatus.WAITING_FOR_INPUT or not agent.pending_questions:
                raise AgentStateError(f"agent {agent.name} has no pending questions")
            questions = [dict(q) for q in agent.pending_questions]
            open_ = [q for q in questions if q.get("answer") is None]
            if question_id is None:
                if len(open_) != 1:
                    ids = ", ".join(str(q["id"]) for q in open_)
                    raise ValidationError(
                        f"agent {agent.name} has {len(open_)} unanswered questions ({ids}): "
                        "say which with --question"
                    )
                target = open_[0]
            else:
                found = [q for q in questions if q["id"] == question_id]
                if not found:
                    ids = ", ".join(str(q["id"]) for q in questions)
                    raise ValidationError(f"no question {question_id!r} (questions: {ids})")
                target = found[0]
            if not text.strip():
                raise ValidationError("the answer is empty")
            target["answer"] = text
            with self.db.transaction():
                updated = self.db.agents.update(agent.id, pending_questions=questions)
                events.emit(self.db, events.AGENT_ANSWERED, updated, question_id=target["id"])
            if any(q.get("answer") is None for q in questions):
                return updated
            prompt = workdir.render_resume_with_answers(
                self._inputs(updated),
                [
                    (
                        workdir.Question(id=str(q["id"]), question=str(q["question"])),
                        str(q["answer"]),
                    )
                    for q in questions
                ],
            )
            return self._resume_session(updated, prompt, reason="answered")

    def _resume_idle_with_questions(self) -> None:
        """A question asked (``cw ask``) to an idle agent resumes it so that it answers."""
        for agent in self.db.agents.find_by_status(AgentStatus.IDLE):
            if agent.workspace_id not in (None, self.workspace_id):
                continue
            if not agent.session_id or not self.db.conversations.find_pending_for_agent(agent.id):
                continue
            try:
                prompt = workdir.render_resume_with_message(
                    self._inputs(agent),
                    "Another agent asked you a question: run `cw listen --agent-id "
                    f"{agent.id}` and answer it with `cw answer`.",
                )
                self._resume_session(agent, prompt, reason="question")
            except Exception:
                log.exception("could not resume %s for a question", agent.name)

    # -- accounts and usage limits ---------------------------------------------------------

    def _fail_over(self, agent: Agent, limit: UsageLimit, exit_code: int | None) -> None:
        until = limit.resets_at or utcnow() + timedelta(seconds=self.settings.default_limit_reset)
        if until <= utcnow():
            until = utcnow() + timedelta(seconds=60)
        provider = self.provider(agent.provider)
        previous = agent.account_id
        if previous is not None:
            with self.db.transaction():
                account = self.db.accounts.mark_exhausted(previous, until)
                events.emit(self.db, events.ACCOUNT_EXHAUSTED, account, message=limit.message)
        failovers = int(result_of(agent).get("failovers", 0))
        if failovers >= self.settings.max_failovers:
            self._finish_stopped(agent, "too many usage-limit failovers", exit_code)
            return
        nxt = self._claim(provider, None)
        if nxt is None:
            self._wait_for_account(agent, provider, first=False)
            return
        self._switch(agent, provider, previous, nxt, limit.message)

    def _switch(
        self,
        agent: Agent,
        provider: Provider,
        previous: str | None,
        account: Account,
        message: str | None,
    ) -> None:
        if previous and agent.session_id:
            accountdir.carry_session(
                self.paths.accounts_dir(previous),
                self.paths.accounts_dir(account.id),
                SESSION_FILES.get(provider.dialect, ()),
                agent.session_id,
            )
        with self.db.transaction():
            result = result_of(agent)
            result["failovers"] = int(result.get("failovers", 0)) + 1
            switched = self.db.agents.update(agent.id, account_id=account.id, result=result)
            events.emit(
                self.db,
                events.AGENT_ACCOUNT_SWITCHED,
                switched,
                from_account_id=previous,
                to_account_id=account.id,
                message=message,
            )
        if switched.session_id:
            prompt = workdir.render_resume_with_message(
                self._inputs(switched),
                "You were interrupted by a usage limit; continue where you left off.",
            )
            self._resume_session(switched, prompt, reason="account_switched", account=account)
        else:
            # No session yet: start the task afresh on the new account.
            self._launch(
                switched,
                provider,
                account,
                self._initial_prompt(switched),
                session_number=switched.session_number + 1,
                reason="account_switched",
            )

    def _wait_for_account(self, agent: Agent, provider: Provider, *, first: bool) -> Agent:
        resets = [
            a.exhausted_until
            for a in self._readable_accounts(provider)
            if a.exhausted_until is not None
        ]
        earliest = min(resets) if resets else None
        when = f" (the earliest frees at {earliest:%Y-%m-%d %H:%M:%SZ})" if earliest else ""
        reason = f"{WAITING_FOR_ACCOUNT}: every {provider.name} account is exhausted{when}"
        with self.db.transaction():
            updated = self.db.agents.update(
                agent.id, status=AgentStatus.RUNNING, pid=None, status_reason=reason
            )
            if first and agent.task_id:
                self._set_task(agent.task_id, TaskStatus.IN_PROGRESS)
            events.emit(self.db, events.AGENT_WAITING, updated, reason="account", until=earliest)
        return updated

    def _resume_waiting_for_accounts(self) -> None:
        waiting = [
            agent
            for agent in self.db.agents.find_by_status(AgentStatus.RUNNING)
            if agent.pid is None
            and (agent.status_reason or "").startswith(WAITING_FOR_ACCOUNT)
            and agent.workspace_id in (None, self.workspace_id)
        ]
        if not waiting:
            return
        with self.db.transaction():
            cleared = self.db.accounts.clear_expired_exhaustion()
            if cleared:
                events.emit(
                    self.db,
                    events.ACCOUNT_EXHAUSTION_CLEARED,
                    {"cleared": cleared},
                    entity_id=None,
                )
        for agent in waiting:
            provider = self.provider(agent.provider)
            account = self._claim(provider, None)
            if account is None:
                continue
            if agent.session_id:
                self._switch(agent, provider, agent.account_id, account, None)
            else:
                self._launch(
                    agent,
                    provider,
                    account,
                    self._initial_prompt(agent),
                    session_number=agent.session_number,
                    first=agent.output_file_path is None,
                    reason="account_available",
                )

    # -- stop, delete, result --------------------------------------------------------------

    def stop(self, name: str, reason: str = "user_requested") -> Agent:
        """Stop the agent: SIGTERM to its process group, grace, SIGKILL; status
        ``stopped``. Stopping an agent with no process (waiting) just records it."""
        agent = find_agent(self.db, name)
        if self.supervisor.stop(agent.id, reason):
            self._wait_until_unfollowed(agent.id)
            return find_agent(self.db, agent.id)
        with self._locked():
            agent = find_agent(self.db, agent.id)
            if agent.status in {AgentStatus.STOPPED}:
                return agent
            if agent.pid and process.is_alive(agent.pid, _ms(agent.process_started_at)):
                process.stop_group(
                    agent.pid, _ms(agent.process_started_at), grace=self.settings.stop_grace
                )
            self._finish_stopped(agent, reason, None)
            return find_agent(self.db, agent.id)

    def _wait_until_unfollowed(self, agent_id: str) -> None:
        self.supervisor.poke()
        deadline = time.monotonic() + self.settings.stop_grace + 30
        while self.supervisor.run_of(agent_id) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        # on_exit runs after the run leaves the set; wait for its lock-held work to end.
        with self._locked():
            pass

    def delete(self, name: str, *, force: bool = False) -> dict[str, Any]:
        """Remove the agent's workdir when every worktree's branch is merged or pushed;
        otherwise refuse, naming the branches (``force``: commit leftovers, remove the
        worktrees, keep the branches). The agent's row and log stay (dismissed)."""
        with self._locked():
            agent = find_agent(self.db, name)
            if agent.status == AgentStatus.RUNNING and agent.pid is not None:
                raise AgentStateError(f"agent {agent.name} is running: stop it first")
            directory = self.paths.workdir(agent.name)
            if force:
                self._commit_leftovers(agent, "its workdir was deleted with --force")
            removed: list[str] = []
            kept: list[str] = []
            blockers = []
            for tree in self._worktrees(agent):
                check = projects.check_removal(self.paths, tree.name, tree)
                if not check.safe and not force:
                    blockers.append(check)
            if blockers:
                what = "; ".join(
                    f"{check.branch} ({', '.join(check.reasons)})" for check in blockers
                )
                raise UnsafeDeleteError(
                    f"agent {agent.name}'s work is not merged or pushed: {what} "
                    "(merge or push it, or delete with --force to keep the branches)"
                )
            for tree in self._worktrees(agent):
                info = projects.remove_agent_worktree(self.paths, tree.name, tree, force=force)
                (kept if info.branch_kept else removed).append(info.branch or "?")
                with self.db.transaction():
                    events.emit(
                        self.db,
                        events.WORKTREE_REMOVED,
                        {
                            "agent_id": agent.id,
                            "project": tree.name,
                            "path": str(tree),
                            "branch": info.branch,
                        },
                        initiative_id=agent.initiative_id,
                        entity_id=agent.id,
                    )
            shutil.rmtree(directory, ignore_errors=True)
            with self.db.transaction():
                updated = self.db.agents.update(
                    agent.id,
                    user_dismissed_at=utcnow(),
                    status_reason="workdir deleted",
                    status=AgentStatus.STOPPED
                    if agent.status == AgentStatus.RUNNING
                    else agent.status,
                )
                events.emit(self.db, events.AGENT_DISMISSED, updated)
            return {"agent": updated, "branches_kept": kept, "workdir": str(directory)}

    # -- restart ---------------------------------------------------------------------------

    def reconcile(self) -> list[tuple[str, str]]:
        """At start: every ``running`` agent of this workspace is adopted (alive: same pid
        and start time) or finished from its files. Returns (agent name, what was done)."""
        done: list[tuple[str, str]] = []
        for agent in self.db.agents.find_by_status(AgentStatus.RUNNING):
            if agent.workspace_id not in (None, self.workspace_id):
                continue
            if agent.pid is None:
                if (agent.status_reason or "").startswith(WAITING_FOR_ACCOUNT):
                    done.append((agent.name, "waiting_for_account"))
                    continue
                info = process.read_process_file(self.paths.logs_dir(agent.name) / "process.json")
                if info is None or agent.output_file_path != info.output_file:
                    self._crash(agent, "the coordinator stopped before the agent started")
                    done.append((agent.name, "crashed"))
                    continue
                pid: int = info.pid
                started: int | None = info.started_at_ms
            else:
                pid, started = agent.pid, _ms(agent.process_started_at)
            provider = self.providers.get(agent.provider)
            output = Path(
                agent.output_file_path or self.paths.output_file(agent.name, agent.session_number)
            )
            alive = process.is_alive(pid, started)
            self.supervisor.watch(
                AgentRun(
                    agent_id=agent.id,
                    name=agent.name,
                    dialect=provider.dialect if provider else "raw",
                    session_number=agent.session_number,
                    output_file=output,
                    exit_file=output.with_suffix(".exit"),
                    pid=pid,
                    started_at_ms=started,
                    offset=agent.output_offset,
                )
            )
            done.append((agent.name, "adopted" if alive else "finishing"))
        return done


def result_of(agent: Agent) -> dict[str, Any]:
    """A copy of the agent's result object to update (empty when it has none)."""
    return dict(agent.result) if isinstance(agent.result, dict) else {}


def _ms(moment: datetime | None) -> int | None:
    return round(moment.timestamp() * 1000) if moment is not None else None


def chunk_lines(lines: list[str], limit: int) -> list[str]:
    """The lines joined (each ending in a newline) into pieces of at most ``limit``
    characters; a longer line is cut."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        text = line + "\n"
        while len(text) > limit:
            if current:
                chunks.append("".join(current))
                current, size = [], 0
            chunks.append(text[:limit])
            text = text[limit:]
        if size + len(text) > limit and current:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(text)
        size += len(text)
    if current:
        chunks.append("".join(current))
    return chunks


def base_environment() -> dict[str, str]:
    """The coordinator's environment minus Codewalkers' own secrets (the agent gets its
    account's, nothing else)."""
    import os

    hidden = {"CW_SECRET_KEY", "CW_API_TOKEN"}
    return {k: v for k, v in os.environ.items() if k not in hidden}


def workspace_identity(workspace: Workspace) -> str:
    """This workspace's stable id (``.cw/workspace-id``, made on first use)."""
    from codewalkers.db import new_id
    from codewalkers.workspace import create_private_file

    path = workspace.state_dir / "workspace-id"
    create_private_file(path, new_id() + "\n")
    return path.read_text(encoding="ascii").strip()


__all__ = [
    "WAITING_FOR_ACCOUNT",
    "AgentRuntime",
    "AgentStateError",
    "SpawnRequest",
    "UnsafeDeleteError",
    "chunk_lines",
    "describe",
]
