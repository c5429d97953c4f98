#!/usr/bin/env bash
# The main job: set up, translate the corpus GEMM between CUDA and C (verified both ways), then a
# real tuning run of the CUDA GEMM on this CPU (embedded SQLite storage in the work directory).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p runs/demo
autotune platforms
autotune translate kernels/gemm/gemm.cu --to cpu -o runs/demo/gemm.c
autotune translate kernels/gemm/gemm.c --to cuda -o runs/demo/gemm.cu
rm -rf runs/demo/tune-gemm
autotune run kernels/gemm/gemm.cu --to cpu --trials 8 --workdir runs/demo/tune-gemm
autotune status runs/demo/tune-gemm
autotune report runs/demo/tune-gemm
autotune best runs/demo/tune-gemm -o runs/demo/gemm.tuned.c
autotune verify runs/demo/gemm.tuned.c
