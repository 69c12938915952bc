"""A team on one database: one key, remembered by its fingerprint; another key is refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.cli.conftest import Cw


def teammate(cw: Cw, tmp_path: Path) -> Cw:
    """A second workspace on the same database (as a second machine would be)."""
    root = tmp_path / "teammate"
    root.mkdir()
    env = dict(cw.env)
    env["CW_DATABASE_URL"] = cw.database_url
    return Cw(root, env)


def test_a_second_workspace_on_a_keyed_database_gets_no_key_of_its_own(
    cw: Cw, tmp_path: Path
) -> None:
    cw.ok("account", "add", "a@example.com", "--credentials-file", str(cw.root / ".cwrc"))
    mine = cw.ok("secret", "fingerprint")
    other = teammate(cw, tmp_path)
    init = other.ok("init")
    assert init["needs_team_key"] is True
    assert init["key_fingerprint"] == mine["fingerprint"]
    assert not (other.root / ".cw" / "secret.key").exists()
    # Without the key: the account is listed as unreadable, nothing fails.
    listed = other.ok("account", "list")
    assert [(a["email"], a["readable"]) for a in listed] == [("a@example.com", False)]


def test_export_then_import_shares_the_key(cw: Cw, tmp_path: Path) -> None:
    cw.ok("account", "add", "a@example.com", "--credentials-file", str(cw.root / ".cwrc"))
    other = teammate(cw, tmp_path)
    other.ok("init")
    exported = tmp_path / "team.key"
    result = cw("secret", "export", str(exported))
    assert result.code == 0, result.stderr
    assert "warning" in result.stderr
    assert stat.S_IMODE(os.stat(exported).st_mode) == 0o600
    assert cw.fails("secret", "export", str(exported)).stderr.startswith("error: ")
    imported = other.ok("secret", "import", str(exported))
    assert imported["fingerprint"] == cw.ok("secret", "fingerprint")["fingerprint"]
    listed = other.ok("account", "list")
    assert [a["readable"] for a in listed] == [True]
    other.ok("account", "add", "b@example.com", "--credentials-file", str(cw.root / ".cwrc"))
    assert [a["readable"] for a in cw.ok("account", "list")] == [True, True]


def test_another_key_is_refused_naming_both_fingerprints(cw: Cw, tmp_path: Path) -> None:
    cw.ok("account", "add", "a@example.com", "--credentials-file", str(cw.root / ".cwrc"))
    team = cw.ok("secret", "fingerprint")["fingerprint"]
    other = teammate(cw, tmp_path)
    other.ok("init")
    from codewalkers.db import generate_key
    from codewalkers.db.secrets import fingerprint

    wrong = generate_key()
    other.env["CW_SECRET_KEY"] = wrong
    result = other.fails("account", "list")
    assert team in result.stderr and fingerprint(wrong) in result.stderr
    assert "cw secret import" in result.stderr
    result = other.fails("account", "add", "b@example.com")
    assert [a["email"] for a in cw.ok("account", "list")] == ["a@example.com"]
    bad = tmp_path / "wrong.key"
    bad.write_text(wrong + "\n")
    del other.env["CW_SECRET_KEY"]
    assert "team" in other.fails("secret", "import", str(bad)).stderr
