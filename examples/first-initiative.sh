#!/bin/sh
# An initiative planned, executed by agents in their own git worktrees, merged and landed,
# in a new workspace (default: ./cw-demo) with its own project repository.
#   sh examples/first-initiative.sh [DIRECTORY]
#
# The agents are the shipped fake agent (`cw-fake-agent`: no model, no network): each writes
# a file for its task, commits it and reports done. With CW_DEMO_PROVIDER=claude the real
# Claude Code CLI (installed and logged in) does the tasks instead.
set -eu
dir=${1:-cw-demo}
if [ -e "$dir/.cwrc" ]; then
    echo "$dir is a workspace already: remove it, or name another directory" >&2
    exit 1
fi
mkdir -p "$dir" && cd "$dir"
here=$(pwd)
jid() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "==> a project: a git repository with one commit (remote.git stands in for GitHub)"
rm -rf remote.git seed
git init --quiet --bare --initial-branch=main remote.git
git init --quiet --initial-branch=main seed
printf '# Acme app\n' > seed/README.md
git -C seed add README.md
git -C seed -c user.name=Demo -c user.email=demo@example.com commit --quiet -m "Start"
git -C seed push --quiet "$here/remote.git" main

echo "==> a workspace"
cw init
if [ "${CW_DEMO_PROVIDER:-fake}" = "fake" ]; then
    printf '\n[providers.claude]\ncommand = "%s"\n' "$(command -v cw-fake-agent)" >> .cwrc
fi

echo "==> the coordinator: it runs the agents (cw stop ends it)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cw start --detach --port "$port"
trap 'cw stop >/dev/null 2>&1 || true' EXIT

P=$(cw project add acme "$here/remote.git" --json | jid)
I=$(cw initiative create "User authentication" --project "$P" --no-merge-approval --json | jid)

# Waits until the agent NAME has ended its turn (idle: done, or crashed...).
wait_agent() {
    waited=0
    while [ "$(cw agent get "$1" --json | field status)" = "running" ]; do
        sleep 1
        waited=$((waited + 1))
        if [ "$waited" -ge 300 ]; then echo "agent $1 still runs after 300 s" >&2; exit 1; fi
    done
    cw agent result "$1"
}

# The fake agent acts the scenario of the first cw-fake block of its prompt (here, the
# architect's --instructions): the files a real architect would write under .cw/output/.
# A real provider (CW_DEMO_PROVIDER=claude) ignores the block and plans by itself.
set -- $(cw id -n 6)
DESIGN=$1 BUILD=$2 FLOW=$3 TABLE=$4 LOGIN=$5 LOGOUT=$6
phase() { printf '{"path": "phases/%s.md", "front": {"title": "%s", "id": "%s", "depends_on": [%s]}, "body": "%s"}' "$@"; }
task() { printf '{"path": "tasks/%s.md", "front": {"title": "%s", "id": "%s", "phase_id": "%s", "priority": "%s", "depends_on": [%s]}, "body": "%s"}' "$@"; }
fake() { printf '```cw-fake\n{"steps": [{"propose": [%s]}, {"done": "%s"}]}\n```\n' "$1" "$2"; }

echo "==> an architect agent plans the phases; a person accepts its proposals"
cw architect plan "$I" --name planner --instructions "Two phases: design, then build.
$(fake "$(phase 01-design Design "$DESIGN" "" "Decide how sessions work."), $(phase 02-build Build "$BUILD" "\"$DESIGN\"" "Build it.")" "2 phases proposed")" >/dev/null
wait_agent planner
cw proposal list --agent planner
cw proposal accept --all --agent planner

echo "==> architect agents detail each phase into tasks; accepted"
cw architect detail "$I" --phase "$DESIGN" --name designer --instructions "$(fake "$(task 01-flow "Sketch the token flow" "$FLOW" "$DESIGN" high "" "Who issues tokens, who checks them."), $(task 02-table "Design the session table" "$TABLE" "$DESIGN" medium "\"$FLOW\"" "Columns, indexes, expiry.")" "2 tasks proposed")" >/dev/null
cw architect detail "$I" --phase "$BUILD" --name builder --instructions "$(fake "$(task 01-login "Implement login" "$LOGIN" "$BUILD" high "" "Form, endpoint, tests."), $(task 02-logout "Implement logout" "$LOGOUT" "$BUILD" medium "\"$LOGIN\"" "Revoke the session.")" "2 tasks proposed")" >/dev/null
wait_agent designer
wait_agent builder
cw proposal accept --all --agent designer
cw proposal accept --all --agent builder
cw phase approve "$DESIGN" >/dev/null
cw phase approve "$BUILD" >/dev/null
cw initiative tree "$I"

echo "==> execute: agents take the ready tasks, each in its own worktree; merges follow"
cw initiative execute "$I"
total=$(cw task list --initiative "$I" --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')

status=active
waited=0
while [ "$status" != "pending_review" ]; do
    sleep 2
    waited=$((waited + 2))
    status=$(cw initiative get "$I" --json | field status)
    done_count=$(cw task list --initiative "$I" --json | python3 -c 'import json, sys; print(sum(t["status"] == "completed" for t in json.load(sys.stdin)))')
    echo "    ${waited}s: initiative $status, $done_count/$total tasks completed"
    if [ "$waited" -ge 600 ]; then
        cw dispatch status --initiative "$I"
        echo "the initiative did not finish within 600 s" >&2
        exit 1
    fi
done
cw agent list

echo "==> merged into the project's main branch and pushed"
cw initiative merge "$I"
git --git-dir remote.git log --graph --format='%h %s' main
git --git-dir remote.git ls-tree -r --name-only main
