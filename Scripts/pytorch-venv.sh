#!/usr/bin/env bash
# Create (if missing) a throwaway Python virtual environment with the CPU build of PyTorch, for
# Scripts/bench_pytorch.py (the PyTorch side of the compute benchmark) and the layer tests' references.
# Idempotent (Scripts/python-venv.sh): when the venv already has the right torch, it does nothing slow.
#
#   PY=$(Scripts/pytorch-venv.sh | tail -n1)
#   "$PY" Scripts/bench_pytorch.py --variant small --batch 2 --warmup 1 --steps 2
#
# Environment:
#   PYTORCH_VENV    venv location (default /tmp/alexnet-dist-torch)
#   TORCH_SPEC      pip requirement for torch (default torch==2.13.0+cpu)
#   PIP_FIND_LINKS  pip's own variable; on this machine /opt/wheels holds the torch CPU wheel. The default
#                   torch wheel on PyPI is the CUDA build, which does not import here.
set -euo pipefail

VENV="${PYTORCH_VENV:-/tmp/alexnet-dist-torch}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
CHECK="import sys, numpy, torch
torch.randn(2, 2).sum().item()
sys.exit(0 if torch.__version__ == '${TORCH_SPEC#torch==}' else 1)"
exec "$(dirname "$0")/python-venv.sh" pytorch-venv "$VENV" "$CHECK" "$TORCH_SPEC" numpy
