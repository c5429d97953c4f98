// Row means on CUDA, y[r] = (sum_c x[r][c]) / cols: one block per row. Each thread sums a
// strided slice; a shuffle-down tree reduces each warp, the warp leaders park their partials in
// shared memory, and warp 0 reduces those. The host launcher picks 128 threads per block.
#include <cuda_runtime.h>

#define THREADS 128
#define NWARPS (THREADS / 32)

__device__ float warp_reduce_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_down_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(THREADS) row_mean(const float* __restrict__ x, float* __restrict__ y,
                                                    int rows, int cols) {
    __shared__ float warp_sums[NWARPS];
    int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    int lane = threadIdx.x % 32;
    int warp = threadIdx.x / 32;
    const float* xr = x + r * cols;
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += THREADS) {
        s += xr[c];
    }
    s = warp_reduce_sum(s);
    if (lane == 0) {
        warp_sums[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < NWARPS ? warp_sums[lane] : 0.0f;
        t = warp_reduce_sum(t);
        if (lane == 0) {
            y[r] = t / (float)cols;
        }
    }
}

void row_mean_launch(const float* x, float* y, int rows, int cols) {
    row_mean<<<rows, THREADS>>>(x, y, rows, cols);
}
