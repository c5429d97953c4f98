// Fully connected layer on the CPU, y = x @ W^T + b (x: M x K, W: N x K as torch.nn.Linear
// stores it, b: N, y: M x N). With W stored by output feature, each output is a dot product of
// two contiguous rows: AVX-512 FMAs over 16 floats a step, a horizontal sum, a scalar loop for
// K % 16, then the bias. Rows of x are split across OpenMP threads.
#include <immintrin.h>
#include <omp.h>

void dense(const float* __restrict__ x, const float* __restrict__ W, const float* __restrict__ b,
           float* __restrict__ y, int M, int N, int K) {
    int K16 = K - K % 16;
#pragma omp parallel for
    for (int i = 0; i < M; i += 1) {
        const float* xr = x + i * K;
        for (int j = 0; j < N; j += 1) {
            const float* wr = W + j * K;
            __m512 acc = _mm512_setzero_ps();
            for (int k = 0; k < K16; k += 16) {
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(&xr[k]), _mm512_loadu_ps(&wr[k]), acc);
            }
            float s = _mm512_reduce_add_ps(acc);
            for (int k = K16; k < K; k += 1) {
                s += xr[k] * wr[k];
            }
            y[i * N + j] = s + b[j];
        }
    }
}
