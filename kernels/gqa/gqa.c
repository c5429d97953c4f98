// Grouped-query attention on the CPU with AVX-512: q is [B, HQ, S, D], k and v are
// [B, HKV, S, D] with HQ a multiple of HKV; query head hq reads kv head hq / (HQ / HKV).
// o = softmax(q k^T / sqrt(D)) v. (batch, query head) pairs run on OpenMP threads. Per query
// row: dot products 16 channels a step (_mm512_fmadd_ps, a masked load for D % 16, a horizontal
// sum), a stable softmax in a row buffer on the stack, then the output 16 channels at a time
// with the accumulator in a register across all keys. Limit: S <= MAX_S.
#include <immintrin.h>
#include <math.h>
#include <omp.h>

#define MAX_S 1024

void gqa(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
         float* __restrict__ o, int B, int HQ, int HKV, int S, int D) {
    int group = HQ / HKV;
    int D16 = D - D % 16;
    __mmask16 tail = _cvtu32_mask16((1u << (D % 16)) - 1u);
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b += 1) {
        for (int hq = 0; hq < HQ; hq += 1) {
            float p[MAX_S];
            int kv = (b * HKV + hq / group) * S * D;
            for (int i = 0; i < S; i += 1) {
                int row = ((b * HQ + hq) * S + i) * D;
                float m = -3.402823466e+38f;
                for (int j = 0; j < S; j += 1) {
                    __m512 acc = _mm512_setzero_ps();
                    for (int d = 0; d < D16; d += 16) {
                        acc = _mm512_fmadd_ps(_mm512_loadu_ps(&q[row + d]), _mm512_loadu_ps(&k[kv + j * D + d]), acc);
                    }
                    if (D16 < D) {
                        __m512 qt = _mm512_maskz_loadu_ps(tail, &q[row + D16]);
                        __m512 kt = _mm512_maskz_loadu_ps(tail, &k[kv + j * D + D16]);
                        acc = _mm512_fmadd_ps(qt, kt, acc);
                    }
                    float s = _mm512_reduce_add_ps(acc) * scale;
                    p[j] = s;
                    m = s > m ? s : m;
                }
                float sum = 0.0f;
                for (int j = 0; j < S; j += 1) {
                    p[j] = expf(p[j] - m);
                    sum += p[j];
                }
                __m512 inv = _mm512_set1_ps(1.0f / sum);
                for (int d = 0; d < D16; d += 16) {
                    __m512 acc = _mm512_setzero_ps();
                    for (int j = 0; j < S; j += 1) {
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(&v[kv + j * D + d]), acc);
                    }
                    _mm512_storeu_ps(&o[row + d], _mm512_mul_ps(acc, inv));
                }
                if (D16 < D) {
                    __m512 acc = _mm512_setzero_ps();
                    for (int j = 0; j < S; j += 1) {
                        __m512 vt = _mm512_maskz_loadu_ps(tail, &v[kv + j * D + D16]);
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), vt, acc);
                    }
                    _mm512_mask_storeu_ps(&o[row + D16], tail, _mm512_mul_ps(acc, inv));
                }
            }
        }
    }
}
