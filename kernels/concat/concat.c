// Concatenation along the last axis on the CPU: y[r][:] = [a[r][:], b[r][:]] (a: rows x ca,
// b: rows x cb, y: rows x (ca + cb)). Two contiguous copies per output row; rows are split
// across OpenMP threads.
#include <omp.h>

void concat_cols(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                 int rows, int ca, int cb) {
    int cy = ca + cb;
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        for (int c = 0; c < ca; c += 1) {
            y[r * cy + c] = a[r * ca + c];
        }
        for (int c = 0; c < cb; c += 1) {
            y[r * cy + ca + c] = b[r * cb + c];
        }
    }
}
