"""`cw provider list | show`: the merged provider data, read from `.cwrc`. No database is
involved, so these run once (not per backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cw(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    return subprocess.run(
        [sys.executable, "-m", "codewalkers", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tool = tmp_path / "bin" / "mybot"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / ".cwrc").write_text(
        "[providers.claude]\n"
        'command = "/nowhere/claude"\n'
        "[providers.mybot]\n"
        f'command = "{tool}"\n'
        'dialect = "claude"\n'
    )
    return tmp_path


def test_list_shows_builtins_and_cwrc_providers_and_whether_found(root: Path) -> None:
    done = cw(root, "provider", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(rows) == {"claude", "codex", "gemini", "opencode", "mybot"}
    assert rows["claude"]["executable"] == "/nowhere/claude" and rows["claude"]["found"] is False
    assert rows["mybot"]["found"] is True and rows["mybot"]["dialect"] == "claude"
    human = cw(root, "provider", "list")
    assert human.returncode == 0 and "mybot" in human.stdout and "not found" in human.stdout


def test_show_prints_the_merged_data(root: Path) -> None:
    done = cw(root, "provider", "show", "mybot", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["resume_args"] == ["--resume", "{session_id}"]
    assert data["config_dir_env"] == "CLAUDE_CONFIG_DIR"
    assert data["path"] == str(root / "bin" / "mybot")


def test_unknown_provider_and_bad_cwrc_are_one_line_errors(root: Path) -> None:
    done = cw(root, "provider", "show", "nope")
    assert done.returncode == 1
    assert done.stderr.startswith("error: unknown provider 'nope'")
    assert len(done.stderr.strip().splitlines()) == 1
    (root / ".cwrc").write_text('[providers.mybot]\ncommand = "x"\ndialekt = "claude"\n')
    done = cw(root, "provider", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("error: .cwrc: providers.mybot.dialekt: unknown key")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
