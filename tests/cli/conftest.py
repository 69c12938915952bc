"""Drive the real ``cw`` entry point in a subprocess, in a fresh workspace per test.

On the PostgreSQL backend the workspace's commands reach the test database through
``CW_DATABASE_URL``; on SQLite they use the workspace's own ``.cw/cw.db``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CW = [sys.executable, "-m", "codewalkers"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


class Cw:
    """``cw(...)`` runs the command in the workspace and returns its exit code and output."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    @property
    def database_url(self) -> str:
        """The database the workspace's commands use (SQLite file or PostgreSQL)."""
        return self.env.get("CW_DATABASE_URL") or f"sqlite:///{self.root / '.cw' / 'cw.db'}"

    def __call__(
        self, *args: str, cwd: Path | None = None, input: str | None = None, timeout: float = 60
    ) -> Result:
        done = subprocess.run(
            [*CW, *args],
            cwd=cwd or self.root,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``--json``, assert exit 0, return the parsed JSON."""
        result = self(*args, "--json", **kwargs)
        assert result.code == 0, f"cw {' '.join(args)} failed: {result.stderr}"
        return result.json

    def fails(self, *args: str, code: int = 1) -> Result:
        """Run, assert the exit code (1 by default) and one clean line on stderr."""
        result = self(*args)
        assert result.code == code, (result.code, result.stdout, result.stderr)
        if code == 1:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
            assert "Traceback" not in result.stderr
        return result


@pytest.fixture
def cw(backend: str, database_url: str, tmp_path: Path) -> Cw:
    """A fresh workspace (``cw init`` done) on the backend under test."""
    root = tmp_path / "workspace"
    root.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    env["COLUMNS"] = "200"
    if backend == "postgresql":
        env["CW_DATABASE_URL"] = database_url
    runner = Cw(root, env)
    runner.ok("init")
    return runner
