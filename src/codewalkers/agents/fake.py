"""``cw-fake-agent``: a coding agent without a model, for tests and demos.

It speaks the ``claude`` dialect: it takes Claude Code's flags (``-p PROMPT``,
``--output-format stream-json --verbose``, ``--resume ID``, ``--model``, the permission
flags; unknown flags are ignored), prints stream-json (``system/init`` with ``session_id``,
assistant lines, a final ``result`` with ``total_cost_usd`` and ``usage``) and keeps its
session transcript where Claude Code does: ``$CLAUDE_CONFIG_DIR/projects/<cwd-slug>/<id>.jsonl``
(``~/.claude`` by default; the slug is the cwd with every character other than a letter or
digit replaced by ``-``). ``--resume ID`` without that file fails like the real one
(``No conversation found with session ID: ID`` on stderr, exit 1), so a failover that does
not carry the session over is caught.

It acts out a scenario: the task's fenced ```` ```cw-fake ```` JSON block (read from
``.cw/input/task.md`` in its cwd, else from the prompt), else ``CW_FAKE_SCENARIO`` (a file
path or inline JSON), else a default (write a file named after the task in the first
project, commit, done). A resumed session continues after its last completed step, with the
answers to its questions read from the prompt. The step kinds are documented in
``docs/agents.md`` ("The fake agent"). Like a real agent it runs ``git`` itself (the one
exception to "one module talks to git": it stands in for a third-party program).

It writes ``.cw/output/signal.json`` as its last act and never shows a traceback: a
malformed scenario becomes an ``error`` signal. Each run also appends one line to
``.cw/output/cw-fake-runs.jsonl`` (session id, config dir, argv, resumed) for tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

MARKER_NAME = "cw-fake-usage-limit"
RUNS_FILE = "cw-fake-runs.jsonl"
STEP_KINDS: tuple[str, ...] = (
    "write",
    "commit",
    "print",
    "sleep",
    "ask",
    "done",
    "error",
    "crash",
    "hang",
    "usage_limit",
    "garbage",
    "leave_uncommitted",
    "spawn_child",
    "malformed_signal",
    "resolve_conflicts",
    "propose",
)
# Chat sessions (docs/planning.md, "Chat sessions"): change files for the service to apply.
STEP_KINDS += ("change",)
# Flags of Claude Code that take a value (the fake ignores most of them, but must not take
# their value for the prompt).
VALUE_FLAGS = {
    "--output-format",
    "--input-format",
    "--model",
    "--permission-mode",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--tools",
    "--append-system-prompt",
    "--system-prompt",
    "--max-turns",
    "--session-id",
    "--settings",
    "--setting-sources",
    "--add-dir",
    "--mcp-config",
    "--fallback-model",
    "--effort",
    "--max-budget-usd",
    "--permission-prompt-tool",
    "--debug-file",
    "--json-schema",
    "--agents",
}
_FENCE = re.compile(r"```cw-fake[^\n]*\n(.*?)```", re.DOTALL)


class ScenarioError(ValueError):
    """The scenario is not valid JSON of the documented shape."""


class Exit(Exception):
    """Leave the run with this exit code."""

    def __init__(self, code: int) -> None:
        self.code = code


@dataclass
class Options:
    prompt: str | None = None
    output_format: str = "text"
    verbose: bool = False
    resume: str | None = None
    session_id: str | None = None
    model: str | None = None
    skip_permissions: bool = False
    permission_mode: str | None = None


def parse_args(argv: list[str]) -> Options:
    options = Options()
    positional: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        value: str | None = None
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
        takes_value = arg in VALUE_FLAGS or arg in ("-r", "--resume", "-p", "--print")
        if takes_value and value is None and arg in VALUE_FLAGS | {"-r", "--resume"}:
            index += 1
            value = argv[index] if index < len(argv) else ""
        if arg in ("-p", "--print"):
            # -p is a switch; the prompt is the next word when it is not a flag.
            if value is None and index + 1 < len(argv) and not argv[index + 1].startswith("-"):
                index += 1
                value = argv[index]
            if value is not None:
                positional.append(value)
        elif arg in ("-r", "--resume"):
            options.resume = value
        elif arg == "--output-format":
            options.output_format = value or "text"
        elif arg == "--model":
            options.model = value
        elif arg == "--session-id":
            options.session_id = value
        elif arg == "--permission-mode":
            options.permission_mode = value
        elif arg == "--verbose":
            options.verbose = True
        elif arg == "--dangerously-skip-permissions":
            options.skip_permissions = True
        elif not arg.startswith("-"):
            positional.append(arg)
        index += 1
    if positional:
        options.prompt = " ".join(positional)
    return options


# --- the scenario ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str
    arg: Any


def parse_scenario(value: Any) -> list[Step]:
    """The steps of a scenario (``{"steps": [...]}`` or a list); raises :class:`ScenarioError`."""
    if isinstance(value, dict):
        unknown = set(value) - {"steps"}
        if unknown:
            raise ScenarioError(f"unknown scenario key {sorted(unknown)[0]!r}")
        value = value.get("steps")
    if not isinstance(value, list):
        raise ScenarioError('a scenario is {"steps": [...]} or a list of steps')
    steps = []
    for number, item in enumerate(value, start=1):
        if isinstance(item, str) and item in STEP_KINDS:
            item = {item: True}
        if not isinstance(item, dict) or len(item) != 1:
            raise ScenarioError(f"step {number}: a step is one {{kind: argument}} object")
        [(kind, arg)] = item.items()
        if kind not in STEP_KINDS:
            raise ScenarioError(f"step {number}: unknown step {kind!r}")
        try:
            _check(kind, arg)
        except ScenarioError as exc:
            raise ScenarioError(f"step {number} ({kind}): {exc}") from None
        steps.append(Step(kind, arg))
    return steps


def _check(kind: str, arg: Any) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ScenarioError(what)

    number = (int, float)
    if kind in ("write", "leave_uncommitted"):
        if kind == "leave_uncommitted" and arg is True:
            return
        need(isinstance(arg, dict), "needs {path, content}")
        need(isinstance(arg.get("path"), str) and arg["path"] != "", "needs a path")
        need(isinstance(arg.get("content", ""), str), "content must be a string")
        need(
            not Path(arg["path"]).is_absolute() and ".." not in Path(arg["path"]).parts,
            "the path must stay inside the workdir",
        )
    elif kind == "commit":
        need(isinstance(arg, str) and arg != "", "needs a commit message")
    elif kind == "print":
        if isinstance(arg, dict):
            need(isinstance(arg.get("lines"), int) and arg["lines"] >= 0, "needs lines >= 0")
            need(
                isinstance(arg.get("rate", 0), number) and arg.get("rate", 0) >= 0,
                "rate is lines per second",
            )
            need(isinstance(arg.get("stamp", False), bool), "stamp is true or false")
        else:
            need(
                isinstance(arg, int) and not isinstance(arg, bool) and arg >= 0,
                "needs a number of lines",
            )
    elif kind == "sleep":
        need(isinstance(arg, number) and not isinstance(arg, bool) and arg >= 0, "needs seconds")
    elif kind == "ask":
        questions = [arg] if isinstance(arg, str) else arg
        need(isinstance(questions, list) and len(questions) > 0, "needs questions")
        for question in questions:
            need(
                isinstance(question, str)
                or (
                    isinstance(question, dict)
                    and isinstance(question.get("question"), str)
                    and isinstance(question.get("id", ""), str)
                ),
                "a question is a string or {id, question}",
            )
    elif kind in ("done", "error", "malformed_signal"):
        need(isinstance(arg, str) or arg is True, "needs a text")
    elif kind == "crash":
        need(
            arg is True or (isinstance(arg, int) and not isinstance(arg, bool)),
            "true or an exit code",
        )
    elif kind == "usage_limit":
        if arg is True:
            return
        need(isinstance(arg, dict), "true or an options object")
        allowed = {"once_per_config_dir", "first_config_dir_only", "resets_in", "limit", "style"}
        need(set(arg) <= allowed, f"options are {', '.join(sorted(allowed))}")
        need(isinstance(arg.get("resets_in", 0), number), "resets_in is seconds")
        need(arg.get("style", "current") in ("current", "old"), "style is current or old")
    elif kind == "garbage":
        need(
            arg is True or (isinstance(arg, dict) and isinstance(arg.get("megabytes", 1), number)),
            "true or {megabytes}",
        )
    elif kind == "spawn_child":
        need(
            arg is True or (isinstance(arg, number) and not isinstance(arg, bool)),
            "true or seconds to sleep",
        )
    elif kind == "resolve_conflicts":
        need(arg is True, "true")
    elif kind == "change":
        need(
            isinstance(arg, (dict, str)) or (isinstance(arg, list) and len(arg) > 0),
            "a change object, a list of them, or a text (written as is)",
        )
    elif kind == "propose":
        _check_propose(arg)


# --- planning modes: proposal files ---------------------------------------------------------


def _check_propose(arg: Any) -> None:
    """``{"propose": [{"path": "phases/01-api.md", "front": {...}, "body": "..."}]}``, or
    ``{"path", "content"}`` for a file written as given (a malformed one, for tests)."""
    if not isinstance(arg, list) or not arg:
        raise ScenarioError("needs a list of files")
    for item in arg:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise ScenarioError("each file is {path, front, body} or {path, content}")
        path = Path(item["path"])
        if path.is_absolute() or ".." in path.parts:
            raise ScenarioError("the path must stay inside .cw/output/")
        if "content" in item:
            if not isinstance(item["content"], str) or set(item) - {"path", "content"}:
                raise ScenarioError("{path, content}: content is a string, and nothing else")
        elif not isinstance(item.get("front"), dict) or not isinstance(item.get("body", ""), str):
            raise ScenarioError("{path, front, body}: front is an object, body a string")


def proposal_text(front: dict[str, Any], body: str) -> str:
    """A proposal file: front matter (each value as JSON, which YAML reads) and the body."""
    lines = ["---", *(f"{key}: {json.dumps(value)}" for key, value in front.items()), "---"]
    return "\n".join(lines) + "\n" + body + ("" if body.endswith("\n") else "\n")


_MERGE_COMMAND = re.compile(r"git merge ([A-Za-z0-9._/\-]+)")
_IDENTITY = {
    "GIT_AUTHOR_NAME": "cw-fake-agent",
    "GIT_COMMITTER_NAME": "cw-fake-agent",
    "GIT_AUTHOR_EMAIL": "cw-fake-agent@localhost",
    "GIT_COMMITTER_EMAIL": "cw-fake-agent@localhost",
}


def _keep_both(text: str) -> str:
    """A conflicted file with its markers removed, both sides kept (ours first)."""
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(("<<<<<<< ", "=======", ">>>>>>> ", "||||||| "))
    ]
    return "".join(kept)


def _questions(arg: Any) -> list[dict[str, str]]:
    items = [arg] if isinstance(arg, str) else arg
    questions = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, str):
            item = {"question": item}
        questions.append({"id": item.get("id") or f"q{number}", "question": item["question"]})
    return questions


def find_answers(prompt: str, ids: list[str]) -> dict[str, str]:
    """The answers in a resume prompt: a line ``q1: blue`` (also ``**q1**: blue``,
    ``- q1 (Which colour?): blue``, ``"q1": "blue"``); with one question and no such line,
    the prompt's last non-empty line."""
    answers: dict[str, str] = {}
    for qid in ids:
        pattern = re.compile(
            r"^[\s>*_`\-\"']*\[?"
            + re.escape(qid)
            + r"\]?[*_`\"']*(?:\s*\([^)\n]*\))?\s*[:=]\s*(.+)$",
            re.MULTILINE,
        )
        found = pattern.findall(prompt)
        if found:
            answers[qid] = found[-1].strip().strip('",').strip()
    if not answers and len(ids) == 1:
        lines = [line.strip() for line in prompt.splitlines() if line.strip()]
        if lines:
            answers[ids[0]] = lines[-1]
    return answers


# --- the run -----------------------------------------------------------------------------------


def project_slug(cwd: Path) -> str:
    """Claude Code's transcript folder name for a cwd (every non-alphanumeric → ``-``)."""
    return re.sub(r"[^a-zA-Z0-9]", "-", str(cwd))


def transcript_path(config_dir: Path, cwd: Path, session_id: str) -> Path:
    return config_dir / "projects" / project_slug(cwd) / f"{session_id}.jsonl"


@dataclass
class Run:
    options: Options
    argv: list[str]
    cwd: Path
    config_dir: Path
    session_id: str = ""
    resumed: bool = False
    steps: list[Step] = field(default_factory=list)
    first_config_dir: str = ""
    next_step: int = 0
    answers: dict[str, str] = field(default_factory=dict)
    last_result: str = ""
    turns: int = 0
    output_chars: int = 0
    started: float = field(default_factory=time.monotonic)

    # -- output ---------------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        if self.options.output_format != "stream-json":
            return
        self.write_line(json.dumps(event, ensure_ascii=False))

    def write_line(self, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.buffer.flush()
        self.output_chars += len(data)

    def say(self, text: str) -> None:
        self.emit(self._assistant([{"type": "text", "text": text}]))

    def tool(self, name: str, tool_input: dict[str, Any], result: str) -> None:
        tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
        self.emit(
            self._assistant(
                [{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}]
            )
        )
        self.emit(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": result}],
                },
                "parent_tool_use_id": None,
                "session_id": self.session_id,
                "uuid": str(uuid.uuid4()),
            }
        )
        self.turns += 1

    def _assistant(self, content: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "type": "assistant",
            "message": {
                "id": f"msg_{uuid.uuid4().hex[:20]}",
                "type": "message",
                "role": "assistant",
                "model": extra.pop("model", self.options.model or "cw-fake"),
                "content": content,
                "stop_reason": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
            "parent_tool_use_id": None,
            "session_id": self.session_id,
            "uuid": str(uuid.uuid4()),
            **extra,
        }

    def result(
        self, text: str, *, is_error: bool = False, api_error_status: int | None = None
    ) -> None:
        prompt_tokens = len(self.options.prompt or "") // 4
        data = {
            "type": "result",
            "subtype": "success",
            "is_error": is_error,
            "api_error_status": api_error_status,
            "duration_ms": int((time.monotonic() - self.started) * 1000),
            "duration_api_ms": 0,
            "num_turns": self.turns + 1,
            "result": text,
            "stop_reason": "end_turn",
            "session_id": self.session_id,
            "total_cost_usd": round(0.0001 * (self.turns + 1), 6),
            "usage": {
                "input_tokens": prompt_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": self.output_chars // 4,
            },
            "permission_denials": [],
            "uuid": str(uuid.uuid4()),
        }
        if self.options.output_format == "stream-json":
            self.emit(data)
        elif self.options.output_format == "json":
            self.write_line(json.dumps(data, ensure_ascii=False))
        else:
            self.write_line(text)

    # -- the transcript -------------------------------------------------------------------------

    @property
    def transcript(self) -> Path:
        return transcript_path(self.config_dir, self.cwd, self.session_id)

    def record(self, entry: dict[str, Any]) -> None:
        self.transcript.parent.mkdir(parents=True, exist_ok=True)
        entry = {**entry, "session_id": self.session_id, "timestamp": datetime.now(UTC).isoformat()}
        with self.transcript.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def load_transcript(self) -> None:
        try:
            lines = self.transcript.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            sys.stderr.write(f"No conversation found with session ID: {self.session_id}\n")
            sys.stderr.flush()
            raise Exit(1) from None
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            kind = entry.get("type")
            if kind == "cw_fake_session":
                self.steps = parse_scenario(entry.get("scenario"))
                self.first_config_dir = entry.get("config_dir", "")
            elif kind == "cw_fake_step":
                self.next_step = max(self.next_step, int(entry.get("index", -1)) + 1)
                if entry.get("result"):
                    self.last_result = entry["result"]
            elif kind == "cw_fake_answers":
                self.answers.update(entry.get("answers") or {})

    # -- files ----------------------------------------------------------------------------------

    @property
    def output_dir(self) -> Path:
        return self.cwd / ".cw" / "output"

    def write_signal(self, payload: dict[str, Any] | str) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        temporary = self.output_dir / "signal.json.tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.output_dir / "signal.json")

    def note_run(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        line = {
            "session_id": self.session_id,
            "config_dir": str(self.config_dir),
            "resumed": self.resumed,
            "argv": self.argv,
            "pid": os.getpid(),
            "at": datetime.now(UTC).isoformat(),
        }
        with (self.output_dir / RUNS_FILE).open("a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")

    def projects(self) -> list[Path]:
        """The project worktrees in the workdir: the manifest's order, else by name."""
        found: list[Path] = []
        try:
            manifest = json.loads((self.cwd / ".cw/input/manifest.json").read_text("utf-8"))
            for item in manifest.get("projects", []):
                name = item.get("name") if isinstance(item, dict) else item
                path = item.get("path") if isinstance(item, dict) else None
                candidate = Path(path) if path else self.cwd / str(name)
                if not candidate.is_absolute():
                    candidate = self.cwd / candidate
                if candidate.is_dir():
                    found.append(candidate)
        except (OSError, ValueError, AttributeError, TypeError):
            pass
        if not found:
            found = sorted(p for p in self.cwd.iterdir() if (p / ".git").exists())
        return found

    def resolve(self, relative: str) -> Path:
        projects = self.projects()
        first = Path(relative).parts[0]
        if any(p.name == first for p in projects) or not projects:
            return self.cwd / relative
        return projects[0] / relative

    def fill(self, text: str) -> str:
        text = re.sub(r"\{answer:([^}]+)\}", lambda m: self.answers.get(m[1], ""), text)
        return text.replace("{config_dir}", str(self.config_dir)).replace(
            "{session_id}", self.session_id
        )

    # -- steps ----------------------------------------------------------------------------------

    def play(self) -> int:
        while self.next_step < len(self.steps):
            index = self.next_step
            step = self.steps[index]
            outcome = getattr(self, f"step_{step.kind}")(step.arg, index)
            if outcome == "again":  # not completed: a resume plays this step again
                return 1
            self.next_step = index + 1
            if isinstance(outcome, int):
                return outcome
        # Scenario over (or resumed after its end): done, with the last result.
        text = self.last_result or "cw-fake: scenario finished"
        self.write_signal({"status": "done", "result": text})
        self.result(text)
        return 0

    def completed(self, index: int, **extra: Any) -> None:
        self.record(
            {"type": "cw_fake_step", "index": index, "kind": self.steps[index].kind, **extra}
        )

    def step_write(self, arg: Any, index: int) -> None:
        path = self.resolve(arg["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        content = self.fill(arg.get("content", ""))
        path.write_text(content, encoding="utf-8")
        self.tool(
            "Write",
            {"file_path": str(path), "content": content},
            f"File created successfully at: {path}",
        )
        self.completed(index)

    def step_leave_uncommitted(self, arg: Any, index: int) -> None:
        if arg is True:
            arg = {"path": "uncommitted.txt", "content": "work not yet committed\n"}
        self.step_write(arg, index)

    def step_commit(self, arg: Any, index: int) -> int | None:
        message = self.fill(arg)
        committed = []
        for project in self.projects():
            git = ["git", "-C", str(project)]
            status = subprocess.run(
                [*git, "status", "--porcelain"], capture_output=True, text=True, check=False
            )
            if status.returncode != 0 or not status.stdout.strip():
                continue
            env = dict(os.environ)
            identity = subprocess.run(
                [*git, "config", "user.email"], capture_output=True, text=True, check=False
            )
            if not identity.stdout.strip():
                env.update(
                    GIT_AUTHOR_NAME="cw-fake-agent",
                    GIT_COMMITTER_NAME="cw-fake-agent",
                    GIT_AUTHOR_EMAIL="cw-fake-agent@localhost",
                    GIT_COMMITTER_EMAIL="cw-fake-agent@localhost",
                )
            subprocess.run([*git, "add", "-A"], capture_output=True, check=False, env=env)
            done = subprocess.run(
                [*git, "commit", "-q", "-m", message],
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
            if done.returncode != 0:
                error = f"git commit failed in {project.name}: {done.stderr.strip()}"
                self.tool("Bash", {"command": f"git commit -m {message!r}"}, error)
                return self.finish_error(error)
            committed.append(project.name)
        summary = f"committed in {', '.join(committed)}" if committed else "nothing to commit"
        self.tool("Bash", {"command": f"git add -A && git commit -m {message!r}"}, summary)
        self.completed(index)
        return None

    def step_resolve_conflicts(self, arg: Any, index: int) -> int | None:
        """What a conflict-resolution prompt asks: ``git merge <branch>`` (the first such
        command in the prompt) in each project; conflicting files are resolved by keeping
        both sides (ours, then theirs), and the merge is committed."""
        found = _MERGE_COMMAND.search(self.options.prompt or "")
        if found is None:
            self.say("No merge was asked for.")
            self.completed(index)
            return None
        branch = found[1]
        env = {**os.environ, **_IDENTITY}
        for project in self.projects():
            git = ["git", "-C", str(project)]
            merged = subprocess.run(
                [*git, "merge", "--no-edit", branch], capture_output=True, text=True, env=env
            )
            if merged.returncode == 0:
                self.tool("Bash", {"command": f"git merge {branch}"}, merged.stdout.strip())
                continue
            conflicted = subprocess.run(
                [*git, "diff", "--name-only", "--diff-filter=U"], capture_output=True, text=True
            ).stdout.split()
            if not conflicted:
                return self.finish_error(f"git merge {branch} failed: {merged.stderr.strip()}")
            for name in conflicted:
                path = project / name
                path.write_text(_keep_both(path.read_text(encoding="utf-8")), encoding="utf-8")
            subprocess.run([*git, "add", "--", *conflicted], capture_output=True, env=env)
            done = subprocess.run(
                [*git, "commit", "--no-edit", "-q"], capture_output=True, text=True, env=env
            )
            if done.returncode != 0:
                return self.finish_error(f"committing the merge failed: {done.stderr.strip()}")
            self.tool(
                "Bash",
                {"command": f"git merge {branch}  # resolved {', '.join(conflicted)}"},
                f"resolved {', '.join(conflicted)} keeping both sides",
            )
        self.completed(index)
        return None

    def step_propose(self, arg: Any, index: int) -> None:
        """What a planning prompt asks: one file per proposal under ``.cw/output/``."""
        for item in arg:
            path = self.output_dir / item["path"]
            if "content" in item:
                text = self.fill(item["content"])
            else:
                front = {
                    key: self.fill(value) if isinstance(value, str) else value
                    for key, value in item["front"].items()
                }
                text = proposal_text(front, self.fill(item.get("body", "")))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.tool(
                "Write",
                {"file_path": str(path), "content": text},
                f"File created successfully at: {path}",
            )

    # -- chat sessions: change files ------------------------------------------------------------

    def step_change(self, arg: Any, index: int) -> None:
        """One file per change under ``.cw/output/changes/`` (numbered after those there):
        an object (or each object of a list) as JSON, a text as it is (to test bad files)."""
        folder = self.output_dir / "changes"
        folder.mkdir(parents=True, exist_ok=True)
        number = len(list(folder.iterdir()))
        for item in arg if isinstance(arg, list) else [arg]:
            number += 1
            text = self.fill(item) if isinstance(item, str) else json.dumps(item)
            path = folder / f"{number:03d}.json"
            path.write_text(text, encoding="utf-8")
            self.tool("Write", {"file_path": str(path), "content": text}, f"Wrote {path}")
        self.completed(index)

    def step_print(self, arg: Any, index: int) -> None:
        lines, rate = (arg["lines"], arg.get("rate", 0)) if isinstance(arg, dict) else (arg, 0)
        stamp = isinstance(arg, dict) and arg.get("stamp") is True
        for number in range(1, lines + 1):
            # ``stamp``: the wall-clock time of the write, for latency benchmarks.
            self.say(f"line {number} of {lines}" + (f" at {time.time():.6f}" if stamp else ""))
            if rate:
                time.sleep(1 / rate)
        self.completed(index)

    def step_sleep(self, arg: Any, index: int) -> None:
        time.sleep(float(arg))
        self.completed(index)

    def step_ask(self, arg: Any, index: int) -> int:
        questions = _questions(arg)
        self.completed(index, questions=questions)
        self.write_signal({"status": "questions", "questions": questions})
        text = "I have questions: " + "; ".join(q["question"] for q in questions)
        self.say(text)
        self.result(text)
        return 0

    def step_done(self, arg: Any, index: int) -> int:
        text = self.fill(arg) if isinstance(arg, str) else "cw-fake: done"
        self.completed(index, result=text)
        self.write_signal({"status": "done", "result": text})
        self.result(text)
        return 0

    def step_error(self, arg: Any, index: int) -> int:
        self.completed(index)
        return self.finish_error(self.fill(arg) if isinstance(arg, str) else "cw-fake: error")

    def finish_error(self, message: str) -> int:
        self.write_signal({"status": "error", "error": message})
        self.result(message)
        return 0

    def step_crash(self, arg: Any, index: int) -> int:
        sys.stderr.write("cw-fake: crashing on purpose (no signal)\n")
        sys.stderr.flush()
        self.completed(index)
        return 3 if arg is True else int(arg)

    def step_hang(self, arg: Any, index: int) -> NoReturn:
        while True:
            time.sleep(3600)

    def step_malformed_signal(self, arg: Any, index: int) -> int:
        self.completed(index)
        self.write_signal(arg if isinstance(arg, str) else '{"status": "done", "result": ')
        self.result("wrote a malformed signal")
        return 0

    def step_spawn_child(self, arg: Any, index: int) -> None:
        seconds = 3600 if arg is True else float(arg)
        # Same process group as the fake: only killing the whole group ends it.
        child = subprocess.Popen(
            [sys.executable, "-c", f"import time; time.sleep({seconds})"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with (self.output_dir / "cw-fake-children.txt").open("a", encoding="utf-8") as file:
            file.write(f"{child.pid}\n")
        self.emit(
            {
                "type": "system",
                "subtype": "cw_fake_child",
                "pid": child.pid,
                "session_id": self.session_id,
            }
        )
        self.completed(index)

    def step_garbage(self, arg: Any, index: int) -> None:
        megabytes = 1 if arg is True else float(arg.get("megabytes", 1))
        self.write_line("this line is not JSON {{{")
        self.write_line(b"\xff\xfe\x00\x80binary\xc3(")
        self.write_line('{"type":"assistant","message":{"content":[{"type":"te')
        self.write_line("[1, 2, 3]")
        self.write_line("x" * int(megabytes * 1024 * 1024))
        self.say("y" * int(megabytes * 1024 * 1024))
        self.completed(index)

    def step_usage_limit(self, arg: Any, index: int) -> str | None:
        options = arg if isinstance(arg, dict) else {}
        marker = self.config_dir / MARKER_NAME
        if options.get("once_per_config_dir") and marker.exists():
            self.completed(index)
            return None
        if options.get("first_config_dir_only") and (
            marker.exists() or self.first_config_dir != str(self.config_dir)
        ):
            self.completed(index)
            return None
        self.config_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(datetime.now(UTC).isoformat() + "\n", encoding="utf-8")
        resets = datetime.now(UTC) + timedelta(seconds=float(options.get("resets_in", 3600)))
        epoch = int(resets.timestamp()) + (1 if resets.microsecond else 0)
        if options.get("style") == "old":
            text = f"Claude AI usage limit reached|{epoch}"
        else:
            self.emit(
                {
                    "type": "rate_limit_event",
                    "rate_limit_info": {
                        "status": "rejected",
                        "resetsAt": epoch,
                        "rateLimitType": "five_hour",
                        "isUsingOverage": False,
                    },
                    "session_id": self.session_id,
                    "uuid": str(uuid.uuid4()),
                }
            )
            hour = resets.hour % 12 or 12
            minute = f":{resets.minute:02d}" if resets.minute else ""
            clock = f"{hour}{minute}{'am' if resets.hour < 12 else 'pm'}"
            kind = options.get("limit", "session")
            text = f"You've hit your {kind} limit · resets {clock} (UTC)"
        self.emit(
            self._assistant(
                [{"type": "text", "text": text}], model="<synthetic>", error="rate_limit"
            )
        )
        self.result(text, is_error=True, api_error_status=429)
        return "again"


# --- entry point -------------------------------------------------------------------------------


def _scenario_text(cwd: Path, prompt: str) -> tuple[str | None, str]:
    task = cwd / ".cw" / "input" / "task.md"
    try:
        found = _FENCE.search(task.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found[1], str(task)
    except OSError:
        pass
    if found := _FENCE.search(prompt):
        return found[1], "the prompt"
    source = os.environ.get("CW_FAKE_SCENARIO", "").strip()
    if source:
        if source[0] in "[{":
            return source, "CW_FAKE_SCENARIO"
        try:
            return Path(source).read_text(encoding="utf-8"), source
        except OSError as exc:
            raise ScenarioError(f"cannot read CW_FAKE_SCENARIO file {source}: {exc}") from None
    return None, "default"


def _default_scenario(cwd: Path) -> list[Step]:
    title = "task"
    try:
        for line in (cwd / ".cw/input/task.md").read_text(encoding="utf-8").splitlines():
            if line.strip():
                title = line.strip().lstrip("#").strip() or title
                break
    except OSError:
        pass
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "task"
    return parse_scenario(
        [
            {"write": {"path": f"{slug}.txt", "content": f"{title}\n"}},
            {"commit": f"cw-fake: {title}"},
            {"done": f"Wrote {slug}.txt for {title!r}."},
        ]
    )


def run(argv: list[str]) -> int:
    options = parse_args(argv)
    if options.prompt is None and not sys.stdin.isatty():
        options.prompt = sys.stdin.read()
    if options.output_format == "stream-json" and not options.verbose:
        sys.stderr.write(
            "Error: When using --print, --output-format=stream-json requires --verbose\n"
        )
        return 1
    bypass = options.skip_permissions or options.permission_mode == "bypassPermissions"
    if bypass and os.getuid() == 0 and os.environ.get("IS_SANDBOX") != "1":
        sys.stderr.write(
            "--dangerously-skip-permissions cannot be used with root/sudo "
            "privileges for security reasons\n"
        )
        return 1
    if not options.prompt:
        sys.stderr.write(
            "Error: Input must be provided either through stdin or as a prompt "
            "argument when using --print\n"
        )
        return 1
    config_dir = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    state = Run(options, argv, Path.cwd(), config_dir.expanduser().absolute())
    try:
        if options.resume:
            state.session_id, state.resumed = options.resume, True
            state.load_transcript()
        else:
            state.session_id = options.session_id or str(uuid.uuid4())
            state.first_config_dir = str(state.config_dir)
        state.note_run()
        state.emit(
            {
                "type": "system",
                "subtype": "init",
                "cwd": str(state.cwd),
                "session_id": state.session_id,
                "tools": ["Bash", "Edit", "Read", "Write"],
                "mcp_servers": [],
                "model": options.model or "cw-fake",
                "permissionMode": "bypassPermissions"
                if bypass
                else (options.permission_mode or "default"),
                "apiKeySource": "none",
                "claude_code_version": "cw-fake",
                "cw_fake": {
                    "config_dir": str(state.config_dir),
                    "argv": argv,
                    "resumed": state.resumed,
                },
                "uuid": str(uuid.uuid4()),
            }
        )
        if not state.resumed:
            where = "?"
            try:
                text, where = _scenario_text(state.cwd, options.prompt)
                if text is None:
                    state.steps = _default_scenario(state.cwd)
                else:
                    try:
                        value = json.loads(text)
                    except ValueError as exc:
                        raise ScenarioError(f"not JSON: {exc}") from None
                    state.steps = parse_scenario(value)
                    # A fresh agent asked to merge (a conflict resolution of work another
                    # agent did) does that, not the task again.
                    kinds = [step.kind for step in state.steps]
                    if "resolve_conflicts" in kinds and _MERGE_COMMAND.search(options.prompt):
                        state.next_step = kinds.index("resolve_conflicts")
            except ScenarioError as exc:
                message = f"cw-fake: malformed scenario ({where}): {exc}"
                return state.finish_error(message)
            state.record(
                {
                    "type": "cw_fake_session",
                    "config_dir": str(state.config_dir),
                    "cwd": str(state.cwd),
                    "scenario": [{s.kind: s.arg} for s in state.steps],
                }
            )
        else:
            done_steps = state.steps[: state.next_step]
            if done_steps and done_steps[-1].kind == "ask":
                last = done_steps[-1]
                ids = [q["id"] for q in _questions(last.arg)]
                state.answers.update(find_answers(options.prompt, ids))
                state.record({"type": "cw_fake_answers", "answers": state.answers})
        state.record({"type": "user", "message": {"role": "user", "content": options.prompt}})
        return state.play()
    except Exit as exit_:
        return exit_.code


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``cw-fake-agent``); never a traceback."""
    try:
        code = run(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # the contract: an error signal, not a traceback
        message = f"cw-fake: internal error: {type(exc).__name__}: {exc}"
        sys.stderr.write(message + "\n")
        try:
            out = Path.cwd() / ".cw" / "output"
            out.mkdir(parents=True, exist_ok=True)
            (out / "signal.json").write_text(json.dumps({"status": "error", "error": message}))
        except OSError:
            pass
        code = 1
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
