// ReLU, y[i] = max(x[i], 0), on the CPU: AVX-512 (16 floats a step) over OpenMP threads.
// The vector loop covers the largest multiple of 16; a scalar loop finishes the remainder,
// so any n works without masked loads.
#include <immintrin.h>
#include <omp.h>

void relu(const float* __restrict__ x, float* __restrict__ y, int n) {
    int n16 = n - n % 16;
    __m512 zero = _mm512_setzero_ps();
#pragma omp parallel for
    for (int i = 0; i < n16; i += 16) {
        __m512 v = _mm512_loadu_ps(&x[i]);
        _mm512_storeu_ps(&y[i], _mm512_max_ps(v, zero));
    }
    for (int i = n16; i < n; i += 1) {
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}
