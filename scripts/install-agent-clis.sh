#!/usr/bin/env bash
# Install the pinned real coding-agent CLIs (Claude Code, Codex, Gemini CLI) with npm into a
# cache directory, for the offline real-CLI tests (tests/agents/test_real_clis.py).
#
#   scripts/install-agent-clis.sh [DIR]
#
# DIR defaults to $CW_AGENT_CLIS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/codewalkers/agent-clis.
# Idempotent: when DIR already holds exactly the pinned versions it installs nothing.
# Prints the bin dir (DIR/node_modules/.bin) as the only line on stdout; all progress goes to
# stderr, so `bin=$(scripts/install-agent-clis.sh)` works. Any npm failure is fatal (exit 1).
#
# The versions are the ones checked against ../shared/reference/agent-clis.md; bump them only
# together with that reference and the captured transcripts in tests/agents/transcripts/.
set -euo pipefail

PACKAGES=(
    "@anthropic-ai/claude-code@2.1.197"
    "@openai/codex@0.171.0"
    "@google/gemini-cli@0.61.0"
)
# package name -> executable it installs into node_modules/.bin
declare -A BINARIES=(
    ["@anthropic-ai/claude-code"]=claude
    ["@openai/codex"]=codex
    ["@google/gemini-cli"]=gemini
)

die() {
    {
        echo
        echo "!!! install-agent-clis: $*"
    } >&2
    exit 1
}

dir="${1:-${CW_AGENT_CLIS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/codewalkers/agent-clis}}"
bin="$dir/node_modules/.bin"

# The version npm recorded for PACKAGE in DIR, or nothing.
installed_version() {
    local manifest="$dir/node_modules/$1/package.json"
    [[ -f "$manifest" ]] || return 0
    node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$manifest"
}

# True when every pinned package is installed at its pinned version with its executable.
all_present() {
    local spec name version
    for spec in "${PACKAGES[@]}"; do
        name="${spec%@*}"
        version="${spec##*@}"
        [[ "$(installed_version "$name")" == "$version" ]] || return 1
        [[ -x "$bin/${BINARIES[$name]}" ]] || return 1
    done
}

command -v node >/dev/null 2>&1 || die "node is not on PATH (the CLIs need Node.js >= 20)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install Node.js/npm first"

if all_present; then
    echo "install-agent-clis: pinned CLIs already in $dir" >&2
else
    echo "install-agent-clis: installing ${PACKAGES[*]} into $dir" >&2
    mkdir -p "$dir"
    # A package.json of our own keeps npm from walking up to some parent project.
    [[ -f "$dir/package.json" ]] || echo '{"name": "codewalkers-agent-clis", "private": true}' >"$dir/package.json"
    # Lifecycle scripts must run: Claude Code's postinstall puts its native binary in place.
    if ! npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error \
        "${PACKAGES[@]}" >&2; then
        die "npm install failed (is the npm registry reachable?)"
    fi
    all_present || die "npm finished but $dir does not hold the pinned versions with their executables"
fi

# Each executable must start: a broken postinstall shows here, not in the middle of a test.
for spec in "${PACKAGES[@]}"; do
    name="${spec%@*}"
    exe="$bin/${BINARIES[$name]}"
    if ! version_line="$("$exe" --version </dev/null 2>&1)"; then
        die "$exe --version failed: $version_line"
    fi
    [[ "$version_line" == *"${spec##*@}"* ]] || die "$exe --version says '$version_line', expected ${spec##*@}"
    echo "install-agent-clis: $exe -> $version_line" >&2
done

echo "$bin"
