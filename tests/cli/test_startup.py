"""``cw`` start-up: a plain read imports neither Alembic nor the server (FastAPI, uvicorn,
httpx), and ``cw id`` not even the database layer. Import checks (``sys.modules`` after the
command ran, in a fresh process), not timings: ``bench/cli.py`` times them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Annotated

import pytest
import typer

from codewalkers.cli.commands import GROUPS, register_module

from .conftest import Cw

HEAVY = (
    "alembic",
    "fastapi",
    "uvicorn",
    "httpx",
    "starlette",
    "codewalkers.server",
    "rich",
    "pydantic",  # Typer's coercion of parameters: cli/_params.py spares it for plain values
    "cryptography",  # only to encrypt or decrypt an account's secrets (db/secrets.py)
)

# Runs the real entry point, then reports which of the modules above it had imported.
PROBE = """
import json, sys
from codewalkers.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
print("PROBE " + json.dumps({{"code": code, "loaded": loaded}}))
"""


def imported(cw: Cw, *argv: str) -> list[str]:
    """The heavy modules ``cw argv`` imported; fails unless the command succeeded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
        cwd=cw.root,
        env=cw.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stderr
    report = json.loads(lines[-1].removeprefix("PROBE "))
    assert report["code"] in (0, None), done.stderr
    loaded: list[str] = report["loaded"]
    return loaded


@pytest.fixture
def plan(cw: Cw) -> dict[str, str]:
    initiative = cw.ok("initiative", "create", "Startup")["id"]
    phase = cw.ok("phase", "create", "One", "--initiative", initiative)["id"]
    task = cw.ok("task", "create", "Do it", "--phase", phase)["id"]
    return {"initiative": initiative, "phase": phase, "task": task}


def test_plain_reads_import_neither_alembic_nor_the_server(cw: Cw, plan: dict[str, str]) -> None:
    reads = [
        ("task", "list", "--phase", plan["phase"], "--json"),
        ("task", "ready", "--initiative", plan["initiative"], "--json"),
        ("initiative", "tree", plan["initiative"], "--json"),
        ("task", "get", plan["task"], "--json"),
    ]
    for argv in reads:
        assert imported(cw, *argv) == [], argv
    # Human output loads Rich for its table, and still neither Alembic nor the server.
    assert imported(cw, "task", "list", "--phase", plan["phase"]) == ["rich"]
    # A write is no different.
    assert imported(cw, "task", "status", plan["task"], "in_progress", "--json") == []


def test_cw_id_does_not_load_the_database_layer(cw: Cw) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom codewalkers.cli import main\ntry:\n    main(['id'])\n"
            "except SystemExit:\n    pass\nprint('sqlalchemy' in sys.modules)",
        ],
        cwd=cw.root,
        env=cw.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    id_line, loaded = done.stdout.split()
    assert len(id_line) == 21
    assert loaded == "False"


def test_the_revision_graph_read_from_the_scripts_is_alembics() -> None:
    """``head_revision`` reads the scripts' text instead of importing Alembic: it must agree
    with Alembic's own reading of the same scripts."""
    from alembic.script import ScriptDirectory

    from codewalkers.db.engine import alembic_config, head_revision, revision_graph

    script = ScriptDirectory.from_config(alembic_config())
    assert revision_graph() == {rev.revision: rev.down_revision for rev in script.walk_revisions()}
    assert [head_revision()] == script.get_heads()


def test_a_database_newer_than_the_code_is_refused_by_a_plain_read(cw: Cw) -> None:
    from codewalkers.db import create_engine, current_revision, head_revision

    engine = create_engine(cw.database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff'")
        failed = cw.fails("task", "list", "--initiative", "x" * 21)
        assert "revision ffff, newer than this Codewalkers knows" in failed.stderr
        with engine.connect() as connection:
            assert current_revision(connection) == "ffff"  # left as it was
    finally:
        with engine.begin() as connection:  # the database is shared with the next tests
            connection.exec_driver_sql(
                f"UPDATE alembic_version SET version_num = '{head_revision()}'"
            )
        engine.dispose()


def test_every_command_module_registers_the_names_the_table_says() -> None:
    """``commands.GROUPS`` picks the module from the command line: it must list exactly the
    top-level names each module registers, or a command would be missing."""
    for module, names in GROUPS.items():
        app = typer.Typer()
        register_module(app, module)
        registered = {info.name for info in app.registered_commands} | {
            info.name for info in app.registered_groups
        }
        assert registered == set(names), module


def test_every_command_module_is_in_the_table() -> None:
    """A command module missing from ``commands.GROUPS`` would never be registered (after a
    merge that adds one, say): every module of the package must be in it, or be registered
    by one that is."""
    import pkgutil

    from codewalkers.cli import commands

    registered_by_others = {"open"}  # server.register adds `cw open`
    modules = {info.name for info in pkgutil.iter_modules(commands.__path__)}
    assert modules - registered_by_others == set(GROUPS)


def test_the_command_name_is_found_after_the_root_options() -> None:
    from codewalkers.cli.app import command_name

    assert command_name(["task", "list"]) == "task"
    assert command_name(["--json", "--database-url", "sqlite:///x", "task"]) == "task"
    assert command_name(["--database-url=sqlite:///x", "listen"]) == "listen"
    assert command_name(["--help"]) is None
    assert command_name(["--version"]) is None
    assert command_name([]) is None


def test_plain_parameter_values_are_what_typers_coercion_gives() -> None:
    """``cli/_params.py`` takes plain values without Typer's pydantic coercion: for every
    value it takes, the result must be Typer's own (value and type); anything it does not
    take (bad input included) goes to Typer, whose error messages stay."""
    import typer.main

    from codewalkers.cli import _params

    app = typer.Typer()

    @app.command()
    def command(
        name: Annotated[str, typer.Option()] = "x",
        count: Annotated[int, typer.Option(min=1, max=10)] = 1,
        timeout: Annotated[float, typer.Option(min=0)] = 300.0,
        ratio: Annotated[float, typer.Option(max=1, clamp=True)] = 0.5,
        many: Annotated[list[str] | None, typer.Option()] = None,
    ) -> None:
        pass

    click_command = typer.main.get_command(app)
    ctx = click_command.make_context("command", [])
    values: list[object] = ["abc", "3", "+3", "-2", "0", "10", "11", "1.5", ".5", "1e3", " 4"]
    values += ["", "٣", 3, 3.0, 0.0, -1, 12, True]
    taken = 0
    for param in click_command.params:
        for value in values:
            plain = _params._plain(param, value)
            if plain is _params._MISSING:
                continue
            taken += 1
            expected = _params._typer_process_value(param, ctx, value)  # must not raise
            assert (plain, type(plain)) == (expected, type(expected)), (param.name, value)
        # No value: the same as Typer's, without its coercion.
        assert _params._process_value(param, ctx, None) == _params._typer_process_value(
            param, ctx, None
        )
    assert taken >= 20


_SUBCOMMANDS = """
import importlib, json, sys
import typer
cli = importlib.import_module("codewalkers.cli.app")
name = sys.argv[1]
cli._register(name if name != "*" else None)
out = {}
for group in cli.app.registered_groups:
    click = typer.main.get_command(group.typer_instance)
    out[group.name] = sorted(click.commands)
print(json.dumps(out))
"""


def test_a_group_loaded_alone_has_every_command_it_has_when_all_are_loaded() -> None:
    """`cw phase approve` lives in execution.py: loading only `phase.py` for `cw phase ...`
    lost it once (commands.EXTENDED_BY). Each group is loaded alone in a fresh interpreter,
    as `cw GROUP ...` does, and must offer what the full help offers."""

    def subcommands(name: str) -> dict[str, list[str]]:
        done = subprocess.run(
            [sys.executable, "-c", _SUBCOMMANDS, name], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    everything = subcommands("*")
    assert "approve" in everything["phase"] and "execute" in everything["initiative"]
    for names in GROUPS.values():
        for name in names:
            if name in everything:
                assert subcommands(name)[name] == everything[name], name
