// AVX-512: y = a * x + b, 16 lanes a step with FMA, and a scalar remainder loop (1000 % 16 = 8).
#include <immintrin.h>
void axpb(const float* x, float* y, float a, float b, int n) {
    __m512 va = _mm512_set1_ps(a);
    __m512 vb = _mm512_set1_ps(b);
    int n16 = n - n % 16;
    for (int i = 0; i < n16; i += 16) {
        __m512 v = _mm512_loadu_ps(&x[i]);
        _mm512_storeu_ps(&y[i], _mm512_fmadd_ps(va, v, vb));
    }
    for (int i = n16; i < n; i++) {
        y[i] = a * x[i] + b;
    }
}
