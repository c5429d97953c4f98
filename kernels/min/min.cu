// Row minima on CUDA, y[r] = min_c x[r][c]: one 128-thread block per row. Threads take strided
// slices starting from +FLT_MAX, then a shared-memory tree halves the active threads each step
// (__syncthreads between steps) until smin[0] holds the row minimum. The host launcher gives
// each row its block.
#include <cuda_runtime.h>

#define THREADS 128

__global__ void __launch_bounds__(THREADS) row_min(const float* __restrict__ x, float* __restrict__ y,
                                                   int rows, int cols) {
    __shared__ float smin[THREADS];
    int r = blockIdx.x;
    int tid = threadIdx.x;
    const float* xr = x + r * cols;
    float m = 3.402823466e+38f;
    for (int c = tid; c < cols; c += blockDim.x) {
        m = fminf(m, xr[c]);
    }
    smin[tid] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            smin[tid] = fminf(smin[tid], smin[tid + s]);
        }
        __syncthreads();
    }
    if (tid == 0) {
        y[r] = smin[0];
    }
}

void row_min_launch(const float* x, float* y, int rows, int cols) {
    row_min<<<rows, THREADS>>>(x, y, rows, cols);
}
