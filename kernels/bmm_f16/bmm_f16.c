// Batched GEMM on half inputs with float accumulation and output on the CPU: C[b] = A[b] @ B[b]
// (A: batch x M x K and B: batch x K x N _Float16, C: batch x M x N float, row-major). Each output
// is a dot product accumulated in a float register; halves are widened to float before the
// multiply. The batch loop runs in parallel. Any sizes.
#include <omp.h>

void bmm_f16(const _Float16* __restrict__ A, const _Float16* __restrict__ B, float* __restrict__ C,
             int batch, int M, int N, int K) {
#pragma omp parallel for
    for (int b = 0; b < batch; b += 1) {
        const _Float16* a = A + b * M * K;
        const _Float16* bm = B + b * K * N;
        for (int i = 0; i < M; i += 1) {
            for (int j = 0; j < N; j += 1) {
                float acc = 0.0f;
                for (int k = 0; k < K; k += 1) {
                    acc += (float)a[i * K + k] * (float)bm[k * N + j];
                }
                C[(b * M + i) * N + j] = acc;
            }
        }
    }
}
