// fp32 GEMV on the CPU, y = A @ x (A: M x K row-major, x: K, y: M).
// Each row is a dot product: AVX-512 FMAs over 16 floats a step into one accumulator, the
// K % 16 remainder through a masked load (lanes past the end read as zero), and a horizontal
// sum at the end. Rows are split across OpenMP threads.
#include <immintrin.h>
#include <omp.h>

void gemv(const float* __restrict__ A, const float* __restrict__ x, float* __restrict__ y,
          int M, int K) {
    int K16 = K - K % 16;
    __mmask16 tail = _cvtu32_mask16((1u << (K % 16)) - 1u);
#pragma omp parallel for
    for (int i = 0; i < M; i += 1) {
        const float* row = A + i * K;
        __m512 acc = _mm512_setzero_ps();
        for (int k = 0; k < K16; k += 16) {
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(&row[k]), _mm512_loadu_ps(&x[k]), acc);
        }
        __m512 ra = _mm512_maskz_loadu_ps(tail, &row[K16]);
        __m512 rx = _mm512_maskz_loadu_ps(tail, &x[K16]);
        acc = _mm512_fmadd_ps(ra, rx, acc);
        y[i] = _mm512_reduce_add_ps(acc);
    }
}
