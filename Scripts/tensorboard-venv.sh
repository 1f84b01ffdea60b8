#!/usr/bin/env bash
# Create (if missing) a throwaway Python virtual environment with TensorBoard from PyPI, whose own reader
# checks the event files `train --tensorboard` writes (Scripts/read-tensorboard.py). Idempotent
# (Scripts/python-venv.sh): when the venv already imports tensorboard, it does nothing slow.
#
#   PY=$(Scripts/tensorboard-venv.sh | tail -n1)
#   "$PY" Scripts/read-tensorboard.py runs/owt/tensorboard
#
# Environment:
#   TENSORBOARD_VENV   venv location (default /tmp/alexnet-dist-tensorboard)
#   TENSORBOARD_SPEC   pip requirement (default tensorboard==2.20.0: TensorFlow's reader without TensorFlow)
set -euo pipefail

VENV="${TENSORBOARD_VENV:-/tmp/alexnet-dist-tensorboard}"
SPEC="${TENSORBOARD_SPEC:-tensorboard==2.20.0}"
CHECK="import tensorboard.backend.event_processing.event_accumulator"
exec "$(dirname "$0")/python-venv.sh" tensorboard-venv "$VENV" "$CHECK" "$SPEC"
