"""A Codewalkers workspace: a directory with a ``.cwrc`` file and a ``.cw/`` state directory.

Commands find the workspace by walking up from the current directory to ``.cwrc``, as git
does with ``.git``. The database defaults to ``.cw/cw.db`` (SQLite) in the workspace;
``CW_DATABASE_URL`` or ``--database-url`` (or ``database.url`` in ``.cwrc``) points elsewhere.

Secrets (account credentials) are encrypted with the workspace's key: ``CW_SECRET_KEY`` when
set (servers, and every machine sharing one PostgreSQL database), else ``.cw/secret.key``,
which ``cw init`` creates readable by its owner only (0600, in a 0700 ``.cw/``).
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
SECRET_KEY_NAME = "secret.key"
SECRET_KEY_ENV = "CW_SECRET_KEY"

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
        return f"sqlite:///{self.default_database_path}"

    @property
    def default_database_path(self) -> Path:
        """The workspace's own SQLite file (holds encrypted secrets: created 0600)."""
        return self.state_dir / DATABASE_NAME

    @property
    def secret_key_path(self) -> Path:
        return self.state_dir / SECRET_KEY_NAME

    def secret_key(self) -> str | None:
        """The key that encrypts secrets: ``CW_SECRET_KEY``, then ``.cw/secret.key``, else
        ``None``. Raises :class:`WorkspaceError` when the key file exists but cannot be read.
        """
        return secret_key_from_env() or read_secret_key(self.secret_key_path)


def secret_key_from_env() -> str | None:
    return os.environ.get(SECRET_KEY_ENV, "").strip() or None


def read_secret_key(path: Path) -> str | None:
    """The key stored in ``path``, or ``None`` when there is no such file."""
    try:
        return path.read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"cannot read the secret key {path}: {exc}") from exc


def create_private_file(path: Path, content: str = "") -> bool:
    """Create ``path`` readable and writable by its owner only (0600), unless it exists;
    return whether it did. ``O_EXCL``: the file is never, even briefly, readable by others.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise WorkspaceError(f"cannot create {path}: {exc}") from exc
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        os.fchmod(file.fileno(), 0o600)  # exact, whatever the umask
        file.write(content)
    return True


def create_secret_key(path: Path) -> bool:
    """Write a fresh key to ``path`` (mode 0600) unless one is there; return whether it did.

    The file is created with its final mode (``O_EXCL``, never a moment world-readable), and
    an existing key is never replaced: that would make every stored secret unreadable.
    """
    from codewalkers.db import generate_key

    return create_private_file(path, generate_key() + "\n")


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


def init_workspace(root: Path, *, create_key: bool = True) -> tuple[Workspace, bool]:
    """Create ``.cwrc``, ``.cw/`` (mode 0700) and, unless ``CW_SECRET_KEY`` is set or
    ``create_key`` is false, ``.cw/secret.key`` (mode 0600) in ``root`` if missing; return the
    workspace and whether anything was created. Running it again changes nothing.
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
        state.chmod(0o700)
        (state / ".gitignore").write_text("*\n", encoding="utf-8")
        created = True
    workspace = Workspace(root, read_settings(config))
    # With CW_SECRET_KEY set, a key file would only become a second, different key.
    if (
        create_key
        and secret_key_from_env() is None
        and create_secret_key(workspace.secret_key_path)
    ):
        created = True
    return workspace, created
