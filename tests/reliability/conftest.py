"""Reliability tests: real processes, real files, a real PostgreSQL (see docs/reliability.md).

They run in the normal suite with small counts. ``pytest tests/reliability --long`` (or
``CW_RELIABILITY_LONG=1``, which also works when the option cannot be registered) runs bigger
counts for longer. Each test prints its figures (``-s`` shows them) and appends them as JSON
lines to ``$CW_RELIABILITY_REPORT`` when that is set.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="reliability tests: bigger counts, longer runs",
    )


def is_long(config: pytest.Config) -> bool:
    env = os.environ.get("CW_RELIABILITY_LONG", "").lower() in {"1", "true", "yes"}
    try:
        option = bool(config.getoption("--long"))
    except ValueError:
        option = False
    return env or option


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True when the bigger counts were asked for."""
    return is_long(request.config)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Any:
    """``report(**figures)``: print a test's figures and keep them for docs/reliability.md."""

    def write(**figures: Any) -> None:
        line = json.dumps({"test": request.node.nodeid, **figures}, default=str)
        print(line)
        target = os.environ.get("CW_RELIABILITY_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as file:
                file.write(line + "\n")

    return write
