// Max pooling on the CPU over H and W, NHWC, no padding: windows that would cross the bottom or
// right edge are dropped (OH = (H - window) / stride + 1). The channel loop is innermost and
// contiguous, so it vectorises; (n, oh) pairs are split across threads.
#include <omp.h>

void maxpool2d_nhwc(const float* __restrict__ input, float* __restrict__ output, int N, int H, int W,
                    int C, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int oh = 0; oh < OH; oh += 1) {
            for (int ow = 0; ow < OW; ow += 1) {
                for (int c = 0; c < C; c += 1) {
                    float m = -3.402823466e+38f;
                    for (int r = 0; r < window; r += 1) {
                        for (int s = 0; s < window; s += 1) {
                            float v = input[((n * H + oh * stride + r) * W + ow * stride + s) * C + c];
                            m = v > m ? v : m;
                        }
                    }
                    output[((n * OH + oh) * OW + ow) * C + c] = m;
                }
            }
        }
    }
}
