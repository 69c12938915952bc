from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codewalkers.cli._common import CliError
from codewalkers.cli.commands.account import parse_when
from tests.cli.conftest import Cw, Result

SECRET = "sk-ant-SECRET-7f3a9c"
CONFIG_SECRET = "CONFIG-SECRET-41d2"


def test_secrets_never_appear_in_any_output(cw: Cw, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(f'{{"token": "{SECRET}"}}')
    config = tmp_path / "config.json"
    config.write_text(f'{{"key": "{CONFIG_SECRET}"}}')
    files = ["--credentials-file", str(credentials), "--config-file", str(config)]
    outputs: list[Result] = []

    def run(*args: str, code: int = 0) -> Result:
        result = cw(*args)
        assert result.code == code, (args, result.stderr)
        outputs.append(result)
        return result

    human = run("account", "add", "a@example.com", *files)
    assert "added account" in human.stdout and "a@example.com" in human.stdout
    b = run("account", "add", "b@example.com", *files, "--json").json
    assert b["email"] == "b@example.com" and b["provider"] == "claude"
    assert b["has_credentials"] is True and b["has_config"] is True
    assert "credentials" not in b and "config_json" not in b
    run("account", "add", "", *files, code=1)  # an error message must not leak them either
    run("account", "list")
    listed = run("account", "list", "--json").json
    a = listed[0]
    assert [x["email"] for x in listed] == ["a@example.com", "b@example.com"]
    assert all(set(x) >= {"id", "has_credentials", "created_at"} for x in listed)

    # Least recently used: never-used first, oldest first.
    claimed = run("--json", "account", "next", "--provider", "claude").json
    assert claimed["id"] == a["id"] and claimed["last_used_at"].endswith("Z")
    assert b["id"] in run("account", "next").stdout

    exhausted = run("account", "exhaust", a["id"], "--until", "2h", "--json").json
    assert exhausted["is_exhausted"] is True
    until = datetime.fromisoformat(exhausted["exhausted_until"])
    assert timedelta(hours=1.9) < until - datetime.now(UTC) < timedelta(hours=2.1)
    run("account", "exhaust", b["id"], "--until", "2000-01-01T00:00")
    assert run("account", "clear-expired", "--json").json == {"cleared": 1}
    assert "cleared 0" in run("account", "clear-expired").stdout
    none_left = run("account", "next", "--provider", "codex", code=1)
    assert none_left.stderr.startswith("error: no codex account is available")
    lifted = run("account", "available", a["id"], "--json").json  # before its reset
    assert lifted["is_exhausted"] is False and lifted["exhausted_until"] is None

    for result in outputs:
        for secret in (SECRET, CONFIG_SECRET):
            assert secret not in result.stdout and secret not in result.stderr


def test_bad_exhaust_input_is_one_line_and_changes_nothing(cw: Cw) -> None:
    account = cw.ok("account", "add", "a@example.com", "--provider", "codex")
    assert account["provider"] == "codex" and account["has_credentials"] is False
    assert (
        "invalid time 'soon'"
        in cw.fails("account", "exhaust", account["id"], "--until", "soon").stderr
    )
    assert "not found" in cw.fails("account", "exhaust", "nope", "--until", "1h").stderr
    assert "not found" in cw.fails("account", "available", "nope").stderr
    cw.fails("account", "exhaust", account["id"], code=2)  # --until is required
    assert (
        "cannot read credentials file"
        in cw.fails(
            "account", "add", "b@example.com", "--credentials-file", str(cw.root / "missing")
        ).stderr
    )
    [stored] = cw.ok("account", "list")
    assert stored["is_exhausted"] is False and stored["exhausted_until"] is None


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW + timedelta(minutes=30)),
        ("2h", NOW + timedelta(hours=2)),
        ("1d", NOW + timedelta(days=1)),
        ("1h30m", NOW + timedelta(hours=1, minutes=30)),
        ("2026-03-02T08:00", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("2026-03-02T08:00:00+02:00", datetime(2026, 3, 2, 6, 0, tzinfo=UTC)),
        ("2026-03-02T08:00Z", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
    ],
)
def test_until_is_iso_8601_utc_or_a_duration(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "soon", "2h later", "-1h", "1y", "99999999999d"])
def test_a_bad_until_is_a_user_error(text: str) -> None:
    with pytest.raises(CliError):
        parse_when(text, now=NOW)
