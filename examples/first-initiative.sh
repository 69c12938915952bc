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

echo "==> the plan: 2 phases, 4 tasks, dependencies"
P=$(cw project add acme "$here/remote.git" --json | jid)
I=$(cw initiative create "User authentication" --project "$P" --no-merge-approval --json | jid)
DESIGN=$(cw phase create --initiative "$I" "Design" --json | jid)
BUILD=$(cw phase create --initiative "$I" "Build" --json | jid)
cw phase depend "$BUILD" --on "$DESIGN"
FLOW=$(cw task create "Sketch the token flow" --phase "$DESIGN" --priority high --json | jid)
TABLE=$(cw task create "Design the session table" --phase "$DESIGN" --json | jid)
cw task depend "$TABLE" --on "$FLOW"
cw task create "Implement login" --phase "$BUILD" --description "Form, endpoint, tests" >/dev/null
cw task create "Implement logout" --phase "$BUILD" >/dev/null
cw phase approve "$DESIGN" >/dev/null
cw phase approve "$BUILD" >/dev/null
cw initiative tree "$I"

echo "==> the coordinator runs the agents"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cw start --detach --port "$port"
trap 'cw stop >/dev/null 2>&1 || true' EXIT
cw initiative execute "$I"

status=active
waited=0
while [ "$status" != "pending_review" ]; do
    sleep 2
    waited=$((waited + 2))
    status=$(cw initiative get "$I" --json | field status)
    done_count=$(cw task list --initiative "$I" --json | python3 -c 'import json, sys; print(sum(t["status"] == "completed" for t in json.load(sys.stdin)))')
    echo "    ${waited}s: initiative $status, $done_count/4 tasks completed"
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
