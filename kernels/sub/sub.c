// Elementwise subtract, C = A - B, over a rows x cols matrix on the CPU. Rows are split across
// OpenMP threads; within a row AVX-512 handles 16 columns a step and a scalar loop the
// remaining cols % 16, so rows of any width work.
#include <immintrin.h>
#include <omp.h>

void sub(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
         int rows, int cols) {
    int c16 = cols - cols % 16;
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* ar = A + r * cols;
        const float* br = B + r * cols;
        int base = r * cols;
        for (int c = 0; c < c16; c += 16) {
            __m512 a = _mm512_loadu_ps(&ar[c]);
            __m512 b = _mm512_loadu_ps(&br[c]);
            _mm512_storeu_ps(&C[base + c], _mm512_sub_ps(a, b));
        }
        for (int c = c16; c < cols; c += 1) {
            C[base + c] = ar[c] - br[c];
        }
    }
}
