#!/usr/bin/env bash
# The kill test at full strength: 100 SIGKILLs at random moments, each followed by --resume
# (tests/test_kill_resume.cpp, on 2 worker threads; the ordinary suite runs 20). Usage: tests/kill_test.sh [kills] [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/delve_tests ] || ./build.sh
DELVE_KILLS=${1:-100} DELVE_KILL_SEED=${2:-7} build/delve_tests -tc="kill test*" 2>&1 | grep -E "kill test:|Status|ERROR|test cases"
