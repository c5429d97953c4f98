// 2-D convolution on CUDA, NHWC input, HWIO weight, NHWC output, zero padding.
// One thread per output element; the filter index varies fastest across threads, so a warp
// reads one input pixel (a broadcast) and consecutive weights (coalesced). Threads past the
// end of the output return at once.
#include <cuda_runtime.h>

__global__ void conv2d_nhwc(const float* __restrict__ input, const float* __restrict__ weight,
                            float* __restrict__ output, int N, int H, int W, int C, int F, int KH,
                            int KW, int stride, int pad) {
    int OH = (H + 2 * pad - KH) / stride + 1;
    int OW = (W + 2 * pad - KW) / stride + 1;
    int total = N * OH * OW * F;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    int f = idx % F;
    int ow = (idx / F) % OW;
    int oh = (idx / (F * OW)) % OH;
    int n = idx / (F * OW * OH);
    float acc = 0.0f;
    for (int r = 0; r < KH; r += 1) {
        int ih = oh * stride - pad + r;
        for (int s = 0; s < KW; s += 1) {
            int iw = ow * stride - pad + s;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                for (int c = 0; c < C; c += 1) {
                    acc += input[((n * H + ih) * W + iw) * C + c] * weight[((r * KW + s) * C + c) * F + f];
                }
            }
        }
    }
    output[idx] = acc;
}
