// Exact GELU on the CPU over a rows x cols activation matrix:
// y = 0.5 * x * (1 + erf(x / sqrt(2))), the form PyTorch uses by default (not the tanh
// approximation). Rows are split across OpenMP threads.
#include <math.h>
#include <omp.h>

#define INV_SQRT2 0.70710678118654752f

static inline float gelu_erf(float v) {
    return 0.5f * v * (1.0f + erff(v * INV_SQRT2));
}

void gelu(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* xr = x + r * cols;
        for (int c = 0; c < cols; c += 1) {
            y[r * cols + c] = gelu_erf(xr[c]);
        }
    }
}
