"""Architect modes and proposals: real agents (the shipped fake) in real worktrees of a real
bare remote, an empty global git config (as in tests/agents)."""

from tests.agents.conftest import isolated_git_config

__all__ = ["isolated_git_config"]
