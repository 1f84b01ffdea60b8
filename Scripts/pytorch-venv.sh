#!/usr/bin/env bash
# Create (if missing) a throwaway Python virtual environment with the CPU build
# of PyTorch, for Scripts/bench_pytorch.py (the PyTorch side of the compute
# benchmark). Idempotent: when the venv already has the right torch, it does
# nothing slow.
#
#   Scripts/pytorch-venv.sh            # prints the venv's python on its last stdout line
#   PY=$(Scripts/pytorch-venv.sh | tail -n1)
#   "$PY" Scripts/bench_pytorch.py --variant small --batch 2 --warmup 1 --steps 2
#
# Environment:
#   PYTORCH_VENV    venv location (default /tmp/alexnet-dist-torch)
#   TORCH_SPEC      pip requirement for torch (default torch==2.13.0+cpu)
#   PIP_FIND_LINKS  pip's own variable; on this machine /opt/wheels holds the
#                   torch CPU wheel. The default torch wheel on PyPI is the
#                   CUDA build, which does not import here.
#
# All pip/venv chatter goes to stderr, so stdout carries only the python path.
set -euo pipefail

VENV="${PYTORCH_VENV:-/tmp/alexnet-dist-torch}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
TORCH_WANT="${TORCH_SPEC#torch==}"
PY="$VENV/bin/python"

log() { echo "pytorch-venv: $*" >&2; }

# Already done? (fast path: one python start-up, no pip)
have_torch() {
    [[ -x "$PY" ]] || return 1
    "$PY" - "$TORCH_WANT" <<'EOF' >/dev/null 2>&1
import sys
import numpy  # noqa: F401
import torch
want = sys.argv[1]
torch.randn(2, 2).sum().item()
sys.exit(0 if torch.__version__ == want else 1)
EOF
}

if have_torch; then
    log "$VENV already has torch $TORCH_WANT"
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

log "installing $TORCH_SPEC and numpy (PIP_FIND_LINKS=${PIP_FIND_LINKS:-unset})"
"$PY" -m pip install --disable-pip-version-check --quiet "$TORCH_SPEC" numpy >&2

if ! have_torch; then
    log "torch $TORCH_WANT was installed but does not import cleanly in $VENV:"
    "$PY" -c "import numpy, torch; print(torch.__version__)" >&2 || true
    exit 1
fi

log "ready: torch $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
echo "$PY"
