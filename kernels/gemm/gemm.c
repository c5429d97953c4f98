// fp32 GEMM on the CPU, C = A @ B (A: M x K, B: K x N, C: M x N, row-major).
// The i-k-j order makes the innermost loop stream a row of B and a row of C with unit stride,
// which the compiler vectorises; rows of C are split across OpenMP threads.
#include <omp.h>

void gemm(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
          int M, int N, int K) {
#pragma omp parallel for
    for (int i = 0; i < M; i += 1) {
        for (int j = 0; j < N; j += 1) {
            C[i * N + j] = 0.0f;
        }
        for (int k = 0; k < K; k += 1) {
            float a = A[i * K + k];
            for (int j = 0; j < N; j += 1) {
                C[i * N + j] += a * B[k * N + j];
            }
        }
    }
}
