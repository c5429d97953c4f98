// Row maxima on CUDA, y[r] = max_c x[r][c]: one warp per row, four rows per 128-thread block.
// Each lane takes a strided slice of its row; a butterfly of xor shuffles leaves the maximum in
// every lane, and lane 0 writes it. No shared memory and no __syncthreads: a warp is its own
// unit, which suits many short rows.
#include <cuda_runtime.h>

#define WARP 32

__device__ float warp_reduce_max(float v) {
    for (int off = WARP / 2; off > 0; off >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, off));
    }
    return v;
}

__global__ void __launch_bounds__(128) row_max(const float* __restrict__ x, float* __restrict__ y,
                                               int rows, int cols) {
    int lane = threadIdx.x % WARP;
    int r = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
    if (r < rows) {
        const float* xr = x + r * cols;
        float m = -3.402823466e+38f;
        for (int c = lane; c < cols; c += WARP) {
            m = fmaxf(m, xr[c]);
        }
        m = warp_reduce_max(m);
        if (lane == 0) {
            y[r] = m;
        }
    }
}
