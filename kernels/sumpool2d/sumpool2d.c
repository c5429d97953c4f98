// Sum pooling on the CPU over H and W, NCHW, no padding: windows that would cross the bottom or
// right edge are dropped (OH = (H - window) / stride + 1). For each output row, the window's
// input rows are added one after the other into the output row, so the innermost loop walks
// along rows; the (n, c) planes are split across threads.
#include <omp.h>

void sumpool2d(const float* __restrict__ input, float* __restrict__ output, int N, int C, int H, int W,
               int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int c = 0; c < C; c += 1) {
            int ibase = (n * C + c) * H * W;
            int obase = (n * C + c) * OH * OW;
            for (int oh = 0; oh < OH; oh += 1) {
                for (int ow = 0; ow < OW; ow += 1) {
                    output[obase + oh * OW + ow] = 0.0f;
                }
                for (int r = 0; r < window; r += 1) {
                    int ih = oh * stride + r;
                    for (int ow = 0; ow < OW; ow += 1) {
                        for (int q = 0; q < window; q += 1) {
                            output[obase + oh * OW + ow] += input[ibase + ih * W + ow * stride + q];
                        }
                    }
                }
            }
        }
    }
}
