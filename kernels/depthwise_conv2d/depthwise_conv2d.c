// Depthwise 3x3 convolution on the CPU, NHWC input, weight [3, 3, C], NHWC output, zero padding:
// each channel is convolved with its own 3x3 filter. Channels are contiguous in the input pixel,
// the filter tap and the output pixel, so 16 of them go in one AVX-512 register; the last
// C % 16 channels use masked loads and a masked store. (n, oh) pairs are split across threads.
#include <immintrin.h>
#include <omp.h>

#define KS 3

void depthwise_conv2d(const float* __restrict__ input, const float* __restrict__ weight,
                      float* __restrict__ output, int N, int H, int W, int C, int stride, int pad) {
    int OH = (H + 2 * pad - KS) / stride + 1;
    int OW = (W + 2 * pad - KS) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int oh = 0; oh < OH; oh += 1) {
            for (int ow = 0; ow < OW; ow += 1) {
                int obase = ((n * OH + oh) * OW + ow) * C;
                for (int c = 0; c < C; c += 16) {
                    int rem = C - c;
                    __mmask16 m = _cvtu32_mask16(rem >= 16 ? 0xFFFFu : (1u << rem) - 1u);
                    __m512 acc = _mm512_setzero_ps();
                    for (int r = 0; r < KS; r += 1) {
                        int ih = oh * stride - pad + r;
                        if (ih >= 0 && ih < H) {
                            for (int s = 0; s < KS; s += 1) {
                                int iw = ow * stride - pad + s;
                                if (iw >= 0 && iw < W) {
                                    __m512 x = _mm512_maskz_loadu_ps(m, &input[((n * H + ih) * W + iw) * C + c]);
                                    __m512 w = _mm512_maskz_loadu_ps(m, &weight[(r * KS + s) * C + c]);
                                    acc = _mm512_fmadd_ps(x, w, acc);
                                }
                            }
                        }
                    }
                    _mm512_mask_storeu_ps(&output[obase + c], m, acc);
                }
            }
        }
    }
}
