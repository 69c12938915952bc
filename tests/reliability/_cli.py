"""Drive ``cw`` in this process: ``run(argv)`` → (exit code, stdout, stderr)."""

from __future__ import annotations

import contextlib
import io
import sys

from codewalkers.cli import _common

# Not `from codewalkers.cli import app`: the package exports the Typer app by that name.
cli_app = sys.modules["codewalkers.cli.app"]


def run(*argv: str) -> tuple[int, str, str]:
    """``cw argv`` in-process; ``cli._common.settings`` (module-global) is reset first."""
    out, err = io.StringIO(), io.StringIO()
    _reset_settings()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli_app.main(list(argv))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    _reset_settings()
    return code, out.getvalue(), err.getvalue()


def _reset_settings() -> None:
    # In place: commands hold a reference to the one settings object.
    fresh = _common.Settings()
    _common.settings.database_url = fresh.database_url
    _common.settings.json = fresh.json
