#!/usr/bin/env bash
# Create (if missing) a throwaway Python virtual environment holding what CHECK needs, installing the pip
# requirements when CHECK fails. Shared by Scripts/pytorch-venv.sh and Scripts/tensorboard-venv.sh.
# Idempotent: when CHECK already passes, it does nothing slow.
#
#   Scripts/python-venv.sh NAME VENV CHECK REQUIREMENT...
#
#   NAME         what the log lines say (e.g. pytorch-venv)
#   VENV         the venv's directory
#   CHECK        Python code that exits 0 when the venv is ready (run with the venv's python)
#   REQUIREMENT  pip requirements to install when it is not
#
# On this machine /opt/wheels holds wheels PyPI's defaults do not fit (the CPU build of torch); it is used as
# PIP_FIND_LINKS unless that is set. pip's and venv's chatter goes to stderr: stdout carries only the venv's
# python, on its last line.
set -euo pipefail

if [[ $# -lt 4 ]]; then
    echo "usage: $0 NAME VENV CHECK REQUIREMENT..." >&2
    exit 2
fi
NAME="$1" VENV="$2" CHECK="$3"
shift 3
PY="$VENV/bin/python"

log() { echo "$NAME: $*" >&2; }
ready() { [[ -x "$PY" ]] && "$PY" -c "$CHECK" >/dev/null 2>&1; }

if ready; then
    log "$VENV already has $*"
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
if [[ -z "${PIP_FIND_LINKS:-}" && -d /opt/wheels ]]; then
    export PIP_FIND_LINKS=/opt/wheels
fi
log "installing $* (PIP_FIND_LINKS=${PIP_FIND_LINKS:-unset})"
"$PY" -m pip install --disable-pip-version-check --quiet "$@" >&2
if ! ready; then
    log "$* installed, but the check still fails in $VENV:"
    "$PY" -c "$CHECK" >&2 || true
    exit 1
fi
log "ready: $VENV"
echo "$PY"
