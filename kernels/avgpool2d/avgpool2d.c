// Average pooling on the CPU over H and W, NCHW, no padding: windows that would cross the
// bottom or right edge are dropped (OH = (H - window) / stride + 1), and each window sum is
// divided by the full window size. The (n, c) planes are split across threads.
#include <omp.h>

void avgpool2d(const float* __restrict__ input, float* __restrict__ output, int N, int C, int H, int W,
               int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    float inv = 1.0f / (float)(window * window);
#pragma omp parallel for
    for (int p = 0; p < N * C; p += 1) {
        const float* plane = input + p * H * W;
        for (int oh = 0; oh < OH; oh += 1) {
            for (int ow = 0; ow < OW; ow += 1) {
                float s = 0.0f;
                for (int r = 0; r < window; r += 1) {
                    for (int q = 0; q < window; q += 1) {
                        s += plane[(oh * stride + r) * W + ow * stride + q];
                    }
                }
                output[(p * OH + oh) * OW + ow] = s * inv;
            }
        }
    }
}
