"""The README's main command: examples/first-initiative.sh plans an initiative, has the fake
agents execute it through a real coordinator, and lands it on the project's main branch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codewalkers.agents.git import run_git

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "first-initiative.sh"


def test_the_readme_demo_lands_every_task_on_main(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_CONFIG_GLOBAL"] = os.devnull  # a fresh machine: no identity configured
    done = subprocess.run(
        ["sh", str(SCRIPT), "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "merged into the default branch" in done.stdout
    remote = tmp_path / "demo" / "remote.git"
    files = run_git(["ls-tree", "-r", "--name-only", "main"], remote).split()
    assert len([f for f in files if f.startswith("task-")]) == 4
    assert not (tmp_path / "demo" / ".cw" / "server.pid").exists()  # the trap stopped it

    again = subprocess.run(
        ["sh", str(SCRIPT), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert again.returncode == 1 and "workspace already" in again.stderr
