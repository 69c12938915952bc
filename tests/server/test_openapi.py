"""The OpenAPI document is accurate: schemathesis generates requests for every operation
(valid and invalid ones) and finds no server error and no response that breaks the schema.

It drives the app in-process (ASGI) over a SQLite database, with the token and an allowed
``Host``; the endpoints themselves are the same on PostgreSQL, which the process tests
cover. ``GET /events`` is left out: an endless stream has no response to validate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewalkers.db import generate_key, open_database
from codewalkers.server import create_app
from codewalkers.services.execution import Executor
from codewalkers.services.runtime import AgentRuntime
from codewalkers.workspace import Workspace

TOKEN = "schemathesis-token"
HOSTS = ["testserver", "localhost", "127.0.0.1"]
EXAMPLES = 20
# Valid requests, and requests that break the schema (bad enums, wrong types, missing keys).
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


def _app(tmp: Path) -> Any:
    db = open_database(f"sqlite:///{tmp / 'cw.db'}", secret_key=generate_key())
    (tmp / ".cw").mkdir()
    # A runtime with no provider: every spawn is a 422 (no process is ever started here).
    runtime = AgentRuntime(db, Workspace(tmp, {}), providers={})
    executor = Executor(db, runtime)  # never ticked here: no round runs
    app = create_app(db, token=TOKEN, allowed_hosts=HOSTS, runtime=runtime, executor=executor)
    # Some rows to find, so generated ids sometimes hit (most are unknown: 404 paths).
    from codewalkers.services import plan

    initiative = plan.create_initiative(db, "Seed")
    phase = plan.create_phase(db, initiative.id, "Design")
    db.tasks.create(name="Seed task", phase_id=phase.id)
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    application = _app(tmp_path_factory.mktemp("openapi"))
    yield application
    application.state.db.close()


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


def test_the_api_matches_its_openapi_document(app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=_auth())
    failures: list[str] = []
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/events" and operation.method.upper() == "GET":
            continue
        count += 1
        strategies = [operation.as_strategy(generation_mode=mode) for mode in MODES]

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=_auth(), checks=CHECKS)

        try:
            run()
        except Exception as exc:  # one line per operation that failed, then all of them
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert count > 50
    assert not failures, "\n\n".join(failures)
