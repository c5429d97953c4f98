// Min pooling on CUDA over H and W, NHWC, no padding (windows crossing the edge are dropped).
// One thread per output element, channel fastest so that a warp reads consecutive channels
// (coalesced); threads past the end return. The host launcher picks 128-thread blocks.
#include <cuda_runtime.h>

__global__ void __launch_bounds__(128) minpool2d(const float* __restrict__ input, float* __restrict__ output, int N,
                                                 int H, int W, int C, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < N * OH * OW * C) {
        int c = idx % C;
        int ow = (idx / C) % OW;
        int oh = (idx / (C * OW)) % OH;
        int n = idx / (C * OW * OH);
        float m = 3.402823466e+38f;
        for (int r = 0; r < window; r += 1) {
            for (int s = 0; s < window; s += 1) {
                m = fminf(m, input[((n * H + oh * stride + r) * W + ow * stride + s) * C + c]);
            }
        }
        output[idx] = m;
    }
}

void minpool2d_launch(const float* input, float* output, int N, int H, int W, int C, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    minpool2d<<<(N * OH * OW * C + 127) / 128, 128>>>(input, output, N, H, W, C, window, stride);
}
