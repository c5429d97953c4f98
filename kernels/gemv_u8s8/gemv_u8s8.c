// Quantised GEMV on the CPU with AVX512-VNNI: y[i] = sum_k A[i][k] * x[k], exact in int32.
// A is uint8 (M x K), x is int8 (K): vpdpbusd multiplies 64 u8 x s8 pairs a step and adds each
// group of 4 into 16 int32 lanes. The K % 64 remainder goes through one masked byte load (lanes
// past the end read as zero and add nothing); the lanes are summed at the end of each row.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>

void gemv_u8s8(const uint8_t* __restrict__ A, const int8_t* __restrict__ x, int32_t* __restrict__ y,
               int M, int K) {
    int K64 = K - K % 64;
    __mmask64 tail = _cvtu64_mask64((1ull << (K % 64)) - 1ull);
#pragma omp parallel for
    for (int i = 0; i < M; i += 1) {
        const uint8_t* row = A + i * K;
        __m512i acc = _mm512_setzero_si512();
        for (int k = 0; k < K64; k += 64) {
            acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(&row[k]), _mm512_loadu_si512(&x[k]));
        }
        __m512i ra = _mm512_maskz_loadu_epi8(tail, &row[K64]);
        __m512i rx = _mm512_maskz_loadu_epi8(tail, &x[K64]);
        acc = _mm512_dpbusd_epi32(acc, ra, rx);
        y[i] = _mm512_reduce_add_epi32(acc);
    }
}
