// Elementwise sine on the CPU, y = sinf(x): a plain loop that the compiler may vectorise
// with a vector math library; single-threaded.
#include <math.h>

void sin_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
    for (int i = 0; i < n; i += 1) {
        y[i] = sinf(x[i]);
    }
}
