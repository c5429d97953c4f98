// Max pooling on CUDA over H and W, NHWC, no padding (windows crossing the edge are dropped).
// A 2-D grid: x runs over (ow, c) with c fastest, so a warp reads consecutive channels
// (coalesced); y runs over (n, oh). The host launcher sizes the grid from the output shape.
#include <cuda_runtime.h>

__global__ void maxpool2d_nhwc(const float* __restrict__ input, float* __restrict__ output, int N, int H,
                               int W, int C, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < OW * C && y < N * OH) {
        int c = x % C;
        int ow = x / C;
        int oh = y % OH;
        int n = y / OH;
        float m = -3.402823466e+38f;
        for (int r = 0; r < window; r += 1) {
            for (int s = 0; s < window; s += 1) {
                m = fmaxf(m, input[((n * H + oh * stride + r) * W + ow * stride + s) * C + c]);
            }
        }
        output[(y * OW + ow) * C + c] = m;
    }
}

void maxpool2d_nhwc_launch(const float* input, float* output, int N, int H, int W, int C, int window,
                           int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    dim3 block(64, 4);
    dim3 grid((OW * C + 63) / 64, (N * OH + 3) / 4);
    maxpool2d_nhwc<<<grid, block>>>(input, output, N, H, W, C, window, stride);
}
