// Sum pooling on CUDA over H and W, NCHW, no padding (windows crossing the edge are dropped).
// A 3-D grid: x runs over output columns, y over output rows, z over the (n, c) planes; threads
// outside the output plane do nothing. The spec's [launch] gives 32 x 8 blocks.
#include <cuda_runtime.h>

__global__ void sumpool2d(const float* __restrict__ input, float* __restrict__ output, int N, int C, int H,
                          int W, int window, int stride) {
    int OH = (H - window) / stride + 1;
    int OW = (W - window) / stride + 1;
    int ow = blockIdx.x * blockDim.x + threadIdx.x;
    int oh = blockIdx.y * blockDim.y + threadIdx.y;
    int p = blockIdx.z;
    if (ow < OW && oh < OH && p < N * C) {
        const float* plane = input + p * H * W;
        float s = 0.0f;
        for (int r = 0; r < window; r += 1) {
            for (int q = 0; q < window; q += 1) {
                s += plane[(oh * stride + r) * W + ow * stride + q];
            }
        }
        output[(p * OH + oh) * OW + ow] = s;
    }
}
