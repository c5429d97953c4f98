// 2-D transpose on the CPU, y[c][r] = x[r][c] (x: rows x cols, y: cols x rows). Cache-blocked:
// 32 x 32 tiles, so the strided side of each tile stays in cache while the tile is written;
// tile rows are split across OpenMP threads. Edge tiles are clipped to the matrix.
#include <omp.h>

#define TB 32

static inline int imin(int a, int b) {
    return a < b ? a : b;
}

void transpose_2d(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
#pragma omp parallel for
    for (int r0 = 0; r0 < rows; r0 += TB) {
        for (int c0 = 0; c0 < cols; c0 += TB) {
            int rend = imin(r0 + TB, rows);
            int cend = imin(c0 + TB, cols);
            for (int r = r0; r < rend; r += 1) {
                for (int c = c0; c < cend; c += 1) {
                    y[c * rows + r] = x[r * cols + c];
                }
            }
        }
    }
}
