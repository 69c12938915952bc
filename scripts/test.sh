#!/usr/bin/env bash
# The one command that installs and runs the whole test suite:
#   scripts/test.sh [pytest args...]
# Creates .venv if needed, installs the project with its dev extras, then runs
# ruff (lint + format check), mypy, pytest and, if present, the quick benchmark.
# PostgreSQL tests run when CW_TEST_DATABASE_URL is set (see scripts/start-postgres.sh).
set -euo pipefail

cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

header() { printf '\n==> %s\n' "$*"; }

if [[ ! -x .venv/bin/python ]]; then
    header "creating .venv"
    python3 -m venv .venv
fi

header "installing codewalkers[dev] into .venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

lint_paths=()
for d in src tests bench; do
    [[ -d "$d" ]] && lint_paths+=("$d")
done
if [[ ${#lint_paths[@]} -eq 0 ]]; then
    echo "ERROR: none of src/ tests/ bench/ exist; nothing to check" >&2
    exit 1
fi

# The real-CLI tests (tests/agents/test_real_clis.py) need the pinned agent CLIs; .ci/run
# installs them. CW_INSTALL_AGENT_CLIS=1 asks for the same here (outside CI they skip without).
if [[ "${CW_INSTALL_AGENT_CLIS:-}" == "1" ]]; then
    header "installing the pinned agent CLIs"
    bash scripts/install-agent-clis.sh >/dev/null
fi

header "ruff check ${lint_paths[*]}"
.venv/bin/ruff check "${lint_paths[@]}"

header "ruff format --check ${lint_paths[*]}"
.venv/bin/ruff format --check "${lint_paths[@]}"

header "mypy"
.venv/bin/mypy

if [[ -n "${CW_TEST_DATABASE_URL:-}" ]]; then
    header "pytest $* (PostgreSQL: ${CW_TEST_DATABASE_URL})"
else
    header "pytest $* (CW_TEST_DATABASE_URL not set: PostgreSQL tests will not run against a server)"
fi
# Several workers (pytest-xdist), whole files to each so that a module's shared server or git
# fixture is built once: most tests wait on processes, git and the browser rather than on the
# CPU, so three workers on CI's two cores finish well before one would. CW_TEST_WORKERS=0
# runs in this process (for a debugger, or -x to stop at the first failure quickly).
workers=${CW_TEST_WORKERS:-3}
rc=0
.venv/bin/python -m pytest -n "$workers" --dist loadfile "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "ERROR: pytest collected no tests (exit code 5); a test run that tests nothing is a failure" >&2
    exit 5
elif [[ $rc -ne 0 ]]; then
    echo "ERROR: pytest failed (exit code $rc)" >&2
    exit "$rc"
fi

if [[ -f bench/run.py ]]; then
    header "bench/run.py --quick"
    .venv/bin/python bench/run.py --quick
fi

# `cw` start-up beside python -c pass and a bare sqlite3 read: reports its targets without
# failing on them, fails when a command fails.
if [[ -f bench/cli.py ]]; then
    header "bench/cli.py --quick"
    .venv/bin/python bench/cli.py --quick
fi

# Running agents through a real coordinator: reports its targets without failing on them,
# fails on an error or a lost, duplicated or reordered line of output.
if [[ -f bench/agents.py ]]; then
    header "bench/agents.py --quick"
    .venv/bin/python bench/agents.py --quick
fi

header "all checks passed"
