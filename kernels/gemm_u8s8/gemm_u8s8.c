// Quantised GEMM on the CPU with AVX512-VNNI: C[i][j] = sum_k A[i][k] * B[j][k], exact in int32.
// A is uint8 (M x K), B is int8 stored N x K, so a row of A and a row of B are both contiguous:
// vpdpbusd multiplies 64 u8 x s8 pairs and adds each group of 4 into 16 int32 lanes per step.
// The lanes are summed at the end of a dot product; a scalar loop handles K % 64.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>

void gemm_u8s8(const uint8_t* __restrict__ A, const int8_t* __restrict__ B, int32_t* __restrict__ C,
               int M, int N, int K) {
    int K64 = K - K % 64;
#pragma omp parallel for
    for (int i = 0; i < M; i += 1) {
        for (int j = 0; j < N; j += 1) {
            __m512i acc = _mm512_setzero_si512();
            for (int k = 0; k < K64; k += 64) {
                __m512i a = _mm512_loadu_si512(&A[i * K + k]);
                __m512i b = _mm512_loadu_si512(&B[j * K + k]);
                acc = _mm512_dpbusd_epi32(acc, a, b);
            }
            int32_t s = _mm512_reduce_add_epi32(acc);
            for (int k = K64; k < K; k += 1) {
                s += (int32_t)A[i * K + k] * (int32_t)B[j * K + k];
            }
            C[i * N + j] = s;
        }
    }
}
