// RMS normalisation on CUDA over the last dim: y = x / sqrt(mean(x^2) + eps) * weight, eps 1e-6.
// One warp per row: the lanes stride over the row, a butterfly of __shfl_xor_sync leaves the sum
// of squares in every lane (no shared memory, no block barrier), and the lanes then write the
// scaled row. The host launcher packs 4 warps (4 rows) into a 128-thread block.
#include <cuda_runtime.h>

#define THREADS 128
#define ROWS_PER_BLOCK (THREADS / 32)

__device__ float warp_allreduce_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(THREADS) rmsnorm(const float* __restrict__ x,
                                                   const float* __restrict__ weight,
                                                   float* __restrict__ y, int rows, int cols) {
    int lane = threadIdx.x % 32;
    int r = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    if (r >= rows) {
        return;
    }
    const float* xr = x + r * cols;
    float ss = 0.0f;
    for (int c = lane; c < cols; c += 32) {
        float v = xr[c];
        ss += v * v;
    }
    ss = warp_allreduce_sum(ss);
    float scale = rsqrtf(ss / (float)cols + 1e-6f);
    for (int c = lane; c < cols; c += 32) {
        y[r * cols + c] = xr[c] * scale * weight[c];
    }
}

void rmsnorm_launch(const float* x, const float* weight, float* y, int rows, int cols) {
    int blocks = (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
    rmsnorm<<<blocks, THREADS>>>(x, weight, y, rows, cols);
}
