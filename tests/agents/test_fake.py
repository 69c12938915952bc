"""The shipped fake agent, run as a real process in a real git worktree-like workdir, read
back through the real claude dialect parser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from codewalkers.agents.fake import ScenarioError, find_answers, parse_scenario, project_slug
from codewalkers.agents.output import Result, SessionStarted, UsageLimit
from codewalkers.agents.providers import fake_provider

FAKE = fake_provider()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An agent workdir: a project repo ``app/`` (no git identity configured) and inputs."""
    work = tmp_path / "agent-workdirs" / "brave-otter"
    (work / "app").mkdir(parents=True)
    git(work / "app", "init", "-q", "-b", "main")
    (work / ".cw" / "input").mkdir(parents=True)
    return work


class Agent:
    def __init__(self, workdir: Path, config_dir: Path) -> None:
        self.workdir = workdir
        self.config_dir = config_dir

    def scenario(self, steps: list[Any], title: str = "Say hello") -> None:
        block = json.dumps({"steps": steps})
        (self.workdir / ".cw/input/task.md").write_text(f"# {title}\n\n```cw-fake\n{block}\n```\n")

    def run(
        self,
        prompt: str = "Do the task.",
        *,
        session_id: str | None = None,
        config_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> tuple[int, list[Any], str]:
        invocation = FAKE.command_line(
            prompt, session_id=session_id, config_dir=config_dir or self.config_dir
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "CW_"))}
        env.update(invocation.env, HOME=str(self.workdir.parent), **(extra_env or {}))
        done = subprocess.run(
            invocation.argv,
            cwd=self.workdir,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        events = [e for line in done.stdout.splitlines() for e in FAKE.parse_line(line)]
        return done.returncode, events, done.stderr.decode()

    @property
    def signal(self) -> Any:
        return json.loads((self.workdir / ".cw/output/signal.json").read_text())


@pytest.fixture
def agent(workdir: Path, tmp_path: Path) -> Agent:
    return Agent(workdir, tmp_path / "account-a")


def session_of(events: list[Any]) -> str:
    return next(e.session_id for e in events if isinstance(e, SessionStarted))


def test_default_scenario_writes_commits_and_signals_done(agent: Agent) -> None:
    (agent.workdir / ".cw/input/task.md").write_text("# Add a greeting\n\nNo scenario here.\n")
    code, events, _ = agent.run()
    assert code == 0
    assert (agent.workdir / "app/add-a-greeting.txt").read_text() == "Add a greeting\n"
    assert git(agent.workdir / "app", "status", "--porcelain") == ""
    assert "cw-fake-agent@localhost" in git(agent.workdir / "app", "log", "--format=%ae")
    assert agent.signal["status"] == "done"
    result = events[-1]
    assert isinstance(result, Result) and not result.is_error
    assert result.cost_usd is not None and result.usage["output_tokens"] >= 0


def test_questions_then_resume_with_answers_continues_after_the_ask(agent: Agent) -> None:
    agent.scenario(
        [
            {"write": {"path": "hello.txt", "content": "hi"}},
            {"commit": "add hello"},
            {"ask": [{"id": "q1", "question": "Which colour?"}]},
            {"write": {"path": "colour.txt", "content": "{answer:q1}"}},
            {"commit": "colour"},
            {"done": "Wrote hello and {answer:q1}."},
        ]
    )
    code, events, _ = agent.run()
    assert code == 0
    assert agent.signal == {
        "status": "questions",
        "questions": [{"id": "q1", "question": "Which colour?"}],
    }
    session = session_of(events)
    slug = project_slug(agent.workdir)
    assert (agent.config_dir / "projects" / slug / f"{session}.jsonl").is_file()

    code, events, _ = agent.run("Answers:\nq1: blue\n", session_id=session)
    assert code == 0
    assert session_of(events) == session
    assert (agent.workdir / "app/colour.txt").read_text() == "blue"
    assert agent.signal == {"status": "done", "result": "Wrote hello and blue."}
    assert git(agent.workdir / "app", "log", "--format=%s").split("\n")[:2] == [
        "colour",
        "add hello",
    ]


def test_resume_in_another_config_dir_fails_like_claude(agent: Agent, tmp_path: Path) -> None:
    agent.scenario([{"ask": "Which colour?"}, {"done": "ok"}])
    _, events, _ = agent.run()
    session = session_of(events)
    code, events, stderr = agent.run("q1: red", session_id=session, config_dir=tmp_path / "b")
    assert code == 1
    assert stderr.strip() == f"No conversation found with session ID: {session}"


def test_usage_limit_prints_the_subscriber_lines_and_resumes_after_copy(
    agent: Agent, tmp_path: Path
) -> None:
    agent.scenario(
        [
            {"write": {"path": "a.txt", "content": "a"}},
            {"usage_limit": {"first_config_dir_only": True, "resets_in": 120}},
            {"write": {"path": "b.txt", "content": "{config_dir}"}},
            {"done": "ok"},
        ]
    )
    code, events, _ = agent.run()
    assert code == 1
    limits = [e for e in events if isinstance(e, UsageLimit)]
    assert limits and limits[0].resets_at is not None
    result = events[-1]
    assert isinstance(result, Result) and result.is_error
    assert "You've hit your session limit" in result.text
    session = session_of(events)
    # Failover: copy the transcript into account B, resume there.
    second = tmp_path / "account-b"
    source = agent.config_dir / "projects" / project_slug(agent.workdir) / f"{session}.jsonl"
    target = second / "projects" / project_slug(agent.workdir) / source.name
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    code, events, _ = agent.run("continue", session_id=session, config_dir=second)
    assert code == 0
    assert (agent.workdir / "app/b.txt").read_text() == str(second)
    runs = (agent.workdir / ".cw/output/cw-fake-runs.jsonl").read_text().splitlines()
    assert [json.loads(r)["config_dir"] for r in runs] == [str(agent.config_dir), str(second)]


def test_once_per_config_dir_hits_each_account_once(agent: Agent) -> None:
    agent.scenario([{"usage_limit": {"once_per_config_dir": True, "style": "old"}}, {"done": "ok"}])
    code, events, _ = agent.run()
    assert code == 1 and any(isinstance(e, UsageLimit) for e in events)
    code, events, _ = agent.run("again", session_id=session_of(events))
    assert code == 0 and agent.signal["status"] == "done"


def test_crash_error_and_malformed_signal(agent: Agent) -> None:
    agent.scenario([{"crash": True}])
    code, _, _ = agent.run()
    assert code == 3 and not (agent.workdir / ".cw/output/signal.json").exists()
    agent.scenario([{"error": "cannot do it"}])
    code, _, _ = agent.run()
    assert code == 0 and agent.signal == {"status": "error", "error": "cannot do it"}
    agent.scenario([{"malformed_signal": True}])
    agent.run()
    with pytest.raises(ValueError):
        json.loads((agent.workdir / ".cw/output/signal.json").read_text())


@pytest.mark.parametrize(
    "scenario",
    ['{"steps": [{"wirte": {}}]}', "{not json", '{"steps": [{"write": {"path": "../x"}}]}'],
)
def test_a_malformed_scenario_is_an_error_signal_not_a_traceback(
    agent: Agent, scenario: str
) -> None:
    (agent.workdir / ".cw/input/task.md").write_text(f"```cw-fake\n{scenario}\n```\n")
    code, _, stderr = agent.run()
    assert code == 0 and "Traceback" not in stderr
    assert agent.signal["status"] == "error"
    assert "malformed scenario" in agent.signal["error"]


def test_garbage_and_leave_uncommitted(agent: Agent) -> None:
    agent.scenario([{"garbage": True}, {"leave_uncommitted": True}, {"done": "left work"}])
    code, events, _ = agent.run()
    assert code == 0
    assert isinstance(events[-1], Result)
    assert "uncommitted.txt" in git(agent.workdir / "app", "status", "--porcelain")


def test_scenario_from_env_file_and_print_lines(agent: Agent, tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps([{"print": {"lines": 3, "rate": 1000}}, {"done": "printed"}]))
    code, events, _ = agent.run(extra_env={"CW_FAKE_SCENARIO": str(path)})
    assert code == 0
    texts = [getattr(e, "text", "") for e in events]
    assert "line 3 of 3" in texts


def test_stamped_print_lines_carry_the_time_of_their_write(agent: Agent) -> None:
    agent.scenario([{"print": {"lines": 2, "rate": 1000, "stamp": True}}, {"done": "printed"}])
    before = time.time()
    code, events, _ = agent.run()
    after = time.time()
    assert code == 0
    stamped = [getattr(e, "text", "") for e in events if "line " in getattr(e, "text", "")]
    assert [text.split(" at ")[0] for text in stamped] == ["line 1 of 2", "line 2 of 2"]
    assert all(before <= float(text.split(" at ")[1]) <= after for text in stamped)


def test_stream_json_without_verbose_fails_like_claude(agent: Agent) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "codewalkers.agents.fake",
            "-p",
            "x",
            "--output-format",
            "stream-json",
        ],
        cwd=agent.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(agent.config_dir)},
    )
    assert done.returncode == 1 and "requires --verbose" in done.stderr


def test_spawn_child_stays_in_the_process_group(agent: Agent) -> None:
    agent.scenario([{"spawn_child": 30}, {"hang": True}])
    invocation = FAKE.command_line("go", config_dir=agent.config_dir)
    process = subprocess.Popen(
        invocation.argv,
        cwd=agent.workdir,
        env={**os.environ, **invocation.env},
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    child = None
    for line in process.stdout:
        data = json.loads(line)
        if data.get("subtype") == "cw_fake_child":
            child = data["pid"]
            break
    assert child is not None and os.getpgid(child) == process.pid
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert _gone(child)


def _gone(pid: int) -> bool:
    """Whether ``pid`` ended (gone, or a zombie awaiting its new parent), waiting up to 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_find_answers_forms() -> None:
    assert find_answers("q1: blue\n**q2**: red", ["q1", "q2"]) == {"q1": "blue", "q2": "red"}
    assert find_answers("- q1 (Which colour?): green", ["q1"]) == {"q1": "green"}
    assert find_answers("Here is my answer.\npurple", ["q1"]) == {"q1": "purple"}


def test_parse_scenario_rejects_bad_steps() -> None:
    with pytest.raises(ScenarioError, match="step 1: unknown step"):
        parse_scenario([{"fly": True}])
    with pytest.raises(ScenarioError, match=r"step 1 \(print\)"):
        parse_scenario([{"print": "many"}])
    assert parse_scenario(["hang"])[0].kind == "hang"
