#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the demo drill (plans/examples/hello.yaml) end to end,
# then shows what the catalog recorded. The demo keeps its state in .build/demo-state.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh

lifeboat=".build/debug/lifeboat"
export LIFEBOAT_STATE_DIR="${LIFEBOAT_STATE_DIR:-$PWD/.build/demo-state}"
# A stand-in secret: the plan references it as ${env:LIFEBOAT_DEMO_TOKEN}; logs and the catalog show *** instead.
export LIFEBOAT_DEMO_TOKEN="demo-token-$RANDOM$RANDOM"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$lifeboat" plan check --verbose plans/examples/hello.yaml
step "$lifeboat" plan show plans/examples/hello.yaml
step "$lifeboat" run --verbose --yes plans/examples/hello.yaml
run_id=$("$lifeboat" runs list --plan hello --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
step "$lifeboat" runs list --plan hello --limit 5
step "$lifeboat" runs show "$run_id"
