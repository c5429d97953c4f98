// Elementwise add, C = A + B, on the CPU: AVX-512 (16 floats a step) over OpenMP threads.
// The last partial vector is handled with a lane mask (masked load and store), so any n works
// and no lane past the end of a buffer is touched.
#include <immintrin.h>
#include <omp.h>

void add(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int n) {
    int n16 = n - n % 16;
#pragma omp parallel for
    for (int i = 0; i < n16; i += 16) {
        __m512 a = _mm512_loadu_ps(&A[i]);
        __m512 b = _mm512_loadu_ps(&B[i]);
        _mm512_storeu_ps(&C[i], _mm512_add_ps(a, b));
    }
    if (n16 < n) {
        __mmask16 m = _cvtu32_mask16((1u << (n - n16)) - 1u);
        __m512 a = _mm512_maskz_loadu_ps(m, &A[n16]);
        __m512 b = _mm512_maskz_loadu_ps(m, &B[n16]);
        _mm512_mask_storeu_ps(&C[n16], m, _mm512_add_ps(a, b));
    }
}
