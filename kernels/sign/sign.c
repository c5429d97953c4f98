// Elementwise sign on the CPU: y = -1, 0 or +1. C has no float sign function; the difference of
// two comparisons is the usual idiom, and it maps both 0.0 and -0.0 to 0. OpenMP threads split n.
#include <omp.h>

void sign(const float* __restrict__ x, float* __restrict__ y, int n) {
#pragma omp parallel for
    for (int i = 0; i < n; i += 1) {
        float v = x[i];
        y[i] = (float)((v > 0.0f) - (v < 0.0f));
    }
}
