// Depthwise 3x3 convolution on CUDA, NHWC input, weight [3, 3, C], NHWC output, zero padding:
// each channel is convolved with its own 3x3 filter. One thread per output element, channel
// fastest, so a warp reads consecutive channels of one pixel and of one filter tap (coalesced).
// Threads past the end of the output return at once; the spec's [launch] gives 256-thread blocks.
#include <cuda_runtime.h>

#define KS 3

__global__ void __launch_bounds__(256) depthwise_conv2d(const float* __restrict__ input, const float* __restrict__ weight,
                                                        float* __restrict__ output, int N, int H, int W, int C,
                                                        int stride, int pad) {
    int OH = (H + 2 * pad - KS) / stride + 1;
    int OW = (W + 2 * pad - KS) / stride + 1;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= N * OH * OW * C) {
        return;
    }
    int c = idx % C;
    int ow = (idx / C) % OW;
    int oh = (idx / (C * OW)) % OH;
    int n = idx / (C * OW * OH);
    float acc = 0.0f;
#pragma unroll
    for (int r = 0; r < KS; r += 1) {
        int ih = oh * stride - pad + r;
#pragma unroll
        for (int s = 0; s < KS; s += 1) {
            int iw = ow * stride - pad + s;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                acc += input[((n * H + ih) * W + iw) * C + c] * weight[(r * KS + s) * C + c];
            }
        }
    }
    output[idx] = acc;
}
