// Row means on the CPU, y[r] = (sum_c x[r][c]) / cols: a plain accumulation loop per row, rows
// split across OpenMP threads. The sum is scaled once by the reciprocal of cols.
#include <omp.h>

void row_mean(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    float inv = 1.0f / (float)cols;
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        float s = 0.0f;
        for (int c = 0; c < cols; c += 1) {
            s += x[r * cols + c];
        }
        y[r] = s * inv;
    }
}
