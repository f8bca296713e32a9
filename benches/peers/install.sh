#!/usr/bin/env bash
# Installs the peer solvers into git-ignored folders next to this script:
# PyVRP (>= 0.14), VROOM (pyvroom) and OR-Tools in .venv, vrp-cli in .cargo.
# Idempotent; needs python3 with venv, pip and cargo with network access.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q "pyvrp>=0.14" pyvroom ortools
[ -x .cargo/bin/vrp-cli ] || cargo install -q vrp-cli --root .cargo
.venv/bin/pip list 2>/dev/null | grep -iE "^(pyvrp|pyvroom|ortools) "
.cargo/bin/vrp-cli --version
