"""The real Claude Code CLI (2.1.197) through the whole Codewalkers pipeline, offline.

:class:`~codewalkers.services.runtime.AgentRuntime` in-process (as ``cw start`` runs it) on
SQLite and PostgreSQL, a real bare remote, the built-in ``claude`` provider with only its
``command`` pointed at the installed CLI, and accounts whose stored config and credentials
carry everything the CLI needs to reach the local Anthropic stub. Nothing here is the fake
agent: the tool calls the stub's script asks for are made by the real CLI, in the agent's
real worktree, and its real stream-json is what our dialect parser reads.

The fake-agent tests (``test_runtime.py``) prove the pipeline; these prove our provider data
(flags, environment, resume, config dirs) and the ``claude`` dialect on the real program.
Outside CI a missing CLI skips with the reason, in CI it fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from codewalkers.agents import process
from codewalkers.agents.providers import BUILTIN_PROVIDERS, load_providers
from codewalkers.agents.settings import AgentSettings
from codewalkers.db import Agent, AgentStatus, Database, TaskStatus
from codewalkers.services.runtime import AgentRuntime, SpawnRequest
from codewalkers.workspace import Workspace
from tests.agents.conftest import Remote, make_remote
from tests.agents.realcli import anthropic_stub, claude, codex, openai_stub
from tests.agents.stubs.anthropic import AnthropicStub, message_texts
from tests.agents.stubs.base import Script, text, tool
from tests.agents.stubs.openai import OpenAIStub, codex_config
from tests.factories import make_account, make_initiative, make_phase, make_task

__all__ = ["anthropic_stub", "claude", "codex", "openai_stub"]  # fixtures, imported for pytest

pytestmark = pytest.mark.slow

SETTINGS = AgentSettings(
    poll_interval=0.05,
    maintenance_interval=0.2,
    stop_grace=2.0,
    signal_grace=0.5,
    hang_timeout=120.0,
)
#: The agent's worktree of the one project, relative to its workdir (the CLI's cwd).
PROJECT = "app"
SIGNAL = ".cw/output/signal.json"
#: The CLI's Bash tool commits with an identity of its own: the tests' git has none.
COMMIT = (
    f"git -C {PROJECT} add -A && "
    f"git -C {PROJECT} -c user.name=Stub -c user.email=stub@localhost commit -qm"
)


def signal_done(result: str) -> dict[str, Any]:
    return tool(
        "Write",
        file_path="{cwd}/" + SIGNAL,
        content=json.dumps({"status": "done", "result": result}),
    )


def edit_commit_done_then_resume() -> Script:
    """The model's turns: session 1 writes a file in the worktree, commits it and signals
    done; a resumed session writes a second file, commits and signals done again."""
    return Script.of(
        [
            text("I will add hello.txt."),
            tool("Write", file_path="{cwd}/" + PROJECT + "/hello.txt", content="hello\n"),
        ],
        [tool("Bash", command=f"{COMMIT} 'Add hello.txt'", description="commit")],
        [signal_done("Added hello.txt.")],
        [text("Done: hello.txt added and committed.")],
        # a resume continues here (the stub counts the model turns in the history)
        [tool("Write", file_path="{cwd}/" + PROJECT + "/again.txt", content="again\n")],
        [tool("Bash", command=f"{COMMIT} 'Add again.txt'", description="commit")],
        [signal_done("Added again.txt as asked.")],
        [text("Done again.")],
    )


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=2)


@pytest.fixture
def start_runtime(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, list[str]]], AgentRuntime]]:
    """Start the runtime with the built-in providers' commands pointed at the real CLIs."""
    # The CLI must use only what the account gives it: no HOME, no key of the developer's.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    for name in (
        *BUILTIN_PROVIDERS["claude"].credential_variables(),
        *BUILTIN_PROVIDERS["codex"].credential_variables(),
    ):
        monkeypatch.delenv(name, raising=False)
    started: list[AgentRuntime] = []

    def start(commands: dict[str, list[str]]) -> AgentRuntime:
        root = tmp_path / "ws"
        (root / ".cw").mkdir(parents=True)
        tables = {name: {"command": command} for name, command in commands.items()}
        providers = load_providers({"providers": tables})
        runtime = AgentRuntime(db, Workspace(root, {}), settings=SETTINGS, providers=providers)
        runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.close()
        for run in runtime.supervisor.runs():
            process.stop_group(run.pid, run.started_at_ms, grace=1.0)


@pytest.fixture
def runtime(
    start_runtime: Callable[[dict[str, list[str]]], AgentRuntime], claude: str
) -> AgentRuntime:
    return start_runtime({"claude": [claude]})


def account_config(stub: AnthropicStub) -> str:
    """What an account stores to reach the stub: its base URL, no 3-minute retry loop."""
    return json.dumps(
        {"env": {"ANTHROPIC_BASE_URL": stub.base_url, "CLAUDE_CODE_MAX_RETRIES": "0"}}
    )


def oauth_credentials(token: str) -> str:
    """A subscriber's ``.credentials.json`` as ``claude`` login writes it on Linux."""
    return json.dumps(
        {
            "claudeAiOauth": {
                "accessToken": token,
                "refreshToken": token.replace("oat", "ort"),
                "expiresAt": int(time.time() * 1000) + 24 * 3600 * 1000,
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "max",
            }
        }
    )


def task_for(db: Database, remote: Remote) -> str:
    initiative = make_initiative(db, name="Greetings")
    project = db.projects.create(name=PROJECT, url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative)
    return make_task(db, phase, name="Say hello", description="Add hello.txt.").id


def wait_for(db: Database, agent: Agent, check: Callable[[Agent], bool]) -> Agent:
    deadline = time.monotonic() + 120
    current = agent
    while time.monotonic() < deadline:
        found = db.agents.find_by_id(agent.id)
        assert found is not None
        current = found
        if check(current):
            return current
        time.sleep(0.1)
    raise AssertionError(f"agent never reached the state; last: {current}")


def settled(status: AgentStatus, session_number: int) -> Callable[[Agent], bool]:
    return lambda a: a.status == status and a.session_number == session_number and a.pid is None


def git_log(tree: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(tree), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def output_events(path: str | None) -> list[dict[str, Any]]:
    lines = Path(path or "").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def log_text(db: Database, agent: Agent, session_number: int) -> str:
    chunks = db.log_chunks.find_by_agent_id(agent.id)
    return "".join(c.content for c in chunks if c.session_number == session_number)


def test_real_claude_edits_commits_signals_done_and_resumes_the_same_session(
    db: Database, runtime: AgentRuntime, remote: Remote, anthropic_stub: AnthropicStub
) -> None:
    anthropic_stub.script = edit_commit_done_then_resume()
    account = make_account(
        db,
        email="api@example.com",
        provider="claude",
        config_json=account_config(anthropic_stub),
        credentials="sk-ant-api03-stub-key-A",
    )
    task_id = task_for(db, remote)

    started = time.monotonic()
    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    assert agent.status == AgentStatus.RUNNING and agent.pid and agent.account_id == account.id
    done = wait_for(db, agent, settled(AgentStatus.IDLE, 1))
    first_run = time.monotonic() - started

    # The task is completed with the agent's own summary from its signal file.
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert task.summary == "Added hello.txt." == done.result["result"]
    assert done.exit_code == 0 and done.status_reason == "done"
    # The real CLI's tool calls edited the agent's worktree and committed on its branch.
    workdir = runtime.paths.workdir(agent.name)
    tree = workdir / PROJECT
    assert (tree / "hello.txt").read_text() == "hello\n"
    assert git_log(tree)[0] == "Add hello.txt"
    assert not subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    # The session id comes from the real system/init line; the log is the output, complete.
    events = output_events(done.output_file_path)
    init = events[0]
    assert init["type"] == "system" and init["subtype"] == "init"
    assert init["cwd"] == str(workdir)
    session_id = init["session_id"]
    assert done.session_id == session_id
    output = Path(done.output_file_path or "").read_text(encoding="utf-8")
    assert log_text(db, agent, 1) == output
    assert done.output_offset == len(output.encode())
    result = events[-1]
    assert result["type"] == "result" and result["is_error"] is False
    assert done.result["provider_result"] == "Done: hello.txt added and committed."
    assert done.result["num_turns"] == result["num_turns"]
    assert done.result["cost_usd"] == pytest.approx(result["total_cost_usd"])
    assert done.result["usage"]["output_tokens"] == result["usage"]["output_tokens"]
    # The account reached the CLI: its key, its base URL, its config dir; nothing in HOME.
    requests = anthropic_stub.model_requests()
    assert {r.key for r in requests} == {"sk-ant-api03-stub-key-A"}
    config_dir = runtime.paths.accounts_dir(account.id)
    assert list(config_dir.glob(f"projects/*/{session_id}.jsonl"))
    assert not list((runtime.workspace.root.parent / "home").rglob("*.jsonl"))
    assert "sk-ant-api03-stub-key-A" not in output

    # Resume: session 2 runs `--resume <id>` in the same worktree and config dir.
    before = len(requests)
    runtime.resume(agent.name, "Please add again.txt too.")
    again = wait_for(db, agent, settled(AgentStatus.IDLE, 2))

    assert again.session_id == session_id
    assert again.result["result"] == "Added again.txt as asked."
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.summary == "Added again.txt as asked."
    assert git_log(tree)[:2] == ["Add again.txt", "Add hello.txt"]
    resumed = anthropic_stub.model_requests()[before:]
    assert resumed and {r.headers["x-claude-code-session-id"] for r in resumed} == {session_id}
    history = "\n".join(message_texts(resumed[0].body))
    assert "Add hello.txt" in history and "Please add again.txt too." in history
    second = output_events(again.output_file_path)
    assert second[0]["session_id"] == session_id == second[-1]["session_id"]
    assert log_text(db, agent, 2) == Path(again.output_file_path or "").read_text()
    assert (workdir / ".cw" / "output" / "signal-1.json").is_file()
    types = [e.type for e in db.events.find_after(0)]
    assert types.count("agent:spawned") == 1 and "agent:resumed" in types
    print(f"\nreal claude through the pipeline: first session {first_run:.1f}s")


def test_real_claude_subscription_limit_fails_over_and_the_session_continues_on_account_b(
    db: Database,
    runtime: AgentRuntime,
    remote: Remote,
    anthropic_stub: AnthropicStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The coordinator's own key must not reach an agent that runs as an account: the CLI
    # prefers ANTHROPIC_API_KEY to the account's login, so every account would be billed
    # to it and a failover would change nothing.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-coordinator-key")
    anthropic_stub.script = edit_commit_done_then_resume()
    token_a, token_b = "sk-ant-oat01-stub-token-A", "sk-ant-oat01-stub-token-B"
    anthropic_stub.set_mode("usage_limit", key=token_a)
    first = make_account(
        db,
        email="a@example.com",
        provider="claude",
        config_json=account_config(anthropic_stub),
        credentials=oauth_credentials(token_a),
    )
    second = make_account(
        db,
        email="b@example.com",
        provider="claude",
        config_json=account_config(anthropic_stub),
        # a plain token, as `claude setup-token` prints it: the subscriber path too
        credentials=token_b,
    )
    task_id = task_for(db, remote)

    agent = runtime.spawn(SpawnRequest(task_id=task_id, account_id=first.id))
    done = wait_for(db, agent, settled(AgentStatus.IDLE, 2))

    # Account A hit its subscription limit: parked until the reset the CLI reported.
    exhausted = db.accounts.find_by_id(first.id)
    assert exhausted is not None and exhausted.is_exhausted
    assert exhausted.exhausted_until == datetime.fromtimestamp(anthropic_stub.resets_at, UTC)
    limited = output_events(runtime.paths.output_file(agent.name, 1).as_posix())
    (event,) = [e for e in limited if e["type"] == "rate_limit_event"]
    assert event["rate_limit_info"]["status"] == "rejected"
    assert limited[-1]["result"].startswith("You've hit your session limit · resets ")
    # The same session went on with account B, from B's config dir, and finished the task.
    assert done.account_id == second.id
    session_id = limited[0]["session_id"]
    assert done.session_id == session_id
    carried = list(runtime.paths.accounts_dir(second.id).glob(f"projects/*/{session_id}.jsonl"))
    assert carried, "the transcript was carried to B's config dir"
    resumed = output_events(done.output_file_path)
    assert resumed[0]["session_id"] == session_id == resumed[-1]["session_id"]
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert task.summary == "Added hello.txt."
    tree = runtime.paths.workdir(agent.name) / PROJECT
    assert git_log(tree)[0] == "Add hello.txt"
    # On the wire: one rejected request as A (no retries), then B's bearer token, same session.
    requests = anthropic_stub.model_requests()
    assert [(r.key, r.status) for r in requests[:1]] == [(token_a, 429)]
    assert {r.key for r in requests[1:]} == {token_b}
    assert {r.headers["x-claude-code-session-id"] for r in requests} == {session_id}
    assert all("oauth-2025-04-20" in r.headers["anthropic-beta"] for r in requests)
    types = [e.type for e in db.events.find_after(0)]
    assert "account:exhausted" in types and "agent:account_switched" in types
    # The tokens stay in the accounts' config dirs: not in the log, the events or the workdir.
    everything = log_text(db, agent, 1) + log_text(db, agent, 2)
    everything += json.dumps([e.payload for e in db.events.find_after(0)], default=str)
    for path in runtime.paths.workdir(agent.name).rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            everything += path.read_text(errors="replace")
    assert token_a not in everything and token_b not in everything
    assert not re.search(r"sk-ant-o[ar]t01", everything)


def ask_then_done() -> Script:
    """Session 1 asks a question through the signal file; resumed, it writes, commits, done."""
    questions = {"status": "questions", "questions": [{"id": "q1", "question": "Which colour?"}]}
    return Script.of(
        [tool("Write", file_path="{cwd}/" + SIGNAL, content=json.dumps(questions))],
        [text("I asked which colour.")],
        [tool("Write", file_path="{cwd}/" + PROJECT + "/colour.txt", content="blue\n")],
        [tool("Bash", command=f"{COMMIT} 'Add colour.txt'", description="commit")],
        [signal_done("Colour is blue.")],
        [text("Done: colour.txt.")],
    )


def test_real_claude_asks_waits_for_the_answer_and_resumes_with_it(
    db: Database, runtime: AgentRuntime, remote: Remote, anthropic_stub: AnthropicStub
) -> None:
    anthropic_stub.script = ask_then_done()
    make_account(
        db,
        email="api@example.com",
        provider="claude",
        config_json=account_config(anthropic_stub),
        credentials="sk-ant-api03-stub-key-A",
    )
    task_id = task_for(db, remote)

    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    waiting = wait_for(db, agent, settled(AgentStatus.WAITING_FOR_INPUT, 1))

    assert [(q["id"], q["question"]) for q in waiting.pending_questions] == [
        ("q1", "Which colour?")
    ]
    assert [m.content for m in db.messages.find_pending_for_user()] == ["[q1] Which colour?"]
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.IN_PROGRESS
    before = len(anthropic_stub.model_requests())

    runtime.answer(agent.name, "blue, please")
    done = wait_for(db, agent, settled(AgentStatus.IDLE, 2))

    assert done.session_id == waiting.session_id
    assert done.result["result"] == "Colour is blue."
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    tree = runtime.paths.workdir(agent.name) / PROJECT
    assert git_log(tree)[0] == "Add colour.txt"
    resumed = anthropic_stub.model_requests()[before:]
    assert {r.headers["x-claude-code-session-id"] for r in resumed} == {waiting.session_id}
    history = "\n".join(message_texts(resumed[0].body))
    assert "q1: blue, please" in history and "Which colour?" in history


def codex_script() -> Script:
    """Codex's turns: one shell command writes and commits, another writes the signal."""
    done = json.dumps({"status": "done", "result": "Added hello.txt."})
    return Script.of(
        [
            text("I will add hello.txt."),
            tool(
                "exec_command",
                cmd=f"printf 'hello\\n' > {PROJECT}/hello.txt && {COMMIT} 'Add hello.txt'",
            ),
        ],
        [tool("exec_command", cmd=f"printf '%s' '{done}' > {SIGNAL}")],
        [text("Done: hello.txt added and committed.")],
    )


def test_real_codex_usage_limit_fails_over_and_the_thread_continues_on_account_b(
    db: Database,
    start_runtime: Callable[[dict[str, list[str]]], AgentRuntime],
    remote: Remote,
    openai_stub: OpenAIStub,
    codex: str,
) -> None:
    runtime = start_runtime({"codex": [codex, "exec"]})
    openai_stub.script = codex_script()
    openai_stub.set_mode("usage_limit", key="key-A")
    # A Codex account: config.toml (the provider and its base URL) and an API key.
    config = json.dumps(
        {"files": {"config.toml": codex_config(openai_stub.base_url, env_key="CODEX_API_KEY")}}
    )
    first = make_account(
        db, email="a@example.com", provider="codex", config_json=config, credentials="key-A"
    )
    second = make_account(
        db, email="b@example.com", provider="codex", config_json=config, credentials="key-B"
    )
    task_id = task_for(db, remote)

    agent = runtime.spawn(SpawnRequest(task_id=task_id, provider="codex", account_id=first.id))
    done = wait_for(db, agent, settled(AgentStatus.IDLE, 2))

    # "You've hit your usage limit … try again at 3:00 PM": A parked until then.
    exhausted = db.accounts.find_by_id(first.id)
    assert exhausted is not None and exhausted.is_exhausted
    assert exhausted.exhausted_until == datetime.fromtimestamp(openai_stub.resets_at, UTC)
    limited = output_events(runtime.paths.output_file(agent.name, 1).as_posix())
    thread_id = limited[0]["thread_id"]
    assert limited[-1]["type"] == "turn.failed"
    # The same thread went on as B, from B's CODEX_HOME, and finished the task.
    assert done.account_id == second.id and done.session_id == thread_id
    carried = runtime.paths.accounts_dir(second.id).glob(f"sessions/**/*{thread_id}*.jsonl")
    assert list(carried), "the rollout was carried to B's CODEX_HOME"
    resumed = output_events(done.output_file_path)
    assert resumed[0] == {"type": "thread.started", "thread_id": thread_id}
    assert resumed[-1]["type"] == "turn.completed"
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert task.summary == "Added hello.txt."
    tree = runtime.paths.workdir(agent.name) / PROJECT
    assert git_log(tree)[0] == "Add hello.txt" and (tree / "hello.txt").read_text() == "hello\n"
    assert done.result["usage"]["output_tokens"] == resumed[-1]["usage"]["output_tokens"]
    for number in (1, 2):
        output = runtime.paths.output_file(agent.name, number).read_text(encoding="utf-8")
        assert log_text(db, agent, number) == output
        assert "key-A" not in output and "key-B" not in output
    requests = openai_stub.model_requests()
    assert [(r.key, r.status) for r in requests[:1]] == [("key-A", 429)]
    assert {r.key for r in requests[1:]} == {"key-B"}
    assert {r.headers["thread-id"] for r in requests} == {thread_id}
    types = [e.type for e in db.events.find_after(0)]
    assert "account:exhausted" in types and "agent:account_switched" in types
