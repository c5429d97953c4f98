// Row maxima on the CPU, y[r] = max_c x[r][c]: AVX-512 over each row, rows split across OpenMP
// threads. The vector loop keeps 16 running maxima from -FLT_MAX; they are reduced to one, and a
// scalar loop folds in the last cols % 16 elements.
#include <immintrin.h>
#include <math.h>
#include <omp.h>

void row_max(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    int cols16 = cols - cols % 16;
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* xr = x + r * cols;
        __m512 acc = _mm512_set1_ps(-3.402823466e+38f);
        for (int c = 0; c < cols16; c += 16) {
            acc = _mm512_max_ps(acc, _mm512_loadu_ps(&xr[c]));
        }
        float m = _mm512_reduce_max_ps(acc);
        for (int c = cols16; c < cols; c += 1) {
            m = fmaxf(m, xr[c]);
        }
        y[r] = m;
    }
}
