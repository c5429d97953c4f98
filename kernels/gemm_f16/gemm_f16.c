// GEMM on half inputs with float accumulation and output on the CPU: C = A @ B (A: M x K,
// B: K x N, both _Float16; C: M x N float). Each half is widened to float before the multiply,
// so products and sums are fp32 as on tensor cores. i-k-j order (unit-stride rows of B and C);
// rows of C are split across OpenMP threads. Any M, N, K.
#include <omp.h>

void gemm_f16(const _Float16* __restrict__ A, const _Float16* __restrict__ B, float* __restrict__ C,
              int M, int N, int K) {
#pragma omp parallel for
    for (int i = 0; i < M; i += 1) {
        for (int j = 0; j < N; j += 1) {
            C[i * N + j] = 0.0f;
        }
        for (int k = 0; k < K; k += 1) {
            float a = (float)A[i * K + k];
            for (int j = 0; j < N; j += 1) {
                C[i * N + j] += a * (float)B[k * N + j];
            }
        }
    }
}
