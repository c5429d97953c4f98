// Row-wise softmax on CUDA: one block per row. Each thread strides over the row; partial
// results are reduced within a warp by shuffles, then across warps through shared memory.
// Works for any blockDim.x that is a multiple of 32 up to 256 (the launch bound).
#include <cuda_runtime.h>

#define BLOCK 256
#define WARPS (BLOCK / 32)

__device__ float warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, off));
    }
    return v;
}

__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(256) softmax(const float* __restrict__ x, float* __restrict__ y,
                                               int rows, int cols) {
    __shared__ float partial[WARPS];
    __shared__ float total;
    int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    int tid = threadIdx.x;
    int lane = tid % 32;
    int warp = tid / 32;
    int nwarps = blockDim.x / 32;
    const float* xr = x + r * cols;
    int base = r * cols;

    // 1. row max
    float m = -3.402823466e+38f;
    for (int c = tid; c < cols; c += blockDim.x) {
        m = fmaxf(m, xr[c]);
    }
    m = warp_max(m);
    if (lane == 0) {
        partial[warp] = m;
    }
    __syncthreads();
    if (warp == 0) {
        float v = lane < nwarps ? partial[lane] : -3.402823466e+38f;
        v = warp_max(v);
        if (lane == 0) {
            total = v;
        }
    }
    __syncthreads();
    float rmax = total;
    __syncthreads();

    // 2. sum of exponentials (stored in y for the last pass)
    float s = 0.0f;
    for (int c = tid; c < cols; c += blockDim.x) {
        float e = expf(xr[c] - rmax);
        y[base + c] = e;
        s += e;
    }
    s = warp_sum(s);
    if (lane == 0) {
        partial[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float v = lane < nwarps ? partial[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) {
            total = v;
        }
    }
    __syncthreads();
    float inv = 1.0f / total;

    // 3. scale
    for (int c = tid; c < cols; c += blockDim.x) {
        y[base + c] = y[base + c] * inv;
    }
}
