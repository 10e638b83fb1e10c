#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the whole test suite (unit, PostgreSQL 15 and CLI tests).
# Tests start their own throwaway PostgreSQL clusters on free loopback ports; nothing else needs to run.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
swift test "$@"
