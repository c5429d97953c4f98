// AVX-512 dot product: the horizontal sum goes straight to out[0]; the remainder loop adds to it.
#include <immintrin.h>
void dotv(const float* x, const float* w, float* out, int n) {
    __m512 acc = _mm512_setzero_ps();
    int n16 = n - n % 16;
    for (int i = 0; i < n16; i += 16) {
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(&x[i]), _mm512_loadu_ps(&w[i]), acc);
    }
    out[0] = _mm512_reduce_add_ps(acc);
    for (int i = n16; i < n; i++) {
        out[0] += x[i] * w[i];
    }
}
