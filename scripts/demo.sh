#!/usr/bin/env bash
# The main job: set up, then translate the corpus CUDA GEMM to CPU C and verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p runs/demo
autotune platforms
autotune translate kernels/gemm/gemm.cu --to cpu -o runs/demo/gemm.c
autotune translate kernels/gemm/gemm.c --to cuda -o runs/demo/gemm.cu
