"""The real Gemini CLI (0.61.0), run offline against the Gemini API stub, in a real git repo.

Every run is the command line our built-in ``gemini`` provider builds (only its executable
pointed at the installed CLI), and every line of its output is read by our ``gemini``
dialect. The failover test found that Gemini names a session's file by its id's first eight
characters, which the runtime's ``SESSION_FILES`` pattern must match. Gemini CLI starts
slowly (a node bundle): each run takes seconds. Outside CI a missing CLI skips with the
reason, in CI it fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codewalkers.agents import accountdir
from codewalkers.agents.output import (
    AssistantText,
    OutputEvent,
    Result,
    SessionStarted,
    ToolUse,
    UsageLimit,
)
from codewalkers.agents.providers import Provider, load_providers
from codewalkers.services.runtime import SESSION_FILES
from tests.agents.realcli import (
    Run,
    gemini,
    gemini_env,
    gemini_stub,
    make_repo,
    run,
    save_transcript,
)
from tests.agents.stubs.base import Script, text, tool
from tests.agents.stubs.gemini import GeminiStub, content_texts

__all__ = ["gemini", "gemini_stub"]  # fixtures, imported for pytest

pytestmark = pytest.mark.slow


def provider(gemini: str) -> Provider:
    return load_providers({"providers": {"gemini": {"command": [gemini]}}})["gemini"]


def script() -> Script:
    """Session 1: write hello.txt, commit it, say done; a resume: again.txt."""
    return Script.of(
        [
            text("I will add hello.txt."),
            tool("write_file", file_path="{cwd}/hello.txt", content="hello\n"),
        ],
        [
            tool(
                "run_shell_command",
                command="git add -A && git commit -qm 'Add hello.txt'",
                description="commit",
            )
        ],
        [text("Done: hello.txt added and committed.")],
        [
            tool(
                "run_shell_command",
                command="printf 'again\\n' > again.txt && git add -A && git commit -qm 'Add again'",
                description="again",
            )
        ],
        [text("Done: again.txt added.")],
    )


def run_gemini(
    gemini_provider: Provider,
    prompt: str,
    repo: Path,
    env: dict[str, str],
    cli_home: Path,
    key: str,
    session_id: str | None = None,
) -> tuple[Run, list[OutputEvent]]:
    invocation = gemini_provider.command_line(
        prompt, session_id=session_id, config_dir=cli_home, api_key=key
    )
    done = run(invocation.argv, repo, {**env, **invocation.env}, timeout=180)
    parsed = [e for line in done.stdout.splitlines() for e in gemini_provider.parse_line(line)]
    return done, parsed


def git_log(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_gemini_edits_hits_its_daily_quota_and_account_b_resumes_the_carried_session(
    gemini: str, gemini_stub: GeminiStub, tmp_path: Path
) -> None:
    gemini_provider = provider(gemini)
    gemini_stub.script = script()
    repo = make_repo(tmp_path / "repo")
    home_a, home_b = tmp_path / "gemini-A", tmp_path / "gemini-B"
    env = gemini_env(gemini_stub.base_url, home_a, tmp_path / "home")
    gemini_env(gemini_stub.base_url, home_b, tmp_path / "home")

    first, events = run_gemini(gemini_provider, "Make hello.txt", repo, env, home_a, "key-A")

    assert first.returncode == 0, first.stderr
    save_transcript("gemini-edit-commit-done", first.stdout)
    assert (repo / "hello.txt").read_text() == "hello\n"
    assert git_log(repo)[0] == "Add hello.txt"
    session_id = str(first.of_type("init")[0]["session_id"])
    assert [e for e in events if isinstance(e, SessionStarted)] == [SessionStarted(session_id)]
    assert [e.name for e in events if isinstance(e, ToolUse)] == ["write_file", "run_shell_command"]
    texts = [e.text for e in events if isinstance(e, AssistantText)]
    assert texts == ["I will add hello.txt.", "Done: hello.txt added and committed."]
    (result,) = [e for e in events if isinstance(e, Result)]
    assert result.is_error is False and result.usage["output_tokens"] > 0
    assert {r.key for r in gemini_stub.requests} == {"key-A"}
    assert not list((tmp_path / "home").rglob("session-*.jsonl")), "sessions live in the account"

    # Account A's daily quota is gone: the resumed session fails at once.
    gemini_stub.set_mode("usage_limit", key="key-A")
    limited, events = run_gemini(
        gemini_provider, "Add again.txt", repo, env, home_a, "key-A", session_id=session_id
    )

    assert limited.returncode == 173  # process.exit(429), as a byte
    save_transcript("gemini-usage-limit", limited.stdout)
    assert [e for e in events if isinstance(e, SessionStarted)] == [SessionStarted(session_id)]
    limits = [e for e in events if isinstance(e, UsageLimit)]
    assert limits and "exhausted your daily quota" in limits[0].message
    assert isinstance(events[-1], Result) and events[-1].is_error
    assert not (repo / "again.txt").exists()

    # The runtime's SESSION_FILES pattern finds the session's file (named by 8 characters of
    # its id), and account B resumes the same session with its history.
    copied = accountdir.carry_session(home_a, home_b, SESSION_FILES["gemini"], session_id)
    assert [path.name for path in copied] == [
        path.name for path in home_a.glob(".gemini/tmp/*/chats/*.jsonl")
    ]
    moved, resumed = run_gemini(
        gemini_provider, "Add again.txt", repo, env, home_b, "key-B", session_id=session_id
    )

    assert moved.returncode == 0, moved.stderr
    save_transcript("gemini-resume", moved.stdout)
    assert [e for e in resumed if isinstance(e, SessionStarted)] == [SessionStarted(session_id)]
    assert git_log(repo)[:2] == ["Add again", "Add hello.txt"]
    last = gemini_stub.model_requests()[-1]
    assert last.key == "key-B"
    history = "\n".join(content_texts(last.body))
    assert "Make hello.txt" in history and "Add again.txt" in history
