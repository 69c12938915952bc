"""Where the agent runtime keeps things on disk, in one place (the workdir contract of
``docs/agents.md``).

::

    <root>/agent-workdirs/<agent>/          the agent's cwd ([agents] workdirs in .cwrc)
        <project>/                          a git worktree per project
        .cw/input/  .cw/output/signal.json
    <root>/.cw/repos/<project>.git          the workspace's bare clone of each project
    <root>/.cw/setup/<project>/             files copied into every new worktree
    <root>/.cw/integration/<project>/       the worktree merges happen in (detached HEAD)
    <root>/.cw/agent-logs/<agent>/          the agent's raw output, one file per session
    <root>/.cw/accounts/<account-id>/       per-account provider config (0700)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codewalkers.workspace import Workspace

DEFAULT_WORKDIRS = "agent-workdirs"


@dataclass(frozen=True, slots=True)
class RuntimePaths:
    """The directories of one workspace's agents, projects and accounts."""

    root: Path
    state_dir: Path
    workdirs_dir: Path

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> RuntimePaths:
        return cls.from_settings(workspace.root, workspace.state_dir, workspace.settings)

    @classmethod
    def from_settings(cls, root: Path, state_dir: Path, settings: dict[str, Any]) -> RuntimePaths:
        configured = settings.get("agents", {}).get("workdirs")
        workdirs = Path(str(configured)) if configured else Path(DEFAULT_WORKDIRS)
        return cls(root=root, state_dir=state_dir, workdirs_dir=root / workdirs)

    @property
    def repos_dir(self) -> Path:
        return self.state_dir / "repos"

    def repo_path(self, project_name: str) -> Path:
        """The workspace's bare clone of the project."""
        return self.repos_dir / f"{project_name}.git"

    def integration_worktree(self, project_name: str) -> Path:
        """The project's integration worktree: merges happen there, never in an agent's."""
        return self.state_dir / "integration" / project_name

    def setup_dir(self, project_name: str) -> Path:
        """Files copied into every new worktree of the project (``.env`` and the like)."""
        return self.state_dir / "setup" / project_name

    def workdir(self, agent_name: str) -> Path:
        return self.workdirs_dir / agent_name

    def logs_dir(self, agent_name: str) -> Path:
        return self.state_dir / "agent-logs" / agent_name

    def output_file(self, agent_name: str, session_number: int) -> Path:
        """The file the agent's stdout and stderr go to for one session."""
        return self.logs_dir(agent_name) / f"output-{session_number}.jsonl"

    def accounts_dir(self, account_id: str) -> Path:
        """The per-account provider config directory (``CLAUDE_CONFIG_DIR`` etc.)."""
        return self.state_dir / "accounts" / account_id
