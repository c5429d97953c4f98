// Row sums on CUDA, y[r] = sum_c x[r][c]: one block per row. Each thread accumulates a strided
// slice of the row, then the block halves the active range in shared memory until sdata[0]
// holds the total (the classic tree reduction; blockDim.x must be a power of two).
#include <cuda_runtime.h>

#define BLOCK 256

__global__ void row_sum(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    __shared__ float sdata[BLOCK];
    int r = blockIdx.x;
    int tid = threadIdx.x;
    const float* xr = x + r * cols;
    float acc = 0.0f;
    for (int c = tid; c < cols; c += blockDim.x) {
        acc += xr[c];
    }
    sdata[tid] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            sdata[tid] += sdata[tid + s];
        }
        __syncthreads();
    }
    if (tid == 0) {
        y[r] = sdata[0];
    }
}
