// Row sums on the CPU, y[r] = sum_c x[r][c]: AVX-512 over each row, rows split across OpenMP
// threads. The vector loop accumulates 16 lanes; the last cols % 16 elements are loaded with a
// mask (masked-off lanes read as 0, the identity of +), so no scalar tail is needed.
#include <immintrin.h>
#include <omp.h>

void row_sum(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    int cols16 = cols - cols % 16;
    __mmask16 tail = _cvtu32_mask16((1u << (cols % 16)) - 1u);
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* xr = x + r * cols;
        __m512 acc = _mm512_setzero_ps();
        for (int c = 0; c < cols16; c += 16) {
            acc = _mm512_add_ps(acc, _mm512_loadu_ps(&xr[c]));
        }
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail, &xr[cols16]));
        y[r] = _mm512_reduce_add_ps(acc);
    }
}
