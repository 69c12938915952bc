#!/bin/sh
# Plan a first initiative with `cw`, in a new workspace (default: ./cw-demo).
#   sh examples/first-initiative.sh [DIRECTORY]
set -eu
dir=${1:-cw-demo}
mkdir -p "$dir" && cd "$dir"
jid() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }

cw init
I=$(cw initiative create "User authentication" --json | jid)
DESIGN=$(cw phase create --initiative "$I" "Design" --json | jid)
BUILD=$(cw phase create --initiative "$I" "Build" --json | jid)
cw phase depend "$BUILD" --on "$DESIGN"
FLOW=$(cw task create "Sketch the token flow" --phase "$DESIGN" --priority high --json | jid)
TABLE=$(cw task create "Design the session table" --phase "$DESIGN" --json | jid)
cw task depend "$TABLE" --on "$FLOW"
cw task create "Implement login" --phase "$BUILD" --description "Form, endpoint, tests"
cw initiative tree "$I"
echo
echo "Ready to start:"
cw task ready --initiative "$I"
