// Row-wise softmax on the CPU: three passes per row (max, sum of exponentials, scale).
// Subtracting the row max keeps expf finite for any input; rows run in parallel.
#include <math.h>
#include <omp.h>

void softmax(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* xr = x + r * cols;
        int base = r * cols;
        float m = xr[0];
        for (int c = 1; c < cols; c += 1) {
            m = fmaxf(m, xr[c]);
        }
        float s = 0.0f;
        for (int c = 0; c < cols; c += 1) {
            float e = expf(xr[c] - m);
            y[base + c] = e;
            s += e;
        }
        float inv = 1.0f / s;
        for (int c = 0; c < cols; c += 1) {
            y[base + c] = y[base + c] * inv;
        }
    }
}
