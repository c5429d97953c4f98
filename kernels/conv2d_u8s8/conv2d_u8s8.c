// Quantised 2-D convolution on the CPU with AVX512-VNNI, exact in int32: u8 NHWC activations
// [N, H, W, C] x s8 weights [F, KH, KW, C] -> s32 NHWC output [N, OH, OW, F], zero padding.
// With C innermost in both the input pixel and the filter tap, each tap is a dot product of two
// contiguous byte rows: vpdpbusd multiplies 64 u8 x s8 pairs and adds each group of 4 into 16
// int32 lanes. The last C % 64 channels are loaded with a byte mask (masked-off bytes read as 0),
// so C may be any size here; the lanes are summed once per output. (n, oh) pairs run in parallel.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>

void conv2d_u8s8(const uint8_t* __restrict__ input, const int8_t* __restrict__ weight,
                 int32_t* __restrict__ output, int N, int H, int W, int C, int F, int KH, int KW,
                 int stride, int pad) {
    int OH = (H + 2 * pad - KH) / stride + 1;
    int OW = (W + 2 * pad - KW) / stride + 1;
    int C64 = C - C % 64;
    __mmask64 tail = _cvtu64_mask64((1ull << (C - C64)) - 1ull);
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int oh = 0; oh < OH; oh += 1) {
            for (int ow = 0; ow < OW; ow += 1) {
                for (int f = 0; f < F; f += 1) {
                    __m512i acc = _mm512_setzero_si512();
                    for (int r = 0; r < KH; r += 1) {
                        int ih = oh * stride - pad + r;
                        for (int s = 0; s < KW; s += 1) {
                            int iw = ow * stride - pad + s;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                                const uint8_t* px = input + ((n * H + ih) * W + iw) * C;
                                const int8_t* wk = weight + ((f * KH + r) * KW + s) * C;
                                for (int c = 0; c < C64; c += 64) {
                                    __m512i a = _mm512_loadu_si512(&px[c]);
                                    __m512i b = _mm512_loadu_si512(&wk[c]);
                                    acc = _mm512_dpbusd_epi32(acc, a, b);
                                }
                                if (C64 < C) {
                                    __m512i a = _mm512_maskz_loadu_epi8(tail, &px[C64]);
                                    __m512i b = _mm512_maskz_loadu_epi8(tail, &wk[C64]);
                                    acc = _mm512_dpbusd_epi32(acc, a, b);
                                }
                            }
                        }
                    }
                    output[((n * OH + oh) * OW + ow) * F + f] = _mm512_reduce_add_epi32(acc);
                }
            }
        }
    }
}
