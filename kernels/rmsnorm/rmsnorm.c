// RMS normalisation on the CPU over the last dim: y = x / sqrt(mean(x^2) + eps) * weight, eps 1e-6.
// AVX-512: each row's sum of squares accumulates 16 lanes at a time with fused multiply-adds and is
// reduced across lanes once; the last cols % 16 elements go through a masked load (and a masked
// store when scaling), so any width works without a scalar tail. Rows run in parallel.
#include <immintrin.h>
#include <math.h>
#include <omp.h>

void rmsnorm(const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y,
             int rows, int cols) {
    int c16 = cols - cols % 16;
    __mmask16 tail = _cvtu32_mask16((1u << (cols % 16)) - 1u);
#pragma omp parallel for
    for (int r = 0; r < rows; r += 1) {
        const float* xr = x + r * cols;
        __m512 acc = _mm512_setzero_ps();
        for (int c = 0; c < c16; c += 16) {
            __m512 v = _mm512_loadu_ps(&xr[c]);
            acc = _mm512_fmadd_ps(v, v, acc);
        }
        __m512 vt = _mm512_maskz_loadu_ps(tail, &xr[c16]);
        acc = _mm512_fmadd_ps(vt, vt, acc);
        float ss = _mm512_reduce_add_ps(acc);
        __m512 scale = _mm512_set1_ps(1.0f / sqrtf(ss / (float)cols + 1e-6f));
        for (int c = 0; c < c16; c += 16) {
            __m512 v = _mm512_mul_ps(_mm512_loadu_ps(&xr[c]), scale);
            _mm512_storeu_ps(&y[r * cols + c], _mm512_mul_ps(v, _mm512_loadu_ps(&weight[c])));
        }
        __m512 wt = _mm512_maskz_loadu_ps(tail, &weight[c16]);
        _mm512_mask_storeu_ps(&y[r * cols + c16], tail, _mm512_mul_ps(_mm512_mul_ps(vt, scale), wt));
    }
}
