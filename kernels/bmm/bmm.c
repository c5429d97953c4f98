// fp32 batched GEMM on the CPU, C[b] = A[b] @ B[b] (A: batch x M x K, B: batch x K x N,
// C: batch x M x N, all row-major and contiguous). Each (matrix, row) pair is independent, so the
// batch and row loops are collapsed into one OpenMP iteration space; inside, the i-k-j order
// streams a row of B[b] and a row of C[b] with unit stride, which the compiler vectorises.
#include <omp.h>

void bmm(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
         int batch, int M, int N, int K) {
#pragma omp parallel for collapse(2)
    for (int b = 0; b < batch; b += 1) {
        for (int i = 0; i < M; i += 1) {
            const float* a = A + (b * M + i) * K;
            const float* bm = B + b * K * N;
            float* c = C + (b * M + i) * N;
            for (int j = 0; j < N; j += 1) {
                c[j] = 0.0f;
            }
            for (int k = 0; k < K; k += 1) {
                float aik = a[k];
                for (int j = 0; j < N; j += 1) {
                    c[j] += aik * bm[k * N + j];
                }
            }
        }
    }
}
