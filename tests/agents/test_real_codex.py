"""The real Codex CLI (0.171.0), run offline against the Responses API stub, in a real git repo.

Every run is the command line our built-in ``codex`` provider builds (only its executable
pointed at the installed CLI), and every line of its output is read by our ``codex`` dialect:
this proves the provider data (flags, ``exec resume``, ``CODEX_HOME``, the key variable) and
the parser on the real program. The stdout of each run is kept in ``transcripts/``.
Outside CI a missing CLI skips with the reason, in CI it fails.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
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
from tests.agents.realcli import Run, codex, codex_env, make_repo, openai_stub, run, save_transcript
from tests.agents.stubs.base import Script, text, tool
from tests.agents.stubs.openai import OpenAIStub, input_texts

__all__ = ["codex", "openai_stub"]  # fixtures, imported for pytest

pytestmark = pytest.mark.slow

COMMIT = "git add -A && git commit -qm"


def provider(codex: str) -> Provider:
    return load_providers({"providers": {"codex": {"command": [codex, "exec"]}}})["codex"]


def script() -> Script:
    """Session 1: write hello.txt and commit it, then say done; a resume: again.txt."""
    return Script.of(
        [
            text("I will add hello.txt."),
            tool("exec_command", cmd=f"printf 'hello\\n' > hello.txt && {COMMIT} 'Add hello.txt'"),
        ],
        [text("Done: hello.txt added and committed.")],
        [tool("exec_command", cmd=f"printf 'again\\n' > again.txt && {COMMIT} 'Add again.txt'")],
        [text("Done: again.txt added.")],
    )


def run_codex(
    codex_provider: Provider,
    prompt: str,
    repo: Path,
    env: dict[str, str],
    codex_home: Path,
    key: str,
    session_id: str | None = None,
) -> tuple[Run, list[OutputEvent]]:
    invocation = codex_provider.command_line(
        prompt, session_id=session_id, config_dir=codex_home, api_key=key
    )
    assert invocation.stdin is None  # Codex waits on an open stdin: run() gives it /dev/null
    done = run(invocation.argv, repo, {**env, **invocation.env})
    parsed = [e for line in done.stdout.splitlines() for e in codex_provider.parse_line(line)]
    return done, parsed


def git_log(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_codex_edits_commits_and_resumes_the_same_thread(
    codex: str, openai_stub: OpenAIStub, tmp_path: Path
) -> None:
    codex_provider = provider(codex)
    openai_stub.script = script()
    repo = make_repo(tmp_path / "repo")
    home_a = tmp_path / "codex-A"
    env = codex_env(openai_stub.base_url, home_a, tmp_path / "home")

    first, events = run_codex(codex_provider, "Make hello.txt", repo, env, home_a, "key-A")

    assert first.returncode == 0, first.stderr
    save_transcript("codex-edit-commit-done", first.stdout)
    assert (repo / "hello.txt").read_text() == "hello\n"
    assert git_log(repo)[0] == "Add hello.txt"
    # Our parser on the real output: the thread id, the command, the texts, the usage.
    thread_id = first.of_type("thread.started")[0]["thread_id"]
    assert [e for e in events if isinstance(e, SessionStarted)] == [SessionStarted(thread_id)]
    (command,) = [e for e in events if isinstance(e, ToolUse)]
    assert command.name == "command_execution" and "hello.txt" in command.summary
    texts = [e.text for e in events if isinstance(e, AssistantText)]
    assert texts == ["I will add hello.txt.", "Done: hello.txt added and committed."]
    (result,) = [e for e in events if isinstance(e, Result)]
    assert result.is_error is False and result.usage["output_tokens"] > 0
    assert not [e for e in events if isinstance(e, UsageLimit)]
    # The key reached the stub through CODEX_API_KEY; the session is in CODEX_HOME.
    assert {r.key for r in openai_stub.model_requests()} == {"key-A"}
    assert list(home_a.glob(f"sessions/**/*{thread_id}*.jsonl"))

    before = len(openai_stub.model_requests())
    again, resumed = run_codex(
        codex_provider, "Add again.txt", repo, env, home_a, "key-A", session_id=thread_id
    )

    assert again.returncode == 0, again.stderr
    save_transcript("codex-resume", again.stdout)
    assert [e for e in resumed if isinstance(e, SessionStarted)] == [SessionStarted(thread_id)]
    assert git_log(repo)[:2] == ["Add again.txt", "Add hello.txt"]
    request = openai_stub.model_requests()[before]
    assert request.headers["thread-id"] == thread_id
    history = "\n".join(input_texts(request.body))
    assert "Make hello.txt" in history and "Add again.txt" in history
    assert "Add hello.txt" in history  # the earlier command went back to the model


def test_codex_usage_limit_then_account_b_resumes_the_carried_thread(
    codex: str, openai_stub: OpenAIStub, tmp_path: Path
) -> None:
    codex_provider = provider(codex)
    openai_stub.script = script()
    openai_stub.set_mode("usage_limit", key="key-A")
    repo = make_repo(tmp_path / "repo")
    home_a, home_b = tmp_path / "codex-A", tmp_path / "codex-B"
    env = codex_env(openai_stub.base_url, home_a, tmp_path / "home")
    codex_env(openai_stub.base_url, home_b, tmp_path / "home")

    limited, events = run_codex(codex_provider, "Make hello.txt", repo, env, home_a, "key-A")

    assert limited.returncode == 1
    save_transcript("codex-usage-limit", limited.stdout)
    assert [r.status for r in openai_stub.model_requests()] == [429]  # no retries
    failed = limited.of_type("turn.failed")[-1]
    assert "hit your usage limit" in failed["error"]["message"]  # type: ignore[index]
    limits = [e for e in events if isinstance(e, UsageLimit)]
    assert limits, "our parser sees the usage limit"
    # "try again at 3:00 PM", in local time: read back to the reset the server announced.
    assert limits[0].resets_at == datetime.fromtimestamp(openai_stub.resets_at, UTC)
    assert isinstance(events[-1], Result) and events[-1].is_error
    assert not (repo / "hello.txt").exists()
    thread_id = limited.of_type("thread.started")[0]["thread_id"]

    refused, _ = run_codex(
        codex_provider, "Continue", repo, env, home_b, "key-B", session_id=thread_id
    )
    assert refused.returncode != 0
    assert "no rollout found" in refused.stderr + refused.stdout

    copied = accountdir.carry_session(home_a, home_b, SESSION_FILES["codex"], str(thread_id))
    assert copied and all(home_b in path.parents for path in copied)
    moved, resumed = run_codex(
        codex_provider, "Continue", repo, env, home_b, "key-B", session_id=thread_id
    )

    assert moved.returncode == 0, moved.stderr
    assert [e for e in resumed if isinstance(e, SessionStarted)] == [SessionStarted(thread_id)]
    assert (repo / "hello.txt").read_text() == "hello\n"
    assert openai_stub.model_requests()[-1].key == "key-B"
    assert "Make hello.txt" in "\n".join(input_texts(openai_stub.model_requests()[-1].body))
