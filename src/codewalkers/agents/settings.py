"""Every wait of the agent runtime, with its bound and its reason, in one object.

Overridden in ``.cwrc``::

    [agents]
    hang_timeout = 900        # seconds without output (and without exiting) = hung
    stop_grace = 10           # SIGTERM to the process group, then SIGKILL after this
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class AgentSettingsError(ValueError):
    """A ``[agents]`` setting in ``.cwrc`` is unknown or has the wrong type."""


@dataclass(frozen=True, slots=True)
class AgentSettings:
    #: Where agent workdirs go, relative to the workspace root.
    workdirs: str = "agent-workdirs"
    #: A process that neither exits nor writes for this long (s) is hung: its signal file is
    #: checked, then it is stopped. Real agents think for minutes without printing.
    hang_timeout: float = 900.0
    #: After SIGTERM to the whole process group, how long (s) before SIGKILL.
    stop_grace: float = 10.0
    #: After an exit without a signal file, look once more after this (s): an agent may have
    #: written the file just as it exited.
    signal_grace: float = 1.0
    #: How often (s) the supervisor looks at output files and processes when nothing happens.
    poll_interval: float = 0.1
    #: How often (s) maintenance runs: expired account exhaustion, agents waiting for one.
    maintenance_interval: float = 1.0
    #: When a usage-limit message says no reset time, the account rests this long (s).
    default_limit_reset: float = 3600.0
    #: Output stored per log chunk at most (characters); longer lines are split.
    max_chunk_chars: int = 256_000
    #: How many times an agent that ended with uncommitted changes is resumed to commit them
    #: before the coordinator commits them itself.
    commit_reminders: int = 1
    #: How many account switches one agent run may make before it is stopped as failing.
    max_failovers: int = 10

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> AgentSettings:
        """The ``[agents]`` table of ``.cwrc`` over the defaults; ``AgentSettingsError``
        names an unknown key or a value of the wrong type.
        """
        table = settings.get("agents", {})
        if not isinstance(table, dict):
            raise AgentSettingsError("agents: must be a table")
        known = {field.name: field for field in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            field = known.get(key)
            if field is None:
                raise AgentSettingsError(f"agents.{key}: unknown setting")
            default = field.default
            if isinstance(default, str):
                ok = isinstance(value, str) and value.strip() != ""
            elif isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int) and not isinstance(default, bool):
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            if not ok:
                raise AgentSettingsError(
                    f"agents.{key}: expected a non-negative {type(default).__name__}, got {value!r}"
                )
            values[key] = float(value) if isinstance(default, float) else value
        return cls(**values)
