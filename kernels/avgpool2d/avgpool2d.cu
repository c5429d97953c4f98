// Average pooling on CUDA over H and W, NCHW, no padding (windows crossing the edge are
// dropped); each window sum is divided by the full window size. One thread per output with a
// grid-stride loop, ow fastest so that a warp reads along input rows. The host launcher sizes
// the grid from the output and caps it; the stride loop covers the rest.
#include <cuda_runtime.h>

__global__ void avgpool2d(const float* __restrict__ input, float* __restrict__ output, int N, int C, int H,
                          int W, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    int total = N * C * OH * OW;
    float inv = 1.0f / (float)(window * window);
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += blockDim.x * gridDim.x) {
        int ow = idx % OW;
        int oh = (idx / OW) % OH;
        int p = idx / (OW * OH);
        float s = 0.0f;
        for (int r = 0; r < window; r += 1) {
            for (int q = 0; q < window; q += 1) {
                s += input[(p * H + oh * stride + r) * W + ow * stride + q];
            }
        }
        output[idx] = s * inv;
    }
}

void avgpool2d_launch(const float* input, float* output, int N, int C, int H, int W, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    int blocks = min((N * C * OH * OW + 255) / 256, 2048);
    avgpool2d<<<blocks, 256>>>(input, output, N, C, H, W, window, stride);
}
