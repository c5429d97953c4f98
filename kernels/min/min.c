// Row minima on the CPU, y[r] = min_c x[r][c]: a plain loop per row seeded with the row's first
// element, rows split across OpenMP threads.
#include <math.h>
#include <omp.h>

void row_min(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* xr = x + r * cols;
        float m = xr[0];
        for (int c = 1; c < cols; c += 1) {
            m = fminf(m, xr[c]);
        }
        y[r] = m;
    }
}
