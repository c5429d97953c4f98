// fp32 GEMV on CUDA, y = A @ x (A: M x K row-major, x: K, y: M).
// One warp per row: its 32 lanes stride over the row (coalesced loads of A), then the partial
// sums are combined with __shfl_down_sync and lane 0 writes y. 8 warps per 256-thread block;
// the host launcher sizes the grid so that every row gets a warp.
#include <cuda_runtime.h>

#define WARPS_PER_BLOCK 8

__device__ float warp_reduce_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_down_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(256) gemv(const float* __restrict__ A, const float* __restrict__ x,
                                            float* __restrict__ y, int M, int K) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    if (row >= M) {
        return;
    }
    const float* a = A + row * K;
    float acc = 0.0f;
    for (int k = lane; k < K; k += 32) {
        acc += a[k] * x[k];
    }
    acc = warp_reduce_sum(acc);
    if (lane == 0) {
        y[row] = acc;
    }
}

void gemv_launch(const float* A, const float* x, float* y, int M, int K) {
    gemv<<<(M + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK, WARPS_PER_BLOCK * 32>>>(A, x, y, M, K);
}
