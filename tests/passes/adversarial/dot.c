// AVX-512 dot product: vector accumulator, horizontal reduction, then a scalar remainder loop.
#include <immintrin.h>
void dot(const float* x, const float* w, float* out, int n) {
    __m512 acc = _mm512_setzero_ps();
    int i = 0;
    for (i = 0; i + 16 <= n; i += 16) {
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(&x[i]), _mm512_loadu_ps(&w[i]), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    for (; i < n; i++) {
        s += x[i] * w[i];
    }
    out[0] = s;
}
