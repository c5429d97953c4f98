// Min pooling on the CPU over H and W, NHWC, no padding: windows that would cross the bottom or
// right edge are dropped (OH = (H - window) / stride + 1). Channels are contiguous, so 16 of
// them are reduced at once with AVX-512 min; the last C % 16 channels use masked loads and a
// masked store. (n, oh) pairs are split across threads.
#include <immintrin.h>
#include <omp.h>

void minpool2d(const float* __restrict__ input, float* __restrict__ output, int N, int H, int W, int C,
               int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int oh = 0; oh < OH; oh += 1) {
            for (int ow = 0; ow < OW; ow += 1) {
                int obase = ((n * OH + oh) * OW + ow) * C;
                for (int c = 0; c < C; c += 16) {
                    int rem = C - c;
                    __mmask16 m = _cvtu32_mask16(rem >= 16 ? 0xFFFFu : (1u << rem) - 1u);
                    __m512 acc = _mm512_set1_ps(3.402823466e+38f);
                    for (int r = 0; r < window; r += 1) {
                        for (int s = 0; s < window; s += 1) {
                            int ibase = ((n * H + oh * stride + r) * W + ow * stride + s) * C;
                            acc = _mm512_min_ps(acc, _mm512_maskz_loadu_ps(m, &input[ibase + c]));
                        }
                    }
                    _mm512_mask_storeu_ps(&output[obase + c], m, acc);
                }
            }
        }
    }
}
