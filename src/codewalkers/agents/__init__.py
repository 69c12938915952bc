"""The agent runtime: coding-agent CLIs run in their own git worktrees, supervised from spawn
to signal.

It stands beside :mod:`codewalkers.db` and below the services: it may use the database and
the workspace, never the services, the CLI or the server. See ``docs/agents.md``.
"""
