// Quantised batched GEMM on the CPU with AVX512-VNNI: C[b][i][j] = sum_k A[b][i][k] * B[b][j][k],
// exact in int32. A is uint8 (batch x M x K); B is int8 stored batch x N x K, so a row of A and a
// row of B are both contiguous, as vpdpbusd wants (64 u8 x s8 pairs a step into 16 int32 lanes).
// The lanes are summed after each dot product and a scalar loop handles K % 64.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>

void bmm_u8s8(const uint8_t* __restrict__ A, const int8_t* __restrict__ B, int32_t* __restrict__ C,
              int batch, int M, int N, int K) {
    int K64 = K - K % 64;
#pragma omp parallel for
    for (int b = 0; b < batch; b += 1) {
        for (int i = 0; i < M; i += 1) {
            const uint8_t* a = A + (b * M + i) * K;
            for (int j = 0; j < N; j += 1) {
                const int8_t* w = B + (b * N + j) * K;
                __m512i acc = _mm512_setzero_si512();
                for (int k = 0; k < K64; k += 64) {
                    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(&a[k]), _mm512_loadu_si512(&w[k]));
                }
                int32_t s = _mm512_reduce_add_epi32(acc);
                for (int k = K64; k < K; k += 1) {
                    s += (int32_t)a[k] * (int32_t)w[k];
                }
                C[(b * M + i) * N + j] = s;
            }
        }
    }
}
