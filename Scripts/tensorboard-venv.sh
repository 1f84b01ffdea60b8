#!/usr/bin/env bash
# Create (if missing) a throwaway Python virtual environment with TensorBoard from PyPI, whose own reader
# checks the event files `train --tensorboard` writes (Scripts/read-tensorboard.py). Idempotent: when the
# venv already imports tensorboard, it does nothing slow.
#
#   PY=$(Scripts/tensorboard-venv.sh | tail -n1)
#   "$PY" Scripts/read-tensorboard.py runs/owt/tensorboard
#
# Environment:
#   TENSORBOARD_VENV   venv location (default /tmp/alexnet-dist-tensorboard)
#   TENSORBOARD_SPEC   pip requirement (default tensorboard==2.20.0: TensorFlow's reader without TensorFlow)
#
# pip's and venv's chatter goes to stderr, so stdout carries only the python path.
set -euo pipefail

VENV="${TENSORBOARD_VENV:-/tmp/alexnet-dist-tensorboard}"
SPEC="${TENSORBOARD_SPEC:-tensorboard==2.20.0}"
PY="$VENV/bin/python"

log() { echo "tensorboard-venv: $*" >&2; }

have_tensorboard() {
    [[ -x "$PY" ]] && "$PY" -c 'import tensorboard.backend.event_processing.event_accumulator' >/dev/null 2>&1
}

if have_tensorboard; then
    log "$VENV already has tensorboard"
    echo "$PY"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    log "python3 not found"
    exit 1
fi
if [[ ! -x "$PY" ]]; then
    log "creating venv at $VENV"
    python3 -m venv "$VENV" >&2
fi
log "installing $SPEC"
"$PY" -m pip install --disable-pip-version-check --quiet "$SPEC" >&2
if ! have_tensorboard; then
    log "$SPEC was installed but its event reader does not import in $VENV"
    exit 1
fi
log "ready: tensorboard $("$PY" -c 'import tensorboard; print(tensorboard.__version__)' 2>/dev/null)"
echo "$PY"
