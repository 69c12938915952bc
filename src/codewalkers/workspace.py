"""A Codewalkers workspace: a directory with a ``.cwrc`` file and a ``.cw/`` state directory.

Commands find the workspace by walking up from the current directory to ``.cwrc``, as git
does with ``.git``. The database defaults to ``.cw/cw.db`` (SQLite) in the workspace;
``CW_DATABASE_URL`` or ``--database-url`` (or ``database.url`` in ``.cwrc``) points elsewhere.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_NAME = ".cwrc"
STATE_DIR = ".cw"
DATABASE_NAME = "cw.db"

DEFAULT_CONFIG = """\
# Codewalkers workspace settings (TOML). Created by `cw init`.

[database]
# Where the database is. Default: SQLite in .cw/cw.db. For a team, PostgreSQL:
# url = "postgresql://user:password@host:5432/codewalkers"
# CW_DATABASE_URL and `cw --database-url` override this.

[server]
port = 3847
"""


class WorkspaceError(Exception):
    """The workspace is missing or its settings are unusable."""


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path
    settings: dict[str, Any]

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def database_url(self, override: str | None = None) -> str:
        """The database URL: ``override``, then ``CW_DATABASE_URL``, then settings, then the
        workspace's own SQLite file.
        """
        url = override or os.environ.get("CW_DATABASE_URL")
        if url:
            return url
        configured = self.settings.get("database", {}).get("url")
        if configured:
            return str(configured)
        return f"sqlite:///{self.state_dir / DATABASE_NAME}"


def read_settings(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise WorkspaceError(f"cannot read {path}: {exc}") from exc


def find_workspace(start: Path | None = None) -> Workspace:
    """The workspace containing ``start`` (default: the current directory).

    Raises :class:`WorkspaceError` when no ``.cwrc`` is found up to the filesystem root.
    """
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        config = directory / CONFIG_NAME
        if config.is_file():
            return Workspace(directory, read_settings(config))
    raise WorkspaceError(
        f"not inside a Codewalkers workspace (no {CONFIG_NAME} in {here} or any parent); "
        "run `cw init` in your project directory first"
    )


def init_workspace(root: Path) -> tuple[Workspace, bool]:
    """Create ``.cwrc`` and ``.cw/`` in ``root`` if missing; return the workspace and whether
    anything was created. Running it again changes nothing.
    """
    root = root.resolve()
    config = root / CONFIG_NAME
    created = False
    if not config.exists():
        config.write_text(DEFAULT_CONFIG, encoding="utf-8")
        created = True
    state = root / STATE_DIR
    if not state.exists():
        state.mkdir(mode=0o700)
        (state / ".gitignore").write_text("*\n", encoding="utf-8")
        created = True
    return Workspace(root, read_settings(config)), created
