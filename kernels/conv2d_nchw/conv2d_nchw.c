// 2-D convolution on the CPU, NCHW input, OIHW weight [F, C, KH, KW], NCHW output, zero padding.
// Each (n, f) output plane belongs to one thread: it is zeroed, then every (c, r, s) filter tap
// adds weight * (a shifted input row) to each output row. The innermost loop runs along an
// output row, so it streams the output and (for stride 1) the input with unit stride.
#include <omp.h>

void conv2d_nchw(const float* __restrict__ input, const float* __restrict__ weight,
                 float* __restrict__ output, int N, int C, int H, int W, int F, int KH, int KW,
                 int stride, int pad) {
    int OH = (H + 2 * pad - KH) / stride + 1;
    int OW = (W + 2 * pad - KW) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int f = 0; f < F; f += 1) {
            int obase = (n * F + f) * OH * OW;
            for (int i = 0; i < OH * OW; i += 1) {
                output[obase + i] = 0.0f;
            }
            for (int c = 0; c < C; c += 1) {
                const float* plane = input + (n * C + c) * H * W;
                for (int r = 0; r < KH; r += 1) {
                    for (int s = 0; s < KW; s += 1) {
                        float w = weight[((f * C + c) * KH + r) * KW + s];
                        for (int oh = 0; oh < OH; oh += 1) {
                            int ih = oh * stride - pad + r;
                            if (ih >= 0 && ih < H) {
                                for (int ow = 0; ow < OW; ow += 1) {
                                    int iw = ow * stride - pad + s;
                                    if (iw >= 0 && iw < W) {
                                        output[obase + oh * OW + ow] += w * plane[ih * W + iw];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
