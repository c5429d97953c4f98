// 2-D convolution on the CPU, NHWC input, HWIO weight, NHWC output, zero padding.
// Plain loops: the (n, oh) pairs are split across threads; the innermost loop runs over input
// channels, contiguous in both the input pixel and the weight row of each filter tap.
#include <omp.h>

void conv2d_nhwc(const float* __restrict__ input, const float* __restrict__ weight,
                 float* __restrict__ output, int N, int H, int W, int C, int F, int KH, int KW,
                 int stride, int pad) {
    int OH = (H + 2 * pad - KH) / stride + 1;
    int OW = (W + 2 * pad - KW) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int oh = 0; oh < OH; oh += 1) {
            for (int ow = 0; ow < OW; ow += 1) {
                for (int f = 0; f < F; f += 1) {
                    float acc = 0.0f;
                    for (int r = 0; r < KH; r += 1) {
                        int ih = oh * stride - pad + r;
                        if (ih >= 0 && ih < H) {
                            for (int s = 0; s < KW; s += 1) {
                                int iw = ow * stride - pad + s;
                                if (iw >= 0 && iw < W) {
                                    for (int c = 0; c < C; c += 1) {
                                        acc += input[((n * H + ih) * W + iw) * C + c] *
                                               weight[((r * KW + s) * C + c) * F + f];
                                    }
                                }
                            }
                        }
                    }
                    output[((n * OH + oh) * OW + ow) * F + f] = acc;
                }
            }
        }
    }
}
