"""The real Claude Code CLI (2.1.197), run offline against the Anthropic stub, in a real git repo.

These prove the flags and output our providers and dialect parsers rely on. They need the
CLIs from ``scripts/install-agent-clis.sh``: outside CI a missing CLI skips, in CI it fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.agents.realcli import (
    SIGNAL,
    anthropic_stub,
    ask_then_done_script,
    claude,
    claude_argv,
    claude_env,
    edit_commit_done_script,
    make_repo,
    run,
    save_transcript,
    usage_limit_on_account_a,
)
from tests.agents.stubs.anthropic import AnthropicStub, message_texts

__all__ = ["anthropic_stub", "claude"]  # fixtures, imported for pytest

pytestmark = pytest.mark.slow


def _git_log(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_claude_edits_commits_and_signals_done_then_resumes(
    claude: str, anthropic_stub: AnthropicStub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    anthropic_stub.script = edit_commit_done_script()
    env = claude_env(anthropic_stub.base_url, tmp_path / "cfgA", tmp_path / "home", api_key="A")

    first = run(claude_argv(claude, "Make hello.txt and commit it"), repo, env)

    assert first.returncode == 0, first.stderr
    save_transcript("claude-edit-commit-done", first.stdout)
    assert (repo / "hello.txt").read_text() == "hello from the stub model\n"
    assert _git_log(repo)[0] == "Add hello.txt"
    assert json.loads((repo / SIGNAL).read_text())["status"] == "done"
    init = first.of_type("system")[0]
    session_id = init["session_id"]
    assert init["subtype"] == "init" and init["cwd"] == str(repo)
    tools = [
        b["name"]
        for e in first.of_type("assistant")
        for b in e["message"]["content"]  # type: ignore[index]
        if b["type"] == "tool_use"
    ]
    assert tools == ["Write", "Bash", "Write"]
    result = first.of_type("result")[-1]
    assert result["is_error"] is False and result["session_id"] == session_id
    assert result["result"] == "Done: I created hello.txt and committed it."
    assert not list((tmp_path / "home").rglob("*.jsonl")), "nothing of the session in HOME"

    before = len(anthropic_stub.model_requests())
    again = run(claude_argv(claude, "Anything else?", resume=str(session_id)), repo, env)

    assert again.returncode == 0, again.stderr
    save_transcript("claude-resume", again.stdout)
    assert again.of_type("result")[-1]["session_id"] == session_id
    assert again.of_type("result")[-1]["result"] == "Resumed: nothing more to do."
    resumed = anthropic_stub.model_requests()[before]
    history = "\n".join(message_texts(resumed.body))
    assert "Make hello.txt and commit it" in history and "Anything else?" in history
    assert "Add hello.txt" in history  # the earlier Bash tool call went back to the model


def test_claude_resume_under_another_config_dir_needs_the_transcript_copied(
    claude: str, anthropic_stub: AnthropicStub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    anthropic_stub.script = edit_commit_done_script()
    cfg_a, cfg_b = tmp_path / "cfgA", tmp_path / "cfgB"
    env_a = claude_env(anthropic_stub.base_url, cfg_a, tmp_path / "home", api_key="A")
    env_b = claude_env(anthropic_stub.base_url, cfg_b, tmp_path / "home", api_key="B")
    first = run(claude_argv(claude, "Make hello.txt"), repo, env_a)
    assert first.returncode == 0, first.stderr
    session_id = str(first.of_type("result")[-1]["session_id"])

    refused = run(claude_argv(claude, "go on", resume=session_id), repo, env_b)

    assert refused.returncode == 1
    assert f"No conversation found with session ID: {session_id}" in refused.stderr

    (transcript,) = cfg_a.glob(f"projects/*/{session_id}.jsonl")
    slug = transcript.parent.name
    # Not only "/": every character outside [A-Za-z0-9] becomes "-" (the reference says "/").
    assert slug == re.sub(r"[^A-Za-z0-9]", "-", str(repo))
    (cfg_b / "projects" / slug).mkdir(parents=True)
    shutil.copy2(transcript, cfg_b / "projects" / slug / transcript.name)
    moved = run(claude_argv(claude, "go on", resume=session_id), repo, env_b)

    assert moved.returncode == 0, moved.stderr
    assert moved.of_type("result")[-1]["session_id"] == session_id
    last = anthropic_stub.model_requests()[-1]
    assert last.key == "B"
    assert "Make hello.txt" in "\n".join(message_texts(last.body))


def test_claude_subscription_limit_on_account_a_then_account_b_continues(
    claude: str, anthropic_stub: AnthropicStub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    anthropic_stub.script = usage_limit_on_account_a(anthropic_stub, "token-A")
    cfg_a, cfg_b = tmp_path / "cfgA", tmp_path / "cfgB"
    env_a = claude_env(
        anthropic_stub.base_url, cfg_a, tmp_path / "h", api_key="token-A", oauth=True
    )
    env_b = claude_env(
        anthropic_stub.base_url, cfg_b, tmp_path / "h", api_key="token-B", oauth=True
    )

    limited = run(claude_argv(claude, "Make hello.txt"), repo, env_a)

    assert limited.returncode == 1
    save_transcript("claude-usage-limit", limited.stdout)
    (event,) = limited.of_type("rate_limit_event")
    info = event["rate_limit_info"]
    assert info["status"] == "rejected"  # type: ignore[index]
    assert info["resetsAt"] == anthropic_stub.resets_at  # type: ignore[index]
    result = limited.of_type("result")[-1]
    assert result["is_error"] is True and result["api_error_status"] == 429
    assert str(result["result"]).startswith("You've hit your session limit · resets ")
    assert not (repo / "hello.txt").exists()
    assert [r.status for r in anthropic_stub.model_requests()] == [429]  # no retries

    session_id = str(result["session_id"])
    (transcript,) = cfg_a.glob(f"projects/*/{session_id}.jsonl")
    target = cfg_b / "projects" / transcript.parent.name
    target.mkdir(parents=True)
    shutil.copy2(transcript, target / transcript.name)
    failover = run(claude_argv(claude, "Continue", resume=session_id), repo, env_b)

    assert failover.returncode == 0, failover.stderr
    assert failover.of_type("result")[-1]["session_id"] == session_id
    assert (repo / "hello.txt").exists()
    assert json.loads((repo / SIGNAL).read_text())["status"] == "done"


def test_claude_asks_through_the_signal_then_finishes_on_resume(
    claude: str, anthropic_stub: AnthropicStub, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    anthropic_stub.script = ask_then_done_script()
    env = claude_env(anthropic_stub.base_url, tmp_path / "cfg", tmp_path / "home", api_key="A")

    asked = run(claude_argv(claude, "Pick a colour"), repo, env)

    assert asked.returncode == 0, asked.stderr
    signal = json.loads((repo / SIGNAL).read_text())
    assert signal["status"] == "questions" and signal["questions"][0]["id"] == "q1"
    session_id = str(asked.of_type("result")[-1]["session_id"])

    answered = run(claude_argv(claude, "q1: blue", resume=session_id), repo, env)

    assert answered.returncode == 0, answered.stderr
    assert (repo / "colour.txt").read_text() == "blue\n"
    assert "q1: blue" in "\n".join(message_texts(anthropic_stub.model_requests()[-1].body))
