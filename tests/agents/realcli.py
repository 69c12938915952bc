"""Helpers and fixtures to run the real provider CLIs offline against the stubs in ``stubs/``.

The CLIs come from ``scripts/install-agent-clis.sh`` (a cache dir, ``$CW_AGENT_CLIS_DIR``) or
PATH. A missing CLI skips the test with the reason outside CI and fails it in CI (``CI=true``).

Reusable by the pipeline tests: :func:`claude_env` gives the environment of one "account"
(its own ``CLAUDE_CONFIG_DIR``) and the ``*_script`` functions the stub scripts of the
scenarios "edit, commit, signal done", "ask then done" and "usage limit on account A".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.stubs.anthropic import AnthropicStub
from tests.agents.stubs.base import Script, text, tool
from tests.agents.stubs.gemini import GeminiStub, gemini_settings
from tests.agents.stubs.openai import OpenAIStub, codex_config

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TRANSCRIPTS = Path(__file__).parent / "transcripts"


def cli_dir() -> Path:
    """Where ``scripts/install-agent-clis.sh`` installs by default."""
    if os.environ.get("CW_AGENT_CLIS_DIR"):
        return Path(os.environ["CW_AGENT_CLIS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "codewalkers" / "agent-clis"


def find_cli(name: str) -> str:
    """The path of CLI ``name``; skips (outside CI) or fails (in CI) when it is missing."""
    candidate = cli_dir() / "node_modules" / ".bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    reason = (
        f"the real `{name}` CLI is not installed (npm unreachable?): "
        "run scripts/install-agent-clis.sh"
    )
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Stub Agent",
    "GIT_AUTHOR_EMAIL": "agent@localhost",
    "GIT_COMMITTER_NAME": "Stub Agent",
    "GIT_COMMITTER_EMAIL": "agent@localhost",
}


def make_repo(path: Path) -> Path:
    """A real git repository with one commit."""
    path.mkdir(parents=True)
    env = {**os.environ, **GIT_IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    (path / "README.md").write_text("# project\n")
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "initial"], check=True, env=env)
    return path


def claude_env(
    base_url: str, config_dir: Path, home: Path, *, api_key: str, oauth: bool = False
) -> dict[str, str]:
    """The environment of one Claude "account": its own config dir, HOME isolated, offline.

    ``oauth=True`` passes the key as ``CLAUDE_CODE_OAUTH_TOKEN`` (the subscriber path, the
    one that prints "You've hit your session limit"); else as ``ANTHROPIC_API_KEY``.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TZ": "UTC",
        "LANG": "C.UTF-8",
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": base_url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # never the 3-minute retry loop
        "CLAUDE_CODE_MAX_RETRIES": "0",
        # --dangerously-skip-permissions is refused as root without it
        "IS_SANDBOX": "1",
        **GIT_IDENTITY,
    }
    env["CLAUDE_CODE_OAUTH_TOKEN" if oauth else "ANTHROPIC_API_KEY"] = api_key
    return env


def codex_env(base_url: str, codex_home: Path, home: Path) -> dict[str, str]:
    """The environment of one Codex "account": its own ``CODEX_HOME`` whose ``config.toml``
    points at the stub (the key goes in ``CODEX_API_KEY``, as the provider data puts it)."""
    codex_home.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base_url, env_key="CODEX_API_KEY"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **GIT_IDENTITY,
    }
    if os.environ.get("TZ"):  # Codex prints reset times in local time: read them alike
        env["TZ"] = os.environ["TZ"]
    return env


def gemini_env(base_url: str, cli_home: Path, home: Path) -> dict[str, str]:
    """The environment of one Gemini "account": its own ``GEMINI_CLI_HOME`` with the
    settings that select API-key auth (the key goes in ``GEMINI_API_KEY``)."""
    (cli_home / ".gemini").mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    (cli_home / ".gemini" / "settings.json").write_text(json.dumps(gemini_settings()))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GOOGLE_GEMINI_BASE_URL": base_url,
        **GIT_IDENTITY,
    }


def claude_argv(claude: str, prompt: str, *, resume: str | None = None) -> list[str]:
    argv = [claude, "-p", prompt, "--output-format", "stream-json", "--verbose"]
    argv += ["--dangerously-skip-permissions"]
    if resume:
        argv += ["--resume", resume]
    return argv


SIGNAL = ".cw/output/signal.json"


def edit_commit_done_script() -> Script:
    """Write a file, commit it with Bash, write the done signal with Write, final text."""
    return Script.of(
        [
            text("I will write the file."),
            tool("Write", file_path="{cwd}/hello.txt", content="hello from the stub model\n"),
        ],
        [tool("Bash", command="git add -A && git commit -qm 'Add hello.txt'", description="c")],
        [
            tool(
                "Write",
                file_path="{cwd}/" + SIGNAL,
                content=json.dumps({"status": "done", "result": "Wrote and committed hello.txt."}),
            )
        ],
        [text("Done: I created hello.txt and committed it.")],
        final="Resumed: nothing more to do.",
    )


def ask_then_done_script() -> Script:
    """Ask a question through the signal file; on resume (with the answer) signal done."""
    return Script.of(
        [
            tool(
                "Write",
                file_path="{cwd}/" + SIGNAL,
                content=json.dumps(
                    {"status": "questions", "questions": [{"id": "q1", "question": "Colour?"}]}
                ),
            )
        ],
        [text("I asked which colour.")],
        [tool("Write", file_path="{cwd}/colour.txt", content="blue\n")],
        [
            tool(
                "Write",
                file_path="{cwd}/.cw/output/signal-done.json",
                content=json.dumps({"status": "done", "result": "Wrote colour.txt."}),
            )
        ],
        [text("Done: wrote colour.txt.")],
    )


def usage_limit_on_account_a(stub: AnthropicStub, key_a: str) -> Script:
    """Account ``key_a`` is at its subscription limit; any other key gets the edit script."""
    stub.set_mode("usage_limit", key=key_a)
    return edit_commit_done_script()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def of_type(self, kind: str) -> list[dict[str, object]]:
        return [e for e in self.events if e.get("type") == kind]


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> Run:
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def save_transcript(name: str, stdout: str) -> None:
    """Keep one real stdout as a fact for the dialect parsers' tests (``test_transcripts``),
    when ``CW_SAVE_TRANSCRIPTS=1``: refresh them after installing new CLI versions. (Not on
    every run: each run has new ids and paths, and would leave the checkout changed.)"""
    if os.environ.get("CW_SAVE_TRANSCRIPTS", "") not in {"1", "true", "yes"}:
        return
    TRANSCRIPTS.mkdir(exist_ok=True)
    (TRANSCRIPTS / f"{name}.jsonl").write_text(stdout)


@pytest.fixture
def anthropic_stub() -> Iterator[AnthropicStub]:
    """A started Anthropic stub; ``.base_url``, ``.requests``, ``.script``, ``.set_mode``."""
    with AnthropicStub() as stub:
        yield stub


@pytest.fixture
def claude() -> str:
    return find_cli("claude")


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A started OpenAI Responses API stub (for Codex)."""
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
def codex() -> str:
    return find_cli("codex")


@pytest.fixture
def gemini_stub() -> Iterator[GeminiStub]:
    """A started Gemini API stub."""
    with GeminiStub() as stub:
        yield stub


@pytest.fixture
def gemini() -> str:
    return find_cli("gemini")
